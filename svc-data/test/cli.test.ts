import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { datasetPath } from '@lab/common';
import { describe, expect, it } from 'vitest';
import { runCli } from '../../supervisor/test/fixture.ts';
import { openShards } from '../src/shards.ts';

const bin = resolve(import.meta.dirname, '../bin/lab-data.js');
const shakespeare = datasetPath('tinyshakespeare', 'input.txt');
const home = mkdtempSync(join(tmpdir(), 'lab-data-cli-'));

function cli(args: string[]) {
  return runCli(bin, args, { env: { ...process.env, LAB_HOME: home } });
}

describe('lab-data CLI', () => {
  it('prints help listing its commands', async () => {
    const r = await cli(['--help']);
    expect(r.code).toBe(0);
    for (const c of [
      'ingest',
      'list',
      'show',
      'clean',
      'transform',
      'split',
      'stats',
      'tokenize',
      'serve',
      'info',
    ])
      expect(r.stdout).toContain(`  ${c}`);
  });

  it('ingests, cleans, splits, shows lineage, counts and tokenizes', async () => {
    const ing = await cli(['ingest', shakespeare, '--name', 'bard', '--json']);
    expect(ing.code, ing.stderr).toBe(0);
    const id = JSON.parse(ing.stdout).id as string;
    const clean = await cli(['clean', id, '--dedup', '--quality']);
    expect(clean.code, clean.stderr).toBe(0);
    expect(clean.stdout).toMatch(/quality\s+7222 -> \d+ docs .*removed: min_words \d+/);
    expect(clean.stdout).toMatch(/created .* v2/);
    const dry = await cli(['clean', id, '--quality', '--dry-run', '--version', '1']);
    expect(dry.stdout).toMatch(/dry run: would make \d+ documents, \d+ characters; nothing written/);
    const split = await cli([
      'split',
      id,
      '--train',
      '0.8',
      '--val',
      '0.1',
      '--test',
      '0.1',
      '--seed',
      '7',
      '--json',
    ]);
    expect(split.code, split.stderr).toBe(0);
    expect(Object.keys(JSON.parse(split.stdout).version.splits).sort()).toEqual(['test', 'train', 'val']);
    const show = await cli(['show', id]);
    expect(show.stdout).toMatch(/v2 <- v1\s+clean\+pii\+quality\+dedup_exact\+dedup_near/);
    expect(show.stdout).toMatch(/v3 <- v2\s+split/);
    expect((await cli(['show', id, '--version', '2'])).stdout).toMatch(
      /\[quality\/min_words\] #\d+ words \d \(at least 3\)/,
    );
    const stats = JSON.parse((await cli(['stats', id, '--tokenizer', 'gpt2', '--json'])).stdout);
    expect(stats.tokens).toBeGreaterThan(0);
    const tok = await cli(['tokenize', id, '--tokenizer', 'gpt2', '--json']);
    expect(tok.code, tok.stderr).toBe(0);
    const index = JSON.parse(tok.stdout);
    const set = openShards(index.dir);
    expect(set.names).toEqual(['train', 'val', 'test']);
    expect(set.split('train').tokens + set.split('val').tokens + set.split('test').tokens).toBe(
      stats.tokens + stats.documents,
    );
    set.close();
    expect((await cli(['list'])).stdout).toContain(id);
    expect((await cli(['docs', id, '--split', 'val', '--limit', '2'])).stdout).toMatch(/--- #\d+ \(val\)/);
    // v3 was made from v2: deleting v2 must be confirmed.
    const refused = await cli(['delete', id, '--version', '2']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/v3 was made from v2/);
    const deleted = await cli(['delete', id, '--version', '2', '--force']);
    expect(deleted.code, deleted.stderr).toBe(0);
    expect(deleted.stdout).toMatch(new RegExp(`deleted ${id} v2 \\(\\d+ bytes freed\\)`));
    expect((await cli(['show', id])).stdout).not.toMatch(/ v2 <- /);
  }, 180_000);

  it('warns about a malformed JSONL line and keeps the rest', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'lab-jsonl-')), 'a.jsonl');
    writeFileSync(path, '{"text":"one"}\n{oops}\n{"text":"two"}\n');
    const r = await cli(['ingest', path]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/2 documents/);
    expect(r.stderr).toMatch(/warning: line 2: not valid JSON/);
  });

  it.each([
    [['ingest', '/no/such.txt'], /no such file/, 1],
    [['ingest', shakespeare, '--max-bytes', '10'], /above the limit of 10 bytes/, 1],
    [['show', 'nope'], /no dataset "nope"/, 1],
    [['transform', 'nope', '--step', 'clean'], /no dataset "nope"/, 1],
    [['stats'], /give the id/, 1],
    [['frobnicate'], /unknown command 'frobnicate'/, 2],
  ])('rejects %j with a clear message', async (args, message, code) => {
    const r = await cli(args as string[]);
    expect(r.code).toBe(code);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('names a bad step parameter', async () => {
    const id = JSON.parse((await cli(['ingest', shakespeare, '--json'])).stdout).id as string;
    const r = await cli(['transform', id, '--step', 'dedup_near={"threshold":"high"}']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/steps\[0\]\.threshold/);
  });
});

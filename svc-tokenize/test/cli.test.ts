import { closeSync, mkdtempSync, openSync, readFileSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { datasetPath } from '@lab/common';
import { get_encoding } from 'tiktoken';
import { describe, expect, it } from 'vitest';
import { runCli } from '../../supervisor/test/fixture.ts';

const bin = resolve(import.meta.dirname, '../bin/lab-tokenize.js');
const shakespeare = datasetPath('tinyshakespeare', 'input.txt');
const home = mkdtempSync(join(tmpdir(), 'lab-cli-'));

function cli(args: string[], extraEnv: NodeJS.ProcessEnv = {}) {
  return runCli(bin, args, { env: { ...process.env, LAB_HOME: home, ...extraEnv } });
}

describe('lab-tokenize CLI', () => {
  it('prints help listing its commands', async () => {
    const r = await cli(['--help']);
    expect(r.code).toBe(0);
    for (const c of ['encode', 'decode', 'train', 'inspect', 'compare']) expect(r.stdout).toContain(`  ${c}`);
  });

  it('encode --json prints the same ids as tiktoken, and decode returns the text', async () => {
    const text = "It's 2026: naïve café, 東京, emoji 🧪 and code `x += 1`";
    const r = await cli(['encode', '--tokenizer', 'cl100k_base', '--json', text]);
    expect(r.code).toBe(0);
    const ids = JSON.parse(r.stdout) as number[];
    const enc = get_encoding('cl100k_base');
    expect(ids).toEqual([...enc.encode(text)]);
    enc.free();
    const d = await cli(['decode', '--tokenizer', 'cl100k_base', '--json-ids', JSON.stringify(ids)]);
    expect(d.stdout).toBe(text);
  });

  it('trains a tokenizer, then encodes and compares with it by name', async () => {
    const t = await cli(['train', '--input', shakespeare, '--vocab-size', '700', '--name', 'cli-bard']);
    expect(t.code, t.stderr).toBe(0);
    expect(t.stdout).toMatch(/trained cli-bard: vocabulary 700/);
    expect(t.stderr).toContain('444/444 merges');
    const e = await cli(['encode', '--tokenizer', 'cli-bard', '--json', 'First Citizen:']);
    const ids = JSON.parse(e.stdout) as number[];
    expect(ids.length).toBeLessThan('First Citizen:'.length);
    const c = await cli([
      'compare',
      '--tokenizers',
      'gpt2,cli-bard',
      '--json',
      'Before we proceed any further, hear me speak.',
    ]);
    const rows = JSON.parse(c.stdout) as { tokenizer: string; tokens: number }[];
    expect(rows.map((r) => r.tokenizer)).toEqual(['gpt2', 'cli-bard']);
  });

  it('streams a 100 MB file with bounded memory (a 160 MB heap) and counts like the library', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lab-big-'));
    const path = join(dir, 'big.txt');
    const block = readFileSync(shakespeare);
    const fd = openSync(path, 'w');
    for (let written = 0; written < 100 * 1024 * 1024; written += block.length) writeSync(fd, block);
    closeSync(fd);
    const one = JSON.parse(
      (await cli(['encode', '--tokenizer', 'gpt2', '--file', shakespeare, '--json'])).stdout,
    ) as number[];
    const r = await cli(['encode', '--tokenizer', 'gpt2', '--file', path, '--count'], {
      NODE_OPTIONS: '--max-old-space-size=160',
    });
    expect(r.code, r.stderr).toBe(0);
    const copies = Math.ceil((100 * 1024 * 1024) / block.length);
    // Each copy ends with "\n" and the next starts with a letter, so copies encode independently.
    expect(Number(r.stdout.trim())).toBe(one.length * copies);
  }, 180_000);

  it.each([
    [['encode', '--tokenizer', 'nope', 'x'], /unknown tokenizer "nope"/, 1],
    [['encode', 'x'], /--tokenizer is required/, 1],
    [['encode', '--tokenizer', 'gpt2', '--bogus', 'x'], /Unknown option '--bogus'/, 2],
    [['decode', '--tokenizer', 'gpt2', '--json-ids', '[1, -2]'], /--json-ids must be a JSON array/, 1],
    [
      ['train', '--input', shakespeare, '--vocab-size', '100', '--name', 'tiny'],
      /vocabSize: must be at least 256/,
      1,
    ],
    [['encode', '--tokenizer', 'gpt2', '<|endoftext|>'], /disallowed special token '<\|endoftext\|>'/, 1],
    [['frobnicate'], /unknown command 'frobnicate'/, 2],
  ])('rejects %j with a clear message', async (args, message, code) => {
    const r = await cli(args as string[]);
    expect(r.code).toBe(code);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace for user errors
  });

  it('rejects a file that is not UTF-8', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'lab-bad-')), 'bad.txt');
    writeFileSync(path, Buffer.from([0x61, 0xff, 0xfe, 0x62]));
    const r = await cli(['encode', '--tokenizer', 'gpt2', '--file', path, '--count']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('not valid UTF-8');
  });
});

import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { datasetPath } from '@lab/common';
import { describe, expect, it } from 'vitest';
import { runCli, useStack } from '../../supervisor/test/fixture.ts';

const bin = resolve(import.meta.dirname, '../bin/lab-train.js');
const lab = useStack();

function cli(args: string[]) {
  return runCli(bin, [...args, '--remote', lab().config.addresses.train]);
}

describe('lab-train job commands against the running service', () => {
  it('submits a job and follows it to the end, then lists it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lab-train-cli-'));
    const data = join(dir, 'input.txt');
    writeFileSync(data, readFileSync(datasetPath('tinyshakespeare', 'input.txt'), 'utf8').slice(0, 20_000));
    const r = await cli([
      'submit',
      '--data',
      data,
      '--iters',
      '20',
      '--batch',
      '4',
      '--context',
      '16',
      '--follow',
    ]);
    expect(r.code, r.stderr).toBe(0);
    const id = r.stdout.split(/\s+/)[0]!;
    expect(id).toMatch(/^job-/);
    expect(r.stdout).toMatch(/iter \d+: loss \d/);
    expect(r.stdout).toContain('[completed]');
    const list = await cli(['jobs', '--json']);
    expect((JSON.parse(list.stdout) as { id: string; state: string }[]).find((j) => j.id === id)?.state).toBe(
      'completed',
    );
  });

  it('submits a job on repeated random tokens with an attention-only model', async () => {
    const r = await cli([
      'submit',
      '--repeat-vocab',
      '16',
      '--repeat-half',
      '4',
      '--model',
      '{"nLayer":1,"nHead":2,"nEmbd":32,"attnOnly":true}',
      '--iters',
      '10',
      '--batch',
      '4',
      '--eval-interval',
      '5',
      '--follow',
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('[completed]');
    const id = r.stdout.split(/\s+/)[0]!;
    const list = await cli(['jobs', '--json']);
    const job = (JSON.parse(list.stdout) as { id: string; request: Record<string, unknown> }[]).find(
      (j) => j.id === id,
    );
    expect(job?.request.repeatedTokens).toMatchObject({ vocabSize: 16, halfLength: 4 });
    const bad = await cli(['submit', '--repeat-vocab', '1', '--repeat-half', '4', '--iters', '5']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(
      /^error: The repeated tokens’ vocabulary must be a whole number from 2 to 4096 \(got 1\)\.$/m,
    );
  });

  it('answers bad input and unknown jobs with one clear line', async () => {
    const unknown = await cli(['pause', 'job-nope']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/job-nope/);
    const missing = await cli(['submit', '--data', join(tmpdir(), 'no', 'such', 'file.txt'), '--iters', '5']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^error: The data file .*file\.txt does not exist \(no such file\)\.$/m);
    expect(missing.stderr).not.toMatch(/\n\s+at /);
  });
});

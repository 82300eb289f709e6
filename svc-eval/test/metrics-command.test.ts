// `lab-eval metrics`: the command run through common's runCli, once in a real child process (stdout, exit
// code) and in this process for the other paths. Scores are those of metrics-report.test.ts (README corpus).
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { runCli } from '@lab/common';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { metricsCommand } from '../src/metrics-command.ts';

const root = resolve(import.meta.dirname, '../..');
const dir = mkdtempSync(join(tmpdir(), 'lab-eval-metrics-'));
const file = (name: string, lines: string[], eol = '\n'): string => {
  const p = join(dir, name);
  writeFileSync(p, lines.map((l) => l + eol).join(''));
  return p;
};
const hyp = file('hyp.txt', [
  'The dog bit the man.',
  "It wasn't surprising.",
  'The man had just bitten him.',
]);
const ref1 = file('ref1.txt', ['The dog bit the man.', 'It was not unexpected.', 'The man bit him first.']);
// CRLF line ends read the same.
const ref2 = file(
  'ref2.txt',
  ['The dog had bit the man.', 'No one was surprised.', 'The man had bitten the dog.'],
  '\r\n',
);
const short = file('short.txt', ['one', 'two']);

/** Runs `lab-eval metrics ARGS` as the real CLI would: a node process with tsx, common's runCli, this command. */
function spawnMetrics(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const code = `import { runCli } from '@lab/common';
import { metricsCommand } from './svc-eval/src/metrics-command.ts';
await runCli('lab-eval', 'test', { metrics: metricsCommand }, process.argv.slice(1));`;
  return new Promise((done, fail) => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', '--input-type=module', '-e', code, 'metrics', ...args],
      {
        cwd: root,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
    });
    child.on('error', fail);
    child.on('close', (c) => done({ code: c, stdout, stderr }));
  });
}

/** The same in this process, capturing what it writes; the exit code runCli would leave is returned and reset. */
async function runHere(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
    stdout += String(chunk);
    return true;
  });
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => {
    stderr += String(chunk);
    return true;
  });
  try {
    await runCli('lab-eval', 'test', { metrics: metricsCommand }, ['metrics', ...args]);
  } finally {
    vi.restoreAllMocks();
  }
  const code = Number(process.exitCode ?? 0);
  process.exitCode = undefined;
  return { code, stdout, stderr };
}

afterEach(() => {
  process.exitCode = undefined;
});

describe('lab-eval metrics', () => {
  it('prints the scores as one JSON object (child process)', async () => {
    const r = await spawnMetrics(['--hyp', hyp, '--ref', ref1, '--ref', ref2, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(Object.keys(out)).toEqual([
      'bleu',
      'chrf',
      'ter',
      'rouge1',
      'rouge2',
      'rougeL',
      'rougeLsum',
      'meteor',
      'exact_match',
      'f1',
    ]);
    expect(out.bleu).toBeCloseTo(48.530827009929865, 9); // sacrebleu 2.6.0
    expect(out.chrf).toBeCloseTo(59.72751782684763, 9);
    expect(out.ter).toBe(40);
    expect(out.rougeLsum).toBeCloseTo(0.6388888888888888, 12);
    expect(out.exact_match).toBeCloseTo(33.333333333333336, 9);
  });

  it('a reference file of another length exits 1 naming the file (child process)', async () => {
    const r = await spawnMetrics(['--hyp', hyp, '--ref', ref1, '--ref', short, '--json']);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain(`--ref ${short}: 2 lines, --hyp has 3`);
  });

  it('prints a table without --json', async () => {
    const r = await runHere(['--hyp', hyp, '--ref', ref1, '--ref', ref2]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^BLEU +48\.53 +0-100/m);
    expect(r.stdout).toMatch(/^ROUGE-Lsum +0\.6389 +0-1/m);
    expect(r.stdout).toMatch(/3 segments, 2 reference set\(s\); METEOR stages: exact, stem/);
  });

  it('refuses missing flags and files, naming them', async () => {
    const noRef = await runHere(['--hyp', hyp]);
    expect(noRef.code).toBe(1);
    expect(noRef.stderr).toMatch(/--ref is required/);
    const noHyp = await runHere(['--ref', ref1]);
    expect(noHyp.stderr).toMatch(/--hyp is required/);
    const missing = await runHere(['--hyp', join(dir, 'nope.txt'), '--ref', ref1]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/--hyp .*nope\.txt: no such file/);
    const badFlag = await runHere(['--hyp', hyp, '--ref', ref1, '--bleu']);
    expect(badFlag.code).toBe(2);
  });
});

// HumanEval end to end: the problems load, every canonical solution passes in the sandbox, a wrong one fails, and
// hostile samples (endless loop, fork bomb, huge allocation, network) each fail alone: nothing of them is left
// running and the next sample still passes.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect, createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LabError, mulberry32 } from '@lab/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type HumanEvalProblem, loadHumanEval, parseHumanEval } from '../src/humaneval/problems.ts';
import { checkProgram, STOP_SEQUENCES, truncateCompletion } from '../src/humaneval/program.ts';
import {
  listSandboxProcesses,
  runSandboxed,
  type SandboxResult,
  sandboxCapabilities,
} from '../src/humaneval/sandbox.ts';

const HUMANEVAL =
  process.env.LAB_DATASETS !== undefined
    ? `${process.env.LAB_DATASETS}/humaneval/HumanEval.jsonl`
    : fileURLToPath(new URL('../../../shared/datasets/humaneval/HumanEval.jsonl', import.meta.url));

let problems: HumanEvalProblem[];
beforeAll(async () => {
  problems = await loadHumanEval(HUMANEVAL);
});

/** `count` distinct problems, the same ones on every run. */
function seededSample<T>(items: readonly T[], count: number, seed: number): T[] {
  const rand = mulberry32(seed);
  const order = items.map((_, i) => i);
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  return order.slice(0, count).map((i) => items[i]);
}

async function thrown(p: Promise<unknown> | (() => unknown)): Promise<LabError> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (err) {
    if (err instanceof LabError) return err;
    throw err;
  }
  throw new Error('expected a LabError');
}

describe('problems', () => {
  it('loads all 164, in order, with `limit` keeping the first ones', async () => {
    expect(problems).toHaveLength(164);
    expect(problems[0]).toMatchObject({ taskId: 'HumanEval/0', entryPoint: 'has_close_elements' });
    expect(problems[163].taskId).toBe('HumanEval/163');
    const few = await loadHumanEval(HUMANEVAL, { limit: 3 });
    expect(few.map((p) => p.taskId)).toEqual(['HumanEval/0', 'HumanEval/1', 'HumanEval/2']);
    expect(await thrown(loadHumanEval(HUMANEVAL, { limit: 0 }))).toMatchObject({ field: 'limit' });
  });

  it('names file and line of a damaged record, and the missing file', async () => {
    const good = JSON.stringify({
      task_id: 'T/0',
      prompt: 'def f(x):\n',
      canonical_solution: '    return x\n',
      test: 'def check(candidate):\n    assert candidate(1) == 1\n',
      entry_point: 'f',
    });
    const notJson = await thrown(() => parseHumanEval(`${good}\n{"task_id": \n`, 'x.jsonl'));
    expect(notJson).toMatchObject({ code: 'INVALID_ARGUMENT' });
    expect(notJson.message).toMatch(/^x\.jsonl:2: not valid JSON/);
    const noEntry = await thrown(() => parseHumanEval(good.replace('"entry_point":"f"', '"x":1'), 'y.jsonl'));
    expect(noEntry).toMatchObject({ code: 'INVALID_ARGUMENT', field: 'entry_point' });
    expect(noEntry.message).toMatch(/^y\.jsonl:1: /);
    const injected = await thrown(() =>
      parseHumanEval(good.replace('"f"}', '"f);import os;(f"}'), 'z.jsonl'),
    );
    expect(injected).toMatchObject({ field: 'entry_point' });
    const dup = await thrown(() => parseHumanEval(`${good}\n${good}`, 'd.jsonl'));
    expect(dup.message).toMatch(/^d\.jsonl:2: duplicate task_id/);

    const dir = await mkdtemp(join(tmpdir(), 'humaneval-test-'));
    try {
      const missing = await thrown(loadHumanEval(join(dir, 'nope.jsonl')));
      expect(missing).toMatchObject({ code: 'FAILED_PRECONDITION' });
      expect(missing.message).toContain('nope.jsonl');
      await writeFile(join(dir, 'empty.jsonl'), '\n');
      expect(await thrown(loadHumanEval(join(dir, 'empty.jsonl')))).toMatchObject({
        code: 'FAILED_PRECONDITION',
      });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('program', () => {
  it('assembles prompt + completion + test + check(entry_point)', () => {
    const p = { prompt: 'def f(x):\n', test: 'def check(c):\n    assert c(1) == 1\n', entryPoint: 'f' };
    expect(checkProgram(p, '    return x\n')).toBe(
      'def f(x):\n    return x\n\ndef check(c):\n    assert c(1) == 1\n\ncheck(f)',
    );
  });

  it('cuts a raw completion at the earliest stop sequence', () => {
    expect(STOP_SEQUENCES).toEqual(['\nclass', '\ndef', '\n#', '\nif', '\nprint']);
    const raw = '    return x + 1\n\n\nprint(f(2))\ndef g():\n    pass\n';
    expect(truncateCompletion(raw)).toBe('    return x + 1\n\n');
    // Indented lines are part of the body: only column-0 statements stop it.
    expect(truncateCompletion('    if x:\n        return 1\n    # done\n    return 0\n')).toBe(
      '    if x:\n        return 1\n    # done\n    return 0\n',
    );
    // Earliest in the text wins, whatever the order of the list.
    expect(truncateCompletion('    return 1\ndef g():\n    return 2\nprint(g())\n')).toBe('    return 1');
    expect(truncateCompletion('    return 1\nif __name__ == "__main__":\n    f()')).toBe('    return 1');
    expect(truncateCompletion('    return 1\n#x', ['\n#', ''])).toBe('    return 1');
  });
});

describe('sandbox', () => {
  let server: Server;
  let connections = 0;
  beforeAll(async () => {
    server = createServer((socket) => {
      connections++;
      socket.destroy();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    // Control: from outside the sandbox the port does answer, so a zero count below means something.
    const { port } = server.address() as { port: number };
    await new Promise<void>((resolve, reject) => connect(port, '127.0.0.1', resolve).on('error', reject));
    for (let i = 0; i < 100 && connections === 0; i++) await new Promise((r) => setTimeout(r, 20));
    expect(connections).toBe(1);
    connections = 0;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const solve = (p: HumanEvalProblem, completion = p.canonicalSolution): Promise<SandboxResult> =>
    runSandboxed(checkProgram(p, completion));

  /** After a hostile sample: nothing of it runs on, and an honest sample right after it still passes. */
  async function expectCleanAfter(): Promise<void> {
    expect(await listSandboxProcesses()).toEqual([]);
    const next = await solve(problems[2]);
    expect(next.status, next.stderr).toBe('passed');
  }

  it('has every layer in force, and fails closed without them', async () => {
    const caps = await sandboxCapabilities();
    expect(caps, caps.reason).toMatchObject({
      ready: true,
      pidNamespace: true,
      netNamespace: true,
      unprivilegedUid: true,
      limits: { processes: 16, memoryBytes: 1024 ** 3 },
    });
    const broken = await sandboxCapabilities('/nonexistent/python3');
    expect(broken.ready).toBe(false);
    expect(broken.reason).toBeTruthy();
    const refused = await thrown(runSandboxed('print(1)', { python: '/nonexistent/python3' }));
    expect(refused).toMatchObject({ code: 'FAILED_PRECONDITION', field: 'sandbox' });
  });

  // All 164 took 20-44 s here depending on what else loaded the 2 cores, too long for every CI run: a fixed
  // seeded sample of 20 by default, all of them with LAB_HUMANEVAL_ALL=1.
  const all = process.env.LAB_HUMANEVAL_ALL === '1';
  it(`passes the canonical solutions (${all ? 'all 164' : 'seeded sample of 20'})`, {
    timeout: 240_000,
  }, async () => {
    const pick = all ? problems : seededSample(problems, 20, 164);
    const started = performance.now();
    const failures: string[] = [];
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < pick.length) {
        const p = pick[next++];
        const r = await solve(p);
        if (r.status !== 'passed') failures.push(`${p.taskId}: ${r.status} ${r.stderr.slice(-300)}`);
      }
    };
    await Promise.all([worker(), worker()]); // two at a time: one per core
    expect(failures).toEqual([]);
    console.log(
      `humaneval: ${pick.length} canonical solutions in ${Math.round(performance.now() - started)} ms`,
    );
  });

  it('fails a wrong completion and an early exit, as human-eval does', async () => {
    const wrong = await solve(problems[0], '    return False\n');
    expect(wrong).toMatchObject({ status: 'failed', exitCode: 1 });
    expect(wrong.stderr).toContain('AssertionError');
    // An exit(0) before the tests ran is not a pass.
    const exited = await solve(problems[0], '    import sys\n    sys.exit(0)\n');
    expect(exited.status).toBe('failed');
    expect(exited.stderr).toContain('SystemExit');
  });

  it('times out an endless loop and kills everything it forked, setsid() or not', async () => {
    const program = [
      'import os',
      'for _ in range(3):',
      '    if os.fork() == 0:',
      '        os.setsid()  # leaves the process group; the pid namespace still holds it',
      '        while True: pass',
      'while True: pass',
    ].join('\n');
    const r = await runSandboxed(program, { wallMs: 1_500 });
    expect(r).toMatchObject({ status: 'timeout', signal: 'SIGKILL' });
    expect(r.ms).toBeLessThan(8_000);
    await expectCleanAfter();
  });

  it('kills a CPU hog at its CPU limit', async () => {
    const r = await runSandboxed('while True: pass', { cpuSeconds: 1, wallMs: 20_000 });
    expect(r).toMatchObject({ status: 'killed', signal: 'SIGXCPU' });
    await expectCleanAfter();
  });

  it('caps processes: a bounded fork beyond the limit fails', async () => {
    // 20 sleepers against a limit of 16 processes (init and the program included).
    const program = 'import os, time\nfor _ in range(20):\n    if os.fork() == 0:\n        time.sleep(30)\n';
    const r = await runSandboxed(program, { wallMs: 10_000 });
    expect(r.status).toBe('failed');
    expect(r.stderr).toContain('BlockingIOError');
    await expectCleanAfter();
  });

  it('contains a fork bomb: the sample fails, this process stays responsive', async () => {
    let worstLag = 0;
    let last = performance.now();
    const tick = setInterval(() => {
      const now = performance.now();
      worstLag = Math.max(worstLag, now - last - 25);
      last = now;
    }, 25);
    try {
      const r = await runSandboxed('import os\nwhile True: os.fork()', { wallMs: 5_000 });
      expect(r.status).not.toBe('passed');
      expect(r.ms).toBeLessThan(10_000);
    } finally {
      clearInterval(tick);
    }
    expect(worstLag).toBeLessThan(2_000);
    await expectCleanAfter();
  });

  it('turns a 10 GB allocation into MemoryError', async () => {
    const r = await runSandboxed('x = bytearray(10 * 1024**3)');
    expect(r.status).toBe('failed');
    expect(r.stderr).toContain('MemoryError');
    await expectCleanAfter();
  });

  it('has no network: a connect to a port listening on this host fails and never arrives', async () => {
    const { port } = server.address() as { port: number };
    const program = `import socket\nsocket.create_connection(("127.0.0.1", ${port}), timeout=3).close()`;
    const r = await runSandboxed(program);
    expect(r.status).toBe('failed');
    expect(r.stderr).toMatch(/Network is unreachable|OSError/);
    expect(connections).toBe(0);
    await expectCleanAfter();
  });
});

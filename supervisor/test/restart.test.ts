// The supervisor's restart policy and stop, on real child processes (node scripts that crash, stay up or
// ignore SIGTERM). Documented in docs/architecture.md ("Processes"): a child that exits unexpectedly is
// restarted after 0.5 s, doubling to 10 s for repeated crashes, from 0.5 s again once it stayed up 30 s;
// stopping sends SIGTERM and SIGKILLs what is still alive 4 s later. The backoff runs here on timings
// scaled down 5× (injected; the same code), so the test takes seconds, not a minute.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { RESTART_TIMINGS, STOP_GRACE_MS, SupervisedChild } from '../src/child.ts';

const dir = mkdtempSync(join(tmpdir(), 'lab-restart-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const spec = (name: string, script: string, env: NodeJS.ProcessEnv = {}) => ({
  name,
  command: process.execPath,
  args: ['-e', script],
  env: { ...process.env, ...env },
  output: 'buffer' as const,
});

describe('restart backoff', () => {
  it('is documented as 0.5 s doubling to 10 s, reset after 30 s up, and SIGKILL 4 s after SIGTERM', () => {
    expect(RESTART_TIMINGS).toEqual({ minBackoffMs: 500, maxBackoffMs: 10_000, stableAfterMs: 30_000 });
    expect(STOP_GRACE_MS).toBe(4000);
  });

  it('doubles from the minimum to the maximum on repeated crashes, and starts over after a stable run', async () => {
    // Each run appends its start time to a log; run 6 stays up past stableAfterMs, every other run crashes
    // at once (a shell, milliseconds even on a loaded machine, where a node start can take a second).
    const log = join(dir, 'runs.log');
    writeFileSync(log, '');
    const script = 'date +%s%3N >> "$RUN_LOG"; [ "$(wc -l < "$RUN_LOG")" -eq 6 ] && sleep 1.6; exit 1';
    const timings = { minBackoffMs: 100, maxBackoffMs: 400, stableAfterMs: 1000 };
    const events: string[] = [];
    const child = new SupervisedChild(
      { ...spec('crashy', '', { RUN_LOG: log }), command: '/bin/sh', args: ['-c', script] },
      (m) => events.push(m),
      timings,
    );
    child.start();
    try {
      await expect.poll(() => events.length, { timeout: 20_000 }).toBeGreaterThanOrEqual(8);
    } finally {
      await child.stop(1000);
    }
    const delays = events.slice(0, 8).map((m) => Number(/restarting in (\d+) ms/.exec(m)?.[1]));
    //   runs 1-5 crash: 100, 200, 400, 400 (capped), 400; run 6 was stable: 100; then doubling again.
    expect(delays).toEqual([100, 200, 400, 400, 400, 100, 200, 400]);
    expect(events[0]).toMatch(/^crashy exited \(code 1\); restarting in 100 ms$/);
    expect(child.restarts).toBeGreaterThanOrEqual(7);
    // The delays are kept: each start comes at least its delay after the previous run's start.
    const starts = readFileSync(log, 'utf8').trim().split('\n').map(Number);
    for (let i = 0; i < 7; i++) expect(starts[i + 1]! - starts[i]!).toBeGreaterThanOrEqual(delays[i]!);
    // And the processes are gone: stop() left nothing behind to restart.
    const after = events.length;
    await new Promise((r) => setTimeout(r, 600));
    expect(events.length).toBe(after);
  }, 30_000);
});

describe('stop', () => {
  it('sends SIGTERM, and SIGKILL after the default 4 s to a child that ignores it', async () => {
    const events: string[] = [];
    const stubborn = new SupervisedChild(
      spec(
        'stubborn',
        `process.on('SIGTERM', () => console.log('ignoring SIGTERM')); setInterval(() => {}, 1000); console.log('up');`,
      ),
      (m) => events.push(m),
    );
    stubborn.start();
    await expect.poll(() => stubborn.recentOutput).toContain('up');
    const proc = stubborn.process!;
    const t0 = Date.now();
    await stubborn.stop();
    const waited = Date.now() - t0;
    expect(proc.signalCode).toBe('SIGKILL');
    expect(stubborn.recentOutput).toContain('ignoring SIGTERM');
    expect(waited).toBeGreaterThanOrEqual(STOP_GRACE_MS - 50);
    expect(waited).toBeLessThan(STOP_GRACE_MS + 2000);
    expect(events).toEqual([]); // an expected exit: no restart
  }, 20_000);

  it('a child that exits on SIGTERM is not killed and not restarted', async () => {
    const events: string[] = [];
    const polite = new SupervisedChild(
      spec('polite', `setInterval(() => {}, 1000); console.log('up');`),
      (m) => events.push(m),
    );
    polite.start();
    await expect.poll(() => polite.recentOutput).toContain('up');
    const proc = polite.process!;
    const t0 = Date.now();
    await polite.stop();
    expect(proc.signalCode).toBe('SIGTERM');
    expect(Date.now() - t0).toBeLessThan(STOP_GRACE_MS);
    await new Promise((r) => setTimeout(r, 300));
    expect(events).toEqual([]);
  });
});

import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { freePort } from '@lab/supervisor';
import { describe, expect, it } from 'vitest';

const main = resolve(import.meta.dirname, '../src/main.ts');

/** Every descendant pid of a process (from ps), so a test can check nothing outlives the supervisor. */
function descendants(pid: number): number[] {
  const rows = execFileSync('ps', ['-eo', 'pid=,ppid='], { encoding: 'utf8' })
    .trim()
    .split('\n')
    .map((l) => l.trim().split(/\s+/).map(Number) as [number, number]);
  const out: number[] = [];
  const walk = (p: number) => {
    for (const [c, pp] of rows) {
      if (pp !== p) continue;
      out.push(c);
      walk(c);
    }
  };
  walk(pid);
  return out;
}

/** Running (a zombie waiting to be reaped by init has already exited and does not count). */
const alive = (pid: number) => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
};

async function portEnv(): Promise<NodeJS.ProcessEnv> {
  const names = [
    'LAB_PORT',
    'LAB_NATS_PORT',
    'LAB_TOKENIZE_PORT',
    'LAB_DATA_PORT',
    'LAB_TRAIN_PORT',
    'LAB_INFER_PORT',
    'LAB_EVAL_PORT',
  ];
  const env: NodeJS.ProcessEnv = {};
  for (const n of names) env[n] = String(await freePort());
  return env;
}

function waitForLine(child: ChildProcess, re: RegExp, timeoutMs: number): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    let out = '';
    const timer = setTimeout(
      () => reject(new Error(`no line matching ${re} in ${timeoutMs} ms:\n${out}`)),
      timeoutMs,
    );
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = out.match(re);
      if (m) {
        clearTimeout(timer);
        resolvePromise(m[0]);
      }
    });
  });
}

describe('npm start supervisor', () => {
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    it(`prints the URL, and on ${signal} stops everything within 5 s leaving no process behind`, async () => {
      const env: NodeJS.ProcessEnv = {
        ...process.env,
        ...(await portEnv()),
        LAB_HOME: mkdtempSync(join(tmpdir(), 'lab-start-')),
      };
      const child = spawn(process.execPath, ['--import', 'tsx', main], {
        env,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      try {
        const line = await waitForLine(child, /open http:\/\/127\.0\.0\.1:\d+/, 90_000);
        expect(line).toBe(`open http://127.0.0.1:${env.LAB_PORT}`);
        const health = (await (await fetch(`http://127.0.0.1:${env.LAB_PORT}/api/health`)).json()) as {
          ok: boolean;
        };
        expect(health.ok).toBe(true);
        const pids = descendants(child.pid!);
        expect(pids.length).toBeGreaterThanOrEqual(7); // nats + five services + gateway
        const t0 = Date.now();
        const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
        child.kill(signal);
        expect(await exited).toBe(0);
        expect(Date.now() - t0).toBeLessThan(5000);
        expect(pids.filter(alive)).toEqual([]);
      } finally {
        if (child.exitCode === null) child.kill('SIGKILL');
      }
    });
  }

  it('exits with a message naming a bad environment variable', () => {
    let stderr = '';
    let status = 0;
    try {
      execFileSync(process.execPath, ['--import', 'tsx', main], {
        env: { ...process.env, LAB_PORT: '99999' },
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
      });
    } catch (err) {
      stderr = (err as { stderr: string }).stderr;
      status = (err as { status: number }).status;
    }
    expect(status).toBe(2);
    expect(stderr).toContain('LAB_PORT must be a port number 0-65535 (got "99999")');
  });
});

// The lab without nats-server (README: "Without it, `npm start` says so and each service uses an in-process
// bus"): the supervisor (what `npm start` runs) with a PATH that has no nats-server and no NATS_URL says so
// in one line, brings every service up on its in-process bus, trains a job through the gateway with its
// event stream whole, and stops on Ctrl-C leaving nothing behind.
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join, resolve } from 'node:path';
import { datasetPath } from '@lab/common';
import { freePort } from '@lab/supervisor';
import { afterAll, describe, expect, it } from 'vitest';
import { openSse } from './sse.ts';

const main = resolve(import.meta.dirname, '../src/main.ts');
const home = mkdtempSync(join(tmpdir(), 'lab-no-nats-'));
const dataPath = join(home, 'input.txt');
writeFileSync(dataPath, readFileSync(datasetPath('tinyshakespeare', 'input.txt'), 'utf8').slice(0, 20_000));
afterAll(() => rmSync(home, { recursive: true, force: true }));

/** PATH without the directories that hold a nats-server. */
const pathWithoutNats = (process.env.PATH ?? '')
  .split(delimiter)
  .filter((d) => d && !existsSync(join(d, 'nats-server')))
  .join(delimiter);

function descendants(pid: number): number[] {
  const rows = execFileSync('ps', ['-eo', 'pid=,ppid='], { encoding: 'utf8' })
    .trim()
    .split('\n')
    .map((l) => l.trim().split(/\s+/).map(Number) as [number, number]);
  const out: number[] = [];
  const walk = (p: number) => {
    for (const [c, pp] of rows)
      if (pp === p) {
        out.push(c);
        walk(c);
      }
  };
  walk(pid);
  return out;
}

const alive = (pid: number) => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
};

describe('npm start without nats-server', () => {
  it('falls back to in-process buses with one line saying so, trains a job, and stops cleanly', async () => {
    const probe = spawnSync('sh', ['-c', 'command -v nats-server'], { env: { PATH: pathWithoutNats } });
    expect(probe.status).not.toBe(0); // the precondition: nats-server cannot be found

    const env: NodeJS.ProcessEnv = { ...process.env, PATH: pathWithoutNats, LAB_HOME: home };
    delete env.NATS_URL;
    for (const n of ['LAB_PORT', 'LAB_NATS_PORT', 'LAB_TOKENIZE_PORT', 'LAB_DATA_PORT', 'LAB_TRAIN_PORT'])
      env[n] = String(await freePort());
    env.LAB_INFER_PORT = String(await freePort());
    env.LAB_EVAL_PORT = String(await freePort());
    const url = `http://127.0.0.1:${env.LAB_PORT}`;

    const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', main], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    try {
      const deadline = Date.now() + 120_000;
      while (!out.includes(`[lab] open ${url}`)) {
        if (Date.now() > deadline || child.exitCode !== null)
          throw new Error(`the lab did not start:\n${out}`);
        await new Promise((r) => setTimeout(r, 200));
      }
      const lab = out.split('\n').filter((l) => l.startsWith('[lab] '));
      expect(
        lab.filter((l) => /nats-server not found on PATH: using in-process event buses/.test(l)),
      ).toHaveLength(1);
      expect(lab.find((l) => l.includes('all services healthy'))).toMatch(/bus: in-process$/);

      const health = (await (await fetch(`${url}/api/health`)).json()) as {
        ok: boolean;
        services: { name: string; status: string }[];
        bus: { kind: string };
      };
      expect(health.ok).toBe(true);
      expect(health.services.map((s) => s.status)).toEqual(health.services.map(() => 'SERVING'));
      expect(health.services).toHaveLength(5);
      expect(health.bus.kind).toBe('memory');

      // A job runs on svc-train's in-process queue; its history streams through the gateway.
      const iters = 20;
      const res = await fetch(`${url}/api/train/jobs`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          dataPath,
          tokenizer: 'char',
          config: {
            model: { nLayer: 1, nHead: 2, nEmbd: 16, ffnHidden: 32 },
            context: 16,
            batchSize: 4,
            iters,
            evalInterval: 10,
            evalIters: 1,
            sampleTokens: 0,
            threads: 1,
          },
        }),
      });
      expect(res.status, await res.clone().text()).toBe(201);
      const { id } = (await res.json()) as { id: string };
      const sse = await openSse(`${url}/api/train/jobs/${id}/events`);
      try {
        const events = await sse.waitFor(
          (evs) => evs.some((e) => e.event === 'state' && /completed|failed/.test(e.data)),
          90_000,
        );
        expect(JSON.parse(events.at(-1)!.data)).toMatchObject({ state: 'completed' });
        const steps = events.filter((e) => e.event === 'step').map((e) => JSON.parse(e.data).step);
        expect(steps).toEqual(Array.from({ length: iters }, (_, i) => i + 1));
        expect(events.map((e) => Number(e.id))).toEqual(events.map((_, i) => i + 1));
      } finally {
        sse.close();
      }

      // Ctrl-C: everything stops, nothing restarts, no process is left.
      const pids = descendants(child.pid!);
      expect(pids.length).toBeGreaterThanOrEqual(6); // five services and the gateway, no nats-server
      const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
      child.kill('SIGINT');
      expect(await exited).toBe(0);
      expect(pids.filter(alive)).toEqual([]);
      expect(out).not.toMatch(/restarting in/);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  }, 240_000);
});

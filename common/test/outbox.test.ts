// The outbox against a real nats-server (JetStream on disk) and a real lmdb store: NATS killed with SIGKILL
// and restarted on the same port and store mid-run, a publisher process killed between JetStream storing an
// event and the outbox forgetting it, and a service that stops while NATS is down. In every case JetStream
// must end up holding each event exactly once, in publication order.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { type BusEvent, MSG_ID_HEADER, NatsBus, OutboxBus, openStore, STREAM_NAME } from '@lab/common';
import { findNatsServer, freePort, waitForPort } from '@lab/supervisor';
import { connect } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { natsArgs } from '../../supervisor/src/nats.ts';

const here = dirname(fileURLToPath(import.meta.url));
const tsxLoader = pathToFileURL(
  join(dirname(createRequire(import.meta.url).resolve('tsx/package.json')), 'dist/loader.mjs'),
).href;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const home = mkdtempSync(join(tmpdir(), 'lab-outbox-'));
let port: number;
let nats: ChildProcess | undefined;
const url = () => `nats://127.0.0.1:${port}`;

async function startNats(): Promise<void> {
  nats = spawn(findNatsServer()!, natsArgs(home, '127.0.0.1', port), { stdio: 'ignore' });
  await waitForPort('127.0.0.1', port, 10_000);
}

async function killNats(signal: NodeJS.Signals): Promise<void> {
  const c = nats!;
  if (c.exitCode !== null || c.signalCode !== null) return;
  await new Promise((r) => {
    c.once('exit', r);
    c.kill(signal);
  });
}

/** Every event JetStream holds on `subject`, oldest first, read by a fresh connection. */
async function stored(subject: string): Promise<BusEvent[]> {
  const nc = await connect({ servers: url() });
  const info = await (await nc.jetstreamManager()).streams.info(STREAM_NAME, { subjects_filter: subject });
  await nc.close();
  const count = info.state.subjects?.[subject] ?? 0;
  const reader = await NatsBus.connect(url(), { name: 'reader' });
  const events: BusEvent[] = [];
  const sub = await reader.subscribe(subject, (e) => events.push(e), { afterSeq: 0 });
  const deadline = Date.now() + 20_000;
  while (events.length < count && Date.now() < deadline) await sleep(20);
  await sub.unsubscribe();
  await reader.close();
  expect(events).toHaveLength(count);
  return events;
}

const steps = (events: BusEvent[]) => events.map((e) => (e.data as { step: number }).step);
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

/**
 * Runs the publisher fixture as a process: `lines` fills with its output ("ready", then "step seq" per
 * event, "pending n" at a clean end); `done` settles when it ends.
 */
function publisher(env: Record<string, string>) {
  const lines: string[] = [];
  const child = spawn(process.execPath, ['--import', tsxLoader, join(here, 'fixtures/outbox-publisher.ts')], {
    env: { ...process.env, NATS_URL: url(), HOME_DIR: home, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let partial = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    const parts = (partial + d).split('\n');
    partial = parts.pop()!;
    lines.push(...parts);
  });
  child.stderr.setEncoding('utf8').on('data', (d: string) => {
    err += d;
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  const done = new Promise<{ signal: string | null }>((resolve, reject) => {
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code !== 0 && signal !== 'SIGKILL') reject(new Error(`publisher exited ${code}: ${err}`));
      else resolve({ signal });
    });
  });
  return { lines, done };
}

beforeAll(async () => {
  port = await freePort();
  await startNats();
});

afterAll(async () => {
  if (nats) await killNats('SIGTERM');
  rmSync(home, { recursive: true, force: true });
});

describe('outbox in front of JetStream', () => {
  it('keeps the metrics of a run going while nats-server is killed -9 and restarted: each stored once, in order', async () => {
    const store = openStore(home, 'run');
    const bus = OutboxBus.open(await NatsBus.connect(url(), { name: 'run' }), store, { name: 'run' });
    const subject = 'lab.run.killed.metrics';
    const total = 1500;
    const answers: number[] = [];
    let restarted: Promise<void> | undefined;
    try {
      // Paced like a small training job; each publish awaited as svc-train's chain does.
      for (let step = 1; step <= total; step++) {
        const published = bus.publish(subject, { step, loss: 1 / step });
        if (step === 300) {
          // Killed with step 300 in flight: stored or not, its publish gets no answer.
          await killNats('SIGKILL');
          restarted = sleep(1000).then(startNats);
        }
        answers.push(await published);
        await sleep(2);
      }
      await restarted;
      await expect.poll(() => bus.pending, { timeout: 30_000 }).toBe(0);
      const events = await stored(subject);
      expect(steps(events)).toEqual(range(1, total));
      // Held while NATS was down (answered from the store), published with their real sequence otherwise.
      expect(answers.filter((s) => s === 0).length).toBeGreaterThan(0);
      expect(answers.filter((s) => s > 0).length).toBeGreaterThan(total / 2);
      expect(new Set(events.map((e) => e.headers[MSG_ID_HEADER])).size).toBe(total);
      // Nothing left behind in the store once everything is published.
      await store.flushed;
      expect([...store.getKeys({ start: 'outbox:', end: 'outbox:~' })]).toEqual([]);
    } finally {
      await bus.close();
      await store.close();
    }
  }, 120_000);

  it('publishes what a killed publisher left in its store, once: a retry after a lost ack is not stored twice', async () => {
    const subject = 'lab.run.crashed.metrics';
    // Dies right after JetStream stored step 40 — before its outbox could forget it.
    const first = publisher({ SUBJECT: subject, FROM: '1', TO: '100', CRASH_AT: '40' });
    expect((await first.done).signal).toBe('SIGKILL');
    expect(first.lines.at(-1)).toMatch(/^crash 40 [1-9]\d*$/);
    // The restarted service publishes what its outbox still holds (step 40 again) and then goes on.
    const second = publisher({ SUBJECT: subject, FROM: '41', TO: '60' });
    await second.done;
    expect(second.lines.at(-1)).toBe('pending 0');
    expect(steps(await stored(subject))).toEqual(range(1, 60));
  }, 120_000);

  it('answers at once while NATS is down, keeps the events through a service restart, and publishes them in order when NATS returns', async () => {
    const subject = 'lab.job.offline.state';
    const offline = publisher({
      SUBJECT: subject,
      FROM: '1',
      TO: '50',
      CLOSE_AT_ONCE: '1',
      WAIT_FOR_DOWN: '1',
    });
    await expect.poll(() => offline.lines[0]).toBe('ready');
    await killNats('SIGKILL');
    try {
      const t0 = performance.now();
      await offline.done;
      // Every publish was answered from the store (sequence 0) without waiting for a timeout.
      expect(offline.lines.slice(1, 51)).toEqual(range(1, 50).map((s) => `${s} 0`));
      expect(offline.lines.at(-1)).toBe('pending 50');
      expect(performance.now() - t0).toBeLessThan(10_000);
    } finally {
      await startNats();
    }
    const back = publisher({ SUBJECT: subject, FROM: '51', TO: '60' });
    await back.done;
    expect(back.lines.at(-1)).toBe('pending 0');
    expect(steps(await stored(subject))).toEqual(range(1, 60));
  }, 120_000);
});

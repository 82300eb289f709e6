// Soak (npm run soak): N SSE clients follow one running training job, each on the job's own stream
// (/api/train/jobs/{id}/events, relayed from svc-train's store) and on the bus stream (/api/events, from
// JetStream), while nats-server is killed with SIGKILL halfway through and the supervisor brings it back.
// Passes when every client received every event of the job exactly once and in order on both streams,
// JetStream holds each of the job's events once, and the gateway's heap after garbage collection returns to
// within a few MiB of its level before the clients came.
//
//   npm run soak                             100 clients × 60 s (the figures in the closing note)
//   npm run soak -- --clients 20 --seconds 15   the size gateway/test/soak.test.ts runs in CI
//
// The whole lab runs as processes (startStack); the gateway's memory is read through its inspector,
// opened with SIGUSR1 (heap-probe.ts collects garbage first, so heapUsed is what is really still held).
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { type BusEvent, datasetPath, isMain, NatsBus, STREAM_NAME } from '@lab/common';
import { type Stack, startStack } from '@lab/supervisor';
import { connect } from 'nats';
import { openSse, type SseClient } from '../../supervisor/test/sse.ts';

const here = dirname(fileURLToPath(import.meta.url));
const tsxLoader = pathToFileURL(
  join(dirname(createRequire(import.meta.url).resolve('tsx/package.json')), 'dist/loader.mjs'),
).href;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const MiB = 1024 * 1024;

export interface SoakOptions {
  clients: number;
  seconds: number;
  /** Progress lines. */
  log?: (msg: string) => void;
}

export interface Memory {
  heapUsed: number;
  rss: number;
}

export interface SoakReport {
  clients: number;
  seconds: number;
  jobId: string;
  /** Events of the job (steps, evaluations, states) each client should have received on each stream. */
  events: number;
  steps: number;
  /** Training step reached when nats-server was killed, and how long until the new one accepted connections. */
  killedAtStep: number;
  natsDownMs: number;
  /** The job's events JetStream holds, and how many distinct ones (seq within the job). */
  jetstream: { stored: number; distinct: number };
  /** Gateway memory after GC: before the clients, with them connected at the end, after they left. */
  memory: { before: Memory; during: Memory; after: Memory };
  /** JetStream consumers on the event stream at the same three moments. */
  consumers: { before: number; during: number; after: number };
  /** SSE events delivered to all clients together, per second of the run. */
  deliveredPerSecond: number;
  /** Problems found; empty when the soak passed. */
  failures: string[];
}

/** What a stream carried for one job event. */
interface Seen {
  seq: number;
  kind: string;
  step: number;
}

// Sized so that a step takes tens of milliseconds, as a small real run does.
const trainConfig = {
  model: { nLayer: 2, nHead: 4, nEmbd: 128, ffnHidden: 512 },
  context: 64,
  batchSize: 16,
  iters: 10_000_000,
  evalInterval: 500,
  evalIters: 2,
  sampleTokens: 8,
  threads: 1,
};

/** Opens the gateway's inspector (SIGUSR1; the stack runs with --inspect-port=0) and returns its URL. */
async function inspectorUrl(stack: Stack): Promise<string> {
  const gateway = stack.children.get('gateway')!;
  process.kill(gateway.pid!, 'SIGUSR1');
  const deadline = Date.now() + 10_000;
  for (;;) {
    const m = /Debugger listening on (ws:\/\/\S+)/.exec(gateway.recentOutput);
    if (m) return m[1]!;
    if (Date.now() > deadline) throw new Error('the gateway did not open its inspector');
    await sleep(50);
  }
}

/** The gateway's memory after two full garbage collections. */
function gatewayMemory(wsUrl: string): Promise<Memory> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [
        '--experimental-websocket',
        '--no-warnings',
        '--import',
        tsxLoader,
        join(here, 'heap-probe.ts'),
        wsUrl,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      out += d;
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      out += d;
    });
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`heap probe failed: ${out}`));
      const m = JSON.parse(out.trim().split('\n').at(-1)!) as Memory;
      resolve({ heapUsed: m.heapUsed, rss: m.rss });
    });
  });
}

/** Consumers on the event stream: the gateway holds one per /api/events client while it is connected. */
async function consumerCount(natsUrl: string): Promise<number> {
  const nc = await connect({ servers: natsUrl });
  try {
    return (await (await nc.jetstreamManager()).streams.info(STREAM_NAME)).state.consumer_count;
  } finally {
    await nc.close();
  }
}

const fmt = (m: Memory) =>
  `heapUsed ${(m.heapUsed / MiB).toFixed(1)} MiB, rss ${(m.rss / MiB).toFixed(1)} MiB`;

/** Checks one stream's view of the job against 1..n; returns problems. */
function checkSequence(name: string, seen: Seen[], n: number): string[] {
  const problems: string[] = [];
  const seqs = seen.map((s) => s.seq);
  const missing = n - new Set(seqs).size;
  const dupes = seqs.length - new Set(seqs).size;
  let disorder = 0;
  for (let i = 1; i < seqs.length; i++) if (seqs[i]! <= seqs[i - 1]!) disorder++;
  if (seqs.length !== n || missing || dupes || disorder || seqs.some((s, i) => s !== i + 1))
    problems.push(
      `${name}: ${seqs.length}/${n} events, ${missing} missing, ${dupes} twice, ${disorder} out of order`,
    );
  return problems;
}

export async function runSoak(opts: SoakOptions): Promise<SoakReport> {
  const log = opts.log ?? (() => {});
  const t0 = performance.now();
  const stack = await startStack({
    ports: 'free',
    nats: true,
    output: 'buffer',
    // Lets SIGUSR1 open an inspector on a free port (only the gateway is sent one).
    env: { NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --inspect-port=0`.trim() },
  });
  const clients: { job: SseClient; bus: SseClient }[] = [];
  try {
    const dataPath = join(stack.config.home, 'soak.txt');
    writeFileSync(
      dataPath,
      readFileSync(datasetPath('tinyshakespeare', 'input.txt'), 'utf8').slice(0, 50_000),
    );
    log(`lab started in ${stack.readySeconds.toFixed(1)} s`);
    const inspector = await inspectorUrl(stack);
    // Warm up what the first SSE client and the first job initialise once (routes, gRPC channel, consumers).
    const warm = await openSse(`${stack.url}/api/events?subject=lab.>&after=0`);
    await fetch(`${stack.url}/api/train/jobs`);
    await sleep(500);
    warm.close();
    await sleep(1000);
    const before = await gatewayMemory(inspector);
    const consumersBefore = await consumerCount(stack.natsUrl!);
    log(`gateway before the clients: ${fmt(before)}; ${consumersBefore} consumers on the stream`);

    const submitted = await fetch(`${stack.url}/api/train/jobs`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'soak', dataPath, tokenizer: 'char', config: trainConfig }),
    });
    if (submitted.status !== 201)
      throw new Error(`submit answered ${submitted.status}: ${await submitted.text()}`);
    const { id } = (await submitted.json()) as { id: string };
    // The clock starts with the first step (building and compiling the training graph takes seconds).
    for (;;) {
      const job = (await (await fetch(`${stack.url}/api/train/jobs/${id}`)).json()) as { step: number };
      if (job.step > 0) break;
      await sleep(100);
    }
    const opening = performance.now();
    // All at once, as when many tabs reconnect together.
    clients.push(
      ...(await Promise.all(
        Array.from({ length: opts.clients }, async () => ({
          job: await openSse(`${stack.url}/api/train/jobs/${id}/events`),
          // The job's subjects only (lab.run.<id>.metrics, lab.job.<id>.state), from the start of the bus.
          bus: await openSse(`${stack.url}/api/events?subject=lab.*.${id}.*&after=0`),
        })),
      )),
    );
    log(
      `${opts.clients} clients follow job ${id} on both streams (connected in ${((performance.now() - opening) / 1000).toFixed(1)} s)`,
    );
    const stepsOf = (c: SseClient) => c.events.filter((e) => e.event === 'step').length;

    await sleep((opts.seconds * 1000) / 2);
    const nats = stack.children.get('nats')!;
    const killedPid = nats.pid!;
    const killedAtStep = stepsOf(clients[0]!.job);
    const killedAt = performance.now();
    process.kill(killedPid, 'SIGKILL');
    while (nats.pid === killedPid) await sleep(20);
    // Up when it accepts a NATS connection again (the supervisor restarts it after 0.5 s).
    for (;;) {
      const nc = await connect({ servers: stack.natsUrl!, reconnect: false }).catch(() => undefined);
      if (nc) {
        await nc.close();
        break;
      }
      await sleep(20);
    }
    const natsDownMs = performance.now() - killedAt;
    log(
      `nats-server killed at step ${killedAtStep}; accepting connections again after ${natsDownMs.toFixed(0)} ms`,
    );
    await sleep((opts.seconds * 1000) / 2);

    const during = await gatewayMemory(inspector);
    const consumersDuring = await consumerCount(stack.natsUrl!);
    log(`gateway with the clients: ${fmt(during)}; ${consumersDuring} consumers on the stream`);
    await fetch(`${stack.url}/api/train/jobs/${id}/cancel`, { method: 'POST' });
    const ended = (c: SseClient) =>
      c.events.some((e) => e.event === 'state' && /"state":"(cancelled|completed|failed)"/.test(e.data));
    const cancelledAt = performance.now();
    await Promise.all(clients.map((c) => c.job.waitFor(() => ended(c.job), 120_000)));
    const n = Number(clients[0]!.job.events.at(-1)!.id);
    log(
      `job cancelled; every job stream ended ${((performance.now() - cancelledAt) / 1000).toFixed(1)} s later`,
    );
    // The bus streams catch up with what JetStream holds (events held in svc-train's outbox come late).
    await Promise.allSettled(clients.map((c) => c.bus.waitFor((evs) => evs.length >= n, 60_000)));
    log(`bus streams caught up ${((performance.now() - cancelledAt) / 1000).toFixed(1)} s after the cancel`);
    await sleep(1000);
    const runSeconds = (performance.now() - t0) / 1000;

    const failures: string[] = [];
    let delivered = 0;
    clients.forEach((c, i) => {
      const job: Seen[] = c.job.events.map((e) => {
        const d = JSON.parse(e.data) as Seen;
        if (Number(e.id) !== d.seq) failures.push(`client ${i} job stream: id ${e.id} carries seq ${d.seq}`);
        return { seq: d.seq, kind: d.kind, step: d.step };
      });
      const busIds = c.bus.events.map((e) => Number(e.id));
      const bus: Seen[] = c.bus.events.map((e) => {
        const d = (JSON.parse(e.data) as { data: Seen }).data;
        return { seq: d.seq, kind: d.kind, step: d.step };
      });
      delivered += job.length + bus.length;
      failures.push(...checkSequence(`client ${i} job stream`, job, n));
      failures.push(...checkSequence(`client ${i} bus stream`, bus, n));
      if (busIds.some((s, k) => k > 0 && s <= busIds[k - 1]!))
        failures.push(`client ${i} bus stream: SSE ids not increasing`);
      if (JSON.stringify(job) !== JSON.stringify(bus))
        failures.push(`client ${i}: the bus stream's events differ from the job stream's`);
    });
    const steps = clients[0]!.job.events.filter((e) => e.event === 'step').length;

    // What JetStream itself holds for the job, read straight from the stream.
    const reader = await NatsBus.connect(stack.natsUrl!, { name: 'soak-reader' });
    const stored: BusEvent[] = [];
    const sub = await reader.subscribe(`lab.*.${id}.*`, (e) => stored.push(e), { afterSeq: 0 });
    const nc = await connect({ servers: stack.natsUrl! });
    const info = await (await nc.jetstreamManager()).streams.info(STREAM_NAME, {
      subjects_filter: `lab.*.${id}.*`,
    });
    await nc.close();
    const count = Object.values(info.state.subjects ?? {}).reduce((a, b) => a + b, 0);
    const deadline = Date.now() + 20_000;
    while (stored.length < count && Date.now() < deadline) await sleep(20);
    await sub.unsubscribe();
    await reader.close();
    const storedSeqs = stored.map((e) => (e.data as Seen).seq);
    failures.push(
      ...checkSequence(
        'JetStream',
        stored.map((e) => e.data as Seen),
        n,
      ),
    );

    for (const c of clients) {
      c.job.close();
      c.bus.close();
    }
    clients.length = 0;
    // The gateway sees the disconnects and ends each stream's subscription (its consumer) and gRPC call.
    const leftAt = Date.now();
    let consumersAfter = await consumerCount(stack.natsUrl!);
    while (consumersAfter > consumersBefore && Date.now() - leftAt < 15_000) {
      await sleep(250);
      consumersAfter = await consumerCount(stack.natsUrl!);
    }
    if (consumersAfter > consumersBefore)
      failures.push(`${consumersAfter - consumersBefore} consumers of departed clients still on the stream`);
    await sleep(Math.max(0, 3000 - (Date.now() - leftAt)));
    const after = await gatewayMemory(inspector);
    log(`gateway after the clients left: ${fmt(after)}; ${consumersAfter} consumers on the stream`);
    const grown = after.heapUsed - before.heapUsed;
    if (grown > 8 * MiB)
      failures.push(`the gateway's heap grew by ${(grown / MiB).toFixed(1)} MiB over the soak (limit 8 MiB)`);

    return {
      clients: opts.clients,
      seconds: opts.seconds,
      jobId: id,
      events: n,
      steps,
      killedAtStep,
      natsDownMs,
      jetstream: { stored: count, distinct: new Set(storedSeqs).size },
      memory: { before, during, after },
      consumers: { before: consumersBefore, during: consumersDuring, after: consumersAfter },
      deliveredPerSecond: delivered / runSeconds,
      failures,
    };
  } finally {
    for (const c of clients) {
      c.job.close();
      c.bus.close();
    }
    await stack.stop();
  }
}

if (isMain(import.meta.url)) {
  const { values } = parseArgs({
    options: { clients: { type: 'string', default: '100' }, seconds: { type: 'string', default: '60' } },
  });
  const started = performance.now();
  const report = await runSoak({
    clients: Number(values.clients),
    seconds: Number(values.seconds),
    log: (m) => process.stderr.write(`[soak] ${m}\n`),
  });
  const { failures, ...figures } = report;
  process.stdout.write(
    `${JSON.stringify({ ...figures, wallSeconds: (performance.now() - started) / 1000 }, null, 2)}\n`,
  );
  if (failures.length) {
    process.stdout.write(`FAILED:\n${failures.slice(0, 50).join('\n')}\n`);
    process.exit(1);
  }
  process.stdout.write('passed: every client received every event exactly once, in order, on both streams\n');
  process.exit(0);
}

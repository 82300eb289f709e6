// The gateway's training routes in front of a real svc-train (gRPC over loopback, real nats-server, real
// ONNX Runtime training of a tiny model): the gateway app in this process, svc-train in this process too so
// the test can reach its job manager; then the same through the whole lab started as processes.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { OpenAPIHono } from '@hono/zod-openapi';
import {
  bindService,
  createLogger,
  datasetPath,
  loadConfig,
  NatsBus,
  openStore,
  type RunningGrpcServer,
  type Store,
  startGrpcServer,
} from '@lab/common';
import { TrainServiceService } from '@lab/proto/train';
import { type NatsServerHandle, runNatsServer } from '@lab/supervisor';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useStack } from '../../supervisor/test/fixture.ts';
import { openSse } from '../../supervisor/test/sse.ts';
import { buildTokenizeService } from '../../svc-tokenize/src/service.ts';
import type { JobManager } from '../../svc-train/src/jobs/manager.ts';
import { createTrainImpl } from '../../svc-train/src/service.ts';
import { createApp } from '../src/app.ts';
import { connectServices, type ServiceClients } from '../src/clients.ts';

const home = mkdtempSync(join(tmpdir(), 'lab-gw-train-'));
const dataPath = join(home, 'input.txt');
writeFileSync(dataPath, readFileSync(datasetPath('tinyshakespeare', 'input.txt'), 'utf8').slice(0, 20_000));

let nats: NatsServerHandle;
let store: Store;
let bus: NatsBus;
let manager: JobManager;
let server: RunningGrpcServer;
let services: ServiceClients;
let app: OpenAPIHono;
/** svc-tokenize, which svc-train asks about tokenizers. */
let tokenize: RunningGrpcServer;
let tokenizeStore: Store;

beforeAll(async () => {
  nats = await runNatsServer(home);
  store = openStore(home, 'train');
  bus = await NatsBus.connect(nats.url, { name: 'train' });
  const log = createLogger('train', 'warn');
  tokenizeStore = openStore(home, 'tokenize');
  const tokDeps = {
    name: 'tokenize' as const,
    config: loadConfig({ LAB_DATA_ROOTS: process.env.LAB_DATA_ROOTS, LAB_HOME: home }),
    bus,
    store: tokenizeStore,
    log,
  };
  tokenize = await startGrpcServer({
    host: '127.0.0.1',
    port: 0,
    services: [buildTokenizeService(tokDeps)],
    log,
  });
  const addresses = { LAB_HOME: home, LAB_TOKENIZE_ADDR: `127.0.0.1:${tokenize.port}` };
  const created = await createTrainImpl({
    bus,
    store,
    config: loadConfig({ ...addresses, LAB_DATA_ROOTS: process.env.LAB_DATA_ROOTS, NATS_URL: nats.url }),
    log,
  });
  manager = created.manager;
  server = await startGrpcServer({
    host: '127.0.0.1',
    port: 0,
    services: [bindService(TrainServiceService, created.impl)],
    log,
  });
  services = connectServices(loadConfig({ ...addresses, LAB_TRAIN_ADDR: `127.0.0.1:${server.port}` }));
  app = createApp({ services, bus });
}, 60_000);

afterAll(async () => {
  services?.close();
  await server?.shutdown(200);
  await manager?.close();
  await tokenize?.shutdown(100);
  await tokenizeStore?.close();
  await bus?.close();
  await store?.close();
  await nats?.stop();
  rmSync(home, { recursive: true, force: true });
});

const post = (path: string, body?: unknown, headers: Record<string, string> = {}) =>
  app.request(path, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });

interface Sse {
  id?: string;
  event?: string;
  data: Record<string, unknown>;
}

/** Reads an SSE response to its end. */
async function readSse(res: Response): Promise<Sse[]> {
  expect(res.headers.get('content-type')).toMatch(/text\/event-stream/);
  const text = await res.text();
  const out: Sse[] = [];
  for (const block of text.split('\n\n')) {
    const ev: Partial<Sse> = {};
    for (const line of block.split('\n')) {
      if (line.startsWith('id:')) ev.id = line.slice(3).trim();
      else if (line.startsWith('event:')) ev.event = line.slice(6).trim();
      else if (line.startsWith('data:')) ev.data = JSON.parse(line.slice(5));
    }
    if (ev.data) out.push(ev as Sse);
  }
  return out;
}

const config = {
  model: { nLayer: 1, nHead: 2, nEmbd: 16, ffnHidden: 32 },
  context: 16,
  batchSize: 4,
  iters: 20,
  evalInterval: 10,
  evalIters: 2,
  sampleTokens: 8,
  threads: 1,
};

describe('training routes of the gateway', () => {
  it('estimates a model before training it: GPT-2 small has 124,439,808 parameters', async () => {
    const res = await post('/api/train/estimate', { preset: 'gpt2-small', batchSize: 1, context: 1024 });
    expect(res.status).toBe(200);
    const e = (await res.json()) as {
      parameters: { total: number; embeddings: number };
      memory: { optimizer: number; weights: number };
      secondsPerStep: number;
    };
    expect(e.parameters.total).toBe(124_439_808);
    expect(e.memory.weights).toBe(124_439_808 * 4);
    expect(e.memory.optimizer).toBe(2 * e.memory.weights);
    const small = (await (await post('/api/train/estimate', { preset: 'nanogpt-cpu' })).json()) as {
      secondsPerStep: number;
    };
    expect(small.secondsPerStep).toBeGreaterThan(0);
    expect(small.secondsPerStep).toBeLessThan(e.secondsPerStep);
    const bad = await post('/api/train/estimate', { preset: 'gpt9' });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ error: { field: 'config.preset' } });
  });

  it('queues a job, streams its history as SSE (resumable by Last-Event-ID), and shows it in the list', async () => {
    const res = await post('/api/train/jobs', { name: 'gw', dataPath, tokenizer: 'char', config });
    expect(res.status).toBe(201);
    const { id } = (await res.json()) as { id: string };
    const events = await readSse(await app.request(`/api/train/jobs/${id}/events`));
    expect(events.map((e) => Number(e.id))).toEqual(events.map((_, i) => i + 1));
    expect(events.filter((e) => e.event === 'step')).toHaveLength(20);
    const evals = events.filter((e) => e.event === 'eval');
    expect(evals.map((e) => e.data.step)).toEqual([10, 20]);
    expect(evals[0]!.data).toMatchObject({ kind: 'eval' });
    expect(typeof evals[0]!.data.perplexity).toBe('number');
    expect(events.at(-1)).toMatchObject({ event: 'state', data: { state: 'completed' } });

    const again = await readSse(
      await app.request(`/api/train/jobs/${id}/events`, {
        headers: { 'last-event-id': String(events.length - 2) },
      }),
    );
    expect(again.map((e) => e.id)).toEqual(events.slice(-2).map((e) => e.id));

    const job = (await (await app.request(`/api/train/jobs/${id}`)).json()) as Record<string, unknown>;
    expect(job).toMatchObject({ id, name: 'gw', state: 'completed', step: 20, iters: 20 });
    expect((job.request as { dataPath: string }).dataPath).toBe(dataPath);
    const list = (await (await app.request('/api/train/jobs?state=completed')).json()) as {
      jobs: { id: string }[];
      total: number;
    };
    expect(list.jobs.map((j) => j.id)).toContain(id);
  });

  it('takes sampleTokens 0 as "no sample" (the proto reads 0 as the default)', async () => {
    const run = async (sampleTokens: number) => {
      const res = await post('/api/train/jobs', {
        dataPath,
        tokenizer: 'char',
        config: { ...config, iters: 10, sampleTokens },
      });
      expect(res.status).toBe(201);
      const { id } = (await res.json()) as { id: string };
      const events = await readSse(await app.request(`/api/train/jobs/${id}/events`));
      return events
        .filter((e) => e.event === 'eval')
        .map((e) => (e.data as { sample?: string }).sample ?? '');
    };
    expect(await run(0)).toEqual(['']);
    const [sample] = await run(8);
    expect(sample!.length).toBeGreaterThan(0);
  });

  it('streams the induction figures of a job on repeated random tokens with its evaluations', async () => {
    const res = await post('/api/train/jobs', {
      repeatedTokens: { vocabSize: 16, halfLength: 8 },
      config: { ...config, model: { ...config.model, attnOnly: true }, iters: 10, sampleTokens: 0 },
    });
    expect(res.status).toBe(201);
    const { id } = (await res.json()) as { id: string };
    const events = await readSse(await app.request(`/api/train/jobs/${id}/events`));
    const evals = events.filter((e) => e.event === 'eval').map((e) => e.data);
    expect(evals.map((e) => e.step)).toEqual([10]);
    const induction = evals[0]!.induction as Record<string, number>;
    // Untrained on 16 symbols: both halves near ln 16 ≈ 2.77, the best head's score a share in [0, 1].
    expect(induction.firstHalfLoss).toBeGreaterThan(2);
    expect(induction.secondHalfLoss).toBeGreaterThan(1);
    expect(induction.inductionScore).toBeGreaterThanOrEqual(0);
    expect(induction.inductionScore).toBeLessThanOrEqual(1);
    expect(induction.bestLayer).toBeLessThan(config.model.nLayer);
    expect(induction.bestHead).toBeLessThan(config.model.nHead);
  });

  it('pauses, resumes and cancels through POST actions; a wrong action answers 409', async () => {
    const { id } = (await (
      await post('/api/train/jobs', { dataPath, config: { ...config, iters: 100_000, evalInterval: 50_000 } })
    ).json()) as {
      id: string;
    };
    for (;;) {
      const j = (await (await app.request(`/api/train/jobs/${id}`)).json()) as {
        state: string;
        step: number;
      };
      if (j.step > 0) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const paused = await post(`/api/train/jobs/${id}/pause`);
    expect(paused.status).toBe(200);
    expect(await paused.clone().json()).toMatchObject({ state: 'paused' });
    const at = ((await paused.clone().json()) as { step: number }).step;
    const twice = await post(`/api/train/jobs/${id}/pause`);
    expect(twice.status).toBe(409);
    expect(await twice.json()).toMatchObject({ error: { code: 'FAILED_PRECONDITION' } });
    expect((await post(`/api/train/jobs/${id}/resume`)).status).toBe(200);
    for (;;) {
      const j = (await (await app.request(`/api/train/jobs/${id}`)).json()) as { step: number };
      if (j.step > at) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const cancelled = await post(`/api/train/jobs/${id}/cancel`);
    expect(await cancelled.json()).toMatchObject({ state: 'cancelled' });
    const events = await readSse(await app.request(`/api/train/jobs/${id}/events`));
    expect(events.filter((e) => e.event === 'state').map((e) => e.data.state)).toEqual([
      'queued',
      'running',
      'paused',
      'queued',
      'running',
      'running',
      'cancelled',
    ]);
  });

  it('answers bad input with 400 naming the field, and an unknown job with 404', async () => {
    const cases: [unknown, string][] = [
      [{ dataPath, config: { ...config, batchSize: 0 } }, 'config.batchSize'],
      [{ dataPath, config: { ...config, schedule: 'step' } }, 'config.schedule'],
      [{ config }, 'dataPath'],
      [{ dataPath: join(home, 'nope.txt'), config }, 'dataPath'],
      [{ dataPath, tokenizer: 'nope', config }, 'tokenizer'],
      [
        { dataPath, config: { ...config, minLearningRate: 0.5, learningRate: 0.1 } },
        'config.minLearningRate',
      ],
      // Repeated random tokens (the induction-head recipe): the gateway's bounds, then svc-train's checks.
      [{ repeatedTokens: { vocabSize: 1, halfLength: 8 }, config }, 'repeatedTokens.vocabSize'],
      [{ repeatedTokens: { vocabSize: 64, halfLength: 9000 }, config }, 'repeatedTokens.halfLength'],
      [{ repeatedTokens: { vocabSize: 64, halfLength: 8 }, dataPath, config }, 'repeatedTokens'],
      [
        { repeatedTokens: { vocabSize: 64, halfLength: 8 }, config: { ...config, context: 20 } },
        'config.context',
      ],
    ];
    for (const [body, field] of cases) {
      const res = await post('/api/train/jobs', body);
      expect(res.status, field).toBe(400);
      expect(await res.json()).toMatchObject({ error: { code: 'INVALID_ARGUMENT', field } });
    }
    expect((await app.request('/api/train/jobs/job-nope')).status).toBe(404);
    expect((await app.request('/api/train/jobs/job-nope/events')).status).toBe(404);
  });

  it('answers validation errors as sentences naming the field in words, with its path in `field`', async () => {
    const cases: [unknown, string, string][] = [
      [
        { dataPath, config: { ...config, batchSize: 2000 } },
        'config.batchSize',
        'Batch size must be at most 1024.',
      ],
      [
        { dataPath, config: { ...config, batchSize: 1.5 } },
        'config.batchSize',
        'Batch size must be a whole number (got 1.5).',
      ],
      [
        { dataPath, config: { ...config, learningRate: 0 } },
        'config.learningRate',
        'Learning rate must be more than 0.',
      ],
      [
        { dataPath, config: { ...config, schedule: 'step' } },
        'config.schedule',
        'Schedule must be one of "cosine", "linear" or "constant".',
      ],
      [
        { dataPath, config: { ...config, iters: undefined } },
        'config.iters',
        'The number of steps is required.',
      ],
      [
        { dataPath, config: { ...config, iters: 'many' } },
        'config.iters',
        'The number of steps must be a number (got a string).',
      ],
      [
        { dataPath, config: { ...config, iters: 2e7 } },
        'config.iters',
        'The number of steps must be at most 10,000,000.',
      ],
      [
        { config },
        'dataPath',
        'Give either a data file or a dataset version, not both (exactly one of dataPath or datasetId).',
      ],
    ];
    for (const [body, field, message] of cases) {
      const res = await post('/api/train/jobs', body);
      expect(res.status, field).toBe(400);
      expect(await res.json()).toEqual({ error: { code: 'INVALID_ARGUMENT', message, field } });
    }
    // svc-train's own checks read the same way through the gateway.
    const heads = await post('/api/train/jobs', { dataPath, config: { ...config, model: { nHead: 3 } } });
    expect(await heads.json()).toEqual({
      error: {
        code: 'INVALID_ARGUMENT',
        message: 'Heads (3) must divide the width 128 evenly.',
        field: 'config.modelJson.nHead',
      },
    });
  });

  it('estimates against the machine svc-train runs on, and lists the presets with their shapes', async () => {
    const res = await post('/api/train/estimate', { preset: 'gpt2-medium', iters: 2000, tokenizer: 'gpt2' });
    expect(res.status).toBe(200);
    const e = (await res.json()) as {
      secondsPerStep: number;
      totalSeconds: number;
      vocabSize: number;
      vocabSource: string;
      model: Record<string, unknown>;
      machine: { memoryBytes: number; cpus: number };
      warnings: { kind: string; field: string; message: string }[];
    };
    expect(e.totalSeconds).toBeCloseTo(2000 * e.secondsPerStep, 6);
    expect({ vocab: e.vocabSize, source: e.vocabSource }).toEqual({ vocab: 50257, source: 'tokenizer' });
    expect(e.model).toMatchObject({ nLayer: 24, nHead: 16, nEmbd: 1024, blockSize: 1024 });
    expect(e.machine.memoryBytes).toBeGreaterThan(2 ** 30);
    expect(e.warnings.find((w) => w.kind === 'time')).toMatchObject({ field: 'config.iters' });

    const presets = (await (await app.request('/api/train/presets')).json()) as {
      presets: { name: string; nLayer: number; nHead: number; nEmbd: number; context: number }[];
    };
    expect(presets.presets.map((p) => p.name)).toContain('nanogpt-cpu');
    expect(presets.presets.find((p) => p.name === 'gpt2-medium')).toMatchObject({
      nLayer: 24,
      nHead: 16,
      nEmbd: 1024,
      context: 1024,
    });
  });

  it('documents the routes in the OpenAPI document', async () => {
    const doc = (await (await app.request('/api/openapi.json')).json()) as { paths: Record<string, unknown> };
    for (const p of [
      '/api/train/jobs',
      '/api/train/jobs/{id}',
      '/api/train/jobs/{id}/cancel',
      '/api/train/jobs/{id}/pause',
      '/api/train/jobs/{id}/resume',
      '/api/train/jobs/{id}/events',
      '/api/train/presets',
    ])
      expect(Object.keys(doc.paths)).toContain(p);
  });
});

// The whole lab: nats-server, five services and the gateway as processes.
describe('training routes in the running lab', () => {
  const lab = useStack();
  it('trains through the gateway: SSE from the job, metrics on the bus', async () => {
    const bus = await openSse(`${lab().url}/api/events?subject=lab.run.*.metrics`);
    try {
      const res = await fetch(`${lab().url}/api/train/jobs`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ dataPath, config }),
      });
      expect(res.status).toBe(201);
      const { id } = (await res.json()) as { id: string };
      const sse = await openSse(`${lab().url}/api/train/jobs/${id}/events`);
      const events = await sse.waitFor(
        (evs) => evs.some((e) => e.event === 'state' && /completed|failed/.test(e.data)),
        60_000,
      );
      sse.close();
      expect(events.filter((e) => e.event === 'step')).toHaveLength(20);
      expect(JSON.parse(events.at(-1)!.data)).toMatchObject({ state: 'completed' });
      const metrics = await bus.waitFor(
        (evs) => evs.filter((e) => JSON.parse(e.data).subject === `lab.run.${id}.metrics`).length >= 22,
      );
      expect(metrics.length).toBeGreaterThanOrEqual(22);
    } finally {
      bus.close();
    }
  }, 120_000);

  it('keeps a job and its streams whole when NATS restarts mid-run: no point missing, none twice', async () => {
    const iters = 3000;
    const res = await fetch(`${lab().url}/api/train/jobs`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ dataPath, config: { ...config, iters, evalInterval: 1000 } }),
    });
    const { id } = (await res.json()) as { id: string };
    // The job's subjects on the bus (lab.run.<id>.metrics and lab.job.<id>.state), from the bus's start.
    const bus = await openSse(`${lab().url}/api/events?subject=lab.*.${id}.*&after=0`);
    const sse = await openSse(`${lab().url}/api/train/jobs/${id}/events`);
    const steps = () => sse.events.filter((e) => e.event === 'step').length;
    try {
      await sse.waitFor(() => steps() >= 20, 60_000);
      const nats = lab().children.get('nats')!;
      const before = nats.pid;
      process.kill(before!, 'SIGKILL');
      // The supervisor brings NATS back (same port, same JetStream store).
      const deadline = Date.now() + 30_000;
      while (nats.pid === before && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(nats.pid).not.toBe(before);
      const atRestart = steps();
      const events = await sse.waitFor(
        (evs) => evs.some((e) => e.event === 'state' && /completed|failed/.test(e.data)),
        180_000,
      );
      expect(atRestart).toBeLessThan(iters); // the run went on across the restart
      expect(JSON.parse(events.at(-1)!.data)).toMatchObject({ state: 'completed' });
      const seqs = events.map((e) => Number(e.id));
      expect(seqs).toEqual(seqs.map((_, i) => i + 1));
      const stepNumbers = events.filter((e) => e.event === 'step').map((e) => JSON.parse(e.data).step);
      expect(stepNumbers).toEqual(Array.from({ length: iters }, (_, i) => i + 1));
      // The bus stream too, every event once and in order: what was published while NATS was down waited in
      // svc-train's outbox and came after it, in its place. Its events are the job stream's, one for one.
      const n = seqs.length;
      const busEvents = await bus.waitFor((evs) => evs.length >= n, 60_000);
      await new Promise((r) => setTimeout(r, 500)); // nothing more may come
      const seen = (
        list: typeof events,
        unwrap: (d: unknown) => { seq: number; kind: string; step: number },
      ) =>
        list.map((e) => {
          const d = unwrap(JSON.parse(e.data));
          return [d.seq, d.kind, d.step];
        });
      const onBus = seen(
        bus.events,
        (d) => (d as { data: { seq: number; kind: string; step: number } }).data,
      );
      expect(onBus.map(([seq]) => seq)).toEqual(seqs);
      expect(onBus).toEqual(seen(events, (d) => d as { seq: number; kind: string; step: number }));
      const busIds = busEvents.map((e) => Number(e.id));
      expect(busIds.every((id, i) => i === 0 || id > busIds[i - 1]!)).toBe(true);
    } finally {
      sse.close();
      bus.close();
    }
  }, 300_000);
});

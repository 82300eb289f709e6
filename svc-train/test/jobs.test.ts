// The training job service over real gRPC (loopback), a real nats-server (JetStream work queue and events)
// and real ONNX Runtime training of a tiny model.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import {
  type BusEvent,
  bindService,
  createClient,
  createLogger,
  datasetPath,
  type EventBus,
  fromServiceError,
  loadConfig,
  localCallContext,
  MemoryBus,
  NatsBus,
  openStore,
  type RunningGrpcServer,
  remoteImpl,
  type ServiceImpl,
  type Store,
  startGrpcServer,
} from '@lab/common';
import { DataServiceService } from '@lab/proto/data';
import { TokenizeServiceClient, TrainTokenizerRequest } from '@lab/proto/tokenize';
import {
  EstimateModelRequest,
  type JobEvent,
  SubmitJobRequest,
  type TrainConfig,
  TrainServiceClient,
  TrainServiceService,
} from '@lab/proto/train';
import { type NatsServerHandle, runNatsServer } from '@lab/supervisor';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDataImpl } from '../../svc-data/src/service.ts';
import { buildTokenizeService } from '../../svc-tokenize/src/service.ts';
import type { JobManager } from '../src/jobs/manager.ts';
import { createTrainImpl } from '../src/service.ts';

const shakespeare = datasetPath('tinyshakespeare', 'input.txt');
const home = mkdtempSync(join(tmpdir(), 'lab-train-jobs-'));
const dataPath = join(home, 'input.txt');
writeFileSync(dataPath, readFileSync(shakespeare, 'utf8').slice(0, 20_000));

/** A model small enough for a loaded 2-core machine: one layer, 16 wide. */
const tiny = (over: Partial<TrainConfig> = {}): Partial<TrainConfig> => ({
  preset: 'nanogpt-cpu',
  modelJson: JSON.stringify({ nLayer: 1, nHead: 2, nEmbd: 16, ffnHidden: 32 }),
  context: 16,
  batchSize: 4,
  iters: 30,
  evalInterval: 10,
  checkpointInterval: 10,
  evalIters: 2,
  sampleTokens: 12,
  threads: 1,
  learningRate: 3e-3,
  ...over,
});

const request = (config: Partial<TrainConfig>, over: Partial<SubmitJobRequest> = {}): SubmitJobRequest =>
  SubmitJobRequest.fromPartial({ name: 'tiny', dataPath, tokenizer: 'char', config, ...over });

/** The estimate the Train page asks for before submitting `req`. */
const estimateOf = (train: Train, req: SubmitJobRequest) =>
  train.estimateModel!(
    EstimateModelRequest.fromPartial({
      config: req.config,
      tokenizer: req.tokenizer,
      dataPath: req.dataPath,
      datasetId: req.datasetId,
      datasetVersion: req.datasetVersion,
    }),
    undefined as never,
  );

type Train = ServiceImpl<typeof TrainServiceService>;

interface Instance {
  train: Train;
  manager: JobManager;
  server: RunningGrpcServer;
  bus: EventBus;
  client: TrainServiceClient;
  stop(): Promise<void>;
}

let nats: NatsServerHandle;
let store: Store;
/** A real svc-tokenize: jobs naming a registry tokenizer ask it for the tokenizer over gRPC. */
let tokenize: RunningGrpcServer;
let tokenizeStore: Store;
/** A real svc-data: jobs naming a dataset version read its shards over gRPC. */
let data: RunningGrpcServer;
let dataStore: Store;
let dataImpl: ReturnType<typeof createDataImpl>;

/** One svc-train instance: its own NATS connections and gRPC server, the shared store of $LAB_HOME/train. */
async function startInstance(workerId: string): Promise<Instance> {
  const config = loadConfig({
    LAB_DATA_ROOTS: process.env.LAB_DATA_ROOTS,
    LAB_HOME: home,
    NATS_URL: nats.url,
    LAB_TOKENIZE_ADDR: `127.0.0.1:${tokenize.port}`,
    LAB_DATA_ADDR: `127.0.0.1:${data.port}`,
  });
  const log = createLogger(`train-${workerId}`, 'warn');
  const bus = await NatsBus.connect(nats.url, { name: workerId });
  const { impl, manager } = await createTrainImpl({ bus, store, config, log }, { workerId, leaseMs: 3000 });
  const server = await startGrpcServer({
    host: '127.0.0.1',
    port: 0,
    services: [bindService(TrainServiceService, impl)],
    log,
  });
  const client = createClient(TrainServiceClient, `127.0.0.1:${server.port}`);
  return {
    train: remoteImpl(TrainServiceService, client),
    manager,
    server,
    bus,
    client,
    stop: async () => {
      client.close();
      await server.shutdown(200);
      await manager.close();
      await bus.close();
    },
  };
}

async function collect(train: Train, id: string, afterSeq = 0): Promise<JobEvent[]> {
  const out: JobEvent[] = [];
  for await (const e of train.watchJob!({ id, afterSeq }, undefined as never)) out.push(e);
  return out;
}

async function waitFor<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function expectContinuous(events: JobEvent[]): void {
  expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
  const steps = events.filter((e) => e.kind === 'step').map((e) => e.step);
  expect(steps).toEqual(steps.map((_, i) => i + 1));
}

let a: Instance;

beforeAll(async () => {
  nats = await runNatsServer(home);
  store = openStore(home, 'train');
  tokenizeStore = openStore(home, 'tokenize');
  const tokDeps = {
    name: 'tokenize' as const,
    config: loadConfig({ LAB_DATA_ROOTS: process.env.LAB_DATA_ROOTS, LAB_HOME: home }),
    bus: new MemoryBus(),
    store: tokenizeStore,
    log: createLogger('tokenize', 'error'),
  };
  tokenize = await startGrpcServer({
    host: '127.0.0.1',
    port: 0,
    services: [buildTokenizeService(tokDeps)],
    log: tokDeps.log,
  });
  dataStore = openStore(home, 'data');
  dataImpl = createDataImpl({ ...tokDeps, store: dataStore, log: createLogger('data', 'error') });
  data = await startGrpcServer({
    host: '127.0.0.1',
    port: 0,
    services: [bindService(DataServiceService, dataImpl)],
    log: tokDeps.log,
  });
  a = await startInstance('worker-a');
}, 60_000);

afterAll(async () => {
  await a?.stop();
  await tokenize?.shutdown(100);
  await data?.shutdown(100);
  await dataStore?.close();
  await tokenizeStore?.close();
  await store?.close();
  await nats?.stop();
  rmSync(home, { recursive: true, force: true });
});

describe('svc-train jobs', () => {
  it('runs a submitted job: step and eval points stream live, on NATS too, and it ends completed with a checkpoint', async () => {
    const busEvents: BusEvent[] = [];
    const sub = await a.bus.subscribe('lab.>', (e) => busEvents.push(e), {});
    const job = await a.train.submitJob!(request(tiny()), undefined as never);
    expect(job.id).toMatch(/^job-/);
    expect(['queued', 'running']).toContain(job.state);
    expect(job.request?.config?.batchSize).toBe(4);

    const events = await collect(a.train, job.id);
    expectContinuous(events);
    const steps = events.filter((e) => e.kind === 'step');
    expect(steps).toHaveLength(30);
    for (const s of steps) {
      expect(s.loss).toBeGreaterThan(0);
      expect(s.lr).toBeGreaterThan(0);
      expect(s.gradNorm).toBeGreaterThan(0);
      expect(s.tokensPerSecond).toBeGreaterThan(0);
      expect(s.elapsedSeconds).toBeGreaterThan(0);
    }
    const evals = events.filter((e) => e.kind === 'eval');
    expect(evals.map((e) => e.step)).toEqual([10, 20, 30]);
    for (const e of evals) {
      expect(e.perplexity).toBeCloseTo(Math.exp(e.valLoss), 5);
      expect(e.sample.length).toBeGreaterThan(0);
    }
    expect(evals.at(-1)!.valLoss).toBeLessThan(Math.log(60));
    expect(events.at(-1)).toMatchObject({ kind: 'state', state: 'completed' });

    const done = await a.train.getJob!({ id: job.id }, undefined as never);
    expect(done).toMatchObject({
      state: 'completed',
      step: 30,
      iters: 30,
      lastSeq: events.length,
      attempts: 1,
    });
    expect(done.vocabSize).toBeGreaterThan(30);
    // The estimate of the same request counts the job's parameters: the vocabulary is the data's characters
    // (this excerpt has fewer than the preset's 65), as the job's is.
    expect(done.vocabSize).not.toBe(65);
    const est = await estimateOf(a.train, request(tiny()));
    expect({ total: est.parameters?.total, vocab: est.vocabSize, source: est.vocabSource }).toEqual({
      total: done.parameters,
      vocab: done.vocabSize,
      source: 'data',
    });
    // Without data chosen yet the vocabulary is the preset's, and the estimate says so.
    const early = await estimateOf(a.train, request(tiny(), { dataPath: '' }));
    expect({ vocab: early.vocabSize, source: early.vocabSource }).toEqual({ vocab: 65, source: 'preset' });
    expect(done.checkpoints.length).toBeGreaterThan(0);
    const last = done.checkpoints.at(-1)!;
    for (const f of [
      'model.safetensors',
      'optimizer.safetensors',
      'config.json',
      'trainer_state.json',
      'tokenizer.json',
      'manifest.json',
    ])
      expect(existsSync(join(last, f)), f).toBe(true);
    expect(JSON.parse(readFileSync(join(last, 'trainer_state.json'), 'utf8')).step).toBe(30);

    // Replays resume after a sequence number.
    const tail = await collect(a.train, job.id, events.length - 3);
    expect(tail.map((e) => e.seq)).toEqual(events.slice(-3).map((e) => e.seq));

    // The same points went out on NATS, metrics and state changes on their subjects.
    await waitFor(
      'bus events',
      async () =>
        busEvents.some(
          (e) =>
            e.subject === `lab.job.${job.id}.state` && (e.data as { state: string }).state === 'completed',
        ) || undefined,
    );
    await sub.unsubscribe();
    const metrics = busEvents
      .filter((e) => e.subject === `lab.run.${job.id}.metrics`)
      .map((e) => e.data as { seq: number });
    expect(metrics.map((m) => m.seq)).toEqual(events.filter((e) => e.kind !== 'state').map((e) => e.seq));

    const list = await a.train.listJobs!({ page: { offset: 0, limit: 10 }, state: '' }, undefined as never);
    expect(list.jobs.map((j) => j.id)).toContain(job.id);
  });

  it('pauses a running job at a checkpoint and resumes it to completion with a continuous history', async () => {
    const job = await a.train.submitJob!(
      request(tiny({ iters: 2000, evalInterval: 1000, checkpointInterval: 1000 })),
      undefined as never,
    );
    // Pause as soon as the first step is reported.
    for await (const e of a.train.watchJob!({ id: job.id, afterSeq: 0 }, undefined as never)) {
      if (e.kind === 'step') break;
    }
    const paused = await a.train.pauseJob!({ id: job.id }, undefined as never);
    expect(paused.state).toBe('paused');
    expect(paused.step).toBeLessThan(2000);
    expect(paused.checkpoints.at(-1)).toMatch(new RegExp(`step-0*${paused.step}$`));
    // A paused job stays put.
    await new Promise((r) => setTimeout(r, 500));
    expect((await a.train.getJob!({ id: job.id }, undefined as never)).step).toBe(paused.step);
    await expect(a.train.pauseJob!({ id: job.id }, undefined as never)).rejects.toMatchObject({ code: 9 });

    const resumed = await a.train.resumeJob!({ id: job.id }, undefined as never);
    expect(['queued', 'running']).toContain(resumed.state);
    const events = await collect(a.train, job.id);
    expectContinuous(events);
    expect(events.filter((e) => e.kind === 'step')).toHaveLength(2000);
    const states = events.filter((e) => e.kind === 'state').map((e) => e.state);
    expect(states).toEqual(['queued', 'running', 'paused', 'queued', 'running', 'running', 'completed']);
    expect(events.find((e) => e.message.startsWith('continuing from the checkpoint'))?.step).toBe(
      paused.step,
    );
    expect((await a.train.getJob!({ id: job.id }, undefined as never)).attempts).toBe(2);
  });

  it('cancels a running job and a queued one', async () => {
    const running = await a.train.submitJob!(request(tiny({ iters: 5000 })), undefined as never);
    const queued = await a.train.submitJob!(request(tiny({ iters: 10 })), undefined as never);
    await waitFor('the first job to run', async () => {
      const j = await a.train.getJob!({ id: running.id }, undefined as never);
      return j.step >= 1 ? j : undefined;
    });
    expect((await a.train.getJob!({ id: queued.id }, undefined as never)).state).toBe('queued');
    const q = await a.train.cancelJob!({ id: queued.id }, undefined as never);
    expect(q.state).toBe('cancelled');
    const r = await a.train.cancelJob!({ id: running.id }, undefined as never);
    expect(r.state).toBe('cancelled');
    expect(r.step).toBeLessThan(5000);
    const events = await collect(a.train, running.id);
    expect(events.at(-1)).toMatchObject({ kind: 'state', state: 'cancelled' });
    await expect(a.train.cancelJob!({ id: running.id }, undefined as never)).rejects.toMatchObject({
      code: 9,
    });
    // The cancelled queued job never runs.
    await new Promise((res) => setTimeout(res, 1500));
    expect((await a.train.getJob!({ id: queued.id }, undefined as never)).attempts).toBe(0);
  });

  it("trains with a tokenizer of svc-tokenize's registry, fetched over gRPC when the job is submitted", async () => {
    const tc = createClient(TokenizeServiceClient, `127.0.0.1:${tokenize.port}`);
    for await (const _ of tc.train(
      TrainTokenizerRequest.fromPartial({ name: 'job-bpe', vocabSize: 300, path: dataPath }),
    )) {
      // progress of the tokenizer run; the job below waits for it to finish
    }
    tc.close();
    const job = await a.train.submitJob!(
      request(tiny({ iters: 6, evalInterval: 6, checkpointInterval: 6 }), { tokenizer: 'job-bpe' }),
      undefined as never,
    );
    const events = await collect(a.train, job.id);
    expect(events.at(-1)!.state).toBe('completed');
    const done = await a.train.getJob!({ id: job.id }, undefined as never);
    expect(done.vocabSize).toBe(300);
    const est = await estimateOf(a.train, request(tiny(), { tokenizer: 'job-bpe' }));
    expect({ total: est.parameters?.total, vocab: est.vocabSize, source: est.vocabSource }).toEqual({
      total: done.parameters,
      vocab: 300,
      source: 'tokenizer',
    });
  });

  it('trains on a svc-data dataset version: its char shards, train and val splits, read over gRPC', async () => {
    const ctx = localCallContext();
    const drain = async <T>(it: AsyncIterable<T>): Promise<T[]> => {
      const out: T[] = [];
      for await (const e of it) out.push(e);
      return out;
    };
    const ingested = await drain(
      dataImpl.ingest!(
        { name: 'bard', path: dataPath, format: '', textField: '', maxBytes: 0, documentSplit: '' },
        ctx,
      ),
    );
    const id = ingested.at(-1)!.dataset!.id;
    await drain(
      dataImpl.transform!(
        {
          datasetId: id,
          version: 1,
          steps: [{ kind: 'split', paramsJson: '{"train": 0.9, "val": 0.1, "test": 0}' }],
          dryRun: false,
        },
        ctx,
      ),
    );
    const shards = await drain(
      dataImpl.tokenize!(
        { datasetId: id, version: 2, tokenizer: 'char', shardTokens: 0, noSeparator: false },
        ctx,
      ),
    );
    expect(
      shards
        .at(-1)!
        .index!.splits.map((s) => s.name)
        .sort(),
    ).toEqual(['train', 'val']);

    const job = await a.train.submitJob!(
      request(tiny({ iters: 6, evalInterval: 6, checkpointInterval: 6 }), {
        dataPath: '',
        datasetId: id,
        datasetVersion: 2,
      }),
      ctx,
    );
    const events = await collect(a.train, job.id);
    expect(events.at(-1)!.state).toBe('completed');
    const done = await a.train.getJob!({ id: job.id }, ctx);
    expect(done.vocabSize).toBe(new Set(readFileSync(dataPath, 'utf8')).size);
    const est = await estimateOf(
      a.train,
      request(tiny(), { dataPath: '', datasetId: id, datasetVersion: 2 }),
    );
    expect({ total: est.parameters?.total, source: est.vocabSource }).toEqual({
      total: done.parameters,
      source: 'data',
    });
    expect(events.some((e) => e.kind === 'eval' && e.valLoss > 0)).toBe(true);

    const noShards = await a.train.submitJob!(
      request(tiny(), { dataPath: '', datasetId: id, datasetVersion: 1 }),
      ctx,
    ).catch((e: unknown) => fromServiceError(e));
    expect(noShards).toMatchObject({ code: 'FAILED_PRECONDITION', field: 'tokenizer' });
    // The command it quotes tokenizes the version asked for, not the latest one.
    expect((noShards as Error).message).toContain(`lab-data tokenize ${id} --version 1 --tokenizer char`);
  });

  it('estimates a run against this machine: total time, its memory, and warnings past either', async () => {
    const medium = await estimateOf(
      a.train,
      request({ preset: 'gpt2-medium', iters: 2000, batchSize: 12 }, { tokenizer: 'gpt2' }),
    );
    expect(medium.vocabSize).toBe(50257);
    expect(medium.totalSeconds).toBeCloseTo(2000 * medium.secondsPerStep, 6);
    const ram = process.constrainedMemory?.() || totalmem();
    expect(medium.machine?.memoryBytes).toBe(Math.min(ram, totalmem()));
    expect(medium.machine?.cpus).toBeGreaterThan(0);
    const memory =
      medium.weightsBytes + medium.gradientsBytes + medium.optimizerBytes + medium.activationsBytes;
    expect(medium.warnings.map((w) => w.kind)).toEqual([
      ...(memory > medium.machine!.memoryBytes ? ['memory'] : []),
      'time',
    ]);
    expect(medium.warnings.at(-1)).toMatchObject({ kind: 'time', field: 'config.iters' });
    expect(medium.warnings.at(-1)!.message).toMatch(/^2,000 steps at about .* days of compute/);
    // Far past any machine's memory (terabytes of activations): always warned, naming the batch size.
    const huge = await estimateOf(a.train, request({ preset: 'gpt2-small', iters: 1, batchSize: 1024 }));
    expect(huge.warnings).toMatchObject([{ kind: 'memory', field: 'config.batchSize' }]);
    // A small run on this machine warns of nothing.
    expect((await estimateOf(a.train, request(tiny()))).warnings).toEqual([]);
    // The resolved model is the one the job would train.
    expect(JSON.parse(medium.modelJson)).toMatchObject({
      nLayer: 24,
      nHead: 16,
      nEmbd: 1024,
      vocabSize: 50257,
    });

    const { presets } = await a.train.listPresets!({}, undefined as never);
    expect(presets.find((p) => p.name === 'gpt2-medium')).toMatchObject({
      family: 'gpt2',
      nLayer: 24,
      nHead: 16,
      nKvHead: 16,
      nEmbd: 1024,
      ffnHidden: 4096,
      context: 1024,
      parameters: 354_823_168,
    });
    expect(presets.find((p) => p.name === 'llama-small')).toMatchObject({ nHead: 8, nKvHead: 2 });
  });

  it('rejects bad input with the field named, and stores nothing', async () => {
    const before = (await a.train.listJobs!({ page: undefined, state: '' }, undefined as never)).total;
    const cases: [SubmitJobRequest, string, string, RegExp][] = [
      [
        request(tiny(), { dataPath: join(home, 'missing.txt') }),
        'INVALID_ARGUMENT',
        'dataPath',
        /no such file/,
      ],
      [request(tiny(), { tokenizer: 'nope' }), 'INVALID_ARGUMENT', 'tokenizer', /^Unknown tokenizer "nope"/],
      [request(tiny(), { dataPath: '', datasetId: 'ds-1' }), 'INVALID_ARGUMENT', 'datasetId', /ds-1/],
      [
        request(tiny({ batchSize: 100_000 })),
        'INVALID_ARGUMENT',
        'config.batchSize',
        /^Batch size must be a whole number from 1 to 1024 \(got 100,000\)\.$/,
      ],
      [
        request(tiny({ learningRate: -1 })),
        'INVALID_ARGUMENT',
        'config.learningRate',
        /^Learning rate .*\(0, 1\]/,
      ],
      [request(tiny({ minLearningRate: 1 })), 'INVALID_ARGUMENT', 'config.minLearningRate', /\[0, 0.003\]/],
      [
        request(tiny({ schedule: 'step' })),
        'INVALID_ARGUMENT',
        'config.schedule',
        /cosine, linear or constant/,
      ],
      [request(tiny({ iters: 0 })), 'INVALID_ARGUMENT', 'config.iters', /^The number of steps is required/],
      [
        request(tiny({ evalInterval: 31 })),
        'INVALID_ARGUMENT',
        'config.evalInterval',
        /^Eval every .*1 to 30/,
      ],
      [request(tiny({ preset: 'gpt5' })), 'INVALID_ARGUMENT', 'config.preset', /"gpt5" is an unknown preset/],
      [
        request(tiny({ modelJson: '{"nHead":3}' })),
        'INVALID_ARGUMENT',
        'config.modelJson.nHead',
        /^Heads \(3\) must divide the width 128 evenly\.$/,
      ],
    ];
    for (const [req, code, field, message] of cases) {
      const err = await a.train.submitJob!(req, undefined as never).then(
        () => undefined,
        (e) => fromServiceError(e),
      );
      expect(err, field).toBeDefined();
      expect({ code: err!.code, field: err!.field }).toEqual({ code, field });
      expect(err!.message).toMatch(message);
    }
    expect((await a.train.listJobs!({ page: undefined, state: '' }, undefined as never)).total).toBe(before);
    await expect(a.train.getJob!({ id: 'job-nope' }, undefined as never)).rejects.toMatchObject({ code: 5 });
  });

  it('fails a job whose data turns out too short for its context, with the reason', async () => {
    const short = join(home, 'short.txt');
    writeFileSync(short, 'To be, or not to be.');
    const job = await a.train.submitJob!(request(tiny(), { dataPath: short }), undefined as never);
    const events = await collect(a.train, job.id);
    expect(events.at(-1)).toMatchObject({ kind: 'state', state: 'failed' });
    const failed = await a.train.getJob!({ id: job.id }, undefined as never);
    expect(failed.state).toBe('failed');
    expect(failed.error).toMatch(/has 20 tokens; with context 16/);
  });

  it('runs every job exactly once when two service instances share one NATS', async () => {
    const b = await startInstance('worker-b');
    try {
      const ids: string[] = [];
      for (let i = 0; i < 4; i++) {
        const via = i % 2 ? b : a;
        ids.push(
          (
            await via.train.submitJob!(
              request(tiny({ iters: 12, evalInterval: 12, checkpointInterval: 12, sampleTokens: 0 }), {
                name: `pair-${i}`,
              }),
              undefined as never,
            )
          ).id,
        );
      }
      const workers = new Set<string>();
      for (const id of ids) {
        const events = await collect(a.train, id);
        expectContinuous(events);
        expect(events.filter((e) => e.kind === 'step')).toHaveLength(12);
        const started = events.filter((e) => e.kind === 'state' && e.state === 'running');
        expect(started).toHaveLength(1);
        workers.add(started[0]!.message.split(' ').at(-1)!);
        const j = await b.train.getJob!({ id }, undefined as never);
        expect(j).toMatchObject({ state: 'completed', attempts: 1 });
      }
      expect(workers).toEqual(new Set(['worker-a', 'worker-b']));
    } finally {
      await b.stop();
    }
  });

  it('without NATS: runs jobs side by side with concurrency 2, and a restart picks up running and queued jobs', async () => {
    const memHome = mkdtempSync(join(tmpdir(), 'lab-train-mem-'));
    const memStore = openStore(memHome, 'train');
    const config = loadConfig({ LAB_DATA_ROOTS: process.env.LAB_DATA_ROOTS, LAB_HOME: memHome });
    const log = createLogger('train-mem', 'error');
    const start = async (workerId: string) => {
      const bus = new MemoryBus();
      const { impl, manager } = await createTrainImpl(
        { bus, store: memStore, config, log },
        { workerId, concurrency: 2, leaseMs: 1000 },
      );
      return { impl, manager, bus };
    };
    try {
      const first = await start('mem-1');
      const ctx = { signal: new AbortController().signal } as never;
      const long = tiny({ iters: 100_000, evalInterval: 50_000, sampleTokens: 0 });
      const ids: string[] = [];
      for (let i = 0; i < 3; i++) ids.push((await first.impl.submitJob!(request(long), ctx)).id);
      // Two run at once; the third waits for a free slot.
      await waitFor('two running jobs', async () => {
        const jobs = await Promise.all(ids.map((id) => first.impl.getJob!({ id }, ctx)));
        return jobs.filter((j) => j.state === 'running' && j.step > 0).length === 2 || undefined;
      });
      expect((await first.impl.getJob!({ id: ids[2]! }, ctx)).state).toBe('queued');
      // The process goes away (its in-process queue with it) with two jobs running and one queued.
      await first.manager.close();
      await first.bus.close();

      const second = await start('mem-2');
      try {
        await waitFor(
          'two jobs running on the new instance, one queued',
          async () => {
            const jobs = await Promise.all(ids.map((id) => second.impl.getJob!({ id }, ctx)));
            const mine = jobs.filter((j) => j.state === 'running' && j.worker === 'mem-2');
            return mine.length === 2 && jobs.filter((j) => j.state === 'queued').length === 1
              ? jobs
              : undefined;
          },
          30_000,
        );
        for (const id of ids) await second.impl.cancelJob!({ id }, ctx);
        for (const id of ids) {
          const events: JobEvent[] = [];
          for await (const e of second.impl.watchJob!({ id, afterSeq: 0 }, ctx)) events.push(e);
          expectContinuous(events);
          expect(events.at(-1)).toMatchObject({ state: 'cancelled' });
        }
      } finally {
        await second.manager.close();
        await second.bus.close();
      }
    } finally {
      await memStore.close();
      rmSync(memHome, { recursive: true, force: true });
    }
  });
});

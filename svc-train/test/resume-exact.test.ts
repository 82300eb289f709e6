// Resuming is exact. A pre-training job that is paused and resumed, and one whose svc-train process is
// killed with SIGKILL and restarted, produce bit for bit the per-step losses, evaluations and final weights
// and optimizer moments of the same job run without interruption; a LoRA fine-tuning job paused and resumed
// ends with the same adapter. Bitwise, because everything a step computes is restored from the checkpoint
// (weights, Adam moments, Adam's step counter, the data sampler's RNG; dropout masks are drawn from
// (seed, step, row)) and ONNX Runtime runs the same graph on one thread. So this goes red when a resume
// zeroes the moments, restarts the step counter (bias correction, dropout masks) or re-seeds the data RNG.
//
// The real service as a process (so it can be killed), a real nats-server, svc-infer over gRPC for the
// fine-tune's base model.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import {
  checkHealth,
  createClient,
  createLogger,
  datasetPath,
  loadConfig,
  MemoryBus,
  openStore,
  type RunningGrpcServer,
  remoteImpl,
  type ServiceImpl,
  type Store,
  startGrpcServer,
} from '@lab/common';
import {
  gpt2Config,
  loadCheckpoint,
  paramLayout,
  readSafetensors,
  saveCheckpoint,
  Trainer,
} from '@lab/engine';
import { InferServiceClient, InferServiceService } from '@lab/proto/infer';
import {
  type Job,
  type JobEvent,
  SubmitJobRequest,
  TrainServiceClient,
  TrainServiceService,
} from '@lab/proto/train';
import { freePort, type NatsServerHandle, runNatsServer } from '@lab/supervisor';
import { buildInferService } from '@lab/svc-infer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CharCodec } from '../src/commands/char-codec.ts';
import { hfTokenizerFiles } from '../src/jobs/hf-model.ts';

const repo = resolve(import.meta.dirname, '../..');
const home = mkdtempSync(join(tmpdir(), 'lab-train-exact-'));
const dataPath = join(home, 'input.txt');
writeFileSync(dataPath, readFileSync(datasetPath('tinyshakespeare', 'input.txt'), 'utf8').slice(0, 20_000));

type Train = ServiceImpl<typeof TrainServiceService>;
const ctx = undefined as never;

let nats: NatsServerHandle;
let port: number;
let child: ChildProcess | undefined;
let output = '';
let client: TrainServiceClient | undefined;
let train: Train;
// svc-infer in this process: the fine-tuning job asks it (over gRPC) where its base model is.
let infer: RunningGrpcServer;
let inferStore: Store;

async function startService(): Promise<void> {
  output = '';
  child = spawn(process.execPath, ['--import', 'tsx', 'svc-train/src/server.ts'], {
    cwd: repo,
    env: {
      ...process.env,
      LAB_HOME: home,
      LAB_HOST: '127.0.0.1',
      LAB_TRAIN_PORT: String(port),
      LAB_INFER_ADDR: `127.0.0.1:${infer.port}`,
      NATS_URL: nats.url,
      LAB_LOG_LEVEL: 'warn',
      LAB_TRAIN_LEASE_MS: '1500',
      LAB_TRAIN_ACK_WAIT_MS: '5000',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.on('data', (d) => (output += d));
  child.stderr!.on('data', (d) => (output += d));
  const deadline = Date.now() + 60_000;
  while ((await checkHealth(`127.0.0.1:${port}`, '', 1000)) !== 'SERVING') {
    if (Date.now() > deadline || child.exitCode !== null)
      throw new Error(`svc-train did not start:\n${output}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  client = createClient(TrainServiceClient, `127.0.0.1:${port}`);
  train = remoteImpl(TrainServiceService, client);
}

function kill9(): Promise<void> {
  const c = child!;
  client?.close();
  return new Promise((r) => {
    c.once('exit', () => r());
    c.kill('SIGKILL');
  });
}

beforeAll(async () => {
  nats = await runNatsServer(home);
  port = await freePort();
  inferStore = openStore(home, 'infer');
  const log = createLogger('infer', 'error');
  infer = await startGrpcServer({
    host: '127.0.0.1',
    port: 0,
    services: [
      buildInferService({
        name: 'infer',
        config: loadConfig({ LAB_DATA_ROOTS: process.env.LAB_DATA_ROOTS, LAB_HOME: home }),
        bus: new MemoryBus(),
        store: inferStore,
        log,
      }),
    ],
    log,
  });
  await startService();
}, 120_000);

afterAll(async () => {
  client?.close();
  if (child && child.exitCode === null) {
    child.kill('SIGTERM');
    await new Promise((r) => child!.once('exit', r));
  }
  await infer?.shutdown(100);
  await inferStore?.close();
  await nats?.stop();
  rmSync(home, { recursive: true, force: true });
});

async function collect(id: string): Promise<JobEvent[]> {
  const out: JobEvent[] = [];
  for await (const e of train.watchJob!({ id, afterSeq: 0 }, ctx)) out.push(e);
  return out;
}

/** Waits for the job to report step `step` or later (events come in batches, so usually a little later). */
async function reachStep(id: string, step: number): Promise<void> {
  for await (const e of train.watchJob!({ id, afterSeq: 0 }, ctx))
    if (e.kind === 'step' && e.step >= step) return;
  throw new Error(`job ${id} ended before step ${step}`);
}

/** What must be identical between two runs of one job: every step's and every evaluation's numbers. */
function curve(events: JobEvent[]) {
  return {
    steps: events.filter((e) => e.kind === 'step').map((e) => [e.step, e.loss, e.gradNorm, e.lr]),
    evals: events.filter((e) => e.kind === 'eval').map((e) => [e.step, e.trainLoss, e.valLoss]),
  };
}

const bytes = (a: Float32Array | undefined) => Buffer.from(a!.buffer, a!.byteOffset, a!.byteLength);

/** The final checkpoint's weights and Adam moments, as bytes. */
function finalState(job: Job): { params: Buffer; m: Buffer; v: Buffer; step: number } {
  const ck = loadCheckpoint(job.checkpoints.at(-1)!);
  return { params: bytes(ck.params), m: bytes(ck.m), v: bytes(ck.v), step: Number(ck.state?.step) };
}

const pretrain = (name: string, iters: number) =>
  SubmitJobRequest.fromPartial({
    name,
    dataPath,
    tokenizer: 'char',
    config: {
      // Dropout on, so that the masks (drawn from the step counter) are part of what must match.
      modelJson: JSON.stringify({ nLayer: 1, nHead: 2, nEmbd: 16, ffnHidden: 32, dropout: 0.1 }),
      context: 16,
      batchSize: 4,
      iters,
      evalInterval: 100,
      checkpointInterval: 50,
      evalIters: 2,
      sampleOff: true,
      threads: 1,
      learningRate: 3e-3,
    },
  });

describe('resume is exact', () => {
  const iters = 400;
  let reference: { events: JobEvent[]; job: Job };

  it('an uninterrupted pre-training run (the reference)', async () => {
    const { id } = await train.submitJob!(pretrain('reference', iters), ctx);
    const events = await collect(id);
    const job = await train.getJob!({ id }, ctx);
    expect(job).toMatchObject({ state: 'completed', step: iters, attempts: 1 });
    expect(curve(events).steps).toHaveLength(iters);
    reference = { events, job };
  }, 120_000);

  it('pause and resume: every loss and the final weights and moments equal the uninterrupted run, bit for bit', async () => {
    expect(reference).toBeDefined();
    const { id } = await train.submitJob!(pretrain('paused', iters), ctx);
    await reachStep(id, 120);
    const paused = await train.pauseJob!({ id }, ctx);
    expect(paused.state).toBe('paused');
    // Paused between checkpoints (its own checkpoint at the pause step), with most of the run still to go.
    expect(paused.step).toBeGreaterThanOrEqual(120);
    expect(paused.step).toBeLessThan(iters - 100);
    await train.resumeJob!({ id }, ctx);
    const events = await collect(id);
    const job = await train.getJob!({ id }, ctx);
    expect(job).toMatchObject({ state: 'completed', step: iters });
    expect(events.find((e) => e.message.startsWith('continuing from the checkpoint'))?.step).toBe(
      paused.step,
    );

    expect(curve(events)).toEqual(curve(reference.events));
    const want = finalState(reference.job);
    const got = finalState(job);
    expect(got.step).toBe(iters);
    expect(got.params.equals(want.params)).toBe(true);
    expect(got.m.equals(want.m)).toBe(true);
    expect(got.v.equals(want.v)).toBe(true);
  }, 120_000);

  it('kill -9 and restart: the job continues from its last checkpoint to the same losses and weights', async () => {
    expect(reference).toBeDefined();
    const { id } = await train.submitJob!(pretrain('killed', iters), ctx);
    await reachStep(id, 120);
    const atKill = await train.getJob!({ id }, ctx);
    expect(atKill.checkpoints.length).toBeGreaterThan(0);
    await kill9();
    expect(atKill.step).toBeLessThan(iters - 100);

    await startService();
    const events = await collect(id);
    const job = await train.getJob!({ id }, ctx);
    expect(job).toMatchObject({ state: 'completed', step: iters, attempts: 2 });
    const cont = events.find((e) => e.message.startsWith('continuing from the checkpoint'))!;
    expect(cont.step).toBeGreaterThanOrEqual(50);
    expect(cont.step).toBeLessThan(iters - 100);

    // Steps before the crash come from the first process, the rest from the resumed one: all equal the
    // reference (the resumed run recomputes the steps after its checkpoint without emitting them again).
    expect(curve(events)).toEqual(curve(reference.events));
    const want = finalState(reference.job);
    const got = finalState(job);
    expect(got.params.equals(want.params)).toBe(true);
    expect(got.m.equals(want.m)).toBe(true);
    expect(got.v.equals(want.v)).toBe(true);
  }, 180_000);
});

describe('resume is exact for a LoRA fine-tune', () => {
  it('pause and resume end with the same adapter (and its optimizer state) as an uninterrupted run', async () => {
    // A tiny random-initialised base model registered in svc-infer: exactness does not need a good base.
    type Rec = { instruction: string; input: string; output: string };
    const records = (
      JSON.parse(readFileSync(datasetPath('alpaca', 'gsm8k_train_alpaca.json'), 'utf8')) as Rec[]
    )
      .filter((r) => r.instruction.length + r.output.length < 150)
      .slice(0, 60);
    const examples = join(home, 'examples.json');
    writeFileSync(examples, JSON.stringify(records));
    const codec = CharCodec.fromText(
      `${records.map((r) => `${r.instruction}${r.input}${r.output}`).join('')}User:Assistant:System:\n `,
    );
    const cfg = gpt2Config({
      nLayer: 1,
      nHead: 2,
      nEmbd: 16,
      ffnHidden: 32,
      blockSize: 192,
      vocabSize: codec.vocabSize,
    });
    const base = join(home, 'base');
    mkdirSync(base);
    const init = await Trainer.create({ cfg, batch: 1, seq: 8, seed: 3 });
    saveCheckpoint(base, { cfg, layout: paramLayout(cfg), params: init.params.slice() });
    await init.release();
    writeFileSync(
      join(base, 'tokenizer.json'),
      hfTokenizerFiles(codec.toTokenizer(), 192)['tokenizer.json']!,
    );
    const inferClient = createClient(InferServiceClient, `127.0.0.1:${infer.port}`);
    const inferApi = remoteImpl(InferServiceService, inferClient);
    await inferApi.importModel!({ name: 'tiny-base', path: base, quantize: '' }, ctx);
    inferClient.close();

    const iters = 50;
    const lora = (name: string) =>
      SubmitJobRequest.fromPartial({
        name,
        dataPath: examples,
        finetune: {
          baseModel: 'tiny-base',
          adapter: 'lora',
          loraRank: 4,
          loraDropout: 0.1,
          loraTargets: ['c_attn', 'c_fc'],
        },
        config: {
          iters,
          batchSize: 2,
          context: 128,
          learningRate: 3e-3,
          evalInterval: 25,
          checkpointInterval: 10,
          evalIters: 2,
          sampleOff: true,
          threads: 1,
        },
      });
    const adapterOf = (job: Job) => {
      const dir = join(job.checkpoints.at(-1)!, 'adapter');
      return {
        weights: readFileSync(join(dir, 'adapter_model.safetensors')),
        optim: [...readSafetensors(join(dir, 'adapter_optimizer.safetensors')).tensors].map(([k, t]) => [
          k,
          bytes(t.data as Float32Array).toString('base64'),
        ]),
      };
    };

    const ref = await train.submitJob!(lora('lora-reference'), ctx);
    const refEvents = await collect(ref.id);
    const refJob = await train.getJob!({ id: ref.id }, ctx);
    expect(refJob.error).toBe('');
    expect(refJob).toMatchObject({ state: 'completed', step: iters });

    const { id } = await train.submitJob!(lora('lora-paused'), ctx);
    await reachStep(id, 15);
    const paused = await train.pauseJob!({ id }, ctx);
    expect(paused.state).toBe('paused');
    expect(paused.step).toBeLessThan(iters - 10);
    await train.resumeJob!({ id }, ctx);
    const events = await collect(id);
    const job = await train.getJob!({ id }, ctx);
    expect(job).toMatchObject({ state: 'completed', step: iters });
    expect(events.find((e) => e.message.startsWith('continuing from the checkpoint'))?.step).toBe(
      paused.step,
    );

    expect(curve(events)).toEqual(curve(refEvents));
    const want = adapterOf(refJob);
    const got = adapterOf(job);
    expect(got.weights.equals(want.weights)).toBe(true);
    expect(got.optim).toEqual(want.optim);
  }, 240_000);
});

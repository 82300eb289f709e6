// Trains one job off the service's event loop (a step of even a small model is tens of milliseconds of
// CPU, during which gRPC and health checks must still be answered). Continues from the job's newest valid
// checkpoint when there is one. Posts WorkerMessage; obeys { type: 'pause' } between steps.
import { parentPort, workerData } from 'node:worker_threads';
import {
  type Batch,
  BatchSampler,
  DEFAULT_OPTIM,
  Decoder,
  estimateLoss,
  evaluateInduction,
  RepeatedTokensSampler,
  Rng,
  type RngState,
  type SessionOptions,
  Trainer,
} from '@lab/engine';
import type { Tokenizer } from '@lab/tokenizer';
import { runFinetune } from '../finetune/run.ts';
import { latestValidCheckpoint, writeCheckpoint } from './checkpoints.ts';
import { hfTokenizerFiles } from './hf-model.ts';
import { repeatedTokenizer } from './repeated-source.ts';
import { resolveTokens } from './resolve-tokens.ts';
import { lrAt } from './schedule.ts';
import type {
  InductionPoint,
  JobSpec,
  TextSource,
  WorkerControl,
  WorkerJob,
  WorkerMessage,
} from './types.ts';
import { jobModelConfig } from './validate.ts';

const job = workerData as WorkerJob;
const spec = job.spec;
const post = (m: WorkerMessage) => parentPort!.postMessage(m);
let pauseRequested = false;
let cancelRequested = false;
parentPort!.on('message', (m: WorkerControl) => {
  if (m.type === 'pause') pauseRequested = true;
  if (m.type === 'cancel') cancelRequested = true;
});
// Control messages must not keep the thread alive once training is over.
parentPort!.unref();

class FieldError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
  }
}

/** What the loop trains on: batches for training and for the train-loss estimate, and its vocabulary. */
interface TrainData {
  vocabSize: number;
  tokenizer: Tokenizer;
  decode(ids: readonly number[]): string;
  train: Sampler;
  /** Text data: validation windows drawn fresh at each evaluation. */
  val?: Sampler;
  /** Repeated random tokens: the fixed held-out set, evaluated with evaluateInduction. */
  repeated?: { heldOut: Batch[]; half: number; seed: number };
  /** Where generated samples start. */
  prompt: number[];
  /** The data stream's seed (the job's, unless the source has its own). */
  seed: number;
}

type Sampler = Pick<BatchSampler, 'next'>;

function textData(source: TextSource): TrainData {
  const data = resolveTokens(source, spec.tokenizer, { dir: job.dir });
  const split = data.valStart ?? Math.floor(data.tokens.length * (1 - spec.valFraction));
  const need = spec.context + 2;
  if (split < need || data.tokens.length - split < need) {
    const field = source.kind === 'dataset' ? 'datasetId' : 'dataPath';
    throw new FieldError(
      field,
      `The data has ${data.tokens.length} tokens; with context ${spec.context} and a validation fraction of ${spec.valFraction} each split needs more than ${need - 1}.`,
    );
  }
  return {
    vocabSize: data.vocabSize,
    tokenizer: data.tokenizer,
    decode: data.decode,
    train: new BatchSampler(data.tokens.subarray(0, split), spec.batch, spec.context),
    val: new BatchSampler(data.tokens.subarray(split), spec.batch, spec.context),
    prompt: [data.tokens[split]!],
    seed: spec.seed,
  };
}

function repeatedData(src: Extract<JobSpec['source'], { kind: 'repeated' }>): TrainData {
  const codec = repeatedTokenizer(job.dir, src.vocab);
  const sampler = new RepeatedTokensSampler({ vocab: src.vocab, half: src.half }, spec.batch);
  const heldOut = sampler.heldOut(src.seed, spec.evalIters);
  // A sample continues the first run of a held-out sequence: a model with an induction head repeats it.
  const row = heldOut[0].idx.subarray(0, src.half);
  return {
    vocabSize: src.vocab,
    tokenizer: codec.toTokenizer(),
    decode: (ids) => codec.decode(ids),
    train: sampler,
    repeated: { heldOut, half: src.half, seed: src.seed },
    prompt: Array.from(row, Number),
    seed: src.seed,
  };
}

async function run(): Promise<WorkerMessage> {
  if (spec.finetune)
    return runFinetune(job, { paused: () => pauseRequested, cancelled: () => cancelRequested }, post);
  const data = spec.source.kind === 'repeated' ? repeatedData(spec.source) : textData(spec.source);
  const cfg = jobModelConfig(spec.preset, spec.model, spec.context, data.vocabSize);
  const { train, val } = data;
  const session = spec.threads ? { threads: spec.threads } : undefined;
  const trainer = await Trainer.create({
    cfg,
    batch: spec.batch,
    seq: spec.context,
    optim: { ...DEFAULT_OPTIM, weightDecay: spec.weightDecay, clip: spec.clip },
    seed: spec.seed,
    accumulate: spec.accumulate,
    session,
  });
  try {
    let rng = new Rng(data.seed);
    let start = 0;
    let elapsedBase = 0;
    const latest = latestValidCheckpoint(job.dir, job.resumeLimit);
    if (latest.found) {
      const ck = latest.found.checkpoint;
      if (ck.layout.total !== trainer.layout.total)
        throw new Error(
          `checkpoint ${latest.found.dir} is for a different model (${ck.layout.total} parameters)`,
        );
      trainer.load({ params: ck.params, m: ck.m, v: ck.v, step: ck.state?.step ?? 0 });
      start = ck.state?.step ?? 0;
      if (ck.state?.rng) rng = new Rng(ck.state.rng as RngState);
      elapsedBase = Number(ck.state?.elapsed ?? 0);
    }
    post({
      type: 'ready',
      vocabSize: data.vocabSize,
      parameters: trainer.layout.total,
      resumedFrom: start,
      rejected: latest.rejected,
    });

    const t0 = performance.now();
    const elapsed = () => elapsedBase + (performance.now() - t0) / 1000;
    // Each checkpoint is a Hugging Face model directory whatever the tokenizer (hf-model.ts). Its tokenizer
    // files are made at the first checkpoint: a large built-in vocabulary takes seconds to export.
    let hfFiles: Record<string, string> | undefined;
    let lastSaved = start;
    // Validation loss of the evaluation at a step, recorded with the checkpoint written at that step.
    let lastEval: { step: number; valLoss: number } | undefined;
    const retention = { keepLast: spec.keepLast ?? 2, keepBest: spec.keepBest ?? false };
    const save = (step: number) => {
      hfFiles ??= hfTokenizerFiles(data.tokenizer, cfg.blockSize);
      const { dir, kept, entries } = writeCheckpoint(
        job.dir,
        step,
        {
          cfg,
          layout: trainer.layout,
          params: trainer.params,
          m: trainer.m,
          v: trainer.v,
          state: { step, rng: rng.state(), seed: spec.seed, elapsed: elapsed(), jobId: job.jobId },
        },
        {
          files: hfFiles,
          onnx: true,
          ...(lastEval?.step === step ? { valLoss: lastEval.valLoss } : {}),
        },
        retention,
      );
      lastSaved = step;
      post({ type: 'checkpoint', step, dir, kept, entries });
    };
    const estimate = (sampler: Sampler, step: number, salt: number) =>
      estimateLoss(trainer, sampler, { batches: spec.evalIters, seed: spec.seed, iter: step, salt });
    const sample = async (step: number) => {
      if (!spec.sampleTokens) return '';
      const decoder = await Decoder.create(cfg, trainer.params.slice(), session ?? {});
      try {
        const prompt = data.prompt;
        const room = cfg.blockSize - prompt.length;
        const ids = await decoder.generate(prompt, Math.min(spec.sampleTokens, room), {
          temperature: 0.8,
          topK: 50,
          seed: (spec.seed + step) >>> 0,
        });
        return data.decode([...prompt, ...ids]);
      } finally {
        await decoder.release();
      }
    };

    const tokensPerStep = spec.batch * spec.context * spec.accumulate;
    for (let iter = start; iter < spec.iters; iter++) {
      if (cancelRequested) return { type: 'cancelled', step: iter };
      if (pauseRequested) {
        if (lastSaved !== iter) save(iter);
        return { type: 'paused', step: iter };
      }
      const lr = lrAt(iter, {
        kind: spec.schedule,
        lr: spec.lr,
        minLr: spec.minLr,
        warmup: spec.warmup,
        iters: spec.iters,
      });
      const micro = Array.from({ length: spec.accumulate }, () => train.next(rng));
      const ts = performance.now();
      const r = await trainer.step(micro, lr);
      const ms = performance.now() - ts;
      const step = iter + 1;
      post({
        type: 'step',
        step,
        loss: r.loss,
        lr,
        gradNorm: r.gradNorm,
        tokensPerSecond: tokensPerStep / Math.max(ms / 1000, 1e-9),
        elapsed: elapsed(),
      });
      if (step % spec.evalInterval === 0 || step === spec.iters) {
        const trainLoss = await estimate(train, step, 1);
        const ind = data.repeated && (await inductionPoint(trainer, data.repeated, session));
        const valLoss = ind ? ind.valLoss : await estimate(val!, step, 2);
        lastEval = { step, valLoss };
        post({
          type: 'eval',
          step,
          trainLoss,
          valLoss,
          perplexity: Math.exp(valLoss),
          sample: await sample(step),
          elapsed: elapsed(),
          ...(ind && { induction: ind.point }),
        });
      }
      if (step % spec.checkpointInterval === 0 || step === spec.iters) save(step);
    }
    return { type: 'done', step: spec.iters };
  } finally {
    await trainer.release();
  }
}

/** An evaluation on the held-out repeated sequences: their loss, and the numbers the induction chart shows. */
async function inductionPoint(
  trainer: Trainer,
  r: NonNullable<TrainData['repeated']>,
  session: SessionOptions | undefined,
): Promise<{ valLoss: number; point: InductionPoint }> {
  const m = await evaluateInduction(trainer, r.heldOut, r.half, { seed: r.seed, session });
  return {
    valLoss: m.valLoss,
    point: {
      firstHalfLoss: m.firstHalfLoss,
      secondHalfLoss: m.secondHalfLoss,
      inductionScore: m.inductionScore,
      bestLayer: m.bestHead.layer,
      bestHead: m.bestHead.head,
    },
  };
}

// The last message goes out after the ONNX Runtime sessions are released, so the thread then ends by itself.
let last: WorkerMessage;
try {
  last = await run();
} catch (err) {
  last = { type: 'error', message: (err as Error).message, field: (err as { field?: string }).field };
}
post(last);

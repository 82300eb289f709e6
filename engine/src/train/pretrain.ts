// The pre-training loop, as nanoGPT's train.py: periodic evaluation on both splits, LR schedule,
// logging, checkpoints with everything needed to resume onto the same loss curve.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { loadCheckpoint, saveCheckpoint } from '../checkpoint/checkpoint.ts';
import type { ModelConfig } from '../models/config.ts';
import { Rng, type RngState } from '../rng.ts';
import type { SessionOptions } from '../runtime/session.ts';
import { BatchSampler } from './data.ts';
import type { OptimConfig } from './graphs.ts';
import type { ExecutionPlan } from './plan.ts';
import { cosineLr, type LrSchedule } from './schedule.ts';
import { Trainer } from './trainer.ts';

export interface PretrainOptions {
  cfg: ModelConfig;
  /** Token ids of the whole corpus; split into train/val by `valFraction` (val at the end). */
  tokens: Int32Array;
  valFraction: number;
  iters: number;
  batch: number;
  seq: number;
  accumulate: number;
  schedule: LrSchedule;
  optim: OptimConfig;
  evalInterval: number;
  evalIters: number;
  logInterval: number;
  seed: number;
  /** Checkpoint directory (saved at each evaluation after the first, and at the end). */
  out?: string;
  /** Continue from `out`'s checkpoint when present. */
  resume?: boolean;
  /** Stop after this many iterations of this run (for tests of resume); default runs to `iters`. */
  stopAfter?: number;
  session?: SessionOptions;
  /** Extra fields for trainer_state.json. */
  extraState?: Record<string, unknown>;
}

export type PretrainEvent =
  | { kind: 'plan'; plan: ExecutionPlan; threading: string }
  | { kind: 'iter'; iter: number; loss: number; ms: number; lr: number; gradNorm: number }
  | { kind: 'eval'; iter: number; train: number; val: number }
  | { kind: 'resume'; iter: number };

export interface PretrainResult {
  iters: number;
  wallSeconds: number;
  msPerIter: number;
  tokensPerSecond: number;
  trainLoss: number;
  valLoss: number;
  /** Training loss of every step taken in this run. */
  losses: number[];
  params: Float32Array;
}

/**
 * Mean loss over `batches` batches from `sampler`, drawn by their own RNG seeded by (seed, iter, salt): they
 * neither perturb nor depend on the training stream, and a resumed run evaluates on the same batches.
 */
export async function estimateLoss(
  trainer: Trainer,
  sampler: Pick<BatchSampler, 'next'>,
  at: { batches: number; seed: number; iter: number; salt: number },
): Promise<number> {
  const rng = new Rng((at.seed * 7919 + at.iter * 104729 + at.salt) >>> 0);
  const losses = await trainer.evaluateAll(Array.from({ length: at.batches }, () => sampler.next(rng)));
  return losses.reduce((a, b) => a + b, 0) / at.batches;
}

export async function pretrain(
  opts: PretrainOptions,
  onEvent: (e: PretrainEvent) => void = () => {},
): Promise<PretrainResult> {
  const split = Math.floor(opts.tokens.length * (1 - opts.valFraction));
  const train = new BatchSampler(opts.tokens.subarray(0, split), opts.batch, opts.seq);
  const val = new BatchSampler(opts.tokens.subarray(split), opts.batch, opts.seq);
  const trainer = await Trainer.create({
    cfg: opts.cfg,
    batch: opts.batch,
    seq: opts.seq,
    optim: opts.optim,
    seed: opts.seed,
    accumulate: opts.accumulate,
    session: opts.session,
  });
  onEvent({ kind: 'plan', plan: trainer.plan, threading: trainer.threading });
  let rng = new Rng(opts.seed);
  let start = 0;
  if (opts.resume && opts.out && existsSync(join(opts.out, 'trainer_state.json'))) {
    const ck = loadCheckpoint(opts.out);
    if (ck.layout.total !== trainer.layout.total)
      throw new Error(`checkpoint in ${opts.out} is for a different model`);
    trainer.load({ params: ck.params, m: ck.m, v: ck.v, step: ck.state?.step ?? 0 });
    start = ck.state?.step ?? 0;
    if (ck.state?.rng) rng = new Rng(ck.state.rng as RngState);
    onEvent({ kind: 'resume', iter: start });
  }

  const estimate = (sampler: BatchSampler, iter: number, salt: number): Promise<number> =>
    estimateLoss(trainer, sampler, { batches: opts.evalIters, seed: opts.seed, iter, salt });
  const save = (extra: Record<string, unknown>): void => {
    if (!opts.out) return;
    saveCheckpoint(opts.out, {
      cfg: opts.cfg,
      layout: trainer.layout,
      params: trainer.params,
      m: trainer.m,
      v: trainer.v,
      state: { step: trainer.stepCount, rng: rng.state(), seed: opts.seed, ...opts.extraState, ...extra },
    });
  };

  const losses: number[] = [];
  let trainLoss = Number.NaN;
  let valLoss = Number.NaN;
  const end = Math.min(opts.iters, start + (opts.stopAfter ?? Number.POSITIVE_INFINITY));
  const t0 = performance.now();
  let stepMs = 0;
  for (let iter = start; ; iter++) {
    if (iter % opts.evalInterval === 0 || iter === opts.iters) {
      trainLoss = await estimate(train, iter, 1);
      valLoss = await estimate(val, iter, 2);
      onEvent({ kind: 'eval', iter, train: trainLoss, val: valLoss });
      if (iter > start) save({ train_loss: trainLoss, val_loss: valLoss });
    }
    if (iter >= end) break;
    const lr = cosineLr(iter, opts.schedule);
    const micro = Array.from({ length: opts.accumulate }, () => train.next(rng));
    const ts = performance.now();
    const r = await trainer.step(micro, lr);
    const ms = performance.now() - ts;
    stepMs += ms;
    losses.push(r.loss);
    if (iter % opts.logInterval === 0)
      onEvent({ kind: 'iter', iter, loss: r.loss, ms, lr, gradNorm: r.gradNorm });
  }
  const wall = (performance.now() - t0) / 1000;
  if (end % opts.evalInterval !== 0 && end !== opts.iters) save({});
  else if (end === start) save({});
  const ran = end - start;
  const result: PretrainResult = {
    iters: ran,
    wallSeconds: wall,
    msPerIter: ran ? stepMs / ran : 0,
    tokensPerSecond: ran ? (ran * opts.batch * opts.seq * opts.accumulate) / (stepMs / 1000) : 0,
    trainLoss,
    valLoss,
    losses,
    params: trainer.params.slice(),
  };
  await trainer.release();
  return result;
}

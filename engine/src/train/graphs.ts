// The training-step graph: forward, cross-entropy, backward, global-norm clipping and AdamW, all in one
// ONNX graph so a step is one session.run. The forward reads each parameter as its own input
// (`param.<name>`); the optimizer works on buckets of the layout (ParamLayout.buckets): `opt_param.<k>`,
// `m.<k>`, `v.<k>` in, `param_out.<k>`, `m_out.<k>`, `v_out.<k>` out, and `grad_acc.<k>` when
// accumulating. All are views into the trainer's flat buffers (the forward's and the optimizer's
// parameter inputs view the same memory). Dropout masks are inputs too (`dropout_mask.N`).

import { DPO, dpoLoss, sequenceLogProbs } from '../finetune/dpo.ts';
import type { FrozenWeights } from '../finetune/frozen.ts';
import { type LoraConfig, loraAdapter } from '../finetune/lora.ts';
import { bradleyTerry, LAST_INDEX, rowScores, SCORES } from '../finetune/reward.ts';
import { gradients } from '../graph/autodiff.ts';
import { Graph, type Value } from '../graph/graph.ts';
import * as op from '../graph/ops.ts';
import type { ModelConfig } from '../models/config.ts';
import type { ForwardCtx } from '../models/layers.ts';
import { forward, PARAM, paramInputs, paramLookup, staticCtx } from '../models/model.ts';
import type { ParamBucket, ParamLayout } from '../models/params.ts';

export interface OptimConfig {
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  /** Global gradient-norm clip; 0 disables. */
  clip: number;
}

export const DEFAULT_OPTIM: OptimConfig = { beta1: 0.9, beta2: 0.99, eps: 1e-8, weightDecay: 0.1, clip: 1.0 };

/** Graph input/output name prefixes of the state that travels with the parameters. */
export const STATE = {
  param: PARAM,
  optParam: 'opt_param.',
  paramOut: 'param_out.',
  m: 'm.',
  mOut: 'm_out.',
  v: 'v.',
  vOut: 'v_out.',
  gradAcc: 'grad_acc.',
  gradAccOut: 'grad_acc_out.',
  /** `grad.<worker>.<bucket>`: a worker's summed gradient, into the apply graph. */
  grad: 'grad.',
} as const;

/**
 * What a fine-tuning graph adds to the model: frozen base weights (then `layout` holds only what trains)
 * and a LoRA whose adapter parameters are in `layout`.
 */
export interface FinetuneParts {
  frozen?: FrozenWeights;
  lora?: LoraConfig;
  /**
   * Packed rows: several examples share a row, each attending only to itself from its own position 0. The
   * graph then takes `positions` [rows, seq] and the block-diagonal causal mask as inputs (PACKED; fed by
   * tokenFeeds from Batch.positions and Batch.segments).
   */
  packed?: boolean;
}

/** Graph inputs of packed rows. */
export const PACKED = { positions: 'positions', mask: 'attn_mask', keep: 'attn_keep' } as const;

/** What a step minimises: next-token cross-entropy (default) or DPO's preference loss. */
export type Objective = { kind: 'lm' } | { kind: 'dpo'; beta: number } | { kind: 'reward' };

export interface StepGraphSpec extends FinetuneParts {
  objective?: Objective;
  cfg: ModelConfig;
  layout: ParamLayout;
  batch: number;
  seq: number;
  optim: OptimConfig;
  ignoreIndex: number;
  /**
   * 'step': apply the optimizer (the last micro-batch); 'accumulate': only add this micro-batch's
   * gradient into `grad_acc.*`. With `accumulateIn`, the step graph also takes `grad_acc.*` in.
   */
  mode: 'step' | 'accumulate';
  accumulateIn: boolean;
  /** Gradient scale (1 / micro-batches) so accumulated gradients average. */
  gradScale: number;
}

/**
 * Mean cross-entropy of the forward on idx [groups × batch, seq]: a scalar, or with `groups` > 1 one loss
 * per group of `batch` rows ([groups]), each the mean over its own tokens.
 */
function lossOf(
  g: Graph,
  cfg: ModelConfig,
  params: ReadonlyMap<string, Value>,
  spec: { batch: number; seq: number; train: boolean; ignoreIndex: number; groups?: number } & FinetuneParts,
): Value {
  const groups = spec.groups ?? 1;
  const rows = groups * spec.batch;
  const ctx = modelCtx(g, cfg, params, rows, spec.seq, spec.train, spec);
  const idx = g.input('idx', 'int64', [rows, spec.seq]);
  const targets = g.input('targets', 'int64', [rows, spec.seq]);
  const logits = forward(ctx, idx);
  const flat = op.reshape(g, logits, [rows * spec.seq, cfg.vocabSize]);
  const flatTargets = op.reshape(g, targets, [rows * spec.seq]);
  if (groups === 1) return op.crossEntropy(g, flat, flatTargets, spec.ignoreIndex);
  const tokens = new Array<number>(groups).fill(spec.batch * spec.seq);
  const parts = op.split(g, flat, tokens, 0);
  const partTargets = op.split(g, flatTargets, tokens, 0);
  const losses = parts.map((l, k) =>
    op.reshape(g, op.crossEntropy(g, l, partTargets[k], spec.ignoreIndex), [1]),
  );
  return op.concat(g, losses, 0);
}

/** The forward's context over the trainable `params`, plus frozen weights and a LoRA when given. */
export function modelCtx(
  g: Graph,
  cfg: ModelConfig,
  params: ReadonlyMap<string, Value>,
  rows: number,
  seq: number,
  train: boolean,
  parts: FinetuneParts = {},
): ForwardCtx {
  const all = new Map(params);
  if (parts.frozen) for (const [name, v] of parts.frozen.declare(g)) if (!all.has(name)) all.set(name, v);
  const ctx = staticCtx(g, cfg, paramLookup(all), rows, seq, train);
  if (parts.packed) {
    ctx.positions = g.input(PACKED.positions, 'int64', [rows, seq]);
    ctx.mask = g.input(PACKED.mask, 'float32', [rows, 1, seq, seq]);
    ctx.keep = g.input(PACKED.keep, 'float32', [rows, 1, seq, seq]);
  }
  if (parts.lora) ctx.adapter = loraAdapter(g, cfg, parts.lora, ctx.p, train ? [] : undefined);
  return ctx;
}

/** Sequence log-probabilities of the rows ([rows]) of a forward on idx/targets inputs. */
function rowLogProbs(
  g: Graph,
  cfg: ModelConfig,
  params: ReadonlyMap<string, Value>,
  rows: number,
  seq: number,
  train: boolean,
  parts: FinetuneParts,
): Value {
  const ctx = modelCtx(g, cfg, params, rows, seq, train, parts);
  const idx = g.input('idx', 'int64', [rows, seq]);
  const targets = g.input('targets', 'int64', [rows, seq]);
  const logits = op.reshape(g, forward(ctx, idx), [rows * seq, cfg.vocabSize]);
  return sequenceLogProbs(g, logits, op.reshape(g, targets, [rows * seq]), rows, seq);
}

/** DPO's loss over a step's rows (chosen then rejected), with rewards as outputs. */
function dpoStepLoss(
  g: Graph,
  cfg: ModelConfig,
  params: ReadonlyMap<string, Value>,
  spec: StepGraphSpec,
  beta: number,
): Value {
  if (spec.batch % 2) throw new Error(`DPO: a step's rows are pairs; ${spec.batch} is odd`);
  const logp = rowLogProbs(g, cfg, params, spec.batch, spec.seq, true, spec);
  const ref = g.input(DPO.refLogp, 'float32', [spec.batch]);
  const r = dpoLoss(g, logp, ref, spec.batch / 2, beta);
  g.output(r.chosen, DPO.chosenReward);
  g.output(r.rejected, DPO.rejectedReward);
  return r.loss;
}

/** Scores of the rows at their last tokens ([rows]); inputs idx and last_index. */
function scoresOf(
  g: Graph,
  cfg: ModelConfig,
  params: ReadonlyMap<string, Value>,
  rows: number,
  seq: number,
  train: boolean,
  parts: FinetuneParts,
): Value {
  const ctx = modelCtx(g, cfg, params, rows, seq, train, parts);
  const idx = g.input('idx', 'int64', [rows, seq]);
  return rowScores(ctx, idx, g.input(LAST_INDEX, 'int64', [rows]), rows, seq);
}

/** The reward model's Bradley–Terry loss over a step's rows (chosen then rejected), with the scores as outputs. */
function rewardStepLoss(
  g: Graph,
  cfg: ModelConfig,
  params: ReadonlyMap<string, Value>,
  spec: StepGraphSpec,
): Value {
  if (spec.batch % 2) throw new Error(`reward model: a step's rows are pairs; ${spec.batch} is odd`);
  const r = bradleyTerry(g, scoresOf(g, cfg, params, spec.batch, spec.seq, true, spec), spec.batch / 2);
  g.output(r.chosen, DPO.chosenReward);
  g.output(r.rejected, DPO.rejectedReward);
  return r.loss;
}

/** Forward only: each row's reward-model score (`scores` [rows]); inputs param.*, idx, last_index. */
export function buildScoreGraph(
  cfg: ModelConfig,
  layout: ParamLayout,
  rows: number,
  seq: number,
  parts: FinetuneParts = {},
): Graph {
  const g = new Graph('scores');
  g.output(scoresOf(g, cfg, paramInputs(g, layout), rows, seq, false, parts), SCORES);
  return g;
}

/** Forward only: each row's sequence log-probability (`logp` [rows]); inputs param.*, idx, targets. */
export function buildLogpGraph(
  cfg: ModelConfig,
  layout: ParamLayout,
  rows: number,
  seq: number,
  parts: FinetuneParts = {},
): Graph {
  const g = new Graph('logp');
  g.output(rowLogProbs(g, cfg, paramInputs(g, layout), rows, seq, false, parts), DPO.logp);
  return g;
}

/**
 * Forward + loss only (evaluation); inputs param.*, idx, targets; output loss. With `groups` > 1 the graph
 * takes `groups` batches at once and outputs each one's loss ([groups]).
 */
export function buildEvalGraph(
  cfg: ModelConfig,
  layout: ParamLayout,
  batch: number,
  seq: number,
  ignoreIndex = -100,
  groups = 1,
  parts: FinetuneParts = {},
): Graph {
  const g = new Graph('eval');
  const params = paramInputs(g, layout);
  g.output(lossOf(g, cfg, params, { batch, seq, train: false, ignoreIndex, groups, ...parts }), 'loss');
  return g;
}

export function buildStepGraph(spec: StepGraphSpec): Graph {
  const { cfg, layout, optim } = spec;
  const g = new Graph(spec.mode === 'step' ? 'train_step' : 'accumulate');
  const params = paramInputs(g, layout);
  const objective = spec.objective ?? { kind: 'lm' };
  const loss = g.output(
    objective.kind === 'dpo'
      ? dpoStepLoss(g, cfg, params, spec, objective.beta)
      : objective.kind === 'reward'
        ? rewardStepLoss(g, cfg, params, spec)
        : lossOf(g, cfg, params, { ...spec, train: true }),
    'loss',
  );

  const entries = layout.entries;
  const perTensor = gradients(
    g,
    loss,
    entries.map((e) => params.get(e.name)!),
    g.scalar(spec.gradScale),
  );
  const index = new Map(entries.map((e, i) => [e.name, i]));
  const grads = layout.buckets.map((b, k) => {
    const parts = b.entries.map((e) => op.reshape(g, perTensor[index.get(e.name)!], [-1]));
    const grad = parts.length === 1 ? parts[0] : op.concat(g, parts, 0);
    return spec.accumulateIn ? op.add(g, g.input(`${STATE.gradAcc}${k}`, 'float32', [b.size]), grad) : grad;
  });
  if (spec.mode === 'accumulate') {
    grads.forEach((grad, k) => {
      g.output(grad, `${STATE.gradAccOut}${k}`);
    });
    return g;
  }
  g.scope('optim', () => {
    adamw(g, optim, layout.buckets, grads);
  });
  return g;
}

/**
 * The optimizer alone, for gradients computed elsewhere (data-parallel workers): the gradient of bucket
 * k is the sum of inputs `grad.<w>.<k>` over `sources` workers; then clipping and AdamW as in a step.
 */
export function buildApplyGraph(layout: ParamLayout, optim: OptimConfig, sources: number): Graph {
  const g = new Graph('apply');
  const grads = layout.buckets.map((b, k) => {
    const parts = Array.from({ length: sources }, (_, w) =>
      g.input(`${STATE.grad}${w}.${k}`, 'float32', [b.size]),
    );
    return parts.length === 1 ? parts[0] : g.node('Sum', parts, [{ dtype: 'float32', shape: [b.size] }])[0];
  });
  g.scope('optim', () => {
    adamw(g, optim, layout.buckets, grads);
  });
  return g;
}

/**
 * Global-norm clipping and AdamW over the layout's buckets; scalar inputs `lr` and `step` keep schedules
 * outside the graph. As torch.nn.utils.clip_grad_norm_ and torch.optim.AdamW:
 *   s = min(1, clip / (‖g‖ + 1e-6)),  m ← β1·m + (1−β1)·s·g,  v ← β2·v + (1−β2)·s²·g²,
 *   p ← p·(1 − lr·wd·decay) − lr/bc1 · m / (√v/√bc2 + eps)
 * with the clip scale and the bias corrections folded into scalars (lr·√bc2/bc1 and eps·√bc2), and decay
 * decided per bucket.
 */
function adamw(g: Graph, optim: OptimConfig, buckets: readonly ParamBucket[], grads: readonly Value[]): void {
  const c = (x: number): Value => g.scalar(x);
  const lr = g.input('lr', 'float32', []);
  const t = g.input('step', 'float32', []);
  const pow = (base: number): Value => g.node('Pow', [c(base), t], [{ dtype: 'float32', shape: [] }])[0];

  const sumSq = grads.map((grad) => op.reduceSumSquare(g, grad));
  const total = sumSq.length === 1 ? sumSq[0] : g.node('Sum', sumSq, [{ dtype: 'float32', shape: [] }])[0];
  const norm = g.output(op.sqrt(g, total), 'grad_norm');
  const s = optim.clip > 0 ? op.min(g, c(1), op.div(g, c(optim.clip), op.add(g, norm, c(1e-6)))) : c(1);
  const gScale = op.mul(g, s, c(1 - optim.beta1));
  const g2Scale = op.mul(g, op.mul(g, s, s), c(1 - optim.beta2));
  const sqrtBc2 = op.sqrt(g, op.sub(g, c(1), pow(optim.beta2)));
  const bc1 = op.sub(g, c(1), pow(optim.beta1));
  const eps = op.mul(g, sqrtBc2, c(optim.eps));
  const stepSize = op.div(g, op.mul(g, lr, sqrtBc2), bc1);
  const shrink = op.sub(g, c(1), op.mul(g, lr, c(optim.weightDecay)));

  buckets.forEach((b, k) => {
    const grad = grads[k];
    const shape = [b.size];
    const p = g.input(`${STATE.optParam}${k}`, 'float32', shape);
    const m = g.input(`${STATE.m}${k}`, 'float32', shape);
    const v = g.input(`${STATE.v}${k}`, 'float32', shape);
    // Outputs are named as soon as they exist so ORT writes them straight into the caller's buffers.
    const m2 = g.output(
      op.add(g, op.mul(g, m, c(optim.beta1)), op.mul(g, grad, gScale)),
      `${STATE.mOut}${k}`,
    );
    const v2 = g.output(
      op.add(g, op.mul(g, v, c(optim.beta2)), op.mul(g, op.mul(g, grad, grad), g2Scale)),
      `${STATE.vOut}${k}`,
    );
    const update = op.mul(g, op.div(g, m2, op.add(g, op.sqrt(g, v2), eps)), stepSize);
    g.output(op.sub(g, decayed(g, b, p, optim.weightDecay, shrink), update), `${STATE.paramOut}${k}`);
  });
}

/** p·(1 − lr·wd) for a bucket of decayed tensors (ParamLayout keeps buckets all decayed or all not). */
function decayed(g: Graph, b: ParamBucket, p: Value, wd: number, shrink: Value): Value {
  return wd !== 0 && b.entries[0].decay ? op.mul(g, p, shrink) : p;
}

// The training-step graph: forward, cross-entropy, backward, global-norm clipping and AdamW, all in one
// ONNX graph so a step is one session.run. Weights and AdamW moments are flat [P] tensors in and out.
import { gradients } from '../graph/autodiff.ts';
import { Graph, type Value } from '../graph/graph.ts';
import * as op from '../graph/ops.ts';
import type { ModelConfig } from '../models/config.ts';
import { forward, staticCtx, unpackParams } from '../models/model.ts';
import type { ParamLayout } from '../models/params.ts';

export interface OptimConfig {
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  /** Global gradient-norm clip; 0 disables. */
  clip: number;
}

export const DEFAULT_OPTIM: OptimConfig = { beta1: 0.9, beta2: 0.99, eps: 1e-8, weightDecay: 0.1, clip: 1.0 };

export interface StepGraphSpec {
  cfg: ModelConfig;
  layout: ParamLayout;
  batch: number;
  seq: number;
  optim: OptimConfig;
  ignoreIndex: number;
  /** Seed for the graph's dropout nodes. */
  seed: number;
  /**
   * 'step': apply the optimizer (the last micro-batch); 'accumulate': only add this micro-batch's
   * gradient into `grad_acc`. With `accumulateIn`, the step graph also takes `grad_acc` in.
   */
  mode: 'step' | 'accumulate';
  accumulateIn: boolean;
  /** Gradient scale (1 / micro-batches) so accumulated gradients average. */
  gradScale: number;
}

function lossOf(
  g: Graph,
  cfg: ModelConfig,
  layout: ParamLayout,
  params: Value,
  spec: { batch: number; seq: number; train: boolean; seed: number; ignoreIndex: number },
): Value {
  const p = unpackParams(g, layout, params);
  const ctx = staticCtx(g, cfg, p, spec.batch, spec.seq, spec.train, spec.seed);
  const idx = g.input('idx', 'int64', [spec.batch, spec.seq]);
  const targets = g.input('targets', 'int64', [spec.batch, spec.seq]);
  const logits = forward(ctx, idx);
  const flat = op.reshape(g, logits, [spec.batch * spec.seq, cfg.vocabSize]);
  return op.crossEntropy(g, flat, op.reshape(g, targets, [spec.batch * spec.seq]), spec.ignoreIndex);
}

/** Forward + loss only (evaluation); inputs params, idx, targets; output loss. */
export function buildEvalGraph(
  cfg: ModelConfig,
  layout: ParamLayout,
  batch: number,
  seq: number,
  ignoreIndex = -100,
): Graph {
  const g = new Graph('eval');
  const params = g.input('params', 'float32', [layout.total]);
  const loss = lossOf(g, cfg, layout, params, { batch, seq, train: false, seed: 0, ignoreIndex });
  g.output(loss, 'loss');
  return g;
}

export function buildStepGraph(spec: StepGraphSpec): Graph {
  const { cfg, layout, optim } = spec;
  const g = new Graph(spec.mode === 'step' ? 'train_step' : 'accumulate');
  const P = layout.total;
  const params = g.input('params', 'float32', [P]);
  const loss = g.output(lossOf(g, cfg, layout, params, { ...spec, train: true }), 'loss');

  let [grad] = gradients(g, loss, [params], g.scalar(spec.gradScale));
  if (spec.accumulateIn) grad = op.add(g, g.input('grad_acc', 'float32', [P]), grad);
  if (spec.mode === 'accumulate') {
    g.output(grad, 'grad_acc_out');
    return g;
  }

  g.scope('optim', () => {
    const c = (x: number): Value => g.scalar(x);
    const m = g.input('m', 'float32', [P]);
    const v = g.input('v', 'float32', [P]);
    const decay = g.input('decay_mask', 'float32', [P]);
    const lr = g.input('lr', 'float32', []);
    const t = g.input('step', 'float32', []);
    const pow = (base: number): Value => g.node('Pow', [c(base), t], [{ dtype: 'float32', shape: [] }])[0];

    // Global-norm clipping as torch.nn.utils.clip_grad_norm_: scale = min(1, clip / (‖g‖ + 1e-6)).
    // The scale is folded into the moment coefficients (scalars) instead of a pass over the gradient.
    const norm = g.output(op.sqrt(g, op.reduceSumSquare(g, grad)), 'grad_norm');
    const s = optim.clip > 0 ? op.min(g, c(1), op.div(g, c(optim.clip), op.add(g, norm, c(1e-6)))) : c(1);

    // AdamW as torch.optim.AdamW: p ← p(1 − lr·wd) − lr/bc1 · m / (√v/√bc2 + eps), rewritten as
    // lr·√bc2/bc1 · m / (√v + eps·√bc2) so only scalars carry the bias corrections. Outputs are
    // named as soon as they exist so ORT writes them straight into the caller's buffers.
    const m2 = g.output(
      op.add(g, op.mul(g, m, c(optim.beta1)), op.mul(g, grad, op.mul(g, s, c(1 - optim.beta1)))),
      'm_out',
    );
    const s2 = op.mul(g, op.mul(g, s, s), c(1 - optim.beta2));
    const v2 = g.output(
      op.add(g, op.mul(g, v, c(optim.beta2)), op.mul(g, op.mul(g, grad, grad), s2)),
      'v_out',
    );
    const sqrtBc2 = op.sqrt(g, op.sub(g, c(1), pow(optim.beta2)));
    const bc1 = op.sub(g, c(1), pow(optim.beta1));
    const denom = op.add(g, op.sqrt(g, v2), op.mul(g, sqrtBc2, c(optim.eps)));
    const stepSize = op.div(g, op.mul(g, lr, sqrtBc2), bc1);
    const shrink = op.sub(g, c(1), op.mul(g, decay, op.mul(g, lr, c(optim.weightDecay))));
    const p2 = op.sub(g, op.mul(g, params, shrink), op.mul(g, op.div(g, m2, denom), stepSize));
    g.output(p2, 'params_out');
  });
  return g;
}

// The trace graph: the decoding graph's math (decode-graph.ts: weights as inputs, as stored) over one
// whole sequence, with standard-op attention so the probabilities exist, and outputs for what the lab
// shows: attention per layer, the residual stream and what each block adds to it, the logits, the logit
// lens of the last stream and the loss per token (the other streams' lenses are the lens graph's,
// lens-graph.ts, run only when wanted). It also takes interventions (a head's or an MLP's output scaled and
// shifted), so an ablation is a run of the same session with other feeds. Decoding never runs this graph.
import { Graph, type Value } from '../graph/graph.ts';
import * as op from '../graph/ops.ts';
import { headDim, type ModelConfig } from '../models/config.ts';
import { ropeTables, sinusoidTable } from '../models/layers.ts';
import {
  type BuiltGraph,
  LENS,
  logitLens,
  normed,
  type ParamGraph,
  paramInputs,
  positionsOf,
  T,
  targetPicks,
  unembed,
} from './lens-graph.ts';

/** Graph input and output names. */
export const TRACE = {
  ids: 'input_ids',
  /** int64 [T]: the token after each position (the last one's is ignored). */
  targets: 'targets',
  /** int64 [1]: how many tokens the logit lens keeps per position. */
  topK: 'top_k',
  /** float [L, H]: multiplies each head's output (1 keeps it, 0 removes it). */
  headKeep: 'head_keep',
  /** float [L, H, D]: added to each head's output after head_keep (a mean, for mean ablation). */
  headFill: 'head_fill',
  /** float [L]: multiplies each MLP's output. */
  mlpKeep: 'mlp_keep',
  /** float [L, C]: added to each MLP's output after mlp_keep. */
  mlpFill: 'mlp_fill',
  /**
   * float [L + 1, T]: 1 where residual stream i at position t is replaced by patch_value (activation
   * patching), 0 where it is kept.
   */
  patchMask: 'patch_mask',
  /** float [L + 1, T, C]: what a patched position of stream i becomes. */
  patchValue: 'patch_value',
  logits: 'logits',
  /** [H, T, T] per layer. */
  attn: (i: number) => `attn.${i}`,
  /** [T, C]: the residual stream entering layer i (i = L: after the last layer, before the final norm). */
  resid: (i: number) => `resid.${i}`,
  /** [T, C]: what layer i's attention adds to the residual stream. */
  attnOut: (i: number) => `attn_out.${i}`,
  /** [T, C]: what layer i's MLP adds. */
  mlpOut: (i: number) => `mlp_out.${i}`,
  /** [H, D]: layer i's head outputs averaged over positions (what mean ablation puts in their place). */
  headMean: (i: number) => `head_mean.${i}`,
  /**
   * Logit lens of resid.L (the last stream), named as the lens graph names its outputs: log-probabilities
   * [T, k] and ids [T, k] (int32) of the top tokens, and each position's target's log-probability [T].
   */
  lensLogp: LENS.logp,
  lensIds: LENS.ids,
  lensTarget: LENS.target,
} as const;

export type TraceGraph = BuiltGraph;

interface Ctx extends ParamGraph {
  positions: Value;
  mask: Value;
  keep: Value;
  headKeep: Value;
  headFill: Value;
  mlpKeep: Value;
  mlpFill: Value;
  patchMask: Value;
  patchValue: Value;
}

/** x [T, in] · W + b for W stored [out, in] (nn.Linear) or [in, out] (GPT-2's Conv1D). */
function linear(ctx: Ctx, x: Value, name: string, outIn: boolean, bias?: string): Value {
  return op.gemm(ctx.g, x, ctx.w(name), { transB: outIn, c: bias ? ctx.w(bias) : undefined });
}

function activate(ctx: Ctx, fc: Value, gate: Value | undefined): Value {
  const { g, cfg } = ctx;
  if (gate) return op.mul(g, op.mul(g, gate, op.sigmoid(g, gate)), fc);
  if (cfg.activation === 'gelu') return op.gelu(g, fc, 'none');
  if (cfg.activation === 'gelu_tanh') return op.gelu(g, fc, 'tanh');
  return op.relu(g, fc);
}

/** Rotate-half RoPE on x [T, heads·D]. */
function rope(ctx: Ctx, flat: Value, heads: number): Value {
  const { g, cfg } = ctx;
  const d = headDim(cfg);
  const half = d / 2;
  const x = op.reshape(g, flat, [T, heads, d]);
  const t = ropeTables(cfg);
  const pick = (table: Float32Array): Value =>
    op.unsqueeze(g, op.gather(g, g.constant('float32', [cfg.blockSize, half], table), ctx.positions), [1]);
  const c = pick(t.cos);
  const s = pick(t.sin);
  const [x1, x2] = op.split(g, x, [half, half], -1);
  const r1 = op.sub(g, op.mul(g, x1, c), op.mul(g, x2, s));
  const r2 = op.add(g, op.mul(g, x2, c), op.mul(g, x1, s));
  return op.reshape(g, op.concat(g, [r1, r2], -1), [T, heads * d]);
}

/** Row i of a per-layer intervention input [L, ...]. */
function layerRow(ctx: Ctx, x: Value, i: number): Value {
  return op.gather(ctx.g, x, ctx.g.constant('int64', [], [i]));
}

/**
 * Residual stream i [T, C] with the patched positions replaced. A select rather than x + m·(v − x): both
 * the kept and the patched values come through bit for bit, so patching a run with itself changes nothing.
 */
function patched(ctx: Ctx, x: Value, i: number): Value {
  const { g } = ctx;
  const m = op.unsqueeze(g, layerRow(ctx, ctx.patchMask, i), [1]);
  return op.where(g, op.greater(g, m, g.scalar(0.5)), layerRow(ctx, ctx.patchValue, i), x);
}

/**
 * Causal attention of q [T, H·D], k and v [T, KV·D] → [T, H·D], with the probabilities [H, T, T] and
 * the head outputs averaged over positions [H, D] as outputs, each head's output passed through the
 * layer's intervention.
 */
function attention(ctx: Ctx, q: Value, k: Value, v: Value, i: number): Value {
  const { g, cfg } = ctx;
  const d = headDim(cfg);
  if (cfg.positions === 'rope') {
    q = rope(ctx, q, cfg.nHead);
    k = rope(ctx, k, cfg.nKvHead);
  }
  const heads = (x: Value, n: number) => op.transpose(g, op.reshape(g, x, [T, n, d]), [1, 0, 2]);
  let kh = heads(k, cfg.nKvHead);
  let vh = heads(v, cfg.nKvHead);
  const rep = cfg.nHead / cfg.nKvHead;
  if (rep > 1) {
    // Grouped-query attention: each key/value head serves `rep` consecutive query heads.
    const repeat = (x: Value): Value =>
      op.reshape(g, op.expand(g, op.unsqueeze(g, x, [1]), [1, rep, 1, 1]), [cfg.nHead, T, d]);
    kh = repeat(kh);
    vh = repeat(vh);
  }
  const qh = op.mul(g, heads(q, cfg.nHead), g.scalar(1 / Math.sqrt(d)));
  const scores = op.matmul(g, qh, op.transpose(g, kh, [0, 2, 1]));
  // maskedSoftmax: blocked (future) positions come out as exact zeros.
  const probs = g.output(op.maskedSoftmax(g, scores, ctx.mask, ctx.keep), TRACE.attn(i));
  const z = op.matmul(g, probs, vh);
  g.output(op.reduceMean(g, z, [1], false), TRACE.headMean(i));
  const keep = op.reshape(g, layerRow(ctx, ctx.headKeep, i), [cfg.nHead, 1, 1]);
  const fill = op.unsqueeze(g, layerRow(ctx, ctx.headFill, i), [1]);
  const zz = op.add(g, op.mul(g, z, keep), fill);
  return op.reshape(g, op.transpose(g, zz, [1, 0, 2]), [T, cfg.nHead * d]);
}

/** The MLP's output through the layer's intervention, and out as `mlp_out.i`. */
function mlpIntervened(ctx: Ctx, out: Value, i: number): Value {
  const { g } = ctx;
  const y = op.add(g, op.mul(g, out, layerRow(ctx, ctx.mlpKeep, i)), layerRow(ctx, ctx.mlpFill, i));
  return g.output(y, TRACE.mlpOut(i));
}

/**
 * An attention-only model's absent MLP as a zero output [T, C]: the trace keeps its `mlp_out.i` outputs and
 * MLP interventions (a fill still adds), so every reader of a trace works unchanged.
 */
function noMlp(ctx: Ctx, x: Value): Value {
  return op.mul(ctx.g, x, ctx.g.scalar(0));
}

function gpt2Layer(ctx: Ctx, x: Value, i: number): Value {
  const { g, cfg } = ctx;
  const h = `transformer.h.${i}`;
  const bias = (name: string) => (cfg.bias ? name : undefined);
  const d = headDim(cfg);
  return g.scope(`h.${i}`, () => {
    const qkv = linear(
      ctx,
      normed(ctx, x, `${h}.ln_1`),
      `${h}.attn.c_attn.weight`,
      false,
      bias(`${h}.attn.c_attn.bias`),
    );
    const [q, k, v] = op.split(g, qkv, [cfg.nHead * d, cfg.nKvHead * d, cfg.nKvHead * d], -1);
    const a = attention(ctx, q, k, v, i);
    const attnOut = linear(ctx, a, `${h}.attn.c_proj.weight`, false, bias(`${h}.attn.c_proj.bias`));
    x = op.add(g, x, g.output(attnOut, TRACE.attnOut(i)));
    if (cfg.attnOnly) return op.add(g, x, mlpIntervened(ctx, noMlp(ctx, x), i));
    const fc = linear(
      ctx,
      normed(ctx, x, `${h}.ln_2`),
      `${h}.mlp.c_fc.weight`,
      false,
      bias(`${h}.mlp.c_fc.bias`),
    );
    let hidden: Value;
    if (cfg.activation === 'swiglu') {
      const [gate, up] = op.split(g, fc, [cfg.ffnHidden, cfg.ffnHidden], -1);
      hidden = activate(ctx, up, gate);
    } else hidden = activate(ctx, fc, undefined);
    const out = linear(ctx, hidden, `${h}.mlp.c_proj.weight`, false, bias(`${h}.mlp.c_proj.bias`));
    return op.add(g, x, mlpIntervened(ctx, out, i));
  });
}

function llamaLayer(ctx: Ctx, x: Value, i: number): Value {
  const { g, cfg } = ctx;
  const l = `model.layers.${i}`;
  const proj = (y: Value, name: string, withBias: boolean): Value =>
    linear(ctx, y, `${l}.${name}.weight`, true, withBias && cfg.bias ? `${l}.${name}.bias` : undefined);
  return g.scope(`layers.${i}`, () => {
    const h = normed(ctx, x, `${l}.input_layernorm`);
    const a = attention(
      ctx,
      proj(h, 'self_attn.q_proj', true),
      proj(h, 'self_attn.k_proj', true),
      proj(h, 'self_attn.v_proj', true),
      i,
    );
    x = op.add(g, x, g.output(proj(a, 'self_attn.o_proj', false), TRACE.attnOut(i)));
    if (cfg.attnOnly) return op.add(g, x, mlpIntervened(ctx, noMlp(ctx, x), i));
    const m = normed(ctx, x, `${l}.post_attention_layernorm`);
    const up = proj(m, 'mlp.up_proj', false);
    const gate = cfg.activation === 'swiglu' ? proj(m, 'mlp.gate_proj', false) : undefined;
    return op.add(g, x, mlpIntervened(ctx, proj(activate(ctx, up, gate), 'mlp.down_proj', false), i));
  });
}

/** The trace graph of a model (see TRACE for its inputs and outputs). */
export function buildTraceGraph(cfg: ModelConfig): TraceGraph {
  const g = new Graph(`${cfg.family}_trace`);
  const d = headDim(cfg);
  const L = cfg.nLayer;
  const ids = g.input(TRACE.ids, 'int64', [T]);
  const targets = g.input(TRACE.targets, 'int64', [T]);
  const topK = g.input(TRACE.topK, 'int64', [1]);
  const { w, params } = paramInputs(g, cfg);
  const positions = positionsOf(g, ids);
  // Key j is visible to query i iff j ≤ i.
  const blocked = op.greater(g, op.unsqueeze(g, positions, [0]), op.unsqueeze(g, positions, [1]));
  const ctx: Ctx = {
    g,
    cfg,
    w,
    positions,
    mask: op.where(g, blocked, g.scalar(-1e9), g.scalar(0)),
    keep: op.where(g, blocked, g.scalar(0), g.scalar(1)),
    headKeep: g.input(TRACE.headKeep, 'float32', [L, cfg.nHead]),
    headFill: g.input(TRACE.headFill, 'float32', [L, cfg.nHead, d]),
    mlpKeep: g.input(TRACE.mlpKeep, 'float32', [L]),
    mlpFill: g.input(TRACE.mlpFill, 'float32', [L, cfg.nEmbd]),
    patchMask: g.input(TRACE.patchMask, 'float32', [L + 1, T]),
    patchValue: g.input(TRACE.patchValue, 'float32', [L + 1, T, cfg.nEmbd]),
  };
  const gpt2 = cfg.family === 'gpt2';
  let x = op.gather(g, w(gpt2 ? 'transformer.wte.weight' : 'model.embed_tokens.weight'), ids);
  if (cfg.positions === 'learned')
    x = op.add(
      g,
      x,
      op.gather(g, w(gpt2 ? 'transformer.wpe.weight' : 'model.embed_positions.weight'), positions),
    );
  else if (cfg.positions === 'sinusoidal') {
    const table = g.constant('float32', [cfg.blockSize, cfg.nEmbd], sinusoidTable(cfg.blockSize, cfg.nEmbd));
    x = op.add(g, x, op.gather(g, table, positions));
  }
  x = g.output(patched(ctx, x, 0), TRACE.resid(0));
  for (let i = 0; i < L; i++) {
    const y = gpt2 ? gpt2Layer(ctx, x, i) : llamaLayer(ctx, x, i);
    x = g.output(patched(ctx, y, i + 1), TRACE.resid(i + 1));
  }
  // Only the last stream's lens: the logits and the loss need its unembedding, and its top-k is cheap then.
  const logits = g.output(unembed(ctx, x), TRACE.logits);
  logitLens(g, logits, targetPicks(ctx, positions, targets), topK, {
    logp: TRACE.lensLogp,
    ids: TRACE.lensIds,
    target: TRACE.lensTarget,
  });
  return { bytes: g.toBytes(), params: params() };
}

// Transformer building blocks shared by the model families: the forward context, norms, the MLP
// variants, rotary embeddings and causal self-attention (with GQA and an optional KV cache).
import type { Dim, Graph, Value } from '../graph/graph.ts';
import * as op from '../graph/ops.ts';
import { headDim, type ModelConfig } from './config.ts';

export interface KvPair {
  key: Value;
  value: Value;
}

export interface ForwardCtx {
  g: Graph;
  cfg: ModelConfig;
  /** Parameter lookup by Hugging Face name. */
  p: (name: string) => Value;
  batch: Dim;
  seq: Dim;
  /** int64 positions, [T] or [B, T]. */
  positions: Value;
  /** Additive attention mask broadcastable to [B, H, T, S] (0 = attend, large negative = blocked). */
  mask: Value;
  /** The same mask as 1 = attend, 0 = blocked, where known when the graph is built (see maskedSoftmax). */
  keep?: Value;
  /** Training graphs apply dropout (when cfg.dropout > 0); its mask inputs are collected here. */
  train: boolean;
  dropoutMasks?: Value[];
  /** Inference with a KV cache: past per layer in, present per layer collected. */
  past?: readonly KvPair[];
  presents?: KvPair[];
  /** Optional captures for the lab's visualisations. */
  attnProbs?: Value[];
  residuals?: Value[];
  /**
   * Fine-tuning adapters (LoRA): given a projection's Hugging Face module name (`…self_attn.q_proj`) and
   * its input, the delta to add to its output, or undefined for a module without an adapter.
   */
  adapter?: (name: string, x: Normed | Value) => Value | undefined;
}

/**
 * `y` plus the adapter's delta for module `name` (see ForwardCtx.adapter); `scale` maps the delta as the
 * module's weight is mapped in the graph (attention's 1/√d on queries), so adapted and merged agree.
 */
export function adapted(
  ctx: ForwardCtx,
  name: string,
  x: Normed | Value,
  y: Value,
  scale?: (delta: Value) => Value,
): Value {
  const delta = ctx.adapter?.(name, x);
  if (!delta) return y;
  return op.add(ctx.g, y, scale ? scale(delta) : delta);
}

/**
 * Inverted dropout as x ⊙ mask, where the mask holds 0 or 1/(1−p). The mask is a float graph input
 * (`dropout_mask.N`, see DROPOUT_MASK) that the trainer fills for every run, each row from a generator
 * seeded by (seed, step, row of the step; see DropoutMasks): runs reproduce and resume exactly
 * whichever session or worker runs them, and no kernel draws random numbers (ORT's Dropout op,
 * single-threaded, was 12% of a nanogpt-shakespeare step). Float rather than bool: Mul ran 3× faster
 * than Where here, in both directions.
 */
export function dropout(ctx: ForwardCtx, x: Value): Value {
  if (!ctx.train || ctx.cfg.dropout <= 0) return x;
  const masks = ctx.dropoutMasks;
  if (!masks) throw new Error('dropout in a training graph needs ctx.dropoutMasks');
  const mask = ctx.g.input(`${DROPOUT_MASK}${masks.length}`, x.dtype, x.shape);
  masks.push(mask);
  return op.mul(ctx.g, x, mask);
}

/** Graph-input name prefix of dropout masks. */
export const DROPOUT_MASK = 'dropout_mask.';

/** x @ W (+ b). `transposed` weights are stored [out, in] (Llama/nn.Linear); otherwise [in, out] (GPT-2 Conv1D). */
export function linear(g: Graph, x: Value, w: Value, b?: Value, transposed = false): Value {
  const wt = transposed ? op.transpose(g, w, [1, 0]) : w;
  const y = op.matmul(g, x, wt);
  return b ? op.add(g, y, b) : y;
}

/** A normalised activation, to be consumed by linear layers. */
export interface Normed {
  /** x̂: normalised, before the norm's scale and shift. */
  readonly xhat: Value;
  /** norm(x)·W (+ b) as x̂·(γ ⊙ W) + (β·W + b): see norm(). */
  linear(w: Value, b?: Value, transposed?: boolean): Value;
  /** norm(x) itself, x̂·γ (+ β): for the few readers that cannot fold the scale (dropout before a linear). */
  value(): Value;
}

/**
 * LayerNorm or RMSNorm of x, whose scale γ (and LayerNorm's shift β) is folded into the linear layers
 * that read it: x̂·(γ ⊙ W) + (β·W + b) equals (x̂·γ + β)·W + b, but the backward pass then needs neither
 * dy·γ nor a recomputed x̂ (the unscaled LayerNormalization output is x̂), five fewer [B, T, C] passes per
 * norm for a weight-sized multiply per layer. `transposed` weights are [out, in] (nn.Linear).
 */
export function norm(ctx: ForwardCtx, x: Value, prefix: string): Normed {
  const { g, cfg } = ctx;
  const C = x.shape[x.shape.length - 1] as number;
  const gamma = ctx.p(`${prefix}.weight`);
  const beta = cfg.norm === 'layernorm' && cfg.bias ? ctx.p(`${prefix}.bias`) : undefined;
  const xhat =
    cfg.norm === 'rmsnorm'
      ? op.rmsNorm(g, x, undefined, cfg.normEps)
      : op.layerNorm(g, x, g.constant('float32', [C], new Float32Array(C).fill(1)), undefined, cfg.normEps);
  return {
    xhat,
    linear(w: Value, b?: Value, transposed = false): Value {
      const scaled = op.mul(g, w, transposed ? gamma : op.reshape(g, gamma, [C, 1]));
      let bias = b;
      if (beta) {
        const shift = op.reshape(g, linear(g, op.reshape(g, beta, [1, C]), w, undefined, transposed), [-1]);
        bias = bias ? op.add(g, bias, shift) : shift;
      }
      return linear(g, xhat, scaled, bias, transposed);
    },
    value(): Value {
      const y = op.mul(g, xhat, gamma);
      return beta ? op.add(g, y, beta) : y;
    },
  };
}

export function activation(g: Graph, x: Value, kind: ModelConfig['activation']): Value {
  if (kind === 'gelu') return op.gelu(g, x, 'none');
  if (kind === 'gelu_tanh') return op.gelu(g, x, 'tanh');
  if (kind === 'relu') return op.relu(g, x);
  throw new Error(`activation '${kind}' is gated; use swiglu()`);
}

/** SiLU(gate) * up. */
export function swiglu(g: Graph, gate: Value, up: Value): Value {
  return op.mul(g, op.mul(g, gate, op.sigmoid(g, gate)), up);
}

/** Sinusoidal table [n, d] (Vaswani et al.), used both for absolute positions and RoPE angles. */
export function sinusoidTable(n: number, d: number): Float32Array {
  const t = new Float32Array(n * d);
  for (let pos = 0; pos < n; pos++) {
    for (let i = 0; i < d / 2; i++) {
      const a = pos / 10000 ** ((2 * i) / d);
      t[pos * d + 2 * i] = Math.sin(a);
      t[pos * d + 2 * i + 1] = Math.cos(a);
    }
  }
  return t;
}

/** cos/sin of RoPE angles for every position, [blockSize, headDim/2]. */
export function ropeTables(cfg: ModelConfig): { cos: Float32Array; sin: Float32Array } {
  const half = headDim(cfg) / 2;
  const cos = new Float32Array(cfg.blockSize * half);
  const sin = new Float32Array(cfg.blockSize * half);
  for (let pos = 0; pos < cfg.blockSize; pos++) {
    for (let i = 0; i < half; i++) {
      const a = pos / cfg.ropeTheta ** ((2 * i) / (2 * half));
      cos[pos * half + i] = Math.cos(a);
      sin[pos * half + i] = Math.sin(a);
    }
  }
  return { cos, sin };
}

/** Rotate-half RoPE on x [B, H, T, D] (the Hugging Face Llama convention). */
function rope(ctx: ForwardCtx, x: Value): Value {
  const { g, cfg } = ctx;
  const half = headDim(cfg) / 2;
  const t = ropeTables(cfg);
  const cosT = g.constant('float32', [cfg.blockSize, half], t.cos);
  const sinT = g.constant('float32', [cfg.blockSize, half], t.sin);
  // positions [T] -> [T, half] broadcasts over [B, H]; [B, T] -> [B, 1, T, half]
  const pick = (table: Value): Value => {
    const rows = op.gather(g, table, ctx.positions);
    return ctx.positions.shape.length === 2 ? op.unsqueeze(g, rows, [1]) : rows;
  };
  const c = pick(cosT);
  const s = pick(sinT);
  const [x1, x2] = op.split(g, x, [half, half], -1);
  const r1 = op.sub(g, op.mul(g, x1, c), op.mul(g, x2, s));
  const r2 = op.add(g, op.mul(g, x2, c), op.mul(g, x1, s));
  return op.concat(g, [r1, r2], -1);
}

/**
 * w with attention's 1/√d folded in, so q·kᵀ needs no scaling pass over q or the scores. With
 * `qkvSizes`, w's last axis packs [q, k, v] (GPT-2's c_attn weight [in, out] and bias) and only the q
 * part is scaled; otherwise all of w is (a q projection).
 */
export function scaleQueries(ctx: ForwardCtx, w: Value, qkvSizes?: readonly number[]): Value {
  const { g, cfg } = ctx;
  const s = 1 / Math.sqrt(headDim(cfg));
  if (!qkvSizes) return op.mul(g, w, g.scalar(s, w.dtype));
  const cols = qkvSizes.reduce((a, b) => a + b, 0);
  const factors = new Float32Array(cols).fill(1).fill(s, 0, qkvSizes[0]);
  return op.mul(g, w, g.constant('float32', [cols], factors));
}

/**
 * Causal self-attention on projected q [B,T,H·D] (already scaled by 1/√D, see scaleQueries), k and v
 * [B,T,KV·D]; returns [B,T,H·D].
 * Keys/values are concatenated onto the cache when one is given (inference export).
 */
export function attention(ctx: ForwardCtx, q: Value, k: Value, v: Value, layer: number): Value {
  const { g, cfg, batch, seq } = ctx;
  const d = headDim(cfg);
  const heads = (x: Value, n: number): Value =>
    op.transpose(g, op.reshape(g, x, [batch, seq, n, d]), [0, 2, 1, 3]);
  let qh = heads(q, cfg.nHead);
  let kh = heads(k, cfg.nKvHead);
  let vh = heads(v, cfg.nKvHead);
  if (cfg.positions === 'rope') {
    qh = rope(ctx, qh);
    kh = rope(ctx, kh);
  }
  if (ctx.past) {
    kh = op.concat(g, [ctx.past[layer].key, kh], 2);
    vh = op.concat(g, [ctx.past[layer].value, vh], 2);
    ctx.presents?.push({ key: kh, value: vh });
  }
  const rep = cfg.nHead / cfg.nKvHead;
  if (rep > 1) {
    // GQA: each kv head serves `rep` query heads; Expand broadcasts without knowing B or S.
    const repeat = (x: Value): Value => {
      const e = op.expand(g, op.unsqueeze(g, x, [2]), [1, 1, rep, 1, 1]);
      return op.reshape(g, e, [x.shape[0], cfg.nHead, x.shape[2], d]);
    };
    kh = repeat(kh);
    vh = repeat(vh);
  }
  const scores = op.matmul(g, qh, op.transpose(g, kh, [0, 1, 3, 2]));
  let probs = ctx.keep
    ? op.maskedSoftmax(g, scores, ctx.mask, ctx.keep)
    : op.softmax(g, op.add(g, scores, ctx.mask), -1);
  ctx.attnProbs?.push(probs);
  probs = dropout(ctx, probs);
  const y = op.matmul(g, probs, vh);
  return op.reshape(g, op.transpose(g, y, [0, 2, 1, 3]), [batch, seq, cfg.nHead * d]);
}

/** Constant causal masks [T, T] for training graphs (static T): additive (0 / −1e9) and keep (1 / 0). */
export function causalMask(g: Graph, t: number): { mask: Value; keep: Value } {
  const m = new Float32Array(t * t);
  const k = new Float32Array(t * t);
  for (let i = 0; i < t; i++) {
    for (let j = i + 1; j < t; j++) m[i * t + j] = -1e9;
    for (let j = 0; j <= i; j++) k[i * t + j] = 1;
  }
  return { mask: g.constant('float32', [t, t], m), keep: g.constant('float32', [t, t], k) };
}

// What a trace shows, reduced from its raw outputs (trace.ts): norms of the residual stream and of what
// each block writes into it, the logit lens, the loss per token, and the head-pattern scores.
import { type HeadScores, scoreLayer } from './patterns.ts';
import type { RawTrace } from './trace.ts';

/** L2 norm of each row of x [rows, width]. */
export function rowNorms(x: Float32Array, width: number): Float32Array {
  const rows = x.length / width;
  const out = new Float32Array(rows);
  for (let r = 0; r < rows; r++) {
    let s = 0;
    for (let i = r * width; i < (r + 1) * width; i++) s += x[i] * x[i];
    out[r] = Math.sqrt(s);
  }
  return out;
}

export interface LayerNorms {
  /** [T]: the residual stream entering the layer. */
  resid: Float32Array;
  /** [T]: what its attention adds, and its MLP. */
  attn: Float32Array;
  mlp: Float32Array;
}

/** One layer's norms per token; the last entry (index L) is the stream after the last layer (no blocks). */
export function traceNorms(raw: RawTrace, width: number): LayerNorms[] {
  return raw.resid.map((r, i) => ({
    resid: rowNorms(r, width),
    attn: raw.attnOut[i] ? rowNorms(raw.attnOut[i], width) : new Float32Array(0),
    mlp: raw.mlpOut[i] ? rowNorms(raw.mlpOut[i], width) : new Float32Array(0),
  }));
}

export interface LensPosition {
  ids: number[];
  probs: number[];
  /** Probability of the actual next token (NaN at the last position, which has none). */
  target: number;
}

/**
 * The logit lens of residual stream `layer` (0 = embeddings, L = the model's output) at every position;
 * empty where the run did not compute that stream's lens (TraceRunOptions.lens, lossOnly).
 */
export function lensAt(raw: RawTrace, layer: number): LensPosition[] {
  const k = raw.topK;
  const T = raw.tokens.length;
  const logp = raw.lensLogp[layer];
  const ids = raw.lensIds[layer];
  const target = raw.lensTarget[layer];
  if (!logp || !ids || !target) return [];
  return Array.from({ length: T }, (_, t) => ({
    ids: Array.from(ids.subarray(t * k, (t + 1) * k)),
    probs: Array.from(logp.subarray(t * k, (t + 1) * k), Math.exp),
    target: t + 1 < T ? Math.exp(target[t]) : Number.NaN,
  }));
}

/** Cross-entropy of each position's next token, [T − 1] (nats). */
export function lossPerToken(raw: RawTrace): Float32Array {
  const T = raw.tokens.length;
  const out = new Float32Array(Math.max(0, T - 1));
  for (let t = 0; t + 1 < T; t++) out[t] = -raw.targetLogp[t];
  return out;
}

/** Pattern scores of every head, [layer][head]. */
export function traceScores(raw: RawTrace, heads: number): HeadScores[][] {
  return raw.attn.map((a) => scoreLayer(a, heads, raw.tokens));
}

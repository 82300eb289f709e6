// Merge fidelity: how closely a merged model follows its adapters applied on the fly. The reference runs the
// base frozen with the adapters in the LoRA graph (their low-rank paths beside the untouched weights, never
// folded in); the merged model is what would be served. Per position: KL(reference ‖ merged) of the
// next-token distributions and whether both rank the same token first.
import { Graph } from '../graph/graph.ts';
import type { ModelConfig } from '../models/config.ts';
import { forward, PARAM, paramInputs } from '../models/model.ts';
import type { ParamLayout } from '../models/params.ts';
import { createSession, i64 } from '../runtime/session.ts';
import { tensorViews } from '../train/feeds.ts';
import { modelCtx } from '../train/graphs.ts';
import { frozenFp32 } from './frozen.ts';
import { type LoraConfig, loraLayout } from './lora.ts';
import { concatAdapters, type WeightedAdapter } from './merge.ts';

export interface FidelityReport {
  /** Positions compared (windows × window length). */
  positions: number;
  /** Mean KL(on the fly ‖ merged) per position, nats. */
  klMean: number;
  /** Largest KL at one position, nats. */
  klMax: number;
  /** Share of positions where both put the same token first. */
  top1Agreement: number;
  /** Largest absolute logit difference. */
  maxLogitDiff: number;
}

/**
 * Logits [rows × seq × vocab] of the base with the adapters applied on the fly. One adapter at weight 1 runs
 * as it is; several (or other weights) run as their concatenation (concatAdapters), which adds Σ wᵢ·ΔWᵢ·x.
 */
export async function onTheFlyLogits(
  cfg: ModelConfig,
  baseLayout: ParamLayout,
  base: Float32Array,
  adapters: readonly WeightedAdapter[],
  windows: readonly (readonly number[])[],
): Promise<Float32Array> {
  const seq = windows[0]?.length ?? 0;
  if (!seq || windows.some((w) => w.length !== seq))
    throw new Error('windows: give equal, non-empty windows');
  const one = adapters.length === 1 && adapters[0].weight === 1;
  const { lora, params }: { lora: LoraConfig; params: Float32Array } = one
    ? adapters[0]
    : concatAdapters(cfg, adapters);
  const layout = loraLayout(cfg, { ...lora, dropout: 0 });
  const frozen = frozenFp32(baseLayout, base);
  const rows = windows.length;
  const g = new Graph('lora_logits');
  const ctx = modelCtx(g, cfg, paramInputs(g, layout), rows, seq, false, {
    frozen,
    lora: { ...lora, dropout: 0 },
  });
  g.output(forward(ctx, g.input('idx', 'int64', [rows, seq])), 'logits');
  const session = await createSession(g);
  try {
    const idx = BigInt64Array.from(windows.flat(), (t) => BigInt(t));
    const out = await session.run({
      ...frozen.feeds,
      ...tensorViews(layout, params, PARAM),
      idx: i64(idx, [rows, seq]),
    });
    return out.logits.data as Float32Array;
  } finally {
    await session.release();
  }
}

function logSoftmax(row: Float32Array): Float64Array {
  let max = Number.NEGATIVE_INFINITY;
  for (const x of row) if (x > max) max = x;
  let sum = 0;
  for (const x of row) sum += Math.exp(x - max);
  const z = max + Math.log(sum);
  return Float64Array.from(row, (x) => x - z);
}

/** Compares two logit tensors [positions × vocab] position by position. */
export function compareLogits(reference: Float32Array, merged: Float32Array, vocab: number): FidelityReport {
  if (reference.length !== merged.length || reference.length % vocab)
    throw new Error('compareLogits: the logits differ in size or are not whole rows');
  const positions = reference.length / vocab;
  let kl = 0;
  let klMax = 0;
  let agree = 0;
  let maxLogitDiff = 0;
  for (let t = 0; t < positions; t++) {
    const a = reference.subarray(t * vocab, (t + 1) * vocab);
    const b = merged.subarray(t * vocab, (t + 1) * vocab);
    const p = logSoftmax(a);
    const q = logSoftmax(b);
    let d = 0;
    let ta = 0;
    let tb = 0;
    for (let j = 0; j < vocab; j++) {
      d += Math.exp(p[j]) * (p[j] - q[j]);
      if (a[j] > a[ta]) ta = j;
      if (b[j] > b[tb]) tb = j;
      maxLogitDiff = Math.max(maxLogitDiff, Math.abs(a[j] - b[j]));
    }
    // Rounding can make a KL of identical distributions a hair negative.
    d = Math.max(d, 0);
    kl += d;
    klMax = Math.max(klMax, d);
    if (ta === tb) agree++;
  }
  return {
    positions,
    klMean: positions ? kl / positions : 0,
    klMax,
    top1Agreement: positions ? agree / positions : 1,
    maxLogitDiff,
  };
}

/**
 * The fidelity report of a merge: `mergedLogits(window)` gives the merged model's logits [window × vocab]
 * (the served model: InferenceModel.run with allPositions).
 */
export async function mergeFidelity(
  cfg: ModelConfig,
  baseLayout: ParamLayout,
  base: Float32Array,
  adapters: readonly WeightedAdapter[],
  windows: readonly (readonly number[])[],
  mergedLogits: (window: readonly number[]) => Promise<Float32Array>,
): Promise<FidelityReport> {
  const reference = await onTheFlyLogits(cfg, baseLayout, base, adapters, windows);
  const seq = windows[0].length;
  const merged = new Float32Array(reference.length);
  for (const [i, w] of windows.entries()) merged.set(await mergedLogits(w), i * seq * cfg.vocabSize);
  return compareLogits(reference, merged, cfg.vocabSize);
}

/** Equal windows over `ids`: as many whole windows of `length` (≤ the context) as fit, at most `count`. */
export function fidelityWindows(ids: readonly number[], length: number, count: number): number[][] {
  const out: number[][] = [];
  for (let at = 0; at + length <= ids.length && out.length < count; at += length)
    out.push(ids.slice(at, at + length));
  return out;
}

// Feeds for the training graphs: ORT tensors that are views into flat Float32Arrays (one per state
// kind, so checkpoints and the JS side see one vector), and dropout masks.
import type { Graph } from '../graph/graph.ts';
import { DROPOUT_MASK } from '../models/layers.ts';
import type { ParamLayout } from '../models/params.ts';
import { Rng } from '../rng.ts';
import { ort } from '../runtime/session.ts';
import type { Batch } from './data.ts';
import { STATE } from './graphs.ts';

export type Feeds = Record<string, ort.Tensor>;

/** `prefix<name>` → a tensor viewing that parameter's slice of `flat` (no copy; ORT reads and writes it). */
export function tensorViews(layout: ParamLayout, flat: Float32Array, prefix: string): Feeds {
  if (flat.length !== layout.total)
    throw new Error(`expected ${layout.total} values for '${prefix}*', got ${flat.length}`);
  const out: Feeds = {};
  for (const e of layout.entries)
    out[`${prefix}${e.name}`] = new ort.Tensor('float32', flat.subarray(e.offset, e.offset + e.size), [
      ...e.shape,
    ]);
  return out;
}

/** `prefix<k>` → a tensor viewing bucket k's slice of `flat` (see ParamLayout.buckets). */
export function bucketViews(layout: ParamLayout, flat: Float32Array, prefix: string): Feeds {
  if (flat.length !== layout.total)
    throw new Error(`expected ${layout.total} values for '${prefix}*', got ${flat.length}`);
  const out: Feeds = {};
  layout.buckets.forEach((b, k) => {
    out[`${prefix}${k}`] = new ort.Tensor('float32', flat.subarray(b.offset, b.offset + b.size), [b.size]);
  });
  return out;
}

/**
 * `idx` and `targets` as [rows, seq] tensors over the batch's own arrays; for packed rows also the positions
 * and the block-diagonal causal mask (token i sees token j ≤ i of the same segment), additive and 1/0.
 */
export function tokenFeeds(b: Batch, rows: number, seq: number): Feeds {
  const dims = [rows, seq];
  const feeds: Feeds = {
    idx: new ort.Tensor('int64', b.idx, dims),
    targets: new ort.Tensor('int64', b.targets, dims),
  };
  if (!b.positions || !b.segments) return feeds;
  const mask = new Float32Array(rows * seq * seq).fill(-1e9);
  const keep = new Float32Array(rows * seq * seq);
  for (let r = 0; r < rows; r++) {
    const seg = b.segments.subarray(r * seq, (r + 1) * seq);
    for (let i = 0; i < seq; i++) {
      const at = (r * seq + i) * seq;
      for (let j = i; j >= 0 && seg[j] === seg[i]; j--) {
        mask[at + j] = 0;
        keep[at + j] = 1;
      }
    }
  }
  feeds.positions = new ort.Tensor('int64', b.positions, dims);
  feeds.attn_mask = new ort.Tensor('float32', mask, [rows, 1, seq, seq]);
  feeds.attn_keep = new ort.Tensor('float32', keep, [rows, 1, seq, seq]);
  return feeds;
}

/**
 * Weights (given) and AdamW moments (zeros): flat buffers, and views of them as the step graph's inputs and
 * outputs. The trainer keeps two and swaps them each step; the bench and tests feed a graph with one.
 */
export class StateSet {
  readonly params: Float32Array;
  readonly m: Float32Array;
  readonly v: Float32Array;
  /** `param.*` (forward: evaluation, accumulation); `opt_param.*`, `m.*`, `v.*` (optimizer); both. */
  readonly paramInputs: Feeds;
  readonly optInputs: Feeds;
  readonly inputs: Feeds;
  readonly outputs: Feeds;

  constructor(layout: ParamLayout, params: Float32Array) {
    this.params = params;
    this.m = new Float32Array(layout.total);
    this.v = new Float32Array(layout.total);
    this.paramInputs = tensorViews(layout, this.params, STATE.param);
    this.optInputs = {
      ...bucketViews(layout, this.params, STATE.optParam),
      ...bucketViews(layout, this.m, STATE.m),
      ...bucketViews(layout, this.v, STATE.v),
    };
    this.inputs = { ...this.paramInputs, ...this.optInputs };
    this.outputs = {
      ...bucketViews(layout, this.params, STATE.paramOut),
      ...bucketViews(layout, this.m, STATE.mOut),
      ...bucketViews(layout, this.v, STATE.vOut),
    };
  }
}

/**
 * The dropout masks a training graph takes (`dropout_mask.N`: 0 or 1/(1−p), rows first), refilled for
 * every run. Each row (sequence) draws from its own generator, derived from (seed, step, row of the
 * step), so a step's masks depend neither on how its rows are split into runs or workers nor on the
 * session: resumed and re-planned runs draw the same ones, and nothing needs saving.
 */
export class DropoutMasks {
  readonly tensors: Feeds = {};
  private readonly buffers: Float32Array[] = [];
  private readonly rows: number;

  /** Masks of inputs named `prefix*` with drop probability p; `salt` keeps other mask kinds' draws apart. */
  constructor(
    graph: Graph,
    private readonly p: number,
    prefix = DROPOUT_MASK,
    private readonly salt = 0,
  ) {
    let rows = 0;
    for (const v of graph.inputs) {
      if (!v.name.startsWith(prefix)) continue;
      const dims = v.shape as number[];
      rows = dims[0];
      const buf = new Float32Array(dims.reduce((a, b) => a * b, 1));
      this.buffers.push(buf);
      this.tensors[v.name] = new ort.Tensor('float32', buf, dims);
    }
    this.rows = rows;
  }

  get count(): number {
    return this.buffers.length;
  }

  /** Masks for the run whose first row is `firstRow` of step `step`. */
  fill(seed: number, step: number, firstRow: number): Feeds {
    const keep = 1 - this.p;
    for (let r = 0; r < this.rows; r++) {
      const rng = this.salt
        ? Rng.derive(seed, step, firstRow + r, this.salt)
        : Rng.derive(seed, step, firstRow + r);
      for (const b of this.buffers) {
        const n = b.length / this.rows;
        rng.fillMask(b.subarray(r * n, (r + 1) * n), keep, 1 / keep);
      }
    }
    return this.tensors;
  }
}

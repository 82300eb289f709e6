// Linear probes: can a property of a token be read off the residual stream with one linear map? For every
// stream (embeddings, then after each layer) a logistic-regression classifier is fitted on a train split
// of the token positions and scored on the held-out rest. Accuracy well above the majority-class baseline
// means the layer represents the property linearly; the same fit on shuffled labels (a control) shows
// how much a probe of this size memorises on its own.
import { Rng } from '../rng.ts';
import type { TraceModel } from './trace.ts';

export interface LogisticOptions {
  /** L2 penalty on the weights (not the bias), per sample; default 1e-3. */
  l2?: number;
  /** Full-batch Adam steps; default 300. */
  iters?: number;
  /** Adam step size; default 0.05. */
  lr?: number;
}

/** A fitted multinomial logistic regression over standardised features. */
export interface LogisticModel {
  dim: number;
  classes: number;
  mean: Float64Array;
  /** Reciprocal standard deviations (1 for a constant feature). */
  scale: Float64Array;
  /** [classes, dim] weights and [classes] biases, on standardised features. */
  w: Float64Array;
  b: Float64Array;
}

/** Rows `rows` of x [*, dim], standardised and as float64: the fit's working copy. */
function standardise(x: Float32Array, dim: number, rows: readonly number[], m: LogisticModel): Float64Array {
  const out = new Float64Array(rows.length * dim);
  rows.forEach((r, i) => {
    for (let j = 0; j < dim; j++) out[i * dim + j] = (x[r * dim + j] - m.mean[j]) * m.scale[j];
  });
  return out;
}

/** Softmax probabilities of row `i` of z (standardised) into `p`. */
function probsOf(m: LogisticModel, z: Float64Array, i: number, p: Float64Array): void {
  const { dim, classes } = m;
  let max = -Infinity;
  for (let k = 0; k < classes; k++) {
    let s = m.b[k];
    for (let j = 0; j < dim; j++) s += m.w[k * dim + j] * z[i * dim + j];
    p[k] = s;
    if (s > max) max = s;
  }
  let sum = 0;
  for (let k = 0; k < classes; k++) {
    p[k] = Math.exp(p[k] - max);
    sum += p[k];
  }
  for (let k = 0; k < classes; k++) p[k] /= sum;
}

/**
 * Fits a softmax classifier to rows `rows` of x [*, dim] with labels y (0 … classes − 1). Deterministic:
 * zero start, full-batch Adam, no sampling.
 */
export function fitLogistic(
  x: Float32Array,
  dim: number,
  y: ArrayLike<number>,
  rows: readonly number[],
  classes: number,
  opts: LogisticOptions = {},
): LogisticModel {
  const l2 = opts.l2 ?? 1e-3;
  const iters = opts.iters ?? 300;
  const lr = opts.lr ?? 0.05;
  const n = rows.length;
  if (n === 0) throw new RangeError('fitLogistic: no training rows');
  const mean = new Float64Array(dim);
  const sq = new Float64Array(dim);
  for (const r of rows)
    for (let j = 0; j < dim; j++) {
      const v = x[r * dim + j];
      mean[j] += v;
      sq[j] += v * v;
    }
  const scale = new Float64Array(dim);
  for (let j = 0; j < dim; j++) {
    mean[j] /= n;
    const sd = Math.sqrt(Math.max(0, sq[j] / n - mean[j] * mean[j]));
    scale[j] = sd > 1e-8 ? 1 / sd : 1;
  }
  const m: LogisticModel = {
    dim,
    classes,
    mean,
    scale,
    w: new Float64Array(classes * dim),
    b: new Float64Array(classes),
  };
  const z = standardise(x, dim, rows, m);
  const P = classes * dim + classes;
  const grad = new Float64Array(P);
  const m1 = new Float64Array(P);
  const m2 = new Float64Array(P);
  const p = new Float64Array(classes);
  const [beta1, beta2, eps] = [0.9, 0.999, 1e-8];
  for (let step = 1; step <= iters; step++) {
    grad.fill(0);
    for (let i = 0; i < n; i++) {
      probsOf(m, z, i, p);
      p[y[rows[i]]] -= 1;
      for (let k = 0; k < classes; k++) {
        const e = p[k] / n;
        if (e === 0) continue;
        const row = k * dim;
        for (let j = 0; j < dim; j++) grad[row + j] += e * z[i * dim + j];
        grad[classes * dim + k] += e;
      }
    }
    for (let q = 0; q < classes * dim; q++) grad[q] += l2 * m.w[q];
    const c1 = 1 - beta1 ** step;
    const c2 = 1 - beta2 ** step;
    for (let q = 0; q < P; q++) {
      m1[q] = beta1 * m1[q] + (1 - beta1) * grad[q];
      m2[q] = beta2 * m2[q] + (1 - beta2) * grad[q] * grad[q];
      const d = (lr * (m1[q] / c1)) / (Math.sqrt(m2[q] / c2) + eps);
      if (q < classes * dim) m.w[q] -= d;
      else m.b[q - classes * dim] -= d;
    }
  }
  return m;
}

/** Predicted class of each of `rows` of x. */
export function predictLogistic(m: LogisticModel, x: Float32Array, rows: readonly number[]): Int32Array {
  const z = standardise(x, m.dim, rows, m);
  const p = new Float64Array(m.classes);
  return Int32Array.from(rows, (_, i) => {
    probsOf(m, z, i, p);
    let best = 0;
    for (let k = 1; k < m.classes; k++) if (p[k] > p[best]) best = k;
    return best;
  });
}

/** Share of `rows` whose label equals `pred`. */
export function accuracy(pred: ArrayLike<number>, y: ArrayLike<number>, rows: readonly number[]): number {
  let ok = 0;
  rows.forEach((r, i) => {
    if (pred[i] === y[r]) ok++;
  });
  return rows.length ? ok / rows.length : Number.NaN;
}

/** A seeded shuffle of 0 … n − 1 cut into train and test (each non-empty when n ≥ 2). */
export function splitRows(
  n: number,
  trainFraction: number,
  seed: number,
): { train: number[]; test: number[] } {
  const order = Array.from({ length: n }, (_, i) => i);
  shuffle(order, new Rng(seed));
  const cut = Math.min(n - 1, Math.max(1, Math.round(n * trainFraction)));
  return { train: order.slice(0, cut), test: order.slice(cut) };
}

function shuffle<T>(a: T[], rng: Rng): void {
  for (let i = a.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [a[i], a[j]] = [a[j], a[i]];
  }
}

/**
 * The residual streams 0 … L for `tokens`, run in windows of the model's context (each from an empty
 * context): per stream [tokens, C].
 */
export async function collectResiduals(
  model: TraceModel,
  tokens: readonly number[],
): Promise<Float32Array[]> {
  const { nLayer: L, nEmbd: C, blockSize } = model.cfg;
  const out = Array.from({ length: L + 1 }, () => new Float32Array(tokens.length * C));
  for (let at = 0; at < tokens.length; at += blockSize) {
    const window = tokens.slice(at, at + blockSize);
    const raw = await model.run(window, { topK: 1, lens: false });
    raw.resid.forEach((r, s) => {
      out[s].set(r, at * C);
    });
  }
  return out;
}

/** How a sequence's positions become one vector: the last position's, or the mean over all of them. */
export type Pooling = 'last' | 'mean';

/**
 * One residual vector per sequence and stream, each sequence run alone from an empty context (1 to the
 * context's length of tokens): per stream [sequences, C]. `each` runs after every sequence, so a caller can
 * yield to its event loop or stop.
 */
export async function pooledResiduals(
  model: TraceModel,
  sequences: readonly (readonly number[])[],
  pool: Pooling,
  each?: (i: number) => Promise<void> | void,
): Promise<Float32Array[]> {
  const { nLayer: L, nEmbd: C } = model.cfg;
  const out = Array.from({ length: L + 1 }, () => new Float32Array(sequences.length * C));
  for (const [i, seq] of sequences.entries()) {
    const T = seq.length;
    const raw = await model.run(seq, { topK: 1, lens: false });
    raw.resid.forEach((r, s) => {
      const row = out[s].subarray(i * C, (i + 1) * C);
      if (pool === 'last') row.set(r.subarray((T - 1) * C, T * C));
      else {
        for (let t = 0; t < T; t++) for (let j = 0; j < C; j++) row[j] += r[t * C + j];
        for (let j = 0; j < C; j++) row[j] /= T;
      }
    });
    await each?.(i);
  }
  return out;
}

export interface ProbeOptions extends LogisticOptions {
  /** Share of the labelled positions the probe is fitted on; default 0.8. */
  trainFraction?: number;
  /** Seeds the split (and the control's shuffle); default 0. */
  seed?: number;
  /** Also fit every layer on shuffled labels (the control task). */
  control?: boolean;
}

export interface ProbeResult {
  classes: number;
  train: number;
  test: number;
  /** Held-out accuracy of the majority class of the train split. */
  baseline: number;
  /** Per stream: held-out accuracy, train accuracy, and (with control) held-out accuracy on shuffled labels. */
  accuracy: number[];
  trainAccuracy: number[];
  control: number[];
}

/**
 * Probes each stream of `acts` (per stream [N, dim]) for `labels` [N] (−1: the position has no label).
 * `each` runs between streams, so a caller can yield to its event loop or stop.
 */
export async function probeStreams(
  acts: readonly Float32Array[],
  dim: number,
  labels: ArrayLike<number>,
  opts: ProbeOptions = {},
  each?: (stream: number) => Promise<void> | void,
): Promise<ProbeResult> {
  const rows: number[] = [];
  let classes = 0;
  for (let i = 0; i < labels.length; i++)
    if (labels[i] >= 0) {
      rows.push(i);
      classes = Math.max(classes, labels[i] + 1);
    }
  if (rows.length < 2)
    throw new RangeError(`labels: ${rows.length} labelled positions, a probe needs 2 or more`);
  classes = Math.max(2, classes);
  const seed = opts.seed ?? 0;
  const split = splitRows(rows.length, opts.trainFraction ?? 0.8, seed);
  const train = split.train.map((i) => rows[i]);
  const test = split.test.map((i) => rows[i]);
  const counts = new Array<number>(classes).fill(0);
  for (const r of train) counts[labels[r]]++;
  const majority = counts.indexOf(Math.max(...counts));
  const baseline = accuracy(new Int32Array(test.length).fill(majority), labels, test);
  // The control permutes labels among the labelled positions, keeping the class balance.
  let shuffled: Int32Array | undefined;
  if (opts.control) {
    shuffled = Int32Array.from(labels);
    const vals = rows.map((r) => labels[r]);
    shuffle(vals, new Rng(seed + 1));
    rows.forEach((r, i) => {
      shuffled![r] = vals[i];
    });
  }
  const result: ProbeResult = {
    classes,
    train: train.length,
    test: test.length,
    baseline,
    accuracy: [],
    trainAccuracy: [],
    control: [],
  };
  for (const [s, x] of acts.entries()) {
    const m = fitLogistic(x, dim, labels, train, classes, opts);
    result.accuracy.push(accuracy(predictLogistic(m, x, test), labels, test));
    result.trainAccuracy.push(accuracy(predictLogistic(m, x, train), labels, train));
    if (shuffled) {
      const c = fitLogistic(x, dim, shuffled, train, classes, opts);
      result.control.push(accuracy(predictLogistic(c, x, test), shuffled, test));
    }
    await each?.(s);
  }
  return result;
}

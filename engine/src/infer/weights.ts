// The weights a decoding graph reads: parameters used where they lie (a mapped file, the caller's array),
// and the transposed copies its layouts ask for (decode-graph.ts, fastLayouts), made once into one block of
// huge pages (mmap.ts) by an ORT session of Transpose nodes: off the event loop and vectorised, where a
// JavaScript loop took 1.0–2.1 s for GPT-2 small's 494 MB (that session 0.3–2.6 s: both mostly wait on the
// VM backing fresh pages).
import { Graph } from '../graph/graph.ts';
import * as op from '../graph/ops.ts';
import type { SessionOptions } from '../runtime/session.ts';
import type { WeightInput } from './decode-graph.ts';
import { allocPages, type Pages } from './mmap.ts';
import { createRunner, type TensorIn } from './runner.ts';

export interface BoundWeights {
  inputs: Map<string, TensorIn>;
  /** Memory of the copies (to free with the sessions), if any were made. */
  copies?: Pages;
}

export interface Job {
  src: Float32Array;
  /** src is [rows, cols]; out [cols, rows]. */
  rows: number;
  cols: number;
  out: Float32Array;
}

export async function bindWeights(
  wanted: readonly WeightInput[],
  tensors: ReadonlyMap<string, Float32Array>,
  opts: SessionOptions = {},
): Promise<BoundWeights> {
  const inputs = new Map<string, TensorIn>();
  const size = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);
  let copied = 0;
  for (const w of wanted) {
    const data = tensors.get(w.param);
    if (!data) throw new Error(`missing parameter '${w.param}'`);
    if (data.length !== size(w.shape))
      throw new Error(`'${w.param}' has ${data.length} values, expected ${size(w.shape)}`);
    if (w.transposed) copied += data.length;
    else inputs.set(w.input, { data, dims: w.shape });
  }
  if (!copied) return { inputs };
  const copies = await allocPages(copied);
  const jobs: Job[] = [];
  let at = 0;
  for (const w of wanted) {
    if (!w.transposed) continue;
    const [cols, rows] = w.shape;
    const out = copies.array.subarray(at, at + rows * cols);
    jobs.push({ src: tensors.get(w.param)!, rows, cols, out });
    inputs.set(w.input, { data: out, dims: w.shape });
    at += rows * cols;
  }
  try {
    await transposeAll(jobs, opts);
  } catch (e) {
    copies.free();
    throw e;
  }
  return { inputs, copies };
}

async function transposeAll(jobs: readonly Job[], opts: SessionOptions): Promise<void> {
  const g = new Graph('transpose');
  jobs.forEach((j, i) => {
    g.output(op.transpose(g, g.input(`x${i}`, 'float32', [j.rows, j.cols]), [1, 0]), `y${i}`);
  });
  const runner = await createRunner(g.toBytes(), new Map(), { ...opts, inPlace: true });
  try {
    if (!runner.inPlace) {
      for (const j of jobs) transpose(j);
      return;
    }
    const feeds: Record<string, TensorIn> = {};
    const fetches: Record<string, TensorIn> = {};
    jobs.forEach((j, i) => {
      feeds[`x${i}`] = { data: j.src, dims: [j.rows, j.cols] };
      fetches[`y${i}`] = { data: j.out, dims: [j.cols, j.rows] };
    });
    await runner.run(feeds, fetches);
  } finally {
    await runner.release();
  }
}

/** Where ORT's C API is unavailable: 32 × 32 blocks, so the rows read and written stay in cache. */
export function transpose({ src, rows, cols, out }: Job): void {
  const B = 32;
  for (let r0 = 0; r0 < rows; r0 += B) {
    const r1 = Math.min(rows, r0 + B);
    for (let c0 = 0; c0 < cols; c0 += B) {
      const c1 = Math.min(cols, c0 + B);
      for (let r = r0; r < r1; r++) {
        const at = r * cols;
        for (let c = c0; c < c1; c++) out[c * rows + r] = src[at + c];
      }
    }
  }
}

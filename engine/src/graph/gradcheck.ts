// Finite-difference check of the autodiff gradients, run on ONNX Runtime: the analytic gradient of
// L = Σ f(x)·r (r a fixed random projection) against central differences (L(x+h) − L(x−h)) / 2h.

import { Rng } from '../rng.ts';
import { createSession, ort, tensor } from '../runtime/session.ts';
import { gradients } from './autodiff.ts';
import { type DType, Graph, numel, type TensorData, type Value } from './graph.ts';
import * as op from './ops.ts';

export interface GradCheckInput {
  name: string;
  shape: number[];
  data: Float32Array | Float64Array | BigInt64Array;
  dtype?: DType;
  /** Differentiate with respect to this input (default: float inputs). */
  grad?: boolean;
}

export interface GradCheckResult {
  /** Largest |analytic − numeric| / (atol + rtol·|numeric|); ≤ 1 passes. */
  worst: number;
  maxAbsErr: number;
  checked: number;
  detail: string;
}

export interface GradCheckOptions {
  /** Float dtype of the check; float64 where ORT implements the ops (much tighter). */
  dtype?: 'float32' | 'float64';
  eps?: number;
  atol?: number;
  rtol?: number;
  /** At most this many coordinates per input are perturbed (sampled). */
  maxPerInput?: number;
  seed?: number;
}

export async function gradCheck(
  inputs: readonly GradCheckInput[],
  f: (g: Graph, xs: Value[]) => Value,
  opts: GradCheckOptions = {},
): Promise<GradCheckResult> {
  const dtype = opts.dtype ?? 'float64';
  const eps = opts.eps ?? (dtype === 'float64' ? 1e-6 : 1e-2);
  const atol = opts.atol ?? (dtype === 'float64' ? 1e-7 : 2e-3);
  const rtol = opts.rtol ?? (dtype === 'float64' ? 1e-5 : 2e-2);
  const rng = new Rng(opts.seed ?? 7);

  const g = new Graph('gradcheck');
  const dt = (i: GradCheckInput): DType => i.dtype ?? (i.data instanceof BigInt64Array ? 'int64' : dtype);
  const xs = inputs.map((i) => g.input(i.name, dt(i), i.shape));
  const y = f(g, xs);
  const n = numel(y.shape);
  const r = new Float64Array(n).map(() => rng.normal());
  const proj = g.constant(y.dtype, y.shape as number[], r);
  const sum = op.reduceSum(
    g,
    op.mul(g, y, proj),
    y.shape.map((_, i) => i),
    false,
  );
  const loss = g.output(sum, 'loss');
  const wrt = inputs
    .map((inp, k) => ({ inp, k }))
    .filter(({ inp }) => (inp.grad ?? dt(inp) === dtype) && dt(inp) === dtype);
  const grads = gradients(
    g,
    loss,
    wrt.map(({ k }) => xs[k]),
  );
  grads.forEach((gr, j) => {
    g.output(gr, `grad_${wrt[j].inp.name}`);
  });
  const session = await createSession(g, { optLevel: 'disabled', threads: 1 });

  const data = inputs.map((i) =>
    dt(i) === 'float64' && !(i.data instanceof Float64Array)
      ? Float64Array.from(i.data as Float32Array)
      : dt(i) === 'float32' && i.data instanceof Float64Array
        ? Float32Array.from(i.data)
        : i.data,
  );
  const feeds = (): Record<string, ort.Tensor> =>
    Object.fromEntries(inputs.map((i, k) => [i.name, tensor(dt(i), data[k] as TensorData, i.shape)]));
  const out = await session.run(feeds());
  let worst = 0;
  let maxAbsErr = 0;
  let checked = 0;
  let detail = '';
  for (const { inp, k } of wrt) {
    const analytic = out[`grad_${inp.name}`].data as Float32Array | Float64Array;
    const x = data[k] as Float32Array | Float64Array;
    const count = x.length;
    const limit = opts.maxPerInput ?? 64;
    const coords =
      count <= limit ? [...Array(count).keys()] : Array.from({ length: limit }, () => rng.int(count));
    for (const c of coords) {
      const orig = x[c];
      x[c] = orig + eps;
      const lp = Number((await session.run(feeds(), ['loss'])).loss.data[0]);
      x[c] = orig - eps;
      const lm = Number((await session.run(feeds(), ['loss'])).loss.data[0]);
      x[c] = orig;
      const numeric = (lp - lm) / (2 * eps);
      // NaN (a NaN gradient, or a loss that is NaN under perturbation) must fail the check: compared
      // with `>` it would never become the worst score.
      const err = Number.isNaN(analytic[c] - numeric) ? Infinity : Math.abs(analytic[c] - numeric);
      const score = err / (atol + rtol * Math.abs(numeric));
      checked++;
      maxAbsErr = Math.max(maxAbsErr, err);
      if (score > worst) {
        worst = score;
        detail = `${inp.name}[${c}]: analytic ${analytic[c]} vs numeric ${numeric}`;
      }
    }
  }
  await session.release();
  return { worst, maxAbsErr, checked, detail };
}

export { ort };

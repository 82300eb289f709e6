// VJP rules of the activation functions, checked tightly enough to tell close formulas apart. The
// float32 finite-difference checks of vjp.test.ts (eps 1e-2, rtol 2e-2) cannot: the derivatives of exact
// GELU and of GPT-2's tanh approximation differ by at most 8.7e-4 (at x ≈ ±2), and an Erf derivative 1.5%
// off is inside their tolerance. Here:
//  - where ONNX Runtime implements the op in float64 (Tanh, and Gelu with approximate='tanh', which it
//    expands into float64 primitives), a float64 central-difference check at eps 1e-6, rtol 1e-5;
//  - where it has only a float32 kernel (Erf, and so exact Gelu), the rule's output on a grid against the
//    derivative written out analytically and evaluated in float64, within 2e-6 — float32 rounding of a
//    handful of ops on values of order 1 — three orders of magnitude below the smallest difference above.
import { describe, expect, it } from 'vitest';
import { gradients } from '../src/graph/autodiff.ts';
import { gradCheck } from '../src/graph/gradcheck.ts';
import { Graph, type Value } from '../src/graph/graph.ts';
import * as op from '../src/graph/ops.ts';
import { Rng } from '../src/rng.ts';
import { createSession, f32 } from '../src/runtime/session.ts';

/** erf in float64 by its Taylor series: good to ~1e-14 for |z| ≤ 3, which the grid keeps to. */
function erf(z: number): number {
  let sum = 0;
  let power = z;
  for (let n = 0; n < 200; n++) {
    const term = power / (2 * n + 1);
    sum += term;
    if (Math.abs(term) < 1e-17 * Math.abs(sum)) break;
    power *= (-z * z) / (n + 1);
  }
  return (2 / Math.sqrt(Math.PI)) * sum;
}

const K = Math.sqrt(2 / Math.PI);
/** d/dx erf(x) = 2/√π · e^(−x²). */
const dErf = (x: number) => (2 / Math.sqrt(Math.PI)) * Math.exp(-x * x);
/** d/dx xΦ(x) = Φ(x) + xφ(x). */
const dGeluExact = (x: number) =>
  0.5 * (1 + erf(x / Math.SQRT2)) + (x * Math.exp((-x * x) / 2)) / Math.sqrt(2 * Math.PI);
/** d/dx ½x(1 + tanh(k(x + 0.044715x³))). */
function dGeluTanh(x: number): number {
  const t = Math.tanh(K * (x + 0.044715 * x ** 3));
  return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * K * (1 + 3 * 0.044715 * x * x);
}

// Every 0.05 from −4 to 4 (x/√2 stays within the series' range), plus the points of largest difference.
const grid = Float32Array.from({ length: 161 }, (_, i) => -4 + i * 0.05);

/**
 * The rule's vector-Jacobian product for y = f(x) with a random cotangent r, computed by the engine's
 * autodiff on ONNX Runtime in float32: r ⊙ f'(x).
 */
async function vjp(
  f: (g: Graph, x: Value) => Value,
  xs: Float32Array,
  r: Float32Array,
): Promise<Float32Array> {
  const g = new Graph('vjp-exact');
  const x = g.input('x', 'float32', [xs.length]);
  const y = f(g, x);
  const loss = g.output(
    op.reduceSum(g, op.mul(g, y, g.constant('float32', [xs.length], r)), [0], false),
    'loss',
  );
  const [dx] = gradients(g, loss, [x]);
  g.output(dx!, 'dx');
  const s = await createSession(g, { optLevel: 'disabled', threads: 1 });
  try {
    return (await s.run({ x: f32(xs, [xs.length]) })).dx.data as Float32Array;
  } finally {
    await s.release();
  }
}

/** Largest |rule − analytic| over the grid, and where. */
async function worst(
  f: (g: Graph, x: Value) => Value,
  derivative: (x: number) => number,
): Promise<{ err: number; at: number }> {
  const rng = new Rng(5);
  const r = Float32Array.from(grid, () => 0.5 + rng.uniform());
  const got = await vjp(f, grid, r);
  let err = 0;
  let at = 0;
  grid.forEach((x, i) => {
    const want = r[i]! * derivative(x);
    const e = Math.abs(got[i]! - want) / (1 + Math.abs(want));
    if (e > err) [err, at] = [e, x];
  });
  return { err, at };
}

describe('VJP rules against analytic derivatives (float32 kernels)', () => {
  it('the reference derivatives themselves are the right functions', () => {
    expect(erf(1)).toBeCloseTo(0.8427007929497149, 13);
    expect(erf(2.5)).toBeCloseTo(0.999593047982555, 13);
    // Central differences of the float64 forwards agree with the written-out derivatives.
    const gelu = (x: number) => 0.5 * x * (1 + erf(x / Math.SQRT2));
    const geluTanh = (x: number) => 0.5 * x * (1 + Math.tanh(K * (x + 0.044715 * x ** 3)));
    for (const x of [-3.1, -2, -0.7, 0.3, 1.9, 3.6]) {
      const h = 1e-4;
      expect(Math.abs((erf(x + h) - erf(x - h)) / (2 * h) - dErf(x))).toBeLessThan(1e-7);
      expect(Math.abs((gelu(x + h) - gelu(x - h)) / (2 * h) - dGeluExact(x))).toBeLessThan(1e-7);
      expect(Math.abs((geluTanh(x + h) - geluTanh(x - h)) / (2 * h) - dGeluTanh(x))).toBeLessThan(1e-7);
    }
    // The two GELU derivatives differ by up to ~8.7e-4: what the tolerance below must resolve.
    const gap = Math.max(...[...grid].map((x) => Math.abs(dGeluExact(x) - dGeluTanh(x))));
    expect(gap).toBeGreaterThan(8e-4);
  });

  it('Erf: 2/√π·e^(−x²) within 2e-6', async () => {
    const { err, at } = await worst((g, x) => op.erf(g, x), dErf);
    expect(err, `worst at x = ${at}`).toBeLessThan(2e-6);
  });

  it('Gelu (exact): Φ(x) + xφ(x) within 2e-6, which the tanh form misses by up to 8.7e-4', async () => {
    const { err, at } = await worst((g, x) => op.gelu(g, x, 'none'), dGeluExact);
    expect(err, `worst at x = ${at}`).toBeLessThan(2e-6);
  });

  it('Gelu (tanh): the tanh form within 2e-6, which the exact one misses by up to 8.7e-4', async () => {
    const { err, at } = await worst((g, x) => op.gelu(g, x, 'tanh'), dGeluTanh);
    expect(err, `worst at x = ${at}`).toBeLessThan(2e-6);
  });
});

describe('VJP rules against finite differences in float64', () => {
  const rng = new Rng(11);
  const xs = (n: number, lo: number, hi: number) =>
    Float64Array.from({ length: n }, () => lo + (hi - lo) * rng.uniform());
  const cases: { name: string; f: (g: Graph, x: Value) => Value; lo: number; hi: number }[] = [
    { name: 'Gelu (tanh)', f: (g, x) => op.gelu(g, x, 'tanh'), lo: -4, hi: 4 },
    { name: 'Tanh', f: (g, x) => op.tanh(g, x), lo: -3, hi: 3 },
    { name: 'Sigmoid', f: (g, x) => op.sigmoid(g, x), lo: -4, hi: 4 },
    { name: 'Exp', f: (g, x) => op.exp(g, x), lo: -2, hi: 2 },
  ];
  for (const c of cases) {
    it(`${c.name}: eps 1e-6, rtol 1e-5, atol 1e-7`, async () => {
      const r = await gradCheck(
        [{ name: 'x', shape: [32], data: xs(32, c.lo, c.hi) }],
        (g, [x]) => c.f(g, x!),
        {
          dtype: 'float64',
        },
      );
      expect(r.checked).toBe(32);
      expect(r.worst, r.detail).toBeLessThanOrEqual(1);
    });
  }
});

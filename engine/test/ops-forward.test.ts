// Op helpers forward: the shape each infers (static and symbolic) against the dims ONNX Runtime really
// produces, the values against references computed here in plain JavaScript, and the build-time errors.
// Also every op the builder accepts but no helper emits (models and decoding build them with g.node).
import { describe, expect, it } from 'vitest';
import { type DType, Graph, type Shape, type Value } from '../src/graph/graph.ts';
import * as op from '../src/graph/ops.ts';
import { causalMask } from '../src/models/layers.ts';
import { Rng } from '../src/rng.ts';
import { createSession, f32, i64, type Tensor } from '../src/runtime/session.ts';

type Outputs = Record<string, Tensor>;

/** Build a graph whose outputs are the named values, run it once on `feeds`. */
async function evaluate(
  build: (g: Graph) => Record<string, Value>,
  feeds: Record<string, Tensor> = {},
): Promise<{ out: Outputs; vals: Record<string, Value> }> {
  const g = new Graph('fwd');
  const vals = build(g);
  for (const [name, v] of Object.entries(vals)) vals[name] = g.output(v, name);
  const s = await createSession(g, { optLevel: 'disabled', threads: 1 });
  try {
    return { out: (await s.run(feeds)) as Outputs, vals };
  } finally {
    await s.release();
  }
}

const nums = (t: Tensor): number[] => Array.from(t.data as ArrayLike<number | bigint>, Number);
const close = (got: number[], want: number[], tol = 1e-6) => {
  expect(got).toHaveLength(want.length);
  got.forEach((v, i) => {
    expect(Math.abs(v - want[i]), `[${i}] ${v} vs ${want[i]}`).toBeLessThan(tol);
  });
};
const rng = new Rng(3);
const randn = (n: number, lo = -2, hi = 2) =>
  Float32Array.from({ length: n }, () => lo + (hi - lo) * rng.uniform());

/** Rows of a row-major [rows, width] array. */
const rows = (xs: ArrayLike<number>, width: number): number[][] =>
  Array.from({ length: xs.length / width }, (_, r) => Array.from(xs).slice(r * width, (r + 1) * width));
const softmaxRow = (r: number[]) => {
  const m = Math.max(...r);
  const e = r.map((v) => Math.exp(v - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
};
const logSoftmaxRow = (r: number[]) => {
  const m = Math.max(...r);
  const lse = m + Math.log(r.reduce((a, v) => a + Math.exp(v - m), 0));
  return r.map((v) => v - lse);
};

describe('broadcastShapes', () => {
  it('broadcasts ones and missing leading dims', () => {
    expect(op.broadcastShapes('Add', [2, 1], [3])).toEqual([2, 3]);
    expect(op.broadcastShapes('Add', [3], [2, 1])).toEqual([2, 3]);
  });
  it('keeps the symbolic side when a symbolic dim meets a different one', () => {
    expect(op.broadcastShapes('Add', ['B', 3], [5, 3])).toEqual(['B', 3]);
    expect(op.broadcastShapes('Add', [4, 3], ['T', 3])).toEqual(['T', 3]);
    expect(op.broadcastShapes('Add', ['B', 3], ['C', 3])).toEqual(['B', 3]);
    expect(() => op.broadcastShapes('Mul', [4, 3], [5, 3])).toThrow('Mul: cannot broadcast [4,3] with [5,3]');
  });
});

describe('elementwise', () => {
  it('comparisons and Not give bool tensors', async () => {
    const a = f32([1, 2, 3, 4], [4]);
    const { out, vals } = await evaluate(
      (g) => {
        const x = g.input('a', 'float32', [4]);
        const gt = op.greater(g, x, g.scalar(2.5));
        return {
          gt,
          lt: op.less(g, x, g.scalar(2.5)),
          eq: op.equal(g, x, g.scalar(2)),
          ngt: op.not(g, gt),
        };
      },
      { a },
    );
    for (const k of ['gt', 'lt', 'eq', 'ngt']) {
      expect(vals[k].dtype).toBe('bool');
      expect(out[k].type).toBe('bool');
    }
    expect(nums(out.gt)).toEqual([0, 0, 1, 1]);
    expect(nums(out.lt)).toEqual([1, 1, 0, 0]);
    expect(nums(out.eq)).toEqual([0, 1, 0, 0]);
    expect(nums(out.ngt)).toEqual([1, 1, 0, 0]);
  });

  it('Sin and Cos', async () => {
    const xs = [-2, -0.5, 0, 0.7, 3];
    const { out } = await evaluate(
      (g) => {
        const x = g.input('x', 'float32', [5]);
        return { s: op.sin(g, x), c: op.cos(g, x) };
      },
      { x: f32(xs, [5]) },
    );
    close(nums(out.s), xs.map(Math.sin));
    close(nums(out.c), xs.map(Math.cos));
  });

  it('Gelu defaults to the exact form, not the tanh approximation', async () => {
    const xs = Float32Array.from({ length: 41 }, (_, i) => -4 + i * 0.2);
    const { out } = await evaluate(
      (g) => {
        const x = g.input('x', 'float32', [41]);
        return { d: op.gelu(g, x), exact: op.gelu(g, x, 'none'), approx: op.gelu(g, x, 'tanh') };
      },
      { x: f32(xs, [41]) },
    );
    expect(nums(out.d)).toEqual(nums(out.exact));
    const gap = Math.max(...nums(out.d).map((v, i) => Math.abs(v - nums(out.approx)[i])));
    expect(gap).toBeGreaterThan(1e-4);
  });

  it('Cast to each dtype', async () => {
    const { out, vals } = await evaluate(
      (g) => {
        const x = g.input('x', 'float32', [3]);
        const to = (d: DType) => op.cast(g, x, d);
        return { f64: to('float64'), i32: to('int32'), i64: to('int64'), u8: to('uint8'), b: to('bool') };
      },
      { x: f32([0, 2.75, 7], [3]) },
    );
    expect(out.f64.type).toBe('float64');
    expect(out.i32.type).toBe('int32');
    expect(out.i64.type).toBe('int64');
    expect(out.u8.type).toBe('uint8');
    expect(out.b.type).toBe('bool');
    expect(nums(out.i32)).toEqual([0, 2, 7]);
    expect(nums(out.b)).toEqual([0, 1, 1]);
    expect(vals.u8.dtype).toBe('uint8');
  });

  it('Where, Expand and binary ops name themselves in broadcast errors', () => {
    const g = new Graph();
    const a = g.input('a', 'float32', [2]);
    const b = g.input('b', 'float32', [3]);
    const c = g.input('c', 'bool', [4]);
    const c3 = g.input('c3', 'bool', [3]);
    expect(() => op.where(g, c3, a, b)).toThrow('Where: cannot broadcast [2] with [3]');
    expect(() => op.where(g, c, b, b)).toThrow('Where: cannot broadcast [4] with [3]');
    expect(() => op.expand(g, b, [2, 4])).toThrow('Expand: cannot broadcast [3] with [2,4]');
    expect(() => op.equal(g, a, b)).toThrow('Equal: cannot broadcast');
  });
});

describe('shape ops: inferred shapes are the ones ORT produces', () => {
  const x234 = f32(
    Float32Array.from({ length: 24 }, (_, i) => i),
    [2, 3, 4],
  );

  it('Reshape with 0 (copy), -1 (infer) and symbolic dims', async () => {
    const cases: { name: string; input: Shape; feed: number[]; to: (string | number)[]; want: Shape }[] = [
      { name: 'copy0', input: [2, 3, 4], feed: [2, 3, 4], to: [0, 12], want: [2, 12] },
      { name: 'infer', input: [2, 3, 4], feed: [2, 3, 4], to: [-1, 4], want: [6, 4] },
      { name: 'flat', input: [2, 3, 4], feed: [2, 3, 4], to: [-1], want: [24] },
      { name: 'keepB', input: ['B', 3, 4], feed: [2, 3, 4], to: ['B', 12], want: ['B', 12] },
      { name: 'newN', input: ['B', 4], feed: [6, 4], to: ['N', 2], want: ['N', 2] },
      { name: 'keepBT', input: ['B', 'T', 4], feed: [2, 3, 4], to: ['B', 'T', 2, 2], want: ['B', 'T', 2, 2] },
    ];
    for (const c of cases) {
      const { out, vals } = await evaluate(
        (g) => ({ y: op.reshape(g, g.input('x', 'float32', c.input), c.to) }),
        {
          x: f32(
            new Float32Array(24).map((_, i) => i),
            c.feed,
          ),
        },
      );
      expect(vals.y.shape, c.name).toEqual(c.want);
      const dims = vals.y.shape.map((d, i) => (typeof d === 'number' ? d : out.y.dims[i]));
      expect(out.y.dims, c.name).toEqual(dims);
      expect(nums(out.y), c.name).toEqual([...Array(24).keys()]);
    }
    // -1 against a symbolic input: a fresh symbolic dim, which ORT resolves.
    const { out, vals } = await evaluate(
      (g) => ({ y: op.reshape(g, g.input('x', 'float32', ['B', 3, 4]), [-1, 4]) }),
      { x: x234 },
    );
    expect(typeof vals.y.shape[0]).toBe('string');
    expect(vals.y.shape[0]).not.toBe('');
    expect(vals.y.shape[1]).toBe(4);
    expect(out.y.dims).toEqual([6, 4]);
  });

  it('Reshape refuses two unknown dims', () => {
    const g = new Graph();
    const x = g.input('x', 'float32', [2, 3, 4]);
    expect(() => op.reshape(g, x, [-1, -1])).toThrow(`reshape of x: more than one unknown dim`);
    const y = g.input('y', 'float32', ['B', 4]);
    expect(() => op.reshape(g, y, ['N', 'M'])).toThrow('more than one unknown dim');
  });

  it('Unsqueeze: axes in any order, negative, and past ten dims', async () => {
    const cases: { input: number[]; axes: number[]; want: number[] }[] = [
      { input: [3, 4], axes: [2, 0], want: [1, 3, 1, 4] },
      { input: [3, 4], axes: [-1], want: [3, 4, 1] },
      { input: [3, 4], axes: [-4, 1], want: [1, 1, 3, 4] },
      { input: [1, 1, 1, 1, 1, 1, 1, 1, 1, 2], axes: [10, 3], want: [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2] },
    ];
    for (const c of cases) {
      const n = c.input.reduce((p, q) => p * q, 1);
      const { out, vals } = await evaluate(
        (g) => ({ y: op.unsqueeze(g, g.input('x', 'float32', c.input), c.axes) }),
        { x: f32(new Float32Array(n), c.input) },
      );
      expect(vals.y.shape, `${c.axes}`).toEqual(c.want);
      expect(out.y.dims, `${c.axes}`).toEqual(c.want);
    }
  });

  it('Slice: one axis of several, negative and zero bounds, symbolic dims', async () => {
    const x45 = Float32Array.from({ length: 20 }, (_, i) => i);
    const cases: {
      input: Shape;
      s: number[];
      e: number[];
      a: number[];
      want: Shape;
      pick: (r: number, c: number) => boolean;
    }[] = [
      { input: [4, 5], s: [1], e: [3], a: [1], want: [4, 2], pick: (_r, c) => c >= 1 && c < 3 },
      { input: [4, 5], s: [-3], e: [-1], a: [0], want: [2, 5], pick: (r) => r >= 1 && r < 3 },
      { input: [4, 5], s: [0], e: [2], a: [-1], want: [4, 2], pick: (_r, c) => c < 2 },
      { input: [4, 5], s: [2], e: [99], a: [0], want: [2, 5], pick: (r) => r >= 2 },
      { input: ['T', 5], s: [1], e: [3], a: [0], want: [2, 5], pick: (r) => r >= 1 && r < 3 },
      { input: ['T', 5], s: [-2], e: [-1], a: [0], want: [1, 5], pick: (r) => r === 2 },
    ];
    for (const c of cases) {
      const { out, vals } = await evaluate(
        (g) => ({ y: op.slice(g, g.input('x', 'float32', c.input), c.s, c.e, c.a) }),
        { x: f32(x45, [4, 5]) },
      );
      const label = `${c.input} ${c.s}:${c.e} @${c.a}`;
      expect(vals.y.shape, label).toEqual(c.want);
      expect(out.y.dims, label).toEqual(c.want);
      expect(nums(out.y), label).toEqual([...x45].filter((_, i) => c.pick(Math.floor(i / 5), i % 5)));
    }
    // Up to "the end" of a symbolic dim, and an empty range: the length is not known at build time.
    for (const [s, e] of [
      [0, 2 ** 62],
      [0, 2 ** 31],
      [3, 1],
    ]) {
      const g = new Graph();
      const y = op.slice(g, g.input('x', 'float32', ['T', 5]), [s], [e], [0]);
      expect(typeof y.shape[0]).toBe('string');
      expect(y.shape[0]).not.toBe('');
    }
    // Ending at 0 is an empty slice.
    const empty = await evaluate(
      (g) => ({ y: op.slice(g, g.input('x', 'float32', [4, 5]), [0], [0], [0]) }),
      { x: f32(x45, [4, 5]) },
    );
    expect(empty.vals.y.shape).toEqual([0, 5]);
    expect(empty.out.y.dims).toEqual([0, 5]);
  });

  it('Concat sums a static axis and names a symbolic one', async () => {
    const { out, vals } = await evaluate(
      (g) => {
        const a = g.input('a', 'float32', ['B', 3]);
        const b = g.input('b', 'float32', ['B', 2]);
        const c = g.input('c', 'float32', [2, 3]);
        return { wide: op.concat(g, [a, b], -1), tall: op.concat(g, [a, c], 0) };
      },
      { a: f32([1, 2, 3], [1, 3]), b: f32([4, 5], [1, 2]), c: f32([6, 7, 8, 9, 10, 11], [2, 3]) },
    );
    expect(vals.wide.shape).toEqual(['B', 5]);
    expect(nums(out.wide)).toEqual([1, 2, 3, 4, 5]);
    expect(typeof vals.tall.shape[0]).toBe('string');
    expect(vals.tall.shape[0]).not.toBe('B');
    expect(vals.tall.shape[0]).not.toBe('');
    expect(out.tall.dims).toEqual([3, 3]);
  });

  it('Split sizes along a negative axis', async () => {
    const { out, vals } = await evaluate(
      (g) => {
        const [p, q] = op.split(g, g.input('x', 'float32', [2, 3]), [1, 2], -1);
        return { p, q };
      },
      { x: f32([1, 2, 3, 4, 5, 6], [2, 3]) },
    );
    expect(vals.q.shape).toEqual([2, 2]);
    expect(nums(out.p)).toEqual([1, 4]);
    expect(nums(out.q)).toEqual([2, 3, 5, 6]);
  });
});

describe('reductions', () => {
  const data = Float32Array.from({ length: 24 }, (_, i) => (i % 7) - 3);
  const at = (b: number, r: number, c: number) => data[b * 12 + r * 4 + c];

  it('keep dims by default (ReduceSum, ReduceMean) or not (ReduceSumSquare), as ORT does', async () => {
    const { out, vals } = await evaluate(
      (g) => {
        const x = g.input('x', 'float32', [2, 3, 4]);
        return {
          sum: op.reduceSum(g, x, [1]),
          mean: op.reduceMean(g, x, [1]),
          meanFlat: op.reduceMean(g, x, [1], false),
          ssAll: op.reduceSumSquare(g, x),
          ssLast: op.reduceSumSquare(g, x, [-1]),
          ssKeep: op.reduceSumSquare(g, x, [0], true),
        };
      },
      { x: f32(data, [2, 3, 4]) },
    );
    const want: Record<string, Shape> = {
      sum: [2, 1, 4],
      mean: [2, 1, 4],
      meanFlat: [2, 4],
      ssAll: [],
      ssLast: [2, 3],
      ssKeep: [1, 3, 4],
    };
    for (const [k, shape] of Object.entries(want)) {
      expect(vals[k].shape, k).toEqual(shape);
      expect(out[k].dims, k).toEqual(shape);
    }
    const colSum = (b: number, c: number) => at(b, 0, c) + at(b, 1, c) + at(b, 2, c);
    const sums = [0, 1].flatMap((b) => [0, 1, 2, 3].map((c) => colSum(b, c)));
    close(nums(out.sum), sums);
    close(
      nums(out.meanFlat),
      sums.map((v) => v / 3),
    );
    close(nums(out.ssAll), [data.reduce((p, v) => p + v * v, 0)]);
    close(
      nums(out.ssLast),
      rows(data, 4).map((r) => r.reduce((p, v) => p + v * v, 0)),
    );
  });
});

describe('linear algebra', () => {
  it('MatMul refuses 1-D operands and unbroadcastable batches, and allows a symbolic inner dim', async () => {
    const g = new Graph();
    const v = g.input('v', 'float32', [4]);
    const m = g.input('m', 'float32', [4, 4]);
    expect(() => op.matmul(g, v, m)).toThrow('MatMul: operands must be at least 2-D, got [4] and [4,4]');
    expect(() => op.matmul(g, m, v)).toThrow('MatMul: operands must be at least 2-D');
    const a = g.input('a', 'float32', [2, 3, 4]);
    const b = g.input('b', 'float32', [3, 4, 5]);
    expect(() => op.matmul(g, a, b)).toThrow('MatMul: cannot broadcast [2] with [3]');
    const { out, vals } = await evaluate(
      (h) => ({
        y: op.matmul(h, h.input('x', 'float32', [2, 'K']), h.input('w', 'float32', [3, 2])),
        z: op.matmul(h, h.input('p', 'float32', [1, 'K']), h.input('q', 'float32', ['L', 1])),
        v: op.matmul(h, h.input('s', 'float32', [1, 2]), h.input('t', 'float32', ['K', 1])),
      }),
      {
        x: f32([1, 2, 3, 4, 5, 6], [2, 3]),
        w: f32([1, 0, 0, 1, 1, 1], [3, 2]),
        p: f32([2], [1, 1]),
        q: f32([5], [1, 1]),
        s: f32([2, 3], [1, 2]),
        t: f32([5, 7], [2, 1]),
      },
    );
    expect(nums(out.v)).toEqual([31]);
    expect(vals.y.shape).toEqual([2, 2]);
    expect(nums(out.y)).toEqual([4, 5, 10, 11]);
    expect(nums(out.z)).toEqual([10]);
  });

  it('Gemm names transposed operands in its shape error, and allows a symbolic inner dim', async () => {
    const g = new Graph();
    const a = g.input('a', 'float32', [3, 4]);
    const b = g.input('b', 'float32', [5, 4]);
    const c = g.input('c', 'float32', [4, 5]);
    expect(() => op.gemm(g, a, b)).toThrow(/^Gemm: inner dimensions differ: \[3,4\] · \[5,4\]$/);
    expect(() => op.gemm(g, a, c, { transA: true })).toThrow(
      /^Gemm: inner dimensions differ: \[3,4\]ᵀ · \[4,5\]$/,
    );
    expect(() => op.gemm(g, a, c, { transB: true })).toThrow('Gemm: inner dimensions differ: [3,4] · [4,5]ᵀ');
    expect(op.gemm(g, a, b, { transB: true }).shape).toEqual([3, 5]);
    const { out } = await evaluate(
      (h) => ({
        y: op.gemm(h, h.input('x', 'float32', [2, 'K']), h.input('w', 'float32', [3, 1]), {
          c: h.constant('float32', [1], [10]),
        }),
        z: op.gemm(h, h.input('p', 'float32', ['K', 2]), h.input('q', 'float32', [4, 'L']), { transA: true }),
        v: op.gemm(h, h.input('s', 'float32', [1, 2]), h.input('t', 'float32', ['K', 1])),
      }),
      {
        x: f32([1, 2, 3, 4, 5, 6], [2, 3]),
        w: f32([1, 1, 1], [3, 1]),
        p: f32([1, 2, 3, 4, 5, 6, 7, 8], [4, 2]),
        q: f32([1, 1, 1, 1], [4, 1]),
        s: f32([2, 3], [1, 2]),
        t: f32([5, 7], [2, 1]),
      },
    );
    expect(nums(out.v)).toEqual([31]);
    expect(nums(out.y)).toEqual([16, 25]);
    expect(nums(out.z)).toEqual([16, 20]);
  });
});

describe('normalisation, softmax and losses against JavaScript references', () => {
  it('Softmax defaults to the last axis', async () => {
    const xs = randn(12);
    const { out } = await evaluate((g) => ({ y: op.softmax(g, g.input('x', 'float32', [2, 2, 3])) }), {
      x: f32(xs, [2, 2, 3]),
    });
    close(nums(out.y), rows(xs, 3).flatMap(softmaxRow));
  });

  it('maskedSoftmax is a per-row causal softmax even when rows and heads differ in scale by hundreds', async () => {
    const t = 3;
    // head 0 near 0, head 1 near +200, and one row of head 0 near −300: a floor shared across rows or
    // heads would flatten the smaller ones.
    const xs = randn(2 * t * t).map((v, i) => v + (i >= t * t ? 200 : i >= 2 * t ? -300 : 0));
    const { out } = await evaluate(
      (g) => {
        const x = g.input('x', 'float32', [1, 2, t, t]);
        const { mask, keep } = causalMask(g, t);
        return { y: op.maskedSoftmax(g, x, mask, keep) };
      },
      { x: f32(xs, [1, 2, t, t]) },
    );
    const want = rows(xs, t).flatMap((r, i) => {
      const row = i % t;
      const p = softmaxRow(r.slice(0, row + 1));
      return [...p, ...new Array(t - row - 1).fill(0)];
    });
    close(nums(out.y), want, 1e-5);
  });

  it('LayerNormalization uses the epsilon it is given', async () => {
    // Rows of small variance, where ε = 1e-2 and the default 1e-5 give very different results.
    const xs = Float32Array.from([0.01, 0.02, 0.03, 0.04, -0.1, 0, 0.05, 0.2]);
    const w = [1, 2, 0.5, -1];
    const b = [0, 0.1, 0.2, 0.3];
    const { out } = await evaluate(
      (g) => {
        const x = g.input('x', 'float32', [2, 4]);
        const scale = g.constant('float32', [4], w);
        const bias = g.constant('float32', [4], b);
        return { y: op.layerNorm(g, x, scale, bias, 1e-2), plain: op.layerNorm(g, x, scale) };
      },
      { x: f32(xs, [2, 4]) },
    );
    const ref = (eps: number, withBias: boolean) =>
      rows(xs, 4).flatMap((r) => {
        const mu = r.reduce((p, v) => p + v, 0) / 4;
        const v = r.reduce((p, q) => p + (q - mu) ** 2, 0) / 4;
        return r.map((q, i) => ((q - mu) / Math.sqrt(v + eps)) * w[i] + (withBias ? b[i] : 0));
      });
    close(nums(out.y), ref(1e-2, true), 1e-5);
    close(nums(out.plain), ref(1e-5, false), 1e-3);
  });

  it('rmsNorm normalises over the last axis of a rank-3 tensor', async () => {
    const xs = randn(24);
    const w = [0.5, 1, 1.5, 2];
    const { out } = await evaluate(
      (g) => ({
        y: op.rmsNorm(g, g.input('x', 'float32', [2, 3, 4]), g.constant('float32', [4], w)),
        bare: op.rmsNorm(g, g.input('z', 'float32', [2, 3, 4])),
      }),
      { x: f32(xs, [2, 3, 4]), z: f32(xs, [2, 3, 4]) },
    );
    const norm = rows(xs, 4).flatMap((r) => {
      const inv = 1 / Math.sqrt(r.reduce((p, v) => p + v * v, 0) / 4 + 1e-6);
      return r.map((v) => v * inv);
    });
    close(nums(out.bare), norm, 1e-5);
    close(
      nums(out.y),
      norm.map((v, i) => v * w[i % 4]),
      1e-5,
    );
  });

  it('crossEntropy (mean) and tokenNll (per token) skip the ignore index, -100 by default', async () => {
    const logits = randn(12);
    const targets = [1, -100, 3];
    const { out, vals } = await evaluate(
      (g) => {
        const l = g.input('l', 'float32', [3, 4]);
        const t = g.input('t', 'int64', [3]);
        return { loss: op.crossEntropy(g, l, t), nll: op.tokenNll(g, l, t) };
      },
      { l: f32(logits, [3, 4]), t: i64(targets, [3]) },
    );
    const nll = rows(logits, 4).map((r, i) => (targets[i] === -100 ? 0 : -logSoftmaxRow(r)[targets[i]]));
    expect(vals.nll.shape).toEqual([3]);
    expect(out.nll.dims).toEqual([3]);
    close(nums(out.nll), nll, 1e-5);
    expect(vals.loss.shape).toEqual([]);
    close(nums(out.loss), [(nll[0] + nll[2]) / 2], 1e-5);
  });
});

describe('ops without a helper that the builder accepts', () => {
  it('Squeeze, Abs, Trilu, ArgMax, TopK, Shape, Range, ConstantOfShape, And: ORT runs them as expected', async () => {
    const xs = [3, -1, 4, -1, 5, -9, 2, 6, -5];
    const { out } = await evaluate(
      (g) => {
        const x = g.input('x', 'float32', [1, 3, 3]);
        const [sq] = g.node('Squeeze', [x, g.ints([0])], [{ dtype: 'float32', shape: [3, 3] }]);
        const [abs] = g.node('Abs', [sq], [{ dtype: 'float32', shape: [3, 3] }]);
        const [tril] = g.node('Trilu', [abs], [{ dtype: 'float32', shape: [3, 3] }], { upper: 0 });
        const [arg] = g.node('ArgMax', [abs], [{ dtype: 'int64', shape: [3] }], { axis: 1, keepdims: 0 });
        const [top, topIdx] = g.node(
          'TopK',
          [abs, g.ints([2])],
          [
            { dtype: 'float32', shape: [3, 2] },
            { dtype: 'int64', shape: [3, 2] },
          ],
          { axis: -1 },
        );
        const [shape] = g.node('Shape', [x], [{ dtype: 'int64', shape: [3] }]);
        const [range] = g.node(
          'Range',
          [g.scalar(1, 'int64'), g.scalar(8, 'int64'), g.scalar(3, 'int64')],
          [{ dtype: 'int64', shape: [3] }],
        );
        const [zeros] = g.node('ConstantOfShape', [g.ints([2, 2])], [{ dtype: 'float32', shape: [2, 2] }]);
        const pos = op.greater(g, sq, g.scalar(0));
        const big = op.less(g, g.scalar(2.5), sq);
        const [both] = g.node('And', [pos, big], [{ dtype: 'bool', shape: [3, 3] }]);
        return { abs, tril, arg, top, topIdx, shape, range, zeros, both };
      },
      { x: f32(xs, [1, 3, 3]) },
    );
    const abs = xs.map(Math.abs);
    expect(nums(out.abs)).toEqual(abs);
    expect(nums(out.tril)).toEqual(abs.map((v, i) => (i % 3 <= Math.floor(i / 3) ? v : 0)));
    expect(nums(out.arg)).toEqual([2, 2, 1]);
    expect(nums(out.top)).toEqual([4, 3, 9, 5, 6, 5]);
    expect(nums(out.topIdx)).toEqual([2, 0, 2, 1, 1, 2]);
    expect(nums(out.shape)).toEqual([1, 3, 3]);
    expect(nums(out.range)).toEqual([1, 4, 7]);
    expect(nums(out.zeros)).toEqual([0, 0, 0, 0]);
    expect(nums(out.both)).toEqual(xs.map((v) => (v > 2.5 ? 1 : 0)));
  });
});

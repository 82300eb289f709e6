// Every op's VJP rule against central finite differences on ONNX Runtime (float64 where ORT has the
// kernel, float32 with looser tolerances otherwise).
import { describe, expect, it } from 'vitest';
import { type GradCheckInput, type GradCheckOptions, gradCheck } from '../src/graph/gradcheck.ts';
import { Graph, type Value } from '../src/graph/graph.ts';
import * as op from '../src/graph/ops.ts';
import { causalMask } from '../src/models/layers.ts';
import { Rng } from '../src/rng.ts';
import { createSession, f32 as tensor32 } from '../src/runtime/session.ts';

const rng = new Rng(42);
const rand = (shape: number[], lo = -1, hi = 1): GradCheckInput['data'] =>
  Float64Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => lo + (hi - lo) * rng.uniform());
const x = (name: string, shape: number[], lo?: number, hi?: number): GradCheckInput => ({
  name,
  shape,
  data: rand(shape, lo, hi),
});
const ids = (name: string, shape: number[], values: number[]): GradCheckInput => ({
  name,
  shape,
  data: BigInt64Array.from(values.map(BigInt)),
});

interface Case {
  name: string;
  inputs: GradCheckInput[];
  f: (g: Graph, xs: Value[]) => Value;
  opts?: GradCheckOptions;
}

const f32: GradCheckOptions = { dtype: 'float32' };

const cases: Case[] = [
  { name: 'Add (broadcast)', inputs: [x('a', [2, 3]), x('b', [3])], f: (g, [a, b]) => op.add(g, a, b) },
  { name: 'Sub (broadcast)', inputs: [x('a', [2, 3]), x('b', [2, 1])], f: (g, [a, b]) => op.sub(g, a, b) },
  { name: 'Mul (broadcast)', inputs: [x('a', [2, 3, 2]), x('b', [3, 1])], f: (g, [a, b]) => op.mul(g, a, b) },
  { name: 'Div', inputs: [x('a', [2, 3]), x('b', [2, 3], 0.5, 2)], f: (g, [a, b]) => op.div(g, a, b) },
  { name: 'Pow (p=2)', inputs: [x('a', [5])], f: (g, [a]) => op.pow(g, a, 2) },
  { name: 'Pow (p=3)', inputs: [x('a', [5])], f: (g, [a]) => op.pow(g, a, 3) },
  { name: 'Neg', inputs: [x('a', [4])], f: (g, [a]) => op.neg(g, a) },
  { name: 'Identity', inputs: [x('a', [4])], f: (g, [a]) => op.identity(g, a) },
  { name: 'Exp', inputs: [x('a', [4])], f: (g, [a]) => op.exp(g, a) },
  { name: 'Log', inputs: [x('a', [4], 0.5, 2)], f: (g, [a]) => op.log(g, a) },
  { name: 'Sqrt', inputs: [x('a', [4], 0.5, 2)], f: (g, [a]) => op.sqrt(g, a) },
  { name: 'Reciprocal', inputs: [x('a', [4], 0.5, 2)], f: (g, [a]) => op.reciprocal(g, a) },
  { name: 'Tanh', inputs: [x('a', [6])], f: (g, [a]) => op.tanh(g, a) },
  { name: 'Sigmoid', inputs: [x('a', [6])], f: (g, [a]) => op.sigmoid(g, a) },
  { name: 'Erf', inputs: [x('a', [6])], f: (g, [a]) => op.erf(g, a), opts: f32 },
  {
    name: 'Relu',
    inputs: [{ name: 'a', shape: [6], data: Float64Array.of(-1, -0.5, -0.1, 0.2, 0.7, 1.3) }],
    f: (g, [a]) => op.relu(g, a),
  },
  { name: 'Gelu (exact)', inputs: [x('a', [8], -3, 3)], f: (g, [a]) => op.gelu(g, a, 'none'), opts: f32 },
  { name: 'Gelu (tanh)', inputs: [x('a', [8], -3, 3)], f: (g, [a]) => op.gelu(g, a, 'tanh'), opts: f32 },
  {
    name: 'Where',
    inputs: [x('a', [2, 3]), x('b', [3])],
    f: (g, [a, b]) => op.where(g, op.greater(g, a, g.scalar(0, 'float64')), a, b),
  },
  { name: 'Reshape', inputs: [x('a', [2, 6])], f: (g, [a]) => op.reshape(g, a, [3, 4]) },
  { name: 'Transpose', inputs: [x('a', [2, 3, 4])], f: (g, [a]) => op.transpose(g, a, [2, 0, 1]) },
  { name: 'Unsqueeze', inputs: [x('a', [2, 3])], f: (g, [a]) => op.unsqueeze(g, a, [1]) },
  { name: 'Expand', inputs: [x('a', [2, 1])], f: (g, [a]) => op.expand(g, a, [3, 2, 4]) },
  { name: 'Slice', inputs: [x('a', [4, 5])], f: (g, [a]) => op.slice(g, a, [1, 2], [3, 5], [0, 1]) },
  { name: 'Concat', inputs: [x('a', [2, 3]), x('b', [2, 2])], f: (g, [a, b]) => op.concat(g, [a, b], 1) },
  {
    name: 'Split (one output unused)',
    inputs: [x('a', [2, 5])],
    f: (g, [a]) => {
      const [p, , r] = op.split(g, a, [2, 1, 2], 1);
      return op.mul(g, p, r);
    },
  },
  { name: 'ReduceSum', inputs: [x('a', [2, 3, 4])], f: (g, [a]) => op.reduceSum(g, a, [1], false) },
  { name: 'ReduceMean', inputs: [x('a', [2, 3, 4])], f: (g, [a]) => op.reduceMean(g, a, [-1], true) },
  { name: 'MatMul 2-D', inputs: [x('a', [3, 4]), x('b', [4, 2])], f: (g, [a, b]) => op.matmul(g, a, b) },
  {
    name: 'MatMul [B,T,K]·[K,N]',
    inputs: [x('a', [2, 3, 4]), x('b', [4, 5])],
    f: (g, [a, b]) => op.matmul(g, a, b),
  },
  {
    name: 'MatMul batched 4-D',
    inputs: [x('a', [2, 2, 3, 4]), x('b', [2, 2, 4, 3])],
    f: (g, [a, b]) => op.matmul(g, a, b),
  },
  {
    name: 'Gemm (transB, bias)',
    inputs: [x('a', [3, 4]), x('b', [5, 4]), x('c', [5])],
    f: (g, [a, b, c]) => op.gemm(g, a, b, { transB: true, c }),
  },
  { name: 'Gemm', inputs: [x('a', [3, 4]), x('b', [4, 5])], f: (g, [a, b]) => op.gemm(g, a, b) },
  { name: 'Softmax', inputs: [x('a', [2, 5], -2, 2)], f: (g, [a]) => op.softmax(g, a, -1) },
  {
    name: 'maskedSoftmax (causal)',
    inputs: [x('a', [2, 3, 5, 5], -3, 3)],
    f: (g, [a]) => {
      const { mask, keep } = causalMask(g, 5);
      return op.maskedSoftmax(g, a, mask, keep);
    },
    opts: f32,
  },
  {
    name: 'LayerNormalization (scale, bias)',
    inputs: [x('a', [3, 6], -2, 2), x('w', [6], 0.5, 1.5), x('b', [6])],
    f: (g, [a, w, b]) => op.layerNorm(g, a, w, b),
    opts: f32,
  },
  {
    name: 'LayerNormalization (no bias)',
    inputs: [x('a', [2, 2, 5], -2, 2), x('w', [5], 0.5, 1.5)],
    f: (g, [a, w]) => op.layerNorm(g, a, w),
    opts: f32,
  },
  {
    name: 'RMSNorm (primitives)',
    inputs: [x('a', [3, 6], -2, 2), x('w', [6], 0.5, 1.5)],
    f: (g, [a, w]) => op.rmsNorm(g, a, w),
  },
  {
    name: 'Gather (repeated indices)',
    inputs: [x('table', [5, 3]), ids('i', [2, 3], [0, 4, 4, 1, 0, 4])],
    f: (g, [t, i]) => op.gather(g, t, i),
  },
  {
    name: 'SoftmaxCrossEntropyLoss (ignore -100)',
    inputs: [x('logits', [5, 4], -2, 2), ids('t', [5], [1, -100, 3, 0, 3])],
    f: (g, [l, t]) => op.crossEntropy(g, l, t, -100),
    opts: f32,
  },
  {
    name: 'SoftmaxCrossEntropyLoss (ignore 2)',
    inputs: [x('logits', [4, 3], -2, 2), ids('t', [4], [2, 1, 0, 2])],
    f: (g, [l, t]) => op.crossEntropy(g, l, t, 2),
    opts: f32,
  },
];

describe('VJP rules vs finite differences', () => {
  for (const c of cases) {
    it(c.name, async () => {
      const r = await gradCheck(c.inputs, c.f, c.opts);
      expect(r.checked).toBeGreaterThan(0);
      expect(r.worst, r.detail).toBeLessThanOrEqual(1);
    });
  }
});

describe('maskedSoftmax', () => {
  it('equals Softmax(x + mask), with exact zeros where blocked, also for scores far below the row max', async () => {
    const shape = [2, 6, 6];
    const data = Float32Array.from(rand(shape, -4, 4) as Float64Array);
    data[5] = -500; // a visible score far below its row's max: the floor raises it, with no visible change
    const g = new Graph('masked');
    const a = g.input('a', 'float32', shape);
    const { mask, keep } = causalMask(g, 6);
    g.output(op.maskedSoftmax(g, a, mask, keep), 'ours');
    g.output(op.softmax(g, op.add(g, a, mask), -1), 'plain');
    const s = await createSession(g);
    const out = await s.run({ a: tensor32(data, shape) });
    const ours = out.ours.data as Float32Array;
    const plain = out.plain.data as Float32Array;
    for (let i = 0; i < ours.length; i++) {
      const [row, col] = [Math.floor(i / 6) % 6, i % 6];
      if (col > row) expect(ours[i]).toBe(0);
      else expect(Math.abs(ours[i] - plain[i])).toBeLessThan(1e-6);
    }
    await s.release();
  });
});

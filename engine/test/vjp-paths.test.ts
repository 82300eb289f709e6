// The VJP rules' less travelled paths, against central finite differences on ONNX Runtime (gradCheck):
// broadcasting from all-ones shapes, casts between float widths, layer norms whose scale is a constant,
// an omitted optional input, slices of some axes, per-token losses, and the transposes that attention
// and linear layers fold into their MatMuls — with the folding itself checked on the built graph.
// Plus the rules' refusals.
import { describe, expect, it } from 'vitest';
import { gradients } from '../src/graph/autodiff.ts';
import { type GradCheckInput, type GradCheckOptions, gradCheck } from '../src/graph/gradcheck.ts';
import { Graph, GraphError, type Value } from '../src/graph/graph.ts';
import * as op from '../src/graph/ops.ts';
import { Rng } from '../src/rng.ts';

const rng = new Rng(19);
const x = (name: string, shape: number[], lo = -1, hi = 1): GradCheckInput => ({
  name,
  shape,
  data: Float64Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => lo + (hi - lo) * rng.uniform()),
});
const f32: GradCheckOptions = { dtype: 'float32' };

async function expectGradients(
  inputs: GradCheckInput[],
  f: (g: Graph, xs: Value[]) => Value,
  opts?: GradCheckOptions,
): Promise<void> {
  const r = await gradCheck(inputs, f, opts);
  expect(r.checked).toBeGreaterThan(0);
  expect(Number.isFinite(r.maxAbsErr), r.detail).toBe(true);
  expect(r.worst, r.detail).toBeLessThanOrEqual(1);
}

/** The LayerNormalization node's outputs as g.node gives them: y, mean, 1/σ. */
function layerNormNode(g: Graph, a: Value, inputs: (Value | undefined)[]): Value[] {
  const stat = [...a.shape.slice(0, -1), 1];
  return g.node(
    'LayerNormalization',
    inputs,
    [
      { dtype: a.dtype, shape: a.shape },
      { dtype: a.dtype, shape: stat },
      { dtype: a.dtype, shape: stat },
    ],
    { axis: -1, epsilon: { float: 1e-5 } },
  );
}

describe('VJP paths vs finite differences', () => {
  it('Add/Mul broadcasting an all-ones shape', async () => {
    await expectGradients([x('a', [2, 3]), x('b', [1, 1])], (g, [a, b]) => op.mul(g, op.add(g, a, b), b));
  });

  it('Cast float32 → float64 → float32', async () => {
    await expectGradients(
      [x('a', [5])],
      (g, [a]) => {
        const wide = op.cast(g, a, 'float64');
        return op.cast(g, op.mul(g, wide, wide), 'float32');
      },
      f32,
    );
  });

  it('Cast float64 → float32 → float64', async () => {
    await expectGradients(
      [x('a', [4])],
      (g, [a]) => op.cast(g, op.tanh(g, op.cast(g, a, 'float32')), 'float64'),
      { dtype: 'float64', eps: 1e-2, rtol: 2e-2, atol: 2e-3 },
    );
  });

  it('LayerNormalization with an omitted ("") bias input', async () => {
    await expectGradients(
      [x('a', [3, 5], -2, 2), x('w', [5], 0.5, 1.5)],
      (g, [a, w]) => layerNormNode(g, a, [a, w, undefined])[0],
      f32,
    );
  });

  it('LayerNormalization with a constant unit scale, with and without bias', async () => {
    await expectGradients(
      [x('a', [3, 5], -2, 2)],
      (g, [a]) => op.layerNorm(g, a, g.constant('float32', [5], [1, 1, 1, 1, 1])),
      f32,
    );
    await expectGradients(
      [x('a', [3, 5], -2, 2), x('b', [5])],
      (g, [a, b]) => op.layerNorm(g, a, g.constant('float32', [5], [1, 1, 1, 1, 1]), b),
      f32,
    );
  });

  it('LayerNormalization with a constant scale that is not all ones', async () => {
    await expectGradients(
      [x('a', [3, 5], -2, 2)],
      (g, [a]) => op.layerNorm(g, a, g.constant('float32', [5], [1, 2, 1, 1, 0.5])),
      f32,
    );
  });

  it('Slice of one axis of three, with negative and zero starts', async () => {
    await expectGradients([x('a', [2, 4, 3])], (g, [a]) => op.slice(g, a, [-3], [-1], [1]));
    await expectGradients([x('a', [2, 4, 3])], (g, [a]) => op.slice(g, a, [0, 1], [1, 9], [0, -1]));
  });

  it('tokenNll (reduction none) with an ignored token', async () => {
    await expectGradients(
      [x('logits', [4, 3], -2, 2), { name: 't', shape: [4], data: BigInt64Array.from([2n, -100n, 0n, 1n]) }],
      (g, [l, t]) => op.tokenNll(g, l, t),
      f32,
    );
  });

  it('ReduceMean over two axes', async () => {
    await expectGradients([x('a', [2, 3, 4])], (g, [a]) => op.reduceMean(g, a, [0, -1], false));
  });

  it('MatMul through transposes: attention scores q·kᵀ, rank 2, 3 and 4', async () => {
    for (const shape of [
      [3, 4],
      [2, 3, 4],
      [2, 2, 3, 4],
    ]) {
      const r = shape.length;
      const swap = [...Array(r - 2).keys(), r - 1, r - 2];
      await expectGradients([x('q', shape), x('k', shape)], (g, [q, k]) =>
        op.matmul(g, q, op.transpose(g, k, swap)),
      );
      // kᵀ·q: the transposed operand first.
      await expectGradients([x('q', shape), x('k', shape)], (g, [q, k]) =>
        op.matmul(g, op.transpose(g, k, swap), q),
      );
    }
  });

  it('MatMul of an operand transposed on its leading axes', async () => {
    await expectGradients([x('a', [3, 2, 4]), x('b', [2, 4, 5])], (g, [a, b]) =>
      op.matmul(g, op.transpose(g, a, [1, 0, 2]), b),
    );
    await expectGradients([x('a', [2, 3, 4]), x('b', [2, 5, 4])], (g, [a, b]) =>
      op.transpose(g, op.matmul(g, a, op.transpose(g, b, [0, 2, 1])), [2, 0, 1]),
    );
  });

  it('Transpose of a MatMul result', async () => {
    await expectGradients([x('a', [2, 3, 4]), x('b', [4, 5])], (g, [a, b]) =>
      op.transpose(g, op.matmul(g, a, b), [0, 2, 1]),
    );
    await expectGradients([x('a', [3, 4]), x('b', [4, 5])], (g, [a, b]) =>
      op.transpose(g, op.matmul(g, a, b), [1, 0]),
    );
  });
});

/** Backward graph of Σ f(inputs)·r for the given inputs, pruned to the gradients. */
function backward(
  shapes: number[][],
  f: (g: Graph, xs: Value[]) => Value,
): { g: Graph; grads: Value[]; xs: Value[] } {
  const g = new Graph('bwd');
  const xs = shapes.map((s, i) => g.input(`x${i}`, 'float32', s));
  const y = f(g, xs);
  const r = g.input('r', 'float32', y.shape);
  const loss = op.reduceSum(
    g,
    op.mul(g, y, r),
    y.shape.map((_, i) => i),
    false,
  );
  const grads = gradients(g, loss, xs).map((d, i) => g.output(d, `d${i}`));
  g.prune();
  return { g, grads, xs };
}
const producerOf = (g: Graph, v: Value) => g.nodes[g.producer.get(v.name)!];

describe('the backward graph folds transposes instead of copying', () => {
  for (const shape of [
    [3, 4],
    [2, 3, 4],
    [2, 2, 3, 4],
  ]) {
    it(`attention q·kᵀ at rank ${shape.length}: no Transpose of a Transpose or of a MatMul result`, () => {
      const r = shape.length;
      const swap = [...Array(r - 2).keys(), r - 1, r - 2];
      const { g, grads } = backward([shape, shape], (gg, [q, k]) =>
        op.matmul(gg, q, op.transpose(gg, k, swap)),
      );
      for (const n of g.nodes.filter((m) => m.op === 'Transpose')) {
        const from = g.producer.get(n.inputs[0]);
        const src = from === undefined ? 'input' : g.nodes[from].op;
        expect(src, `${n.name} transposes a ${src}`).not.toMatch(/^(Transpose|MatMul)$/);
      }
      // dq = dS·k reads k itself; dk = dSᵀ·q is one MatMul.
      expect(producerOf(g, grads[0]).op).toBe('MatMul');
      expect(producerOf(g, grads[0]).inputs[1]).toBe('x1');
      expect(producerOf(g, grads[1]).op).toBe('MatMul');
      expect(producerOf(g, grads[1]).inputs[1]).toBe('x0');
    });
  }

  it('x[B,T,K]·W[K,N]: dW is one Gemm over the folded batch, with A transposed', () => {
    const { g, grads } = backward(
      [
        [2, 3, 4],
        [4, 5],
      ],
      (gg, [a, w]) => op.matmul(gg, a, w),
    );
    const dw = producerOf(g, grads[1]);
    expect(dw.op).toBe('Gemm');
    expect(dw.attrs.transA).toBe(1);
    expect(g.nodes.some((n) => n.op === 'ReduceSum' && n.name.includes('grad'))).toBe(false);
  });

  it('LayerNorm with a constant unit scale and no bias: the backward pass reuses y as x̂, never the mean', () => {
    const { g } = backward([[3, 5]], (gg, [a]) =>
      op.layerNorm(gg, a, gg.constant('float32', [5], [1, 1, 1, 1, 1])),
    );
    const ln = g.nodes.find((n) => n.op === 'LayerNormalization')!;
    const readers = (name: string) => g.nodes.filter((n) => n.inputs.includes(name)).length;
    expect(readers(ln.outputs[1])).toBe(0);
    expect(readers(ln.outputs[0])).toBeGreaterThan(1);
  });
});

describe('VJP refusals', () => {
  it('Pow needs a constant exponent', () => {
    const g = new Graph();
    const a = g.input('a', 'float32', [3]);
    const e = g.input('e', 'float32', []);
    const [y] = g.node('Pow', [a, e], [{ dtype: 'float32', shape: [3] }]);
    const loss = op.reduceSum(g, y, [0], false);
    expect(() => gradients(g, loss, [a])).toThrow(GraphError);
    expect(() => gradients(g, loss, [a])).toThrow('Pow_0: Pow VJP needs a constant exponent');
  });

  it('Gemm supports transA = 0 only', () => {
    const g = new Graph();
    const a = g.input('a', 'float32', [4, 3]);
    const b = g.input('b', 'float32', [4, 2]);
    const loss = op.reduceSum(g, op.gemm(g, a, b, { transA: true }), [0, 1], false);
    expect(() => gradients(g, loss, [a])).toThrow('Gemm_0: Gemm VJP supports transA=0 only');
  });

  it('Gather supports axis 0 only', () => {
    const g = new Graph();
    const t = g.input('t', 'float32', [3, 4]);
    const i = g.input('i', 'int64', [2]);
    const [y] = g.node('Gather', [t, i], [{ dtype: 'float32', shape: [3, 2] }], { axis: 1 });
    const loss = op.reduceSum(g, y, [0, 1], false);
    expect(() => gradients(g, loss, [t])).toThrow('Gather_0: Gather VJP supports axis 0 only');
  });
});

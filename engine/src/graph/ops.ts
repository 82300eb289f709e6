// Op helpers (forward + shape inference) with each op's vector-Jacobian product rule right beside it.
// A VJP rule receives the node and the gradients of its outputs and returns gradients for its inputs,
// built from standard ONNX ops only (the npm build of ORT has no training ops).
import {
  type AttrValue,
  type Dim,
  type DType,
  type Graph,
  GraphError,
  type GraphNode,
  type Shape,
  type Value,
} from './graph.ts';

export type VjpRule = (
  g: Graph,
  node: GraphNode,
  dys: readonly (Value | undefined)[],
) => (Value | undefined)[];
export const VJP = new Map<string, VjpRule>();
const rule = (op: string, r: VjpRule): void => {
  VJP.set(op, r);
};
const ins = (g: Graph, n: GraphNode): Value[] =>
  n.inputs.map((i) => (i === '' ? (undefined as unknown as Value) : g.value(i)));
const outs = (g: Graph, n: GraphNode): Value[] => n.outputs.map((o) => g.value(o));

// ---------- shape helpers ----------

export function broadcastShapes(op: string, a: Shape, b: Shape): Dim[] {
  const n = Math.max(a.length, b.length);
  const out: Dim[] = [];
  for (let i = 0; i < n; i++) {
    const da = a[a.length - n + i] ?? 1;
    const db = b[b.length - n + i] ?? 1;
    if (da === db || db === 1) out.push(da);
    else if (da === 1) out.push(db);
    else if (typeof da === 'string' || typeof db === 'string') out.push(typeof da === 'string' ? da : db);
    else throw new GraphError(`${op}: cannot broadcast [${a}] with [${b}]`);
  }
  return out;
}

function normAxis(axis: number, rank: number): number {
  return axis < 0 ? axis + rank : axis;
}

function sameShape(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** Sum a gradient over the axes that broadcasting expanded, so it matches `shape`. */
export function unbroadcast(g: Graph, dy: Value, shape: Shape): Value {
  if (sameShape(dy.shape, shape)) return dy;
  const lead = dy.shape.length - shape.length;
  const axes: number[] = [];
  for (let i = 0; i < dy.shape.length; i++) {
    if (i < lead || (shape[i - lead] === 1 && dy.shape[i] !== 1)) axes.push(i);
  }
  const summed = axes.length ? reduceSum(g, dy, axes, true) : dy;
  return reshape(g, summed, shape);
}

// ---------- elementwise binary ----------

function binary(op: string, g: Graph, a: Value, b: Value): Value {
  return g.node(op, [a, b], [{ dtype: a.dtype, shape: broadcastShapes(op, a.shape, b.shape) }])[0];
}

export const add = (g: Graph, a: Value, b: Value): Value => binary('Add', g, a, b);
rule('Add', (g, n, [dy]) => {
  const [a, b] = ins(g, n);
  return [unbroadcast(g, dy!, a.shape), unbroadcast(g, dy!, b.shape)];
});

export const sub = (g: Graph, a: Value, b: Value): Value => binary('Sub', g, a, b);
rule('Sub', (g, n, [dy]) => {
  const [a, b] = ins(g, n);
  return [unbroadcast(g, dy!, a.shape), unbroadcast(g, neg(g, dy!), b.shape)];
});

export const mul = (g: Graph, a: Value, b: Value): Value => binary('Mul', g, a, b);
rule('Mul', (g, n, [dy]) => {
  const [a, b] = ins(g, n);
  return [unbroadcast(g, mul(g, dy!, b), a.shape), unbroadcast(g, mul(g, dy!, a), b.shape)];
});

export const div = (g: Graph, a: Value, b: Value): Value => binary('Div', g, a, b);
rule('Div', (g, n, [dy]) => {
  const [a, b] = ins(g, n);
  const [y] = outs(g, n);
  const da = div(g, dy!, b);
  return [unbroadcast(g, da, a.shape), unbroadcast(g, neg(g, mul(g, da, y)), b.shape)];
});

export const pow = (g: Graph, a: Value, p: number): Value => binary('Pow', g, a, g.scalar(p, a.dtype));
rule('Pow', (g, n, [dy]) => {
  const [a, e] = ins(g, n);
  const p = Number(g.initializers.get(e.name)?.data[0]);
  if (!Number.isFinite(p)) throw new GraphError(`${n.name}: Pow VJP needs a constant exponent`);
  const d = p === 2 ? mul(g, a, g.scalar(2, a.dtype)) : mul(g, pow(g, a, p - 1), g.scalar(p, a.dtype));
  return [mul(g, dy!, d), undefined];
});

export const min = (g: Graph, a: Value, b: Value): Value => binary('Min', g, a, b);
export const max = (g: Graph, a: Value, b: Value): Value => binary('Max', g, a, b);

// Comparisons produce bool and have no gradient.
function compare(op: string, g: Graph, a: Value, b: Value): Value {
  return g.node(op, [a, b], [{ dtype: 'bool', shape: broadcastShapes(op, a.shape, b.shape) }])[0];
}
export const equal = (g: Graph, a: Value, b: Value): Value => compare('Equal', g, a, b);
export const greater = (g: Graph, a: Value, b: Value): Value => compare('Greater', g, a, b);
export const less = (g: Graph, a: Value, b: Value): Value => compare('Less', g, a, b);
export const not = (g: Graph, a: Value): Value => g.node('Not', [a], [{ dtype: 'bool', shape: a.shape }])[0];

// ---------- elementwise unary ----------

function unary(op: string, g: Graph, x: Value, attrs: Record<string, AttrValue> = {}): Value {
  return g.node(op, [x], [{ dtype: x.dtype, shape: x.shape }], attrs)[0];
}

export const neg = (g: Graph, x: Value): Value => unary('Neg', g, x);
rule('Neg', (g, _n, [dy]) => [neg(g, dy!)]);

export const identity = (g: Graph, x: Value): Value => unary('Identity', g, x);
rule('Identity', (_g, _n, [dy]) => [dy]);

export const exp = (g: Graph, x: Value): Value => unary('Exp', g, x);
rule('Exp', (g, n, [dy]) => [mul(g, dy!, outs(g, n)[0])]);

export const log = (g: Graph, x: Value): Value => unary('Log', g, x);
rule('Log', (g, n, [dy]) => [div(g, dy!, ins(g, n)[0])]);

export const sqrt = (g: Graph, x: Value): Value => unary('Sqrt', g, x);
rule('Sqrt', (g, n, [dy]) => {
  const y = outs(g, n)[0];
  return [div(g, mul(g, dy!, g.scalar(0.5, y.dtype)), y)];
});

export const reciprocal = (g: Graph, x: Value): Value => unary('Reciprocal', g, x);
rule('Reciprocal', (g, n, [dy]) => {
  const y = outs(g, n)[0];
  return [neg(g, mul(g, dy!, mul(g, y, y)))];
});

export const tanh = (g: Graph, x: Value): Value => unary('Tanh', g, x);
rule('Tanh', (g, n, [dy]) => {
  const y = outs(g, n)[0];
  return [mul(g, dy!, sub(g, g.scalar(1, y.dtype), mul(g, y, y)))];
});

export const sigmoid = (g: Graph, x: Value): Value => unary('Sigmoid', g, x);
rule('Sigmoid', (g, n, [dy]) => {
  const y = outs(g, n)[0];
  return [mul(g, dy!, mul(g, y, sub(g, g.scalar(1, y.dtype), y)))];
});

export const erf = (g: Graph, x: Value): Value => unary('Erf', g, x);
rule('Erf', (g, n, [dy]) => {
  const x = ins(g, n)[0];
  const d = mul(g, exp(g, neg(g, mul(g, x, x))), g.scalar(2 / Math.sqrt(Math.PI), x.dtype));
  return [mul(g, dy!, d)];
});

export const sin = (g: Graph, x: Value): Value => unary('Sin', g, x);
export const cos = (g: Graph, x: Value): Value => unary('Cos', g, x);

export const relu = (g: Graph, x: Value): Value => unary('Relu', g, x);
rule('Relu', (g, n, [dy]) => {
  const x = ins(g, n)[0];
  return [where(g, greater(g, x, g.scalar(0, x.dtype)), dy!, g.scalar(0, x.dtype))];
});

/** GELU as the opset-20 op: one fused kernel forward; `tanh` is GPT-2's approximation. */
export const gelu = (g: Graph, x: Value, approximate: 'none' | 'tanh' = 'none'): Value =>
  unary('Gelu', g, x, { approximate });
rule('Gelu', (g, n, [dy]) => {
  const x = ins(g, n)[0];
  const c = (v: number) => g.scalar(v, x.dtype);
  if (n.attrs.approximate === 'tanh') {
    // y = 0.5x(1+t), t = tanh(k(x + 0.044715x³)); dy/dx = 0.5(1+t) + 0.5x(1-t²)k(1+3·0.044715x²)
    const k = Math.sqrt(2 / Math.PI);
    const x2 = mul(g, x, x);
    const t = tanh(g, mul(g, mul(g, x, add(g, c(1), mul(g, x2, c(0.044715)))), c(k)));
    const dInner = mul(g, add(g, c(1), mul(g, x2, c(3 * 0.044715))), c(k));
    const d = add(
      g,
      mul(g, add(g, c(1), t), c(0.5)),
      mul(g, mul(g, mul(g, x, c(0.5)), sub(g, c(1), mul(g, t, t))), dInner),
    );
    return [mul(g, dy!, d)];
  }
  // y = xΦ(x); dy/dx = Φ(x) + xφ(x) = ½(1 + erf z + (2/√π)·z·e^(−z²)) with z = x/√2, the constant
  // folded into the exponent: ten passes over x where the textbook form takes eleven.
  const z = mul(g, x, c(Math.SQRT1_2));
  const e = exp(g, sub(g, c(Math.log(2 / Math.sqrt(Math.PI))), mul(g, z, z)));
  const d = add(g, add(g, erf(g, z), mul(g, z, e)), c(1));
  return [mul(g, mul(g, dy!, c(0.5)), d)];
});

export function cast(g: Graph, x: Value, to: DType): Value {
  const code = { float32: 1, uint8: 2, int32: 6, int64: 7, bool: 9, float64: 11 }[to];
  return g.node('Cast', [x], [{ dtype: to, shape: x.shape }], { to: code })[0];
}
rule('Cast', (g, n, [dy]) => {
  const x = ins(g, n)[0];
  return [x.dtype === 'float32' || x.dtype === 'float64' ? cast(g, dy!, x.dtype) : undefined];
});

export function where(g: Graph, cond: Value, a: Value, b: Value): Value {
  const shape = broadcastShapes('Where', cond.shape, broadcastShapes('Where', a.shape, b.shape));
  return g.node('Where', [cond, a, b], [{ dtype: a.dtype, shape }])[0];
}
rule('Where', (g, n, [dy]) => {
  const [c, a, b] = ins(g, n);
  const zero = g.scalar(0, dy!.dtype);
  return [
    undefined,
    unbroadcast(g, where(g, c, dy!, zero), a.shape),
    unbroadcast(g, where(g, c, zero, dy!), b.shape),
  ];
});

// ---------- shape ops ----------

/** Reshape; entries may be -1 (infer), 0 (copy) or a symbolic dim name matching the input's. */
export function reshape(g: Graph, x: Value, shape: readonly Dim[]): Value {
  const spec = shape.map((d, i) => (typeof d === 'number' ? d : x.shape[i] === d ? 0 : -1));
  if (spec.filter((d) => d === -1).length > 1)
    throw new GraphError(`reshape of ${x.name}: more than one unknown dim`);
  const out: Dim[] = shape.map((d, i) => (d === 0 ? x.shape[i] : d));
  const inferIdx = out.indexOf(-1);
  if (inferIdx >= 0) {
    const rest = out.filter((_d, i) => i !== inferIdx);
    if (x.shape.every((d) => typeof d === 'number') && rest.every((d) => typeof d === 'number')) {
      const total = (x.shape as number[]).reduce((p, q) => p * q, 1);
      out[inferIdx] = total / (rest as number[]).reduce((p, q) => p * q, 1);
    } else out[inferIdx] = `${x.name}_r${inferIdx}`;
  }
  return g.node('Reshape', [x, g.ints(spec)], [{ dtype: x.dtype, shape: out }])[0];
}
rule('Reshape', (g, n, [dy]) => [reshape(g, dy!, ins(g, n)[0].shape), undefined]);

export function transpose(g: Graph, x: Value, perm: readonly number[]): Value {
  return g.node('Transpose', [x], [{ dtype: x.dtype, shape: perm.map((p) => x.shape[p]) }], {
    perm: [...perm],
  })[0];
}
rule('Transpose', (g, n, [dy]) => {
  const perm = n.attrs.perm as number[];
  // (A·B)ᵀ = Bᵀ·Aᵀ: a gradient straight out of a MatMul (attention's dKᵀ) is transposed through its
  // operands, which ORT folds into the MatMul, instead of by a copy of the result.
  const from = g.producer.get(dy!.name);
  const mm = from === undefined ? undefined : g.nodes[from];
  if (isSwapLast(perm) && mm?.op === 'MatMul') {
    const [a, b] = ins(g, mm);
    if (a.shape.length === perm.length && b.shape.length === perm.length)
      return [matmul(g, swapLast(g, b), swapLast(g, a))];
  }
  const inv = perm.map((_, i) => perm.indexOf(i));
  return [transpose(g, dy!, inv)];
});

function isSwapLast(perm: readonly number[]): boolean {
  const r = perm.length;
  return r >= 2 && perm.every((p, i) => p === (i < r - 2 ? i : i === r - 2 ? r - 1 : r - 2));
}

export function unsqueeze(g: Graph, x: Value, axes: readonly number[]): Value {
  const shape: Dim[] = [...x.shape];
  for (const a of [...axes].map((a) => normAxis(a, x.shape.length + axes.length)).sort((p, q) => p - q))
    shape.splice(a, 0, 1);
  return g.node('Unsqueeze', [x, g.ints(axes)], [{ dtype: x.dtype, shape }])[0];
}
rule('Unsqueeze', (g, n, [dy]) => [reshape(g, dy!, ins(g, n)[0].shape), undefined]);

export function expand(g: Graph, x: Value, shape: readonly number[]): Value {
  return g.node(
    'Expand',
    [x, g.ints(shape)],
    [{ dtype: x.dtype, shape: broadcastShapes('Expand', x.shape, shape) }],
  )[0];
}
rule('Expand', (g, n, [dy]) => [unbroadcast(g, dy!, ins(g, n)[0].shape), undefined]);

/** Slice with unit steps; `ends` may exceed the dim (clamped like ONNX). */
export function slice(g: Graph, x: Value, starts: number[], ends: number[], axes: number[]): Value {
  const shape: Dim[] = [...x.shape];
  axes.forEach((ax, i) => {
    const a = normAxis(ax, x.shape.length);
    const d = x.shape[a];
    if (typeof d === 'number') {
      const s = Math.min(starts[i] < 0 ? starts[i] + d : starts[i], d);
      const e = Math.min(ends[i] < 0 ? ends[i] + d : ends[i], d);
      shape[a] = Math.max(0, e - s);
    } else shape[a] = ends[i] - starts[i] > 0 && ends[i] < 2 ** 31 ? ends[i] - starts[i] : `${x.name}_s${a}`;
  });
  return g.node('Slice', [x, g.ints(starts), g.ints(ends), g.ints(axes)], [{ dtype: x.dtype, shape }])[0];
}
rule('Slice', (g, n, [dy]) => {
  const [x, s, , a] = ins(g, n);
  const starts = Array.from(g.initializers.get(s.name)!.data as BigInt64Array, Number);
  const axes = Array.from(g.initializers.get(a.name)!.data as BigInt64Array, Number);
  const rank = x.shape.length;
  const pads = new Array(2 * rank).fill(0);
  axes.forEach((ax, i) => {
    const k = normAxis(ax, rank);
    const d = x.shape[k] as number;
    const st = starts[i] < 0 ? starts[i] + d : starts[i];
    pads[k] = st;
    pads[rank + k] = d - st - (dy!.shape[k] as number);
  });
  return [g.node('Pad', [dy!, g.ints(pads)], [{ dtype: dy!.dtype, shape: x.shape }])[0]];
});

export function concat(g: Graph, xs: readonly Value[], axis: number): Value {
  const a = normAxis(axis, xs[0].shape.length);
  const shape: Dim[] = [...xs[0].shape];
  const dims = xs.map((x) => x.shape[a]);
  shape[a] = dims.every((d) => typeof d === 'number')
    ? (dims as number[]).reduce((p, q) => p + q, 0)
    : `${xs[0].name}_c${a}`;
  return g.node('Concat', xs, [{ dtype: xs[0].dtype, shape }], { axis: a })[0];
}
rule('Concat', (g, n, [dy]) => {
  const xs = ins(g, n);
  const axis = n.attrs.axis as number;
  return split(
    g,
    dy!,
    xs.map((x) => x.shape[axis] as number),
    axis,
  );
});

export function split(g: Graph, x: Value, sizes: readonly number[], axis: number): Value[] {
  const a = normAxis(axis, x.shape.length);
  const shapes = sizes.map((s) => x.shape.map((d, i) => (i === a ? s : d)));
  return g.node(
    'Split',
    [x, g.ints(sizes)],
    shapes.map((shape) => ({ dtype: x.dtype, shape })),
    { axis: a },
  );
}
rule('Split', (g, n, dys) => {
  const outsV = outs(g, n);
  const parts = outsV.map((o, i) => dys[i] ?? zerosLike(g, o));
  return [concat(g, parts, n.attrs.axis as number), undefined];
});

export function zerosLike(g: Graph, v: Value): Value {
  return expand(g, g.scalar(0, v.dtype), v.shape as number[]);
}

// ---------- reductions ----------

function reduced(x: Value, axes: readonly number[], keepdims: boolean): Dim[] {
  const ax = axes.map((a) => normAxis(a, x.shape.length));
  return x.shape.flatMap((d, i) => (ax.includes(i) ? (keepdims ? [1] : []) : [d]));
}

export function reduceSum(g: Graph, x: Value, axes: readonly number[], keepdims = true): Value {
  return g.node('ReduceSum', [x, g.ints(axes)], [{ dtype: x.dtype, shape: reduced(x, axes, keepdims) }], {
    keepdims: keepdims ? 1 : 0,
  })[0];
}
rule('ReduceSum', (g, n, [dy]) => {
  const [x, ax] = ins(g, n);
  const axes = Array.from(g.initializers.get(ax.name)!.data as BigInt64Array, Number);
  const kept = reshape(g, dy!, reduced(x, axes, true));
  return [expand(g, kept, x.shape as number[]), undefined];
});

export function reduceMean(g: Graph, x: Value, axes: readonly number[], keepdims = true): Value {
  return g.node('ReduceMean', [x, g.ints(axes)], [{ dtype: x.dtype, shape: reduced(x, axes, keepdims) }], {
    keepdims: keepdims ? 1 : 0,
  })[0];
}
rule('ReduceMean', (g, n, [dy]) => {
  const [x, ax] = ins(g, n);
  const axes = Array.from(g.initializers.get(ax.name)!.data as BigInt64Array, Number).map((a) =>
    normAxis(a, x.shape.length),
  );
  const count = axes.reduce((p, a) => p * (x.shape[a] as number), 1);
  const kept = reshape(g, mul(g, dy!, g.scalar(1 / count, x.dtype)), reduced(x, axes, true));
  return [expand(g, kept, x.shape as number[]), undefined];
});

export function reduceSumSquare(g: Graph, x: Value, axes?: readonly number[], keepdims = false): Value {
  const all = axes ?? x.shape.map((_, i) => i);
  return g.node('ReduceSumSquare', [x, g.ints(all)], [{ dtype: x.dtype, shape: reduced(x, all, keepdims) }], {
    keepdims: keepdims ? 1 : 0,
  })[0];
}

// ---------- linear algebra ----------

function matmulShape(a: Shape, b: Shape): Dim[] {
  if (a.length < 2 || b.length < 2)
    throw new GraphError(`MatMul: operands must be at least 2-D, got [${a}] and [${b}]`);
  const k1 = a[a.length - 1];
  const k2 = b[b.length - 2];
  if (typeof k1 === 'number' && typeof k2 === 'number' && k1 !== k2) {
    throw new GraphError(`MatMul: inner dimensions differ: [${a}] @ [${b}]`);
  }
  const batch = broadcastShapes('MatMul', a.slice(0, -2), b.slice(0, -2));
  return [...batch, a[a.length - 2], b[b.length - 1]];
}

export function matmul(g: Graph, a: Value, b: Value): Value {
  return g.node('MatMul', [a, b], [{ dtype: a.dtype, shape: matmulShape(a.shape, b.shape) }])[0];
}
/** x with its last two axes swapped; undoes a swap instead of stacking a second one. */
const swapLast = (g: Graph, x: Value): Value => {
  const from = g.producer.get(x.name);
  const n = from === undefined ? undefined : g.nodes[from];
  if (n?.op === 'Transpose' && isSwapLast(n.attrs.perm as number[])) return g.value(n.inputs[0]);
  const r = x.shape.length;
  return transpose(g, x, [...Array(r - 2).keys(), r - 1, r - 2]);
};
rule('MatMul', (g, n, [dy]) => {
  const [a, b] = ins(g, n);
  if (b.shape.length === 2 && a.shape.length > 2) {
    // x[..., K] @ W[K, N]: fold the batch so dW is one GEMM with a transposed A (no copy of x).
    const k = b.shape[0] as number;
    const nOut = b.shape[1] as number;
    const a2 = reshape(g, a, [-1, k]);
    const dy2 = reshape(g, dy!, [-1, nOut]);
    const db = gemm(g, a2, dy2, { transA: true });
    return [matmul(g, dy!, swapLast(g, b)), db];
  }
  return [
    unbroadcast(g, matmul(g, dy!, swapLast(g, b)), a.shape),
    unbroadcast(g, matmul(g, swapLast(g, a), dy!), b.shape),
  ];
});

/** Y = op(A)·op(B) (+ C broadcast over rows): the 2-D workhorse for linear layers. */
export function gemm(
  g: Graph,
  a: Value,
  b: Value,
  opts: { transA?: boolean; transB?: boolean; c?: Value } = {},
): Value {
  const m = opts.transA ? a.shape[1] : a.shape[0];
  const ka = opts.transA ? a.shape[0] : a.shape[1];
  const kb = opts.transB ? b.shape[1] : b.shape[0];
  const nn = opts.transB ? b.shape[0] : b.shape[1];
  if (typeof ka === 'number' && typeof kb === 'number' && ka !== kb) {
    throw new GraphError(
      `Gemm: inner dimensions differ: [${a.shape}]${opts.transA ? 'ᵀ' : ''} · [${b.shape}]${opts.transB ? 'ᵀ' : ''}`,
    );
  }
  const attrs: Record<string, AttrValue> = {};
  if (opts.transA) attrs.transA = 1;
  if (opts.transB) attrs.transB = 1;
  const inputs = opts.c ? [a, b, opts.c] : [a, b];
  return g.node('Gemm', inputs, [{ dtype: a.dtype, shape: [m, nn] }], attrs)[0];
}
rule('Gemm', (g, n, [dy]) => {
  const [a, b, c] = ins(g, n);
  if (n.attrs.transA) throw new GraphError(`${n.name}: Gemm VJP supports transA=0 only`);
  const tB = Boolean(n.attrs.transB);
  // Y = A·op(B): dA = dY·op(B)ᵀ; dB = Aᵀ·dY, or (dY)ᵀ·A when B is stored transposed.
  const da = gemm(g, dy!, b, { transB: !tB });
  const db = tB ? gemm(g, dy!, a, { transA: true }) : gemm(g, a, dy!, { transA: true });
  const dc = c ? unbroadcast(g, dy!, c.shape) : undefined;
  return c ? [da, db, dc] : [da, db];
});

// ---------- normalisation and softmax ----------

export function softmax(g: Graph, x: Value, axis = -1): Value {
  return unary('Softmax', g, x, { axis });
}
rule('Softmax', (g, n, [dy]) => {
  const y = outs(g, n)[0];
  const axis = n.attrs.axis as number;
  const dot = reduceSum(g, mul(g, dy!, y), [axis], true);
  return [mul(g, y, sub(g, dy!, dot))];
});

/**
 * softmax(x + mask) over the last axis for a mask that blocks some positions, as `keep` (1 = attend,
 * 0 = blocked) and its additive form `mask` (0 or −1e9). Why not Softmax(x + mask): ORT's exp of a blocked
 * score passes through the denormal range, which made the causal softmax of nanogpt-cpu 2–4× slower than an
 * unmasked one. Here blocked scores are first raised to (row max − 80), whose exp is a normal float, and
 * the result is multiplied by `keep`, so blocked probabilities are exact zeros (kept ones differ from the
 * exact softmax by at most e⁻⁸⁰ relative). The gradient is the softmax's, taken with those exact zeros:
 * through the chain of rules the raised entries' ~e⁻⁸⁰ probabilities would turn into denormal gradients.
 */
export function maskedSoftmax(g: Graph, x: Value, mask: Value, keep: Value): Value {
  const z = add(g, x, mask);
  const rows = reduced(z, [-1], true);
  const [rowMax] = g.node('ReduceMax', [z, g.ints([-1])], [{ dtype: z.dtype, shape: rows }], { keepdims: 1 });
  const floor = sub(g, rowMax, g.scalar(80, z.dtype));
  const y = mul(g, softmax(g, max(g, z, floor), -1), keep);
  g.compositeVjps.set(y.name, {
    inputs: [x],
    rule: (gg, dy) => {
      const dot = reduceSum(gg, mul(gg, dy, y), [-1], true);
      return [mul(gg, y, sub(gg, dy, dot))];
    },
  });
  return y;
}

/** LayerNormalization (opset 17) over the last axis; also returns mean and 1/σ for the backward pass. */
export function layerNorm(g: Graph, x: Value, scale: Value, bias?: Value, eps = 1e-5): Value {
  const statShape = [...x.shape.slice(0, -1), 1];
  const [y] = g.node(
    'LayerNormalization',
    bias ? [x, scale, bias] : [x, scale],
    [
      { dtype: x.dtype, shape: x.shape },
      { dtype: x.dtype, shape: statShape },
      { dtype: x.dtype, shape: statShape },
    ],
    { axis: -1, epsilon: { float: eps } },
  );
  return y;
}
rule('LayerNormalization', (g, n, [dy]) => {
  const [x, scale, bias] = ins(g, n);
  const [y, mean, invStd] = outs(g, n);
  // With a constant unit scale and no bias (norm() folds them into the next layer) y is x̂ itself.
  const unit = !bias && isConstant(g, scale, 1);
  const xhat = unit ? y : mul(g, sub(g, x, mean), invStd);
  const dxhat = unit ? dy! : mul(g, dy!, scale);
  const m1 = reduceMean(g, dxhat, [-1], true);
  const m2 = reduceMean(g, mul(g, dxhat, xhat), [-1], true);
  const dx = mul(g, invStd, sub(g, sub(g, dxhat, m1), mul(g, xhat, m2)));
  if (unit) return [dx, undefined];
  const dscale = unbroadcast(g, mul(g, dy!, xhat), scale.shape);
  const res: (Value | undefined)[] = [dx, dscale];
  if (bias) res.push(unbroadcast(g, dy!, bias.shape));
  return res;
});

/** Whether v is an initializer whose every element equals `x`. */
function isConstant(g: Graph, v: Value, x: number): boolean {
  const init = g.initializers.get(v.name);
  if (!init) return false;
  for (let i = 0; i < init.data.length; i++) if (Number(init.data[i]) !== x) return false;
  return true;
}

/**
 * RMSNorm from primitives (no standard op before opset 23); its gradient comes from the primitives' rules.
 * Without `scale`, the normalised x alone (the model folds the scale into the next layer).
 */
export function rmsNorm(g: Graph, x: Value, scale?: Value, eps = 1e-6): Value {
  const ms = reduceMean(g, mul(g, x, x), [-1], true);
  const inv = reciprocal(g, sqrt(g, add(g, ms, g.scalar(eps, x.dtype))));
  const xhat = mul(g, x, inv);
  return scale ? mul(g, xhat, scale) : xhat;
}

// ---------- indexing ----------

/** Rows of `table` picked by integer `indices` (embedding lookup). */
export function gather(g: Graph, table: Value, indices: Value): Value {
  return g.node(
    'Gather',
    [table, indices],
    [{ dtype: table.dtype, shape: [...indices.shape, ...table.shape.slice(1)] }],
    {
      axis: 0,
    },
  )[0];
}
rule('Gather', (g, n, [dy]) => {
  const [table, idx] = ins(g, n);
  if (n.attrs.axis !== 0) throw new GraphError(`${n.name}: Gather VJP supports axis 0 only`);
  // Scatter-add rows of dY into a zero table; repeated indices accumulate.
  const width = table.shape.slice(1) as number[];
  const flatIdx = reshape(g, idx, [-1, 1]);
  const rows = reshape(g, dy!, [-1, ...width]);
  const zeros = zerosLike(g, table);
  const [dt] = g.node('ScatterND', [zeros, flatIdx, rows], [{ dtype: table.dtype, shape: table.shape }], {
    reduction: 'add',
  });
  return [dt, undefined];
});

// ---------- loss ----------

/**
 * Mean cross-entropy of logits [N, C] against int64 targets [N], skipping `ignoreIndex`.
 * Returns the scalar loss; the op's log-probabilities output feeds the backward pass.
 */
export function crossEntropy(g: Graph, logits: Value, targets: Value, ignoreIndex = -100): Value {
  const [loss] = g.node(
    'SoftmaxCrossEntropyLoss',
    [logits, targets],
    [
      { dtype: logits.dtype, shape: [] },
      { dtype: logits.dtype, shape: logits.shape },
    ],
    { ignore_index: ignoreIndex, reduction: 'mean' },
  );
  return loss;
}
/**
 * Per-token cross-entropy (negative log-likelihood) of logits [N, C] against targets [N]: [N], 0 where the
 * target is `ignoreIndex`. What sequence log-probabilities (DPO) are summed from.
 */
export function tokenNll(g: Graph, logits: Value, targets: Value, ignoreIndex = -100): Value {
  const [nll] = g.node(
    'SoftmaxCrossEntropyLoss',
    [logits, targets],
    [
      { dtype: logits.dtype, shape: [logits.shape[0]] },
      { dtype: logits.dtype, shape: logits.shape },
    ],
    { ignore_index: ignoreIndex, reduction: 'none' },
  );
  return nll;
}
rule('SoftmaxCrossEntropyLoss', (g, n, [dy]) => {
  const [logits, targets] = ins(g, n);
  const [, logProb] = outs(g, n);
  const ignore = n.attrs.ignore_index as number;
  const classes = logits.shape[1] as number;
  const valid = not(g, equal(g, targets, g.scalar(ignore, 'int64')));
  const validF = cast(g, valid, logits.dtype);
  // Ignored targets are out of range for OneHot, so map them to 0 before encoding; their rows are masked anyway.
  const safe = where(g, valid, targets, g.scalar(0, 'int64'));
  const [oneHot] = g.node(
    'OneHot',
    [safe, g.constant('int64', [], [classes]), g.constant(logits.dtype, [2], [0, 1])],
    [{ dtype: logits.dtype, shape: logits.shape }],
    { axis: -1 },
  );
  // reduction 'none': dy is per token; 'mean': one scalar over the valid tokens.
  const scale =
    n.attrs.reduction === 'none'
      ? unsqueeze(g, dy!, [1])
      : div(g, dy!, max(g, reduceSum(g, validF, [0], false), g.scalar(1, logits.dtype)));
  const rowScale = mul(g, unsqueeze(g, validF, [1]), scale);
  return [mul(g, sub(g, exp(g, logProb), oneHot), rowScale), undefined];
});

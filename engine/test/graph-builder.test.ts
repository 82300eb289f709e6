// The graph builder's own contract: value bookkeeping, constant sharing, output naming, pruning,
// validation and the ONNX it serialises (decoded back, and run in ONNX Runtime).
import { describe, expect, it } from 'vitest';
import { gradients } from '../src/graph/autodiff.ts';
import { Graph, GraphError, isFloat, isStatic, numel, toTyped } from '../src/graph/graph.ts';
import * as op from '../src/graph/ops.ts';
import { ModelProto, TensorProto_DataType } from '../src/onnx/gen/onnx.ts';
import { createSession, f32, type Tensor } from '../src/runtime/session.ts';

async function run(g: Graph, feeds: Record<string, Tensor>): Promise<Record<string, Tensor>> {
  const s = await createSession(g, { optLevel: 'disabled', threads: 1 });
  try {
    return (await s.run(feeds)) as Record<string, Tensor>;
  } finally {
    await s.release();
  }
}

const values = (t: Tensor): number[] => Array.from(t.data as Float32Array, Number);

describe('shape and dtype helpers', () => {
  it('isFloat is true for the float dtypes only', () => {
    expect(isFloat('float32')).toBe(true);
    expect(isFloat('float64')).toBe(true);
    for (const d of ['int64', 'int32', 'bool', 'uint8'] as const) expect(isFloat(d)).toBe(false);
  });

  it('numel multiplies static dims and refuses symbolic ones, naming the shape', () => {
    expect(numel([2, 3, 4])).toBe(24);
    expect(numel([])).toBe(1);
    expect(() => numel(['B', 3])).toThrow('numel of symbolic shape [B,3]');
  });

  it('isStatic tells static shapes from symbolic ones', () => {
    expect(isStatic([2, 3])).toBe(true);
    expect(isStatic([])).toBe(true);
    expect(isStatic([2, 'T'])).toBe(false);
    expect(isStatic(['B', 3])).toBe(false);
  });

  it('toTyped builds the typed array of each dtype', () => {
    expect(toTyped('float32', [1.5])).toBeInstanceOf(Float32Array);
    expect(toTyped('float64', [1.5])).toBeInstanceOf(Float64Array);
    expect(Array.from(toTyped('int64', [3, -2]) as BigInt64Array)).toEqual([3n, -2n]);
    expect(Array.from(toTyped('int32', [7, -1]) as Int32Array)).toEqual([7, -1]);
    expect(toTyped('int32', [7])).toBeInstanceOf(Int32Array);
    expect(Array.from(toTyped('uint8', [0, 255]) as Uint8Array)).toEqual([0, 255]);
    expect(toTyped('bool', [1, 0])).toBeInstanceOf(Uint8Array);
    const same = Float32Array.of(1, 2);
    expect(toTyped('float32', same)).toBe(same);
  });
});

describe('values and initializers', () => {
  it('a graph is named "graph" unless told otherwise, and the name reaches the ONNX graph', () => {
    const g = new Graph();
    expect(g.name).toBe('graph');
    g.output(op.neg(g, g.input('x', 'float32', [1])));
    expect(ModelProto.decode(g.toBytes()).graph?.name).toBe('graph');
  });

  it('rejects unknown values, names defined twice, foreign inputs and data of the wrong size', () => {
    const g = new Graph();
    const x = g.input('x', 'float32', [2]);
    expect(g.value('x')).toBe(x);
    expect(() => g.value('nope')).toThrow(GraphError);
    expect(() => g.value('nope')).toThrow("unknown value 'nope'");
    expect(() => g.input('x', 'float32', [3])).toThrow("value 'x' defined twice");
    expect(() => g.initializer('w', 'float32', [2, 2], new Float32Array(3))).toThrow(
      "initializer 'w': 3 values for shape [2,2]",
    );
    expect(g.values.has('w')).toBe(false);
    const other = new Graph().input('q', 'float32', [2]);
    expect(() => op.exp(g, other)).toThrow("Exp: input 'q' not in graph");
  });

  it('shares small constants by dtype, shape and content, but never large ones', () => {
    const g = new Graph();
    const one = g.scalar(1);
    expect(g.scalar(1)).toBe(one);
    expect(g.scalar(2)).not.toBe(one);
    expect(g.scalar(1, 'float64')).not.toBe(one);
    expect(g.constant('float32', [1], [1])).not.toBe(one);
    // …and the key separates dims: [1, 11] and [11, 1] hold the same values in different shapes.
    const eleven = Array.from({ length: 11 }, (_, i) => i);
    const row = g.constant('float32', [1, 11], eleven);
    expect(g.constant('float32', [11, 1], eleven).shape).toEqual([11, 1]);
    expect(row.shape).toEqual([1, 11]);
    // The content key separates elements: [1, 23] and [12, 3] are different constants.
    const a = g.constant('int64', [2], [1, 23]);
    const b = g.constant('int64', [2], [12, 3]);
    expect(b).not.toBe(a);
    expect(Array.from(g.initializers.get(b.name)!.data as BigInt64Array)).toEqual([12n, 3n]);
    // 16 elements are still shared; 17 are not (nor confused with other 17-element constants).
    const sixteen = Array.from({ length: 16 }, (_, i) => i);
    expect(g.constant('float32', [16], sixteen)).toBe(g.constant('float32', [16], sixteen));
    const big = Array.from({ length: 17 }, (_, i) => i);
    const big1 = g.constant('float32', [17], big);
    const big2 = g.constant('float32', [17], big);
    expect(big2).not.toBe(big1);
    const other = g.constant(
      'float32',
      [17],
      big.map((v) => -v),
    );
    expect(other).not.toBe(big1);
    expect(g.initializers.get(other.name)!.data[16]).toBe(-16);
  });

  it('stores int32, uint8 and bool constants that ORT reads back', async () => {
    const g = new Graph();
    const i32 = g.constant('int32', [3], [5, -6, 7]);
    const u8 = g.constant('uint8', [2], [200, 3]);
    const b = g.constant('bool', [2], [1, 0]);
    g.output(op.cast(g, i32, 'float32'), 'i32');
    g.output(op.cast(g, u8, 'float32'), 'u8');
    g.output(op.cast(g, b, 'float32'), 'b');
    const out = await run(g, {});
    expect(values(out.i32)).toEqual([5, -6, 7]);
    expect(values(out.u8)).toEqual([200, 3]);
    expect(values(out.b)).toEqual([1, 0]);
  });
});

describe('node names and scopes', () => {
  it('names outputs after the lower-cased op under the current scope, and restores the scope after a throw', () => {
    const g = new Graph();
    const x = g.input('x', 'float32', [2]);
    const y = g.scope('h.0', () => g.scope('attn', () => op.exp(g, x)));
    expect(y.name).toMatch(/^h\.0\.attn\.exp_\d+$/);
    expect(g.nodes[0].name).toBe('h.0.attn.Exp_0');
    expect(() =>
      g.scope('broken', () => {
        throw new Error('boom');
      }),
    ).toThrow('boom');
    expect(g.prefix).toBe('');
    expect(op.neg(g, x).name).toMatch(/^neg_\d+$/);
  });

  it('passes an omitted optional input as an empty name, which validates and runs', async () => {
    const g = new Graph();
    const x = g.input('x', 'float32', [4]);
    // Clip(x, min omitted, max = 0.5)
    const [y] = g.node('Clip', [x, undefined, g.scalar(0.5)], [{ dtype: 'float32', shape: [4] }]);
    expect(g.nodes[0].inputs[1]).toBe('');
    g.output(y, 'y');
    const out = await run(g, { x: f32([-3, 0.2, 0.5, 9], [4]) });
    expect(values(out.y)).toEqual([-3, Math.fround(0.2), 0.5, 0.5]);
  });
});

describe('graph outputs', () => {
  it('keeps the name when none or the same one is asked for', () => {
    const g = new Graph();
    const y = op.exp(g, g.input('x', 'float32', [2]));
    expect(g.output(y)).toBe(y);
    const z = op.neg(g, y);
    expect(g.output(z, z.name)).toBe(z);
    expect(g.outputs.map((o) => o.name)).toEqual([y.name, z.name]);
    expect(g.nodes.map((n) => n.op)).toEqual(['Exp', 'Neg']);
  });

  it('renames a fresh node output in place, but copies inputs, consumed values and existing outputs', async () => {
    const g = new Graph();
    const x = g.input('x', 'float32', [2]);
    const e = op.exp(g, x);
    const renamed = g.output(e, 'e');
    expect(renamed.name).toBe('e');
    expect(g.nodes).toHaveLength(1);
    expect(g.producer.get('e')).toBe(0);
    // An input is not a node output: it is copied through Identity.
    const xOut = g.output(x, 'x_copy');
    expect(g.nodes.at(-1)?.op).toBe('Identity');
    expect(g.nodes.at(-1)?.inputs).toEqual(['x']);
    // A value already consumed by a node keeps its name for that consumer.
    const t = op.tanh(g, x);
    const u = op.neg(g, t);
    g.output(u, 'u');
    g.output(t, 't');
    expect(g.nodes.find((n) => n.op === 'Neg')?.inputs).toEqual([t.name]);
    // A value that is already a graph output stays one under its old name.
    const s = op.sigmoid(g, x);
    g.output(s);
    g.output(s, 's2');
    expect(g.outputs.map((o) => o.name)).toEqual(['e', 'x_copy', 'u', 't', s.name, 's2']);
    expect(xOut.name).toBe('x_copy');
    const out = await run(g, { x: f32([0, 1], [2]) });
    expect(values(out.s2)).toEqual(values(out[s.name]));
    expect(values(out.x_copy)).toEqual([0, 1]);
    expect(values(out.e)).toEqual([1, Math.fround(Math.E)]);
  });

  it('copies an input nothing consumes to an output of another name', async () => {
    const g = new Graph();
    const x = g.input('x', 'float32', [2]);
    const y = g.output(x, 'y');
    expect(y.name).toBe('y');
    expect(g.nodes.map((n) => [n.op, n.inputs, n.outputs])).toEqual([['Identity', ['x'], ['y']]]);
    const out = await run(g, { x: f32([3, 4], [2]) });
    expect(values(out.y)).toEqual([3, 4]);
  });

  it('refuses an output name that is already taken', () => {
    const g = new Graph();
    const x = g.input('x', 'float32', [2]);
    expect(() => g.output(op.exp(g, x), 'x')).toThrow("value 'x' defined twice");
  });
});

describe('prune', () => {
  it('drops dead nodes and their initializers, returns how many, and keeps producers and shared constants right', async () => {
    const g = new Graph();
    const x = g.input('x', 'float32', [3]);
    const dead = op.mul(g, op.exp(g, x), g.scalar(7));
    const sevenName = g.scalar(7).name;
    const live = g.output(op.add(g, x, g.scalar(1)), 'y');
    expect(dead.name).toBeTruthy();
    expect(g.prune()).toBe(2);
    expect(g.prune()).toBe(0);
    expect(g.nodes.map((n) => n.op)).toEqual(['Add']);
    expect(g.initializers.has(sevenName)).toBe(false);
    expect(g.producer.get('y')).toBe(0);
    // The live constant is still shared; the pruned one is made anew, with its data.
    expect(g.scalar(1).name).toBe(g.nodes[0].inputs[1]);
    const seven = g.scalar(7);
    expect(g.initializers.has(seven.name)).toBe(true);
    g.output(op.mul(g, live, seven), 'z');
    const out = await run(g, { x: f32([1, 2, 3], [3]) });
    expect(values(out.z)).toEqual([14, 21, 28]);
  });

  it('drops a constant no node reads even when every node is live', async () => {
    const g = new Graph();
    const x = g.input('x', 'float32', [3]);
    const unused = g.scalar(5).name;
    g.output(op.add(g, x, g.scalar(1)), 'y');
    expect(g.prune()).toBe(0);
    expect(g.initializers.has(unused)).toBe(false);
    expect(g.scalar(5).name).not.toBe(unused); // the cache forgot it with it
    expect(values((await run(g, { x: f32([1, 2, 3], [3]) })).y)).toEqual([2, 3, 4]);
  });

  it('leaves producers usable by autodiff after pruning', () => {
    const g = new Graph();
    const x = g.input('x', 'float32', [3]);
    op.exp(g, x);
    const loss = g.output(op.reduceSum(g, op.mul(g, x, x), [0], false), 'loss');
    expect(g.prune()).toBe(1);
    const [dx] = gradients(g, loss, [x]);
    expect(dx.shape).toEqual([3]);
  });
});

describe('validate', () => {
  const oneNode = () => {
    const g = new Graph('v');
    const x = g.input('x', 'float32', [2]);
    const y = op.neg(g, x);
    g.output(y);
    return { g, x, y };
  };

  it('accepts a well-formed graph with symbolic dims', () => {
    const g = new Graph('v');
    const x = g.input('x', 'float32', ['B', 3]);
    g.output(op.neg(g, x));
    expect(() => g.validate()).not.toThrow();
  });

  it('rejects an output written twice, or over a graph input', () => {
    const { g, x } = oneNode();
    (g.nodes[0].outputs as string[])[0] = x.name;
    expect(() => g.validate()).toThrow("node 'Neg_0' (Neg): output 'x' is assigned twice");
    const h = new Graph('v');
    const a = h.input('a', 'float32', [2]);
    const p = op.neg(h, a);
    op.exp(h, a);
    (h.nodes[1].outputs as string[])[0] = p.name;
    h.outputs.push(p);
    expect(() => h.validate()).toThrow(`node 'Exp_1' (Exp): output '${p.name}' is assigned twice`);
  });

  it('rejects negative and fractional dims on a node input', () => {
    for (const bad of [-1, 2.5]) {
      const g = new Graph('v');
      g.output(op.neg(g, g.input('x', 'float32', [2, bad])));
      expect(() => g.validate()).toThrow(`node 'Neg_0' (Neg): input 'x' has invalid shape [2,${bad}]`);
    }
  });

  it('rejects a graph without outputs, and outputs nothing produces', () => {
    const g = new Graph('empty');
    op.neg(g, g.input('x', 'float32', [2]));
    expect(() => g.validate()).toThrow("graph 'empty' has no outputs");
    g.outputs.push({ name: 'ghost', dtype: 'float32', shape: [2] });
    expect(() => g.validate()).toThrow("graph output 'ghost' is never produced");
  });
});

describe('serialised ONNX', () => {
  it('round-trips: dims static and symbolic, raw initializer data only, producer and opset, no stray entries', async () => {
    const g = new Graph('ser');
    const x = g.input('x', 'float32', ['B', 3]);
    const w = g.constant('float32', [3], [1, 2, 3]);
    g.output(op.mul(g, x, w), 'y');
    const m = ModelProto.decode(g.toBytes());
    expect(m.producerName).toBe('@lab/engine');
    expect(m.producerVersion).toBe('0.1.0');
    expect(m.opsetImport).toEqual([{ domain: '', version: 20 }]);
    expect(m.metadataProps).toEqual([]);
    const graph = m.graph!;
    expect(graph.metadataProps).toEqual([]);
    expect(graph.valueInfo).toEqual([]);
    const t = graph.input[0].type?.value;
    expect(t?.$case).toBe('tensorType');
    const tensorType = t?.$case === 'tensorType' ? t.value : undefined;
    expect(tensorType?.elemType).toBe(TensorProto_DataType.FLOAT);
    expect(tensorType?.shape?.dim.map((d) => d.value)).toEqual([
      { $case: 'dimParam', value: 'B' },
      { $case: 'dimValue', value: 3 },
    ]);
    expect(graph.input[0].metadataProps).toEqual([]);
    expect(graph.node[0].metadataProps).toEqual([]);
    const init = graph.initializer[0];
    expect(init.dims).toEqual([3]);
    expect(Array.from(new Float32Array(new Uint8Array(init.rawData!).buffer))).toEqual([1, 2, 3]);
    for (const k of [
      'floatData',
      'int32Data',
      'stringData',
      'int64Data',
      'doubleData',
      'uint64Data',
      'metadataProps',
    ] as const)
      expect(init[k], k).toEqual([]);
    // The symbolic batch dim really is dynamic in ORT.
    const s = await createSession(g.toBytes(), { optLevel: 'disabled', threads: 1 });
    for (const b of [1, 2]) {
      const out = await s.run({ x: f32(new Float32Array(3 * b).fill(2), [b, 3]) });
      expect(out.y.dims).toEqual([b, 3]);
      expect(values(out.y as Tensor).slice(0, 3)).toEqual([2, 4, 6]);
    }
    await s.release();
  });

  it('encodes attributes: ints, { ints }, { float }, strings; refuses a fractional plain number', async () => {
    const g = new Graph('attrs');
    const x = g.input('x', 'float32', [2, 3]);
    const [t] = g.node('Transpose', [x], [{ dtype: 'float32', shape: [3, 2] }], { perm: { ints: [1, 0] } });
    g.output(t, 't');
    const out = await run(g, { x: f32([1, 2, 3, 4, 5, 6], [2, 3]) });
    expect(values(out.t)).toEqual([1, 4, 2, 5, 3, 6]);
    const h = new Graph('bad-attr');
    const y = h.input('y', 'float32', [2]);
    h.output(h.node('Softmax', [y], [{ dtype: 'float32', shape: [2] }], { axis: 0.5 })[0]);
    expect(() => h.toBytes()).toThrow("attribute 'axis': use { float } for non-integers");
  });
});

// A small ONNX graph builder. Values carry dtype and shape so that op helpers can infer output shapes
// and VJP rules can undo broadcasting; nodes are appended in topological order by construction, which is
// what lets autodiff walk them backwards without a sort.
import {
  type AttributeProto,
  AttributeProto_AttributeType,
  type ModelProto as ModelMsg,
  ModelProto,
  type NodeProto,
  type TensorProto,
  TensorProto_DataType,
  type ValueInfoProto,
} from '../onnx/gen/onnx.ts';

export type DType = 'float32' | 'float64' | 'int64' | 'int32' | 'bool' | 'uint8';
/** A dimension: a known size, or a symbolic name (dynamic axis in exported graphs). */
export type Dim = number | string;
export type Shape = readonly Dim[];

export interface Value {
  readonly name: string;
  readonly dtype: DType;
  readonly shape: Shape;
}

export type AttrValue = number | string | number[] | { ints: number[] } | { float: number };

export interface GraphNode {
  readonly op: string;
  readonly name: string;
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  readonly attrs: Readonly<Record<string, AttrValue>>;
}

export type TensorData = Float32Array | Float64Array | BigInt64Array | Int32Array | Uint8Array;

interface Initializer {
  readonly value: Value;
  readonly data: TensorData;
}

const ONNX_TYPE: Record<DType, TensorProto_DataType> = {
  float32: TensorProto_DataType.FLOAT,
  float64: TensorProto_DataType.DOUBLE,
  int64: TensorProto_DataType.INT64,
  int32: TensorProto_DataType.INT32,
  bool: TensorProto_DataType.BOOL,
  uint8: TensorProto_DataType.UINT8,
};

export const OPSET = 20;
export const IR_VERSION = 9;

export function isFloat(d: DType): boolean {
  return d === 'float32' || d === 'float64';
}

export function numel(shape: Shape): number {
  let n = 1;
  for (const d of shape) {
    if (typeof d !== 'number') throw new Error(`numel of symbolic shape [${shape.join(',')}]`);
    n *= d;
  }
  return n;
}

export function isStatic(shape: Shape): shape is readonly number[] {
  return shape.every((d) => typeof d === 'number');
}

export class GraphError extends Error {}

export class Graph {
  readonly nodes: GraphNode[] = [];
  readonly inputs: Value[] = [];
  readonly outputs: Value[] = [];
  readonly initializers = new Map<string, Initializer>();
  readonly values = new Map<string, Value>();
  /** name of value -> index of the node that produced it. */
  readonly producer = new Map<string, number>();
  /**
   * Composite ops whose gradient is not the chain of their nodes' rules (see ops.maskedSoftmax): the
   * composite's output name -> the inputs it differentiates to and its VJP. Autodiff applies these in
   * place of the producing node's rule, and the nodes inside the composite get no gradient.
   */
  readonly compositeVjps = new Map<
    string,
    { inputs: readonly Value[]; rule: (g: Graph, dy: Value) => (Value | undefined)[] }
  >();
  private counter = 0;
  private readonly constCache = new Map<string, Value>();
  /** Prefix for generated names; set by model code (`scope`) so nodes read like module paths. */
  prefix = '';

  constructor(readonly name = 'graph') {}

  fresh(hint: string): string {
    return `${this.prefix}${hint}_${this.counter++}`;
  }

  value(name: string): Value {
    const v = this.values.get(name);
    if (!v) throw new GraphError(`unknown value '${name}'`);
    return v;
  }

  private define(v: Value): Value {
    if (this.values.has(v.name)) throw new GraphError(`value '${v.name}' defined twice`);
    this.values.set(v.name, v);
    return v;
  }

  input(name: string, dtype: DType, shape: Shape): Value {
    const v = this.define({ name, dtype, shape: [...shape] });
    this.inputs.push(v);
    return v;
  }

  initializer(name: string, dtype: DType, shape: readonly number[], data: TensorData): Value {
    if (data.length !== numel(shape))
      throw new GraphError(`initializer '${name}': ${data.length} values for shape [${shape}]`);
    const v = this.define({ name, dtype, shape: [...shape] });
    this.initializers.set(name, { value: v, data });
    return v;
  }

  /** A constant tensor, deduplicated by content for small ones so repeated scalars share one initializer. */
  constant(dtype: DType, shape: readonly number[], values: ArrayLike<number> | TensorData): Value {
    const small = values.length <= 16;
    const key = small
      ? `${dtype}|${shape.join(',')}|${Array.from(values as ArrayLike<number>, String).join(',')}`
      : '';
    if (small) {
      const hit = this.constCache.get(key);
      if (hit) return hit;
    }
    const data = toTyped(dtype, values);
    const v = this.initializer(`const_${this.counter++}`, dtype, shape, data);
    if (small) this.constCache.set(key, v);
    return v;
  }

  scalar(x: number, dtype: DType = 'float32'): Value {
    return this.constant(dtype, [], [x]);
  }

  ints(xs: readonly number[]): Value {
    return this.constant('int64', [xs.length], xs);
  }

  /** Append a node; output dtypes/shapes come from the op helper's shape inference. */
  node(
    op: string,
    inputs: readonly (Value | undefined)[],
    outs: readonly { dtype: DType; shape: Shape }[],
    attrs: Record<string, AttrValue> = {},
    names?: readonly string[],
  ): Value[] {
    for (const v of inputs)
      if (v && !this.values.has(v.name)) throw new GraphError(`${op}: input '${v.name}' not in graph`);
    const outputs = outs.map((o, i) =>
      this.define({ name: names?.[i] ?? this.fresh(op.toLowerCase()), ...o }),
    );
    const node: GraphNode = {
      op,
      name: `${this.prefix}${op}_${this.nodes.length}`,
      inputs: inputs.map((v) => v?.name ?? ''),
      outputs: outputs.map((v) => v.name),
      attrs,
    };
    for (const o of outputs) this.producer.set(o.name, this.nodes.length);
    this.nodes.push(node);
    return outputs;
  }

  /** Mark a value as a graph output, renaming it through Identity when a specific name is wanted. */
  output(v: Value, name?: string): Value {
    let out = v;
    if (name && name !== v.name) {
      out =
        this.renameFresh(v, name) ??
        this.node('Identity', [v], [{ dtype: v.dtype, shape: v.shape }], {}, [name])[0];
    }
    this.outputs.push(out);
    return out;
  }

  /**
   * Rename a node output nobody has consumed yet, so a graph output needs no Identity (which ORT
   * executes as a copy; for flat weight/moment outputs that is megabytes per step).
   */
  private renameFresh(v: Value, name: string): Value | undefined {
    const idx = this.producer.get(v.name);
    if (idx === undefined || this.values.has(name)) return undefined;
    if (this.outputs.some((o) => o.name === v.name)) return undefined;
    for (const n of this.nodes) if (n.inputs.includes(v.name)) return undefined;
    const node = this.nodes[idx];
    const renamed: Value = { ...v, name };
    this.nodes[idx] = { ...node, outputs: node.outputs.map((o) => (o === v.name ? name : o)) };
    this.values.delete(v.name);
    this.values.set(name, renamed);
    this.producer.delete(v.name);
    this.producer.set(name, idx);
    return renamed;
  }

  /** Run a block with a name prefix so node and value names read like `h.0.attn.`. */
  scope<T>(name: string, fn: () => T): T {
    const saved = this.prefix;
    this.prefix = `${saved}${name}.`;
    try {
      return fn();
    } finally {
      this.prefix = saved;
    }
  }

  /**
   * Drop nodes (and initializers) that no graph output depends on. VJP rules build a gradient for every
   * float input, constants included (a causal mask's is a reduction over [B, H, T, T]); ORT runs dead
   * nodes rather than removing them, so they are removed here.
   */
  prune(): number {
    const live = new Set(this.outputs.map((o) => o.name));
    const kept: GraphNode[] = [];
    for (let i = this.nodes.length - 1; i >= 0; i--) {
      const n = this.nodes[i];
      if (!n.outputs.some((o) => live.has(o))) continue;
      kept.push(n);
      for (const x of n.inputs) if (x !== '') live.add(x);
    }
    const removed = this.nodes.length - kept.length;
    if (removed > 0) {
      kept.reverse();
      this.nodes.length = 0;
      this.nodes.push(...kept);
      this.producer.clear();
      kept.forEach((n, i) => {
        for (const o of n.outputs) this.producer.set(o, i);
      });
    }
    // Even with every node live, a constant no node reads is dead weight in the file.
    for (const name of [...this.initializers.keys()]) if (!live.has(name)) this.initializers.delete(name);
    for (const [key, v] of this.constCache) if (!this.initializers.has(v.name)) this.constCache.delete(key);
    return removed;
  }

  /** Structural checks that ORT would otherwise report less readably (or by crashing). */
  validate(): void {
    const known = new Set<string>([...this.inputs.map((v) => v.name), ...this.initializers.keys()]);
    const produced = new Set<string>();
    for (const n of this.nodes) {
      if (!KNOWN_OPS.has(n.op)) throw new GraphError(`node '${n.name}': unknown op type '${n.op}'`);
      for (const i of n.inputs) {
        if (i !== '' && !known.has(i))
          throw new GraphError(`node '${n.name}' (${n.op}): input '${i}' is used before it is defined`);
      }
      for (const o of n.outputs) {
        if (known.has(o) || produced.has(o))
          throw new GraphError(`node '${n.name}' (${n.op}): output '${o}' is assigned twice`);
        produced.add(o);
        known.add(o);
      }
      for (const i of n.inputs) {
        const v = i === '' ? undefined : this.values.get(i);
        if (v?.shape.some((d) => typeof d === 'number' && (d < 0 || !Number.isInteger(d)))) {
          throw new GraphError(`node '${n.name}' (${n.op}): input '${i}' has invalid shape [${v.shape}]`);
        }
      }
    }
    if (this.outputs.length === 0) throw new GraphError(`graph '${this.name}' has no outputs`);
    for (const o of this.outputs)
      if (!known.has(o.name)) throw new GraphError(`graph output '${o.name}' is never produced`);
  }

  toProto(): ModelMsg {
    const info = (v: Value): ValueInfoProto => ({
      name: v.name,
      type: {
        value: {
          $case: 'tensorType',
          value: {
            elemType: ONNX_TYPE[v.dtype],
            shape: {
              dim: v.shape.map((d) => ({
                value:
                  typeof d === 'number' ? { $case: 'dimValue', value: d } : { $case: 'dimParam', value: d },
              })),
            },
          },
        },
      },
      metadataProps: [],
    });
    const nodes: NodeProto[] = this.nodes.map((n) => ({
      input: [...n.inputs],
      output: [...n.outputs],
      name: n.name,
      opType: n.op,
      domain: '',
      attribute: Object.entries(n.attrs).map(([k, a]) => toAttr(k, a)),
      metadataProps: [],
    }));
    const inits: TensorProto[] = [...this.initializers.values()].map(({ value, data }) => ({
      name: value.name,
      dims: value.shape as number[],
      dataType: ONNX_TYPE[value.dtype],
      rawData: Buffer.from(data.buffer, data.byteOffset, data.byteLength),
      floatData: [],
      int32Data: [],
      stringData: [],
      int64Data: [],
      doubleData: [],
      uint64Data: [],
      externalData: [],
      metadataProps: [],
    }));
    return {
      irVersion: IR_VERSION,
      opsetImport: [{ domain: '', version: OPSET }],
      producerName: '@lab/engine',
      producerVersion: '0.1.0',
      graph: {
        node: nodes,
        name: this.name,
        initializer: inits,
        input: this.inputs.map(info),
        output: this.outputs.map(info),
        valueInfo: [],
        metadataProps: [],
      },
      metadataProps: [],
    };
  }

  /** Prune, validate, then serialise to ONNX bytes. */
  toBytes(): Uint8Array {
    this.prune();
    this.validate();
    return ModelProto.encode(this.toProto()).finish();
  }
}

function toAttr(name: string, a: AttrValue): AttributeProto {
  const base: AttributeProto = {
    name,
    floats: [],
    ints: [],
    strings: [],
    tensors: [],
    graphs: [],
    typeProtos: [],
  };
  if (typeof a === 'number') {
    if (!Number.isInteger(a)) throw new GraphError(`attribute '${name}': use { float } for non-integers`);
    return { ...base, type: AttributeProto_AttributeType.INT, i: a };
  }
  if (typeof a === 'string') return { ...base, type: AttributeProto_AttributeType.STRING, s: Buffer.from(a) };
  if (Array.isArray(a)) return { ...base, type: AttributeProto_AttributeType.INTS, ints: a };
  if ('float' in a) return { ...base, type: AttributeProto_AttributeType.FLOAT, f: a.float };
  return { ...base, type: AttributeProto_AttributeType.INTS, ints: a.ints };
}

export function toTyped(dtype: DType, values: ArrayLike<number> | TensorData): TensorData {
  switch (dtype) {
    case 'float32':
      return values instanceof Float32Array ? values : Float32Array.from(values as ArrayLike<number>);
    case 'float64':
      return values instanceof Float64Array ? values : Float64Array.from(values as ArrayLike<number>);
    case 'int64':
      return values instanceof BigInt64Array
        ? values
        : BigInt64Array.from(Array.from(values as ArrayLike<number>, (x) => BigInt(x)));
    case 'int32':
      return values instanceof Int32Array ? values : Int32Array.from(values as ArrayLike<number>);
    case 'bool':
    case 'uint8':
      return values instanceof Uint8Array ? values : Uint8Array.from(values as ArrayLike<number>);
  }
}

/** Ops the builder may emit; validate() rejects anything else so typos fail before ORT sees them. */
export const KNOWN_OPS = new Set([
  'Add',
  'Sub',
  'Mul',
  'Div',
  'Neg',
  'Exp',
  'Log',
  'Sqrt',
  'Tanh',
  'Erf',
  'Relu',
  'Sigmoid',
  'Pow',
  'Reciprocal',
  'Sin',
  'Cos',
  'MatMul',
  'Gemm',
  'Transpose',
  'Reshape',
  'Softmax',
  'LayerNormalization',
  'Gelu',
  'Gather',
  'ScatterND',
  'Slice',
  'Pad',
  'Concat',
  'Split',
  'Where',
  'ReduceSum',
  'ReduceMean',
  'ReduceSumSquare',
  'ReduceMax',
  'Cast',
  'Expand',
  'Identity',
  'SoftmaxCrossEntropyLoss',
  'Unsqueeze',
  'Squeeze',
  'Equal',
  'Greater',
  'Less',
  'Not',
  'And',
  'Range',
  'OneHot',
  'Shape',
  'ConstantOfShape',
  'Min',
  'Max',
  'Abs',
  'Trilu',
  'TopK',
  'ArgMax',
  'Clip',
  'Sum',
]);

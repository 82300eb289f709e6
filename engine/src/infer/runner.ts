// Runs of the decoding graph with the weights bound once. Two implementations:
// - CRunner, ORT's C API (runtime/bound.ts): every OrtValue is made over the caller's memory, so ORT reads
//   the weights where they lie (a mapped file, the caller's Float32Array) and writes each output where the
//   caller says, including into the KV buffer it reads as past (GroupQueryAttention appends in place).
//   Runs may overlap (ORT sessions take concurrent Run calls); each makes and frees its own values.
// - NodeRunner, onnxruntime-node, where the C API is unavailable: outputs come back as new arrays.
import {
  type Api,
  createCSession,
  loadApi,
  out,
  type Pointer,
  type SharedInitializers,
} from '../runtime/bound.ts';
import { createSession, ort, resolveEp, type Session, type SessionOptions } from '../runtime/session.ts';
import type { ExternalInitializer } from './decode-graph.ts';

export type TensorData = Float32Array | BigInt64Array | Int32Array | Uint8Array;

export interface TensorIn {
  data: TensorData;
  dims: readonly number[];
  /**
   * Bind once and reuse while `data` lives (KV buffers, fed every run of a sequence): making and freeing
   * an OrtValue through koffi costs 4–8 µs, 54 of them per GPT-2 small token. `data` must always come
   * with the same dims.
   */
  keep?: boolean;
}

export interface Runner {
  /** Whether outputs are written into buffers the caller passes (and so may alias an input). */
  readonly inPlace: boolean;
  /**
   * Run with `feeds` (weights are bound already) and return the fetched outputs. With `inPlace`, every
   * fetch must carry its buffer and the results are those buffers; otherwise buffers are ignored.
   */
  run(
    feeds: Readonly<Record<string, TensorIn>>,
    fetches: Readonly<Record<string, TensorIn | undefined>>,
  ): Promise<Record<string, Float32Array>>;
  release(): Promise<void>;
}

function elementType(data: TensorData): number {
  if (data instanceof Float32Array) return 1;
  if (data instanceof BigInt64Array) return 7;
  if (data instanceof Uint8Array) return 2;
  return 6;
}

class CRunner implements Runner {
  readonly inPlace = true;
  private readonly inflight = new Set<Promise<unknown>>();
  private released = false;
  /** Values of `keep` tensors, freed after their array is collected (a value does not outlive its memory). */
  private readonly kept = new WeakMap<TensorData, Pointer>();
  private readonly registry = new FinalizationRegistry<Pointer>((v) => this.api.releaseValue(v));

  constructor(
    private readonly api: Api,
    private readonly session: Pointer,
    private readonly weightNames: readonly string[],
    private readonly weightValues: readonly Pointer[],
    /**
     * The arrays the weight values point into: held for the runner's life, since ORT reads their memory
     * and a caller's temporary array would otherwise be collected under it (garbage or NaN logits).
     */
    readonly weightArrays: ReadonlyMap<string, TensorIn>,
  ) {}

  static async create(
    api: Api,
    model: Uint8Array,
    weights: ReadonlyMap<string, TensorIn>,
    opts: SessionOptions,
    shared?: SharedInitializers,
  ): Promise<CRunner> {
    const session = await createCSession(api, model, opts, shared);
    const names = [...weights.keys()];
    const values = names.map((n) => value(api, weights.get(n)!));
    return new CRunner(api, session, names, values, weights);
  }

  async run(
    feeds: Readonly<Record<string, TensorIn>>,
    fetches: Readonly<Record<string, TensorIn | undefined>>,
  ): Promise<Record<string, Float32Array>> {
    if (this.released) throw new Error('inference model released');
    const made: Pointer[] = [];
    const make = (t: TensorIn): Pointer => {
      if (t.keep) {
        let v = this.kept.get(t.data);
        if (!v) {
          v = value(this.api, t);
          this.kept.set(t.data, v);
          this.registry.register(t.data, v);
        }
        return v;
      }
      const v = value(this.api, t);
      made.push(v);
      return v;
    };
    try {
      const feedNames = Object.keys(feeds);
      const inNames = [...this.weightNames, ...feedNames];
      const inValues = [...this.weightValues, ...feedNames.map((n) => make(feeds[n]))];
      const outNames = Object.keys(fetches);
      const outValues = outNames.map((n) => {
        const t = fetches[n];
        if (!t) throw new Error(`output '${n}' needs a buffer`);
        return make(t);
      });
      const done = new Promise<Pointer>((resolve, reject) => {
        this.api.run.async(
          this.session,
          null,
          inNames,
          inValues,
          inNames.length,
          outNames,
          outNames.length,
          outValues,
          (err: unknown, status: Pointer) => (err ? reject(err) : resolve(status)),
        );
      });
      this.inflight.add(done);
      const status = await done.finally(() => this.inflight.delete(done));
      this.api.check(status);
      return Object.fromEntries(outNames.map((n) => [n, fetches[n]!.data as Float32Array]));
    } finally {
      for (const v of made) this.api.releaseValue(v);
    }
  }

  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    // ORT must not free a session (or the weights' values) while a run still uses them.
    await Promise.allSettled([...this.inflight]);
    for (const v of this.weightValues) this.api.releaseValue(v);
    this.api.releaseSession(this.session);
  }
}

/** An OrtValue over t's own memory (no copy). */
function value(api: Api, t: TensorIn): Pointer {
  // V8 keeps typed arrays of up to 64 bytes inside its heap, where a collection may move them; asking for
  // the buffer moves the data to a fixed off-heap store, whose address ORT can keep.
  void t.data.buffer;
  return out(
    (o) =>
      api.createTensor(
        api.memory,
        t.data,
        t.data.byteLength,
        BigInt64Array.from(t.dims, BigInt),
        t.dims.length,
        elementType(t.data),
        o,
      ),
    api.check,
  );
}

class NodeRunner implements Runner {
  readonly inPlace = false;

  constructor(
    private readonly session: Session,
    private readonly weights: Readonly<Record<string, ort.Tensor>>,
  ) {}

  async run(
    feeds: Readonly<Record<string, TensorIn>>,
    fetches: Readonly<Record<string, TensorIn | undefined>>,
  ): Promise<Record<string, Float32Array>> {
    const all: Record<string, ort.Tensor> = { ...this.weights };
    for (const [n, t] of Object.entries(feeds)) all[n] = tensor(t);
    const res = await this.session.run(all, Object.keys(fetches));
    return Object.fromEntries(Object.keys(fetches).map((n) => [n, res[n].data as Float32Array]));
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}

function tensor(t: TensorIn): ort.Tensor {
  if (t.data instanceof Float32Array) return new ort.Tensor('float32', t.data, t.dims);
  if (t.data instanceof BigInt64Array) return new ort.Tensor('int64', t.data, t.dims);
  if (t.data instanceof Uint8Array) return new ort.Tensor('uint8', t.data, t.dims);
  return new ort.Tensor('int32', t.data, t.dims);
}

/** The C API where createRunner uses it for these options (CPU, outputs bound, no profiling), else null. */
export async function runnerApi(opts: SessionOptions & { inPlace?: boolean }): Promise<Api | null> {
  return opts.inPlace !== false && resolveEp(opts.ep) === 'cpu' && opts.profilePrefix === undefined
    ? loadApi()
    : null;
}

/**
 * A runner for `model` with `weights` bound: the C API on CPU where it loads, onnxruntime-node elsewhere.
 * `shared` (from shareInitializers) needs the C API: its graph declares initializers it does not hold.
 */
export async function createRunner(
  model: Uint8Array,
  weights: ReadonlyMap<string, TensorIn>,
  opts: SessionOptions & { inPlace?: boolean; shared?: SharedInitializers },
): Promise<Runner> {
  const api = await runnerApi(opts);
  if (api) return CRunner.create(api, model, weights, opts, opts.shared);
  if (opts.shared) throw new Error("shared initializers need ONNX Runtime's C API (CPU, Linux)");
  const bound = Object.fromEntries([...weights].map(([n, t]) => [n, tensor(t)]));
  return new NodeRunner(await createSession(model, opts), bound);
}

/** Initializers made shareable by shareInitializers; `shared.files` keeps their memory reachable. */
export interface Sharing {
  shared: SharedInitializers;
  /** Free the values and the container, once every session using them is released. */
  release(): void;
}

/**
 * OrtValues over `initializers` for sessions to share (runtime/bound.ts, SharedInitializers), with a
 * prepacked-weights container.
 */
export function shareInitializers(api: Api, initializers: readonly ExternalInitializer[]): Sharing {
  const values = new Map<string, Pointer>();
  let container: Pointer | undefined;
  const release = () => {
    for (const v of values.values()) api.releaseValue(v);
    values.clear();
    if (container) api.releasePrepackedWeightsContainer(container);
    container = undefined;
  };
  try {
    const files: { name: string; bytes: Uint8Array }[] = [];
    for (const i of initializers) {
      values.set(i.name, value(api, { data: i.data, dims: i.dims }));
      files.push({
        name: i.name,
        bytes: new Uint8Array(i.data.buffer, i.data.byteOffset, i.data.byteLength),
      });
    }
    container = out((o) => api.createPrepackedWeightsContainer(o), api.check);
    return { shared: { files, values, container }, release };
  } catch (e) {
    release();
    throw e;
  }
}

// Sessions whose inputs and outputs stay bound to the caller's memory, run through ONNX Runtime's C API
// (the libonnxruntime that onnxruntime-node ships, called with koffi). Why: onnxruntime-node copies every
// output into a new ArrayBuffer on each run, even when the caller passed a buffer for it. A training step
// returns the weights and both AdamW moments, so for nanogpt-cpu that is 9.7 MB allocated, zeroed and copied
// per step, and a full garbage collection every two or three steps; its step took 63.1 ms against 56.5 ms for
// the same graph with those outputs reduced to scalars (interleaved, median of 12 rounds of 10 runs).
// Here ORT writes straight into the caller's buffers and nothing is copied. CPU only, and every output the
// caller wants must come with its buffer: other uses go through createSession.
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { ModelProto } from '../onnx/gen/onnx.ts';
import { type ort, resolveEp, type SessionOptions, sessionSettings } from './session.ts';

type Feeds = Record<string, ort.Tensor>;
export type Pointer = unknown;
type Fn = (...args: unknown[]) => unknown;
interface AsyncFn extends Fn {
  async(...args: unknown[]): void;
}

/**
 * C API version asked for. The slot numbers below are OrtApi member indices in onnxruntime_c_api.h; ORT
 * only appends members, so every library that offers this version has them where they are.
 */
const API_VERSION = 23;
export const ELEMENT_TYPE: Partial<Record<ort.Tensor.Type, number>> = {
  float32: 1,
  uint8: 2,
  int64: 7,
  int32: 6,
  float64: 11,
};
const OPT_LEVEL = { disabled: 0, basic: 1, extended: 2, all: 99 } as const;

export interface Api {
  check(status: Pointer): void;
  createEnv: Fn;
  createSessionFromArray: AsyncFn;
  run: AsyncFn;
  createSessionOptions: Fn;
  setExecutionMode: Fn;
  setOptLevel: Fn;
  setIntraOpThreads: Fn;
  setInterOpThreads: Fn;
  createTensor: Fn;
  createCpuMemoryInfo: Fn;
  addConfigEntry: Fn;
  releaseSession: Fn;
  releaseValue: Fn;
  releaseSessionOptions: Fn;
  addInitializer: Fn;
  addExternalFilesInMemory: Fn;
  registerCustomOpsLibrary: Fn;
  createPrepackedWeightsContainer: Fn;
  releasePrepackedWeightsContainer: Fn;
  createSessionFromArrayWithContainer: AsyncFn;
  env: Pointer;
  memory: Pointer;
}

let api: Api | null | undefined;
let unavailable = '';

/** The C API, loaded once; null (with the reason in `unavailable`) where it cannot be. */
export async function loadApi(): Promise<Api | null> {
  if (api !== undefined) return api;
  try {
    if (process.platform !== 'linux') throw new Error(`not on ${process.platform}`);
    const koffi = (await import('koffi')).default;
    const req = createRequire(import.meta.url);
    const root = dirname(req.resolve('onnxruntime-node/package.json'));
    const lib = koffi.load(join(root, 'bin/napi-v6/linux', process.arch, 'libonnxruntime.so.1'));
    const base = koffi.decode(lib.func('void * OrtGetApiBase()')(), koffi.array('void *', 2)) as Pointer[];
    const table = koffi.call(base[0], koffi.proto('void * GetApi(uint32_t)'), API_VERSION);
    if (!table) throw new Error(`ONNX Runtime does not offer C API version ${API_VERSION}`);
    const slots = koffi.decode(table, koffi.array('void *', 280)) as Pointer[];
    const fn = (slot: number, signature: string): AsyncFn =>
      koffi.decode(slots[slot], koffi.proto(signature)) as AsyncFn;
    const getErrorMessage = fn(2, 'const char * GetErrorMessage(void *)');
    const releaseStatus = fn(93, 'void ReleaseStatus(void *)');
    const check = (status: Pointer): void => {
      if (!status) return;
      const message = String(getErrorMessage(status));
      releaseStatus(status);
      throw new Error(message);
    };
    const partial = {
      check,
      createEnv: fn(3, 'void * CreateEnv(int, const char *, _Out_ void **)'),
      createSessionFromArray: fn(
        8,
        'void * CreateSessionFromArray(void *, const void *, size_t, void *, _Out_ void **)',
      ),
      run: fn(
        9,
        'void * Run(void *, void *, const char **, void **, size_t, const char **, size_t, void **)',
      ),
      createSessionOptions: fn(10, 'void * CreateSessionOptions(_Out_ void **)'),
      setExecutionMode: fn(13, 'void * SetSessionExecutionMode(void *, int)'),
      setOptLevel: fn(23, 'void * SetSessionGraphOptimizationLevel(void *, int)'),
      setIntraOpThreads: fn(24, 'void * SetIntraOpNumThreads(void *, int)'),
      setInterOpThreads: fn(25, 'void * SetInterOpNumThreads(void *, int)'),
      createTensor: fn(
        49,
        'void * CreateTensorWithDataAsOrtValue(void *, void *, size_t, const int64_t *, size_t, int, _Out_ void **)',
      ),
      createCpuMemoryInfo: fn(69, 'void * CreateCpuMemoryInfo(int, int, _Out_ void **)'),
      releaseSession: fn(95, 'void ReleaseSession(void *)'),
      releaseValue: fn(96, 'void ReleaseValue(void *)'),
      releaseSessionOptions: fn(100, 'void ReleaseSessionOptions(void *)'),
      addConfigEntry: fn(130, 'void * AddSessionConfigEntry(void *, const char *, const char *)'),
      addInitializer: fn(150, 'void * AddInitializer(void *, const char *, void *)'),
      createPrepackedWeightsContainer: fn(166, 'void * CreatePrepackedWeightsContainer(_Out_ void **)'),
      releasePrepackedWeightsContainer: fn(167, 'void ReleasePrepackedWeightsContainer(void *)'),
      createSessionFromArrayWithContainer: fn(
        169,
        'void * CreateSessionFromArrayWithPrepackedWeightsContainer(void *, const void *, size_t, void *, void *, _Out_ void **)',
      ),
      registerCustomOpsLibrary: fn(228, 'void * RegisterCustomOpsLibrary_V2(void *, const char *)'),
      addExternalFilesInMemory: fn(
        279,
        'void * AddExternalInitializersFromFilesInMemory(void *, const char **, void **, size_t *, size_t)',
      ),
    };
    // ORT keeps one environment per process: this returns the one onnxruntime-node made (warning level).
    const env = out((o) => partial.createEnv(2, 'lab', o), check);
    const memory = out((o) => partial.createCpuMemoryInfo(0, 0, o), check);
    api = { ...partial, env, memory };
  } catch (e) {
    unavailable = e instanceof Error ? e.message : String(e);
    api = null;
  }
  return api;
}

/** Call a C function whose last argument is an out-pointer; returns what it wrote there. */
export function out(call: (o: Pointer[]) => Pointer, check: (s: Pointer) => void): Pointer {
  const o: Pointer[] = [null];
  check(call(o));
  return o[0];
}

/** Why bound sessions are unavailable, or '' when they are (after a first BoundSession.create). */
export function boundUnavailable(): string {
  return unavailable;
}

/** A tensor's OrtValue over its own memory (the map holding it keeps the tensor, and so the memory, alive). */
interface Bound {
  value: Pointer;
  lastRun: number;
}

/**
 * Initializers a graph declares as external data and ORT takes from the caller's memory instead
 * (AddInitializer): nothing is serialised into the graph, parsed or copied per session, and every session
 * reads the same bytes (a mapped file's pages). Why: a quantised GPT-2 small graph embedding its 139 MB
 * of int8 codes took 1.9 s to serialise and 1.3 s per session to create; declared external, 0.4 s.
 */
export interface SharedInitializers {
  /**
   * The external-data files the graph's references name, in memory: ORT checks the references against
   * them when it loads the graph (a model from bytes may not name files on disk).
   */
  files: readonly { name: string; bytes: Uint8Array }[];
  /** An OrtValue over the caller's memory per initializer, kept alive longer than every session. */
  values: ReadonlyMap<string, Pointer>;
  /**
   * Where sessions share what their kernels prepack from these initializers (MatMulNBits' repacked codes):
   * one copy for all sessions instead of one each. Each session still runs PrePack (ORT compares its
   * result with the shared copy's hash), so it saves memory, not time.
   */
  container?: Pointer;
}

/**
 * An OrtSession for `model` with the settings createSession would use on CPU. Graph optimisation can take
 * seconds, so the session is created on a worker thread, off the event loop.
 */
export async function createCSession(
  a: Api,
  model: Uint8Array,
  opts: SessionOptions,
  shared?: SharedInitializers,
): Promise<Pointer> {
  const settings = sessionSettings(opts);
  const options = out((o) => a.createSessionOptions(o), a.check);
  try {
    a.check(a.setExecutionMode(options, 0));
    a.check(a.setOptLevel(options, OPT_LEVEL[settings.optLevel]));
    a.check(a.setIntraOpThreads(options, settings.threads));
    a.check(a.setInterOpThreads(options, 1));
    for (const [k, v] of Object.entries(settings.config)) a.check(a.addConfigEntry(options, k, v));
    if (opts.opsLibrary) a.check(a.registerCustomOpsLibrary(options, opts.opsLibrary));
    if (shared) {
      const { files } = shared;
      a.check(
        a.addExternalFilesInMemory(
          options,
          files.map((f) => f.name),
          files.map((f) => f.bytes),
          files.map((f) => BigInt(f.bytes.byteLength)),
          files.length,
        ),
      );
      for (const [n, v] of shared.values) a.check(a.addInitializer(options, n, v));
    }
    const o: Pointer[] = [null];
    const status = await new Promise<Pointer>((resolve, reject) => {
      const done = (err: unknown, res: Pointer) => (err ? reject(err) : resolve(res));
      if (shared?.container)
        a.createSessionFromArrayWithContainer.async(
          a.env,
          model,
          model.byteLength,
          options,
          shared.container,
          o,
          done,
        );
      else a.createSessionFromArray.async(a.env, model, model.byteLength, options, o, done);
    });
    a.check(status);
    return o[0];
  } catch (e) {
    throw new Error(`ONNX Runtime rejected graph: ${e instanceof Error ? e.message : String(e)}`);
  } finally {
    a.releaseSessionOptions(options);
  }
}

export class BoundSession {
  private readonly bound = new Map<ort.Tensor, Bound>();
  private runs = 0;
  private released = false;
  /** The run on the worker thread, if any: release waits for it (ORT must not free a running session). */
  private inflight: Promise<Pointer> | undefined;

  private constructor(
    private readonly api: Api,
    private readonly session: Pointer,
    readonly inputNames: readonly string[],
    readonly outputNames: readonly string[],
  ) {}

  /**
   * A BoundSession for `model` with the settings createSession would use on CPU, or null where bound
   * sessions are unavailable (not Linux, koffi or the C API missing) or the options need onnxruntime-node
   * (another execution provider, profiling).
   */
  static async create(model: Uint8Array, opts: SessionOptions = {}): Promise<BoundSession | null> {
    if (resolveEp(opts.ep) !== 'cpu' || opts.profilePrefix !== undefined) return null;
    const a = await loadApi();
    if (!a) return null;
    const session = await createCSession(a, model, opts);
    const graph = ModelProto.decode(model).graph;
    const inits = new Set(graph?.initializer.map((i) => i.name ?? ''));
    const inputs = (graph?.input ?? []).map((i) => i.name ?? '').filter((n) => !inits.has(n));
    return new BoundSession(
      a,
      session,
      inputs,
      (graph?.output ?? []).map((o) => o.name ?? ''),
    );
  }

  /**
   * Run with every output written into the matching `fetches` tensor; outputs not in `fetches` are not
   * computed. Resolves to `fetches`. The run happens on a worker thread, so the event loop stays free.
   */
  async run(feeds: Feeds, fetches: Feeds): Promise<Feeds> {
    if (this.released) throw new Error('session released');
    const run = ++this.runs;
    const inputs = this.inputNames.map((name) => {
      const t = feeds[name];
      if (!t) throw new Error(`input '${name}' is missing in feeds`);
      return this.valueOf(t, run);
    });
    const names = this.outputNames.filter((name) => fetches[name]);
    const outputs = names.map((name) => this.valueOf(fetches[name], run));
    const done = new Promise<Pointer>((resolve, reject) => {
      this.api.run.async(
        this.session,
        null,
        this.inputNames,
        inputs,
        inputs.length,
        names,
        names.length,
        outputs,
        (err: unknown, res: Pointer) => (err ? reject(err) : resolve(res)),
      );
    });
    this.inflight = done;
    const status = await done.finally(() => {
      this.inflight = undefined;
    });
    this.api.check(status);
    this.forget(run);
    return fetches;
  }

  /**
   * The tensor's bound value. Values stay bound while their tensor was used in one of the last two runs:
   * the trainer alternates between two sets of weight views, so a steady loop binds nothing new.
   */
  private valueOf(t: ort.Tensor, run: number): Pointer {
    const known = this.bound.get(t);
    if (known) {
      known.lastRun = run;
      return known.value;
    }
    const type = ELEMENT_TYPE[t.type];
    if (type === undefined)
      throw new Error(`bound sessions take float32/uint8/int32/int64/float64, got ${t.type}`);
    const data = t.data as Float32Array;
    // V8 keeps typed arrays of up to 64 bytes inside its heap, where a collection may move them; asking
    // for the buffer moves the data to a fixed off-heap store, whose address ORT can keep.
    void data.buffer;
    const value = out(
      (o) =>
        this.api.createTensor(
          this.api.memory,
          data,
          data.byteLength,
          t.dims.map((d) => BigInt(d)),
          t.dims.length,
          type,
          o,
        ),
      this.api.check,
    );
    this.bound.set(t, { value, lastRun: run });
    return value;
  }

  private forget(run: number): void {
    for (const [t, b] of this.bound) {
      if (b.lastRun >= run - 1) continue;
      this.api.releaseValue(b.value);
      this.bound.delete(t);
    }
  }

  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    await this.inflight?.catch(() => undefined);
    for (const b of this.bound.values()) this.api.releaseValue(b.value);
    this.bound.clear();
    this.api.releaseSession(this.session);
  }
}

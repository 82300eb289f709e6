// A loaded model that many requests decode with at once: ORT sessions over the decoding graph
// (decode-graph.ts, sessions.ts) with the weights bound once, and per-request KV caches as immutable
// snapshots (kv-cache.ts). Loading builds a small graph and binds the weights where they already are, so
// nothing is constant-folded or serialised, and the model is ready at once; the copies of weights in
// faster layouts are made afterwards, in the background, and runs move to them when they are done.
import type { ModelConfig } from '../models/config.ts';
import { paramLayout, paramSpecs } from '../models/model.ts';
import type { SessionOptions } from '../runtime/session.ts';
import { canFuseAttention } from './attention.ts';
import { buildDecodeGraph } from './decode-graph.ts';
import { capacityFor, type KvCache, KvStore, kvBytesPerToken, Snapshot } from './kv-cache.ts';
import { type MappedFile, pagesAvailable, pagesLoaded } from './mmap.ts';
import {
  checkDecodeFormat,
  type DecodeFormat,
  type QuantizedWeights,
  quantizeForDecoding,
} from './quantized.ts';
import type { TensorIn } from './runner.ts';
import { Sessions } from './sessions.ts';

export interface InferenceOptions extends SessionOptions {
  /** Longest run (tokens) given to ORT at once; longer inputs go in chunks (bounded activations). Default 256. */
  maxChunk?: number;
  /**
   * Attention: 'fused' (GroupQueryAttention, head sizes that are multiples of 8; the default where it
   * applies) or 'plain' (standard ops over Concat(past, new), which copies the cache every run).
   */
  attention?: 'fused' | 'plain';
  /**
   * Let ORT append to KV buffers in place (default true; needs fused attention and the C API). False
   * copies the cache into a new buffer every run, as the exported graph does.
   */
  inPlace?: boolean;
  /**
   * Keep sessions with 2 spinning threads, 2 threads without spinning and 1 thread (they share the
   * weights, so each costs only its small graph) and decode with the fastest, re-measured as the machine
   * gets busier or quieter (runtime/adaptive.ts). Default: on unless `threads` is given.
   */
  adaptive?: boolean;
  /**
   * Read weights in the layouts MLAS streams fastest (see DecodeGraphOptions.fastLayouts), copying those
   * stored otherwise at load: the head always, and GPT-2's linear layers (Conv1D, [in, out]). Default
   * true; false uses every weight where it lies (no copy, slower decoding).
   */
  fastLayouts?: boolean;
  /**
   * Once the fast layouts exist, decode one token per run with lab.engine::Linear, the engine's own kernel
   * for one-row linear layers (engine/native/linear.c; GPT-2 small decoded at 1.0–1.3× ORT's Gemm here),
   * and lab.engine::Attention (native/attention.c), where their library builds and loads (a C compiler,
   * ORT's C API); prompts keep ORT's Gemm and GroupQueryAttention. Default true; float32 weights only. See
   * InferenceModel.labKernel.
   */
  labOps?: boolean;
  /**
   * Decode with the linear layers and the head quantised (int8 or int4, block `quantBlockSize`), through
   * ORT's MatMulNBits; the weights are quantised at load (loadInferenceModel: on a worker thread, or read
   * from `quantCache`). Embeddings, norms and biases stay float32.
   */
  quantize?: DecodeFormat;
  /** Block of the quantisation (default 32: MatMulNBits' int8 and int4 kernels with int8 compute). */
  quantBlockSize?: number;
  /**
   * A folder where loadInferenceModel keeps quantised weights between loads (infer/quant-cache.ts): the
   * first load of a model folder in a format writes them, later loads map them. None: quantise every load.
   */
  quantCache?: string;
}

/** Quantised weights made before the model (loadInferenceModel), instead of quantising in fromTensors. */
export interface PreparedQuantized {
  weights: QuantizedWeights;
  /** Whether they were read from InferenceOptions.quantCache rather than quantised by this load. */
  fromCache: boolean;
  /** The cache file they are (or were written to), if any. */
  cachePath?: string;
  /** The mapping they point into, closed with the model. */
  file?: MappedFile;
}

export interface RunOptions {
  /** Return the logits of every new position [tokens × vocab], not only the last [vocab]. */
  allPositions?: boolean;
  /**
   * Receive the logits chunk by chunk instead ([rows × vocab], `first` = index of the first row among
   * the new tokens); memory then stays bounded for any prompt length. The result holds the last row.
   */
  onLogits?: (rows: Float32Array, first: number) => void;
  /**
   * Write the last position's logits into this array [vocab] and return it as the result's logits, instead
   * of a new array per run: for decoding loops that are done with one token's logits before the next run
   * (a new 201 KB array per GPT-2 token drove a full garbage collection every ~25 tokens). Not with
   * allPositions or onLogits.
   */
  into?: Float32Array;
}

export interface RunResult {
  /** Logits of the last new position [vocab], or of all new positions [tokens × vocab] when asked. */
  logits: Float32Array;
  /** The cache after these tokens. */
  cache: KvCache;
}

/** What a loaded model occupies, for a memory budget. */
export interface ModelMemory {
  /** The parameters: mapped file pages, or the caller's array. */
  parameters: number;
  /** Copies of weights in faster layouts (made after load, see InferenceModel.ready). */
  copies: number;
  /**
   * Quantised weights (InferenceOptions.quantize) as ONNX Runtime holds them: the initializers and the
   * copy MatMulNBits repacks per session. The float32 weights they replace are not counted in
   * `parameters` (mapped pages the kernel may drop).
   */
  quantized: number;
  /** ONNX Runtime's activations for one run of the longest chunk (an estimate). */
  workspace: number;
  /** KV cache per token of a request. */
  kvPerToken: number;
  /** parameters + copies + quantized + workspace: the model loaded and idle. */
  total: number;
}

export class InferenceModel {
  private released = false;
  /** Whether KV stores are mappings touched only where written (see kv-cache.ts). */
  private readonly lazyKv: boolean;
  private readonly upgrade: Promise<void>;
  /** The quantisation decoding runs on (InferenceOptions.quantize), if any. */
  quantization?: {
    format: DecodeFormat;
    blockSize: number;
    /** Bytes of codes and scales. */
    bytes: number;
    /** Bytes of the float32 weights they replace. */
    replaced: number;
    /** Whether they were read from InferenceOptions.quantCache (else quantised by this load). */
    fromCache: boolean;
    /** Their cache file, when InferenceOptions.quantCache was given and the file could be written. */
    cachePath?: string;
  };
  /** The mapped quantised weights, closed after the sessions. */
  private quantFile?: MappedFile;

  private constructor(
    readonly cfg: ModelConfig,
    /** The sessions runs start on: the first ones, then those reading fast layouts once made. */
    private sessions: Sessions,
    /** Whether ORT appends to the KV buffers in place (fused attention, outputs bound to our memory). */
    readonly inPlace: boolean,
    readonly memory: ModelMemory,
    private readonly maxChunk: number,
    private readonly file: MappedFile | undefined,
    upgrade: (() => Promise<Sessions>) | undefined,
  ) {
    this.lazyKv = pagesLoaded();
    this.upgrade = upgrade ? this.switchTo(upgrade) : Promise.resolve();
  }

  /** The threading decoding uses now (see InferenceOptions.adaptive). */
  get threading(): string {
    return this.sessions.threading;
  }

  /** The lab.engine::Linear kernel decoding uses now ('avx512', 'avx2', 'scalar'), or undefined (ORT's Gemm). */
  get labKernel(): string | undefined {
    return this.sessions.labKernel;
  }

  /** Whether the weights are a mapped file (page-cache pages, shared with other readers of the file). */
  get mapped(): boolean {
    return this.file !== undefined;
  }

  /** Whether the weights are read in their fast layouts yet (see InferenceOptions.fastLayouts). */
  get fast(): boolean {
    return this.sessions.copiedBytes > 0 || this.memory.copies === 0;
  }

  /**
   * Resolves once decoding reads the fast layouts (InferenceOptions.fastLayouts), or once that is known
   * not to happen (not wanted, nothing to copy, or the copies failed: decoding then stays as it was),
   * and, quantised, once every threading variant's session exists (InferenceOptions.adaptive).
   */
  ready(): Promise<void> {
    return this.upgrade.then(() => this.sessions.ready());
  }

  /** A model over `params` in paramLayout(cfg) order; the array is used in place and must stay unchanged. */
  static async create(
    cfg: ModelConfig,
    params: Float32Array,
    opts: InferenceOptions = {},
    prepared?: PreparedQuantized,
  ): Promise<InferenceModel> {
    const layout = paramLayout(cfg);
    if (params.length !== layout.total)
      throw new Error(`params: ${params.length} values, the layout of this config has ${layout.total}`);
    const weights = new Map<string, Float32Array>();
    for (const e of layout.entries) weights.set(e.name, params.subarray(e.offset, e.offset + e.size));
    return InferenceModel.fromTensors(cfg, weights, opts, undefined, prepared);
  }

  /**
   * A model over named tensors (Hugging Face names, paramSpecs(cfg) shapes), used in place; `mapped` is
   * closed when the model is released. It is ready once sessions read the weights as they are; the
   * copies in fast layouts are made after that, in the background (see ready()). With
   * InferenceOptions.quantize, `prepared` holds the quantised weights if they were made already (their
   * mapping is then the model's to close); otherwise they are quantised here, on the calling thread.
   */
  static async fromTensors(
    cfg: ModelConfig,
    tensors: ReadonlyMap<string, Float32Array>,
    opts: InferenceOptions = {},
    mapped?: MappedFile,
    prepared?: PreparedQuantized,
  ): Promise<InferenceModel> {
    await pagesAvailable();
    const fuse = (opts.attention ?? 'fused') === 'fused' && canFuseAttention(cfg);
    const base = {
      ...opts,
      fuse,
      inPlace: fuse && opts.inPlace !== false,
      adaptive: opts.adaptive ?? opts.threads === undefined,
    };
    if (prepared && prepared.weights.format !== (opts.quantize && checkDecodeFormat(opts.quantize)))
      throw new Error(
        `quantize: prepared weights are ${prepared.weights.format}, asked for ${opts.quantize}`,
      );
    const quantized = opts.quantize
      ? (prepared?.weights ?? quantizeForDecoding(cfg, tensors, opts.quantize, opts.quantBlockSize))
      : undefined;
    const sessions = await Sessions.create(cfg, tensors, {
      ...base,
      fastLayouts: false,
      quantized: quantized?.tensors,
      // Each session repacks the quantised weights (~0.6 s for GPT-2 small int8): the first decodes
      // while the other threadings are made (see ready()).
      laterVariants: quantized !== undefined,
    });
    const maxChunk = Math.max(1, opts.maxChunk ?? 256);
    // Only where outputs are bound (the C API): the copies are made by an ORT session off the event loop.
    // Quantised linear layers and head have no float32 layout to copy.
    const copies = opts.fastLayouts !== false && sessions.inPlace && !quantized ? copiedBytes(cfg, fuse) : 0;
    const memory = estimateMemory(
      cfg,
      copies,
      maxChunk,
      quantized && {
        // The codes and scales, and what MatMulNBits repacks them into: one copy shared by the sessions
        // (a prepacked-weights container) or one per session.
        bytes: quantized.bytes * (1 + (sessions.sharedPrepack ? 1 : sessions.planned)),
        replaced: quantized.replaced,
      },
    );
    const upgrade =
      copies > 0 ? () => Sessions.create(cfg, tensors, { ...base, fastLayouts: true }) : undefined;
    const model = new InferenceModel(
      cfg,
      sessions,
      fuse && sessions.inPlace,
      memory,
      maxChunk,
      mapped,
      upgrade,
    );
    if (quantized)
      model.quantization = {
        format: quantized.format,
        blockSize: quantized.blockSize,
        bytes: quantized.bytes,
        replaced: quantized.replaced,
        fromCache: prepared?.fromCache ?? false,
        ...(prepared?.cachePath ? { cachePath: prepared.cachePath } : {}),
      };
    model.quantFile = prepared?.file;
    return model;
  }

  /** Make the fast sessions, start new runs on them, then release the first ones after their runs. */
  private async switchTo(make: () => Promise<Sessions>): Promise<void> {
    let next: Sessions;
    try {
      next = await make();
    } catch {
      // Decoding goes on reading the weights as they are; ready() reports nothing more.
      return;
    }
    if (this.released) return next.release();
    const old = this.sessions;
    this.sessions = next;
    await old.release();
  }

  /**
   * Logits after `tokens`, continuing `cache` (from this model; none = an empty context), and the cache
   * after them. `cache` stays valid: continue it again, or any other snapshot, as often as needed.
   */
  async run(tokens: readonly number[], cache?: KvCache, opts: RunOptions = {}): Promise<RunResult> {
    const T = tokens.length;
    if (T === 0) throw new Error('run: no tokens');
    let state = this.snapshot(cache);
    const V = this.cfg.vocabSize;
    const into = opts.into;
    if (into && (into.length !== V || opts.allPositions || opts.onLogits))
      throw new RangeError(
        `run: 'into' takes the last position's ${V} logits, without allPositions or onLogits`,
      );
    const all = opts.allPositions && !opts.onLogits ? new Float32Array(T * V) : undefined;
    let last: Float32Array | undefined;
    for (let at = 0; at < T; at += this.maxChunk) {
      const chunk = tokens.slice(at, at + this.maxChunk);
      const final = at + chunk.length === T;
      const from = all || opts.onLogits ? 0 : final ? chunk.length - 1 : chunk.length;
      const res = await this.step(chunk, state, from, final ? into : undefined);
      state = res.state;
      if (all) all.set(res.logits, at * V);
      else if (opts.onLogits) opts.onLogits(res.logits, at);
      if (final) last = into ?? res.logits.subarray(res.logits.length - V);
    }
    return { logits: all ?? last!, cache: state };
  }

  /**
   * Logits of `tokens` from an empty context with nothing cached: what decoding without a KV cache
   * computes at every step (the whole sequence again).
   */
  async forward(tokens: readonly number[], allPositions = false): Promise<Float32Array> {
    const T = tokens.length;
    if (T === 0 || T > this.cfg.blockSize)
      throw new RangeError(`forward: ${T} tokens (1 to ${this.cfg.blockSize})`);
    const empty = KvStore.alloc(this.cfg, 0);
    const out = await this.sessions.run(T, this.feeds(tokens, 0, empty, allPositions ? 0 : T - 1), {
      logits: this.logitsBuffer(allPositions ? T : 1),
    });
    return out.logits;
  }

  /** An empty cache, for callers that want one before the first run. */
  empty(): KvCache {
    return new Snapshot(this, KvStore.alloc(this.cfg, 0), 0);
  }

  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    // The switch to the fast sessions releases whichever set it does not keep.
    await this.upgrade;
    await this.sessions.release();
    this.file?.close();
    this.quantFile?.close();
  }

  private snapshot(cache: KvCache | undefined): Snapshot {
    if (!cache) return new Snapshot(this, KvStore.alloc(this.cfg, 0), 0);
    if (!(cache instanceof Snapshot) || cache.owner !== this)
      throw new Error('run: the cache comes from another model');
    return cache;
  }

  /** One ORT run of at most maxChunk tokens after `state`, logits from row `from`. */
  private async step(
    tokens: readonly number[],
    state: Snapshot,
    from: number,
    into?: Float32Array,
  ): Promise<{ logits: Float32Array; state: Snapshot }> {
    if (this.released) throw new Error('inference model released');
    const past = state.length;
    const total = past + tokens.length;
    if (total > this.cfg.blockSize)
      throw new RangeError(`run: ${total} tokens exceed the model's context of ${this.cfg.blockSize}`);
    const rows = tokens.length - from;
    if (this.inPlace) {
      let store = state.store;
      // Claimed before the run starts, so a concurrent continuation of the same snapshot copies instead.
      if (store.end !== past || store.capacity < total)
        store = store.copyPrefix(this.cfg, past, capacityFor(total, this.cfg.blockSize, this.lazyKv));
      store.end = total;
      const fetches: Record<string, TensorIn> = { logits: this.logitsBuffer(rows, into) };
      const dims = this.kvDims(store.capacity);
      for (let i = 0; i < this.cfg.nLayer; i++) {
        fetches[`present_key.${i}`] = { data: store.keys[i], dims, keep: true };
        fetches[`present_value.${i}`] = { data: store.values[i], dims, keep: true };
      }
      try {
        const out = await this.sessions.run(tokens.length, this.feeds(tokens, past, store, from), fetches);
        return { logits: out.logits, state: new Snapshot(this, store, total) };
      } catch (e) {
        // Positions of a failed run hold nothing: let the snapshot append there again.
        if (store.end === total) store.end = past;
        throw e;
      }
    }
    // Copy mode (onnxruntime-node, which returns new arrays): past is exactly `past` long (a store of that
    // capacity), present comes back as a new one.
    let store = state.store;
    if (store.capacity !== past) store = store.copyPrefix(this.cfg, past, past);
    const fetches: Record<string, TensorIn | undefined> = { logits: this.logitsBuffer(rows) };
    for (let i = 0; i < this.cfg.nLayer; i++) {
      fetches[`present_key.${i}`] = undefined;
      fetches[`present_value.${i}`] = undefined;
    }
    const out = await this.sessions.run(tokens.length, this.feeds(tokens, past, store, from), fetches);
    const layer = (kind: string) =>
      Array.from({ length: this.cfg.nLayer }, (_, i) => out[`present_${kind}.${i}`]);
    const next = new KvStore(layer('key'), layer('value'), total);
    next.end = total;
    into?.set(out.logits);
    return { logits: into ?? out.logits, state: new Snapshot(this, next, total) };
  }

  private feeds(
    tokens: readonly number[],
    past: number,
    store: KvStore,
    from: number,
  ): Record<string, TensorIn> {
    const T = tokens.length;
    const ids = new BigInt64Array(T);
    const positions = new BigInt64Array(T);
    for (let i = 0; i < T; i++) {
      ids[i] = BigInt(tokens[i]);
      positions[i] = BigInt(past + i);
    }
    const feeds: Record<string, TensorIn> = {
      input_ids: { data: ids, dims: [T] },
      position_ids: { data: positions, dims: [T] },
      logits_from: { data: BigInt64Array.of(BigInt(from)), dims: [1] },
      seqlens_k: { data: Int32Array.of(past + T - 1), dims: [1] },
      total_sequence_length: { data: Int32Array.of(past + T), dims: [] },
    };
    const dims = this.kvDims(store.capacity);
    for (let i = 0; i < this.cfg.nLayer; i++) {
      feeds[`past_key.${i}`] = { data: store.keys[i], dims, keep: true };
      feeds[`past_value.${i}`] = { data: store.values[i], dims, keep: true };
    }
    return feeds;
  }

  private kvDims(positions: number): number[] {
    return [1, this.cfg.nKvHead, positions, this.cfg.nEmbd / this.cfg.nHead];
  }

  private logitsBuffer(rows: number, into?: Float32Array): TensorIn {
    const data = into && rows === 1 ? into : new Float32Array(rows * this.cfg.vocabSize);
    return { data, dims: [rows, this.cfg.vocabSize] };
  }
}

/** Bytes of the copies the fast layouts need (decode-graph.ts). */
function copiedBytes(cfg: ModelConfig, fuse: boolean): number {
  const size = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);
  const weights = buildDecodeGraph(cfg, { fuse, fastLayouts: true }).weights;
  return weights.reduce((sum, w) => sum + (w.transposed ? 4 * size(w.shape) : 0), 0);
}

/**
 * ORT's activations for a run of `chunk` tokens, from the largest tensors alive at once: the residual
 * stream and a layer's widest activations, the attention scores over the whole context, and the logits.
 */
function estimateMemory(
  cfg: ModelConfig,
  copies: number,
  chunk: number,
  quant?: { bytes: number; replaced: number },
): ModelMemory {
  let parameters = -(quant?.replaced ?? 0);
  for (const s of paramSpecs(cfg)) parameters += 4 * s.shape.reduce((a, b) => a * b, 1);
  const widest = Math.max(3 * cfg.nEmbd, 2 * cfg.ffnHidden);
  const perToken = 4 * cfg.nEmbd + 2 * widest + cfg.vocabSize;
  const scores = cfg.nHead * chunk * cfg.blockSize;
  const workspace = 4 * (chunk * perToken + scores);
  const quantized = quant?.bytes ?? 0;
  return {
    parameters,
    copies,
    quantized,
    workspace,
    kvPerToken: kvBytesPerToken(cfg),
    total: parameters + copies + quantized + workspace,
  };
}

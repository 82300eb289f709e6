// The ORT sessions of one decoding graph: one per threading variant, all reading the same weight inputs
// (a session costs only its small graph), and the choice among them by timing (runtime/adaptive.ts).
import { availableParallelism } from 'node:os';
import type { ModelConfig } from '../models/config.ts';
import type { QuantizedTensor } from '../quant/formats.ts';
import { VariantChooser } from '../runtime/adaptive.ts';
import type { SessionOptions } from '../runtime/session.ts';
import { buildDecodeGraph } from './decode-graph.ts';
import type { Pages } from './mmap.ts';
import {
  createRunner,
  type Runner,
  runnerApi,
  type Sharing,
  shareInitializers,
  type TensorIn,
} from './runner.ts';
import { type BoundWeights, bindWeights } from './weights.ts';

export interface SessionsOptions extends SessionOptions {
  /** GroupQueryAttention (the caller checked canFuseAttention). */
  fuse: boolean;
  /** Bind KV outputs to the caller's buffers (needs `fuse` and the C API). */
  inPlace: boolean;
  /** Weights in the layouts MLAS reads fastest, copies made as needed (decode-graph.ts). */
  fastLayouts: boolean;
  /** Keep a session per threading and pick by timing (else one with `threads`). */
  adaptive: boolean;
  /** Quantised linear weights (decode-graph.ts, DecodeGraphOptions.quantized). */
  quantized?: ReadonlyMap<string, QuantizedTensor>;
  /**
   * Create the first threading variant only and the others in the background (see ready()). Why: each
   * session repacks quantised weights for MatMulNBits, ~0.6 s per session for GPT-2 small int8.
   */
  laterVariants?: boolean;
}

export class Sessions {
  private chooser: VariantChooser;
  private released = false;
  /** The variants being created in the background (SessionsOptions.laterVariants). */
  private more: Promise<void> = Promise.resolve();

  private constructor(
    private readonly runners: Runner[],
    private readonly labels: string[],
    /** Copies of weights the graph reads, freed after the sessions. */
    private readonly copies: Pages | undefined,
    /** Bytes of weight copies. */
    readonly copiedBytes: number,
    /**
     * The initializers the sessions share (quantised weights): held here because ORT reads their memory
     * (a collected array under it gives garbage), released after the sessions.
     */
    private readonly sharing: Sharing | undefined,
    /** Sessions there will be once the variants created later exist (see SessionsOptions.laterVariants). */
    readonly planned: number,
  ) {
    this.chooser = new VariantChooser(runners.length);
  }

  static async create(
    cfg: ModelConfig,
    tensors: ReadonlyMap<string, Float32Array>,
    opts: SessionsOptions,
  ): Promise<Sessions> {
    // Quantised weights go to the sessions from the caller's memory where the C API runs them (see
    // DecodeGraphOptions.externalQuant); onnxruntime-node needs them embedded in the graph.
    const api = opts.quantized?.size ? await runnerApi(opts) : null;
    const graph = buildDecodeGraph(cfg, {
      fuse: opts.fuse,
      fastLayouts: opts.fastLayouts,
      quantized: opts.quantized,
      externalQuant: api !== null,
    });
    const sharing = api && graph.external.length ? shareInitializers(api, graph.external) : undefined;
    const runners: Runner[] = [];
    let bound: BoundWeights | undefined;
    const variants = threadings(opts);
    const now = opts.laterVariants ? variants.slice(0, 1) : variants;
    let make: (o: SessionOptions) => Promise<Runner>;
    try {
      bound = await bindWeights(graph.weights, tensors, opts);
      const inputs = bound.inputs;
      make = (o) =>
        createRunner(graph.bytes, inputs, { ...o, inPlace: opts.inPlace, shared: sharing?.shared });
      // One after another: sessions created at once through the C API, the process's first ones, gave a
      // session whose runs broke the next run's logits (by ~4e-3; reproduced every time, gone when serial).
      for (const [, o] of now) runners.push(await make(o));
    } catch (e) {
      await Promise.all(runners.map((r) => r.release()));
      bound?.copies?.free();
      sharing?.release();
      throw e;
    }
    const sessions = new Sessions(
      runners,
      now.map(([label]) => label),
      bound.copies,
      bound.copies?.array.byteLength ?? 0,
      sharing,
      variants.length,
    );
    if (now.length < variants.length) sessions.more = sessions.addVariants(variants.slice(now.length), make);
    return sessions;
  }

  /**
   * Create `variants` one after another while runs go on (on the first session), then choose among all.
   * A variant that fails is left out: decoding goes on with those there are.
   */
  private async addVariants(
    variants: readonly [string, SessionOptions][],
    make: (o: SessionOptions) => Promise<Runner>,
  ): Promise<void> {
    for (const [label, o] of variants) {
      if (this.released) return;
      try {
        this.runners.push(await make(o));
        this.labels.push(label);
      } catch {
        // The variants are only alternatives; the first session decodes alone.
      }
    }
    // Variant indices stay valid for runs still timed by the old chooser: runners are only appended.
    if (this.runners.length > 1) this.chooser = new VariantChooser(this.runners.length);
  }

  /** Resolves once every threading variant exists (SessionsOptions.laterVariants), or has failed. */
  ready(): Promise<void> {
    return this.more;
  }

  /** Whether the sessions share one prepacked copy of the quantised weights (else one each). */
  get sharedPrepack(): boolean {
    return this.sharing !== undefined;
  }

  /** Number of sessions (threading variants) now, each with its own copy of constant weights. */
  get count(): number {
    return this.runners.length;
  }

  /** Whether outputs are written into the caller's buffers (so KV buffers are appended in place). */
  get inPlace(): boolean {
    return this.runners[0].inPlace;
  }

  /** The threading in use. */
  get threading(): string {
    return this.labels[this.chooser.preferred];
  }

  /**
   * A run on the chosen threading. Only one-token runs are timed for the choice: their time barely
   * depends on the context, while a prompt's depends on its length.
   */
  async run(
    tokens: number,
    feeds: Readonly<Record<string, TensorIn>>,
    fetches: Readonly<Record<string, TensorIn | undefined>>,
  ): Promise<Record<string, Float32Array>> {
    if (tokens > 1) return this.runners[this.chooser.preferred].run(feeds, fetches);
    const k = this.chooser.next();
    const t = performance.now();
    const out = await this.runners[k].run(feeds, fetches);
    this.chooser.record(k, performance.now() - t);
    return out;
  }

  /** Release the sessions once their runs are done, then the weight copies and shared initializers. */
  async release(): Promise<void> {
    this.released = true;
    await this.more;
    await Promise.all(this.runners.map((r) => r.release()));
    this.copies?.free();
    this.sharing?.release();
  }
}

/** The session variants to keep: one, or the threadings AdaptiveSession chooses among. */
function threadings(opts: SessionsOptions): [string, SessionOptions][] {
  const cores = Math.max(1, availableParallelism());
  if (!opts.adaptive || cores === 1) return [['default', opts]];
  return [
    [`${cores} threads`, { ...opts, threads: cores }],
    [`${cores} threads, no spin`, { ...opts, threads: cores, spin: false }],
    ['1 thread', { ...opts, threads: 1 }],
  ];
}

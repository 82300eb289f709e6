// The ORT sessions of one decoding graph: one per threading variant, all reading the same weight inputs
// (a session costs only its small graph), and the choice among them by timing (runtime/adaptive.ts).
import { availableParallelism } from 'node:os';
import type { ModelConfig } from '../models/config.ts';
import type { QuantizedTensor } from '../quant/formats.ts';
import { VariantChooser } from '../runtime/adaptive.ts';
import type { SessionOptions } from '../runtime/session.ts';
import { buildDecodeGraph } from './decode-graph.ts';
import type { Pages } from './mmap.ts';
import { createRunner, type Runner, type TensorIn } from './runner.ts';
import { bindWeights } from './weights.ts';

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
}

export class Sessions {
  private readonly chooser: VariantChooser;

  private constructor(
    private readonly runners: readonly Runner[],
    private readonly labels: readonly string[],
    /** Copies of weights the graph reads, freed after the sessions. */
    private readonly copies: Pages | undefined,
    /** Bytes of weight copies. */
    readonly copiedBytes: number,
  ) {
    this.chooser = new VariantChooser(runners.length);
  }

  static async create(
    cfg: ModelConfig,
    tensors: ReadonlyMap<string, Float32Array>,
    opts: SessionsOptions,
  ): Promise<Sessions> {
    const graph = buildDecodeGraph(cfg, {
      fuse: opts.fuse,
      fastLayouts: opts.fastLayouts,
      quantized: opts.quantized,
    });
    const bound = await bindWeights(graph.weights, tensors, opts);
    const variants = threadings(opts);
    // One after another: sessions created at once through the C API, the process's first ones, gave a
    // session whose runs broke the next run's logits (by ~4e-3; reproduced every time, gone when serial).
    const runners: Runner[] = [];
    try {
      for (const [, o] of variants)
        runners.push(await createRunner(graph.bytes, bound.inputs, { ...o, inPlace: opts.inPlace }));
    } catch (e) {
      await Promise.all(runners.map((r) => r.release()));
      bound.copies?.free();
      throw e;
    }
    return new Sessions(
      runners,
      variants.map(([label]) => label),
      bound.copies,
      bound.copies?.array.byteLength ?? 0,
    );
  }

  /** Number of sessions (threading variants), each with its own copy of constant weights. */
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

  /** Release the sessions once their runs are done, then the weight copies. */
  async release(): Promise<void> {
    await Promise.all(this.runners.map((r) => r.release()));
    this.copies?.free();
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

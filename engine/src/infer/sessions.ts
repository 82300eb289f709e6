// The ORT sessions of one decoding graph: one per threading variant, all reading the same weight inputs
// (a session costs only its small graph), and the choice among them by timing (runtime/adaptive.ts).
// With fast layouts in float32, each variant also has a session of the graph with lab.engine::Linear and
// lab.engine::Attention (runtime/lab-ops.ts) for one-token runs, which is where decoding spends its time
// (engine/README.md, "One-token runs through the engine's own kernel"). Prompts keep ORT's Gemm, whose
// kernels reuse each weight across rows, and GroupQueryAttention.
import { availableParallelism } from 'node:os';
import type { ModelConfig } from '../models/config.ts';
import type { QuantizedTensor } from '../quant/formats.ts';
import { VariantChooser } from '../runtime/adaptive.ts';
import { type LabOps, labOps } from '../runtime/lab-ops.ts';
import { firstLine, type SessionOptions } from '../runtime/session.ts';
import { buildDecodeGraph, type DecodeGraph, type WeightInput } from './decode-graph.ts';
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
  /**
   * Weights in the layouts MLAS reads fastest, copies made as needed (decode-graph.ts); in float32 this
   * also decodes one-token runs with lab.engine::Linear where its library is available.
   */
  fastLayouts: boolean;
  /** Decode one-token runs with lab.engine::Linear where possible (default true; see above). */
  labOps?: boolean;
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

/** A threading's sessions: prompts run on `prompt`, one-token runs on `token` (the same one without Linear). */
interface Variant {
  prompt: Runner;
  token: Runner;
}

export class Sessions {
  private chooser: VariantChooser;
  private released = false;
  /** The variants being created in the background (SessionsOptions.laterVariants). */
  private more: Promise<void> = Promise.resolve();

  private constructor(
    private readonly runners: Variant[],
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
    /** The Linear operator one-token runs use, if they do. */
    private readonly linear: LabOps | null,
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
    const api = await runnerApi(opts);
    const quantized = !!opts.quantized?.size;
    const graph = buildDecodeGraph(cfg, {
      fuse: opts.fuse,
      fastLayouts: opts.fastLayouts,
      quantized: opts.quantized,
      externalQuant: quantized && api !== null,
    });
    // Custom operators register through the C API. Before the fast layouts exist (the first sessions of a
    // load), GPT-2's [in, out] weights would need the copies those make, so Linear waits for them.
    const linear = api && !quantized && opts.fastLayouts && opts.labOps !== false ? await labOps() : null;
    const tokenGraph = linear
      ? buildDecodeGraph(cfg, { fuse: opts.fuse, fastLayouts: true, labOps: true })
      : undefined;
    const sharing = api && graph.external.length ? shareInitializers(api, graph.external) : undefined;
    const runners: Variant[] = [];
    let bound: BoundWeights | undefined;
    const variants = threadings(opts);
    const now = opts.laterVariants ? variants.slice(0, 1) : variants;
    let make: (o: SessionOptions) => Promise<Variant>;
    try {
      bound = await bindWeights(allWeights(graph, tokenGraph), tensors, opts);
      const inputs = bound.inputs;
      const runner = (g: DecodeGraph, o: SessionOptions) =>
        createRunner(g.bytes, weightsOf(g, inputs), {
          ...o,
          inPlace: opts.inPlace,
          shared: sharing?.shared,
        });
      make = async (o) => {
        let token: Runner | undefined;
        if (tokenGraph && linear)
          try {
            token = await runner(tokenGraph, { ...o, opsLibrary: linear.library });
          } catch (e) {
            // Decoding goes on through ORT's Gemm rather than losing the fast layouts with this session.
            warnOnce(
              `engine: decoding with ORT's Gemm; lab.engine's operators were refused (${firstLine(e)})`,
            );
          }
        // A session that runs only prompts stops its threads spinning when a run ends: the one-token runs
        // that follow are another session's, and a spinning thread took a core from them (the first two
        // tokens after a GPT-2 small prompt took 20–46 ms instead of ~12).
        try {
          const prompt = await runner(graph, token ? { ...o, spinAfterRun: false } : o);
          return { prompt, token: token ?? prompt };
        } catch (e) {
          await token?.release();
          throw e;
        }
      };
      // One after another: sessions created at once through the C API, the process's first ones, gave a
      // session whose runs broke the next run's logits (by ~4e-3; reproduced every time, gone when serial).
      for (const [, o] of now) runners.push(await make(o));
    } catch (e) {
      await Promise.all(runners.map(releaseVariant));
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
      linear,
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
    make: (o: SessionOptions) => Promise<Variant>,
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
    return this.runners[0].prompt.inPlace;
  }

  /** The lab.engine::Linear kernel one-token runs use ('avx512', 'avx2', 'scalar'), or undefined (Gemm). */
  get labKernel(): string | undefined {
    const v = this.runners[this.chooser.preferred];
    return v.token !== v.prompt ? this.linear?.kernel() : undefined;
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
    if (tokens > 1) return this.runners[this.chooser.preferred].prompt.run(feeds, fetches);
    const k = this.chooser.next();
    const t = performance.now();
    const out = await this.runners[k].token.run(feeds, fetches);
    this.chooser.record(k, performance.now() - t);
    return out;
  }

  /** Release the sessions once their runs are done, then the weight copies and shared initializers. */
  async release(): Promise<void> {
    this.released = true;
    await this.more;
    await Promise.all(this.runners.map(releaseVariant));
    this.copies?.free();
    this.sharing?.release();
  }
}

let warned = false;
function warnOnce(message: string): void {
  if (!warned) console.warn(message);
  warned = true;
}

function releaseVariant(v: Variant): Promise<unknown> {
  return v.token === v.prompt ? v.prompt.release() : Promise.all([v.prompt.release(), v.token.release()]);
}

/** The weight inputs of `a` and `b`, each once (both graphs read the same copies). */
function allWeights(a: DecodeGraph, b: DecodeGraph | undefined): WeightInput[] {
  const all = new Map(a.weights.map((w) => [w.input, w]));
  for (const w of b?.weights ?? []) all.set(w.input, w);
  return [...all.values()];
}

/** The bound inputs graph `g` reads (ORT refuses inputs a graph does not have). */
function weightsOf(g: DecodeGraph, inputs: ReadonlyMap<string, TensorIn>): Map<string, TensorIn> {
  return new Map(g.weights.map((w) => [w.input, inputs.get(w.input)!]));
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

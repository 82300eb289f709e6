// A model opened for tracing: an ORT session over the trace graph (trace-graph.ts) and one over the lens
// graph (lens-graph.ts, the logit lens of the streams before the last), both with the weights bound where
// they lie. It is separate from InferenceModel so decoding keeps its fused, cache-appending graph; a caller
// makes one when a trace is first asked for and releases it with the model.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { configFromHf, loadCheckpoint } from '../checkpoint/checkpoint.ts';
import { readSafetensorsHeader, type TensorInfo } from '../checkpoint/safetensors.ts';
import { type MappedFile, mapFile } from '../infer/mmap.ts';
import { createRunner, type Runner, type TensorIn } from '../infer/runner.ts';
import { headDim, type ModelConfig } from '../models/config.ts';
import { PARAM, paramLayout, paramSpecs } from '../models/model.ts';
import type { SessionOptions } from '../runtime/session.ts';
import { type BuiltGraph, buildLensGraph, LENS } from './lens-graph.ts';
import { buildTraceGraph, TRACE } from './trace-graph.ts';

/** What to take out of the model, or put into it (an ablation), on one run. */
export interface TraceRunOptions {
  /** Logit-lens tokens per position (default 5). */
  topK?: number;
  /**
   * Leave out the big per-layer outputs (attention, residual stream) and every logit lens: losses and head
   * means only.
   */
  lossOnly?: boolean;
  /**
   * The logit lens of the streams before the last (default true). Each is an unembedding over the whole
   * vocabulary, most of a run's time at GPT-2's size; the last stream's lens comes with the logits anyway.
   */
  lens?: boolean;
  /**
   * Per-layer interventions: each head's output [D] becomes keep·output + fill, each MLP's [C] too.
   * Omitted: every head and MLP kept as is.
   */
  intervene?: Intervention;
  /** Residual-stream positions replaced by given values (activation patching). */
  patch?: readonly ResidPatch[];
  /** Fetch the final logits even with lossOnly. */
  logits?: boolean;
}

/** Residual stream `stream` (0 = embeddings … L = after the last layer) at `position` becomes `value` [C]. */
export interface ResidPatch {
  stream: number;
  position: number;
  value: Float32Array;
}

export interface Intervention {
  /** [L·H]: 1 keeps a head's output, 0 removes it. */
  headKeep: Float32Array;
  /** [L·H·D]: added to each head's output after headKeep. */
  headFill: Float32Array;
  /** [L]. */
  mlpKeep: Float32Array;
  /** [L·C]. */
  mlpFill: Float32Array;
}

/** The outputs of one run; arrays are row-major in the shapes TRACE documents. */
export interface RawTrace {
  tokens: number[];
  topK: number;
  /** [T, vocab] (absent with lossOnly). */
  logits?: Float32Array;
  /** Per layer [H, T, T]. */
  attn: Float32Array[];
  /** Per residual stream 0..L [T, C]. */
  resid: Float32Array[];
  /** Per layer [T, C]. */
  attnOut: Float32Array[];
  mlpOut: Float32Array[];
  /** Per layer [H, D]. */
  headMean: Float32Array[];
  /**
   * The logit lens per residual stream 0..L: [T, k] log-probabilities and ids, [T] the next token's
   * log-probability. Undefined for a stream whose lens was not computed (with `lens: false`, every stream
   * but the last); empty arrays with lossOnly.
   */
  lensLogp: (Float32Array | undefined)[];
  lensIds: (Int32Array | undefined)[];
  lensTarget: (Float32Array | undefined)[];
  /** [T]: log-probability of each position's next token under the model (the last position's is 0). */
  targetLogp: Float32Array;
}

export class TraceModel {
  private released = false;
  /**
   * The lens graph's session, over the same weight arrays (mapped pages are shared, not copied): made on
   * the first run that wants an intermediate lens, since the Attention page, ablation, patching, probes
   * and the induction evaluation never do, and each session holds its own threads and arena.
   */
  private lensRunner: Promise<Runner> | undefined;
  /** Runs in progress, which release() lets finish: a run uses the lens session after the trace session. */
  private readonly inflight = new Set<Promise<unknown>>();

  private constructor(
    readonly cfg: ModelConfig,
    private readonly runner: Runner,
    private readonly openLens: () => Promise<Runner>,
    private readonly file: MappedFile | undefined,
  ) {}

  /** A trace session over named tensors (Hugging Face names), used in place; `mapped` closes on release. */
  static async fromTensors(
    cfg: ModelConfig,
    tensors: ReadonlyMap<string, Float32Array>,
    opts: SessionOptions = {},
    mapped?: MappedFile,
  ): Promise<TraceModel> {
    const shapes = new Map(paramSpecs(cfg).map((s) => [s.name, s.shape]));
    const open = (graph: BuiltGraph): Promise<Runner> => {
      const weights = new Map<string, TensorIn>();
      for (const name of graph.params) {
        const data = tensors.get(name);
        if (!data) throw new Error(`trace: missing parameter '${name}'`);
        weights.set(`${PARAM}${name}`, { data, dims: shapes.get(name)! });
      }
      return createRunner(graph.bytes, weights, opts);
    };
    const runner = await open(buildTraceGraph(cfg));
    return new TraceModel(cfg, runner, () => open(buildLensGraph(cfg)), mapped);
  }

  /** A trace session over a flat parameter array in paramLayout(cfg) order (kept unchanged by the caller). */
  static create(cfg: ModelConfig, params: Float32Array, opts: SessionOptions = {}): Promise<TraceModel> {
    const tensors = new Map<string, Float32Array>();
    for (const e of paramLayout(cfg).entries)
      tensors.set(e.name, params.subarray(e.offset, e.offset + e.size));
    return TraceModel.fromTensors(cfg, tensors, opts);
  }

  /**
   * A trace session over a checkpoint folder. float32 weights are mapped (the pages an InferenceModel of
   * the same folder maps are shared, not copied); other folders are read.
   */
  static async load(dir: string, opts: SessionOptions = {}): Promise<TraceModel> {
    const cfg = configFromHf(
      JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Record<string, unknown>,
    );
    const file = join(dir, 'model.safetensors');
    const infos = existsSync(file) ? mappable(cfg, file) : undefined;
    const mapped = infos && (await mapFile(file));
    if (!infos || !mapped) return TraceModel.create(cfg, loadCheckpoint(dir).params, opts);
    const tensors = new Map<string, Float32Array>();
    for (const [name, t] of infos)
      tensors.set(name, new Float32Array(mapped.bytes.buffer, mapped.bytes.byteOffset + t.offset, t.size));
    try {
      return await TraceModel.fromTensors(cfg, tensors, opts, mapped);
    } catch (e) {
      mapped.close();
      throw e;
    }
  }

  /** Interventions that change nothing, to edit for an ablation. */
  identity(): Intervention {
    const { nLayer: L, nHead: H, nEmbd: C } = this.cfg;
    return {
      headKeep: new Float32Array(L * H).fill(1),
      headFill: new Float32Array(L * H * headDim(this.cfg)),
      mlpKeep: new Float32Array(L).fill(1),
      mlpFill: new Float32Array(L * C),
    };
  }

  /** One forward pass over `tokens` (1 to blockSize) from an empty context. */
  run(tokens: readonly number[], opts: TraceRunOptions = {}): Promise<RawTrace> {
    if (this.released) return Promise.reject(new Error('trace model released'));
    const running = this.traced(tokens, opts);
    this.inflight.add(running);
    void running.then(
      () => this.inflight.delete(running),
      () => this.inflight.delete(running),
    );
    return running;
  }

  /** Whether the lens session has been made (by a run that wanted an intermediate stream's lens). */
  get lensOpened(): boolean {
    return this.lensRunner !== undefined;
  }

  private async traced(tokens: readonly number[], opts: TraceRunOptions): Promise<RawTrace> {
    const { nLayer: L, nHead: H, nEmbd: C, vocabSize: V } = this.cfg;
    const D = headDim(this.cfg);
    const T = tokens.length;
    if (T === 0 || T > this.cfg.blockSize)
      throw new RangeError(`trace: ${T} tokens (1 to ${this.cfg.blockSize})`);
    const k = Math.max(1, Math.min(opts.topK ?? 5, V));
    const iv = opts.intervene ?? this.identity();
    const targets = new BigInt64Array(T);
    for (let t = 0; t + 1 < T; t++) targets[t] = BigInt(tokens[t + 1]);
    const targetsIn: TensorIn = { data: targets, dims: [T] };
    const topKIn: TensorIn = { data: BigInt64Array.of(BigInt(k)), dims: [1] };
    const feeds: Record<string, TensorIn> = {
      [TRACE.ids]: { data: BigInt64Array.from(tokens, BigInt), dims: [T] },
      [TRACE.targets]: targetsIn,
      [TRACE.topK]: topKIn,
      [TRACE.headKeep]: { data: iv.headKeep, dims: [L, H] },
      [TRACE.headFill]: { data: iv.headFill, dims: [L, H, D] },
      [TRACE.mlpKeep]: { data: iv.mlpKeep, dims: [L] },
      [TRACE.mlpFill]: { data: iv.mlpFill, dims: [L, C] },
      ...this.patchFeeds(T, opts.patch ?? []),
    };
    const fetches: Record<string, TensorIn> = {};
    const want = (name: string, dims: number[], int = false) => {
      const n = dims.reduce((a, b) => a * b, 1);
      fetches[name] = { data: int ? new Int32Array(n) : new Float32Array(n), dims };
    };
    for (let i = 0; i < L; i++) want(TRACE.headMean(i), [H, D]);
    want(TRACE.lensTarget, [T]);
    if (!opts.lossOnly || opts.logits) want(TRACE.logits, [T, V]);
    if (!opts.lossOnly) {
      for (let i = 0; i < L; i++) {
        want(TRACE.attn(i), [H, T, T]);
        want(TRACE.attnOut(i), [T, C]);
        want(TRACE.mlpOut(i), [T, C]);
      }
      for (let i = 0; i <= L; i++) want(TRACE.resid(i), [T, C]);
      want(TRACE.lensLogp, [T, k]);
      want(TRACE.lensIds, [T, k], true);
    }
    const out = (await this.runner.run(feeds, fetches)) as Record<string, Float32Array | Int32Array>;
    const lensLogp: (Float32Array | undefined)[] = [];
    const lensIds: (Int32Array | undefined)[] = [];
    const lensTarget: (Float32Array | undefined)[] = [];
    if (!opts.lossOnly) {
      // One stream per run of the lens session: its [T, vocab] temporaries are one stream's at a time.
      for (let i = 0; i < L; i++) {
        const lens =
          opts.lens === false
            ? undefined
            : await this.streamLens(out[TRACE.resid(i)] as Float32Array, targetsIn, topKIn, k);
        lensLogp.push(lens?.logp);
        lensIds.push(lens?.ids);
        lensTarget.push(lens?.target);
      }
      lensLogp.push(out[TRACE.lensLogp] as Float32Array);
      lensIds.push(out[TRACE.lensIds] as Int32Array);
      lensTarget.push(out[TRACE.lensTarget] as Float32Array);
    }
    const layers = (n: number, name: (i: number) => string) =>
      out[name(0)] ? Array.from({ length: n }, (_, i) => out[name(i)] as Float32Array) : [];
    return {
      tokens: [...tokens],
      topK: k,
      logits: out[TRACE.logits] as Float32Array | undefined,
      attn: layers(L, TRACE.attn),
      resid: layers(L + 1, TRACE.resid),
      attnOut: layers(L, TRACE.attnOut),
      mlpOut: layers(L, TRACE.mlpOut),
      headMean: layers(L, TRACE.headMean),
      lensLogp,
      lensIds,
      lensTarget,
      targetLogp: zeroLast(out[TRACE.lensTarget] as Float32Array),
    };
  }

  /** The logit lens of one residual stream [T, C], from the lens session. */
  private async streamLens(
    resid: Float32Array,
    targets: TensorIn,
    topK: TensorIn,
    k: number,
  ): Promise<{ logp: Float32Array; ids: Int32Array; target: Float32Array }> {
    const T = targets.dims[0]!;
    // A failed creation is not kept: the next run that wants a lens tries again.
    this.lensRunner ??= this.openLens().catch((e: unknown) => {
      this.lensRunner = undefined;
      throw e;
    });
    const out = (await (
      await this.lensRunner
    ).run(
      {
        [LENS.resid]: { data: resid, dims: [T, this.cfg.nEmbd] },
        [LENS.targets]: targets,
        [LENS.topK]: topK,
      },
      {
        [LENS.logp]: { data: new Float32Array(T * k), dims: [T, k] },
        [LENS.ids]: { data: new Int32Array(T * k), dims: [T, k] },
        [LENS.target]: { data: new Float32Array(T), dims: [T] },
      },
    )) as Record<string, Float32Array | Int32Array>;
    return {
      logp: out[LENS.logp] as Float32Array,
      ids: out[LENS.ids] as Int32Array,
      target: out[LENS.target] as Float32Array,
    };
  }

  /** The patch inputs: which stream positions are replaced, and by what. */
  private patchFeeds(T: number, patches: readonly ResidPatch[]): Record<string, TensorIn> {
    const { nLayer: L, nEmbd: C } = this.cfg;
    const mask = new Float32Array((L + 1) * T);
    const value = new Float32Array((L + 1) * T * C);
    for (const p of patches) {
      if (!Number.isInteger(p.stream) || p.stream < 0 || p.stream > L)
        throw new RangeError(`patch: stream ${p.stream} is not a residual stream (0 to ${L})`);
      if (!Number.isInteger(p.position) || p.position < 0 || p.position >= T)
        throw new RangeError(`patch: position ${p.position} is not a position (0 to ${T - 1})`);
      if (p.value.length !== C) throw new RangeError(`patch: ${p.value.length} values for a width of ${C}`);
      const at = p.stream * T + p.position;
      mask[at] = 1;
      value.set(p.value, at * C);
    }
    return {
      [TRACE.patchMask]: { data: mask, dims: [L + 1, T] },
      [TRACE.patchValue]: { data: value, dims: [L + 1, T, C] },
    };
  }

  /** Release both sessions once the runs in progress are done, then the mapped weights. */
  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    await Promise.allSettled([...this.inflight]);
    const lens = this.lensRunner;
    const results = await Promise.allSettled([
      this.runner.release(),
      // A lens session whose creation failed has nothing to release.
      ...(lens
        ? [
            lens.then(
              (r) => r.release(),
              () => undefined,
            ),
          ]
        : []),
    ]);
    // The weights' pages go only once no session can read them, and whatever a release threw.
    this.file?.close();
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  }
}

/** The last position has no next token: its placeholder target's log-probability means nothing. */
function zeroLast(x: Float32Array): Float32Array {
  x[x.length - 1] = 0;
  return x;
}

/** Each parameter's tensor in the file, when all are float32, 4-byte aligned and shaped as the config says. */
function mappable(cfg: ModelConfig, file: string): Map<string, TensorInfo> | undefined {
  const header = readSafetensorsHeader(file);
  const found = new Map<string, TensorInfo>();
  for (const spec of paramSpecs(cfg)) {
    // The original GPT-2 checkpoints were saved from GPT2Model, without the `transformer.` prefix.
    const t = header.tensors.get(spec.name) ?? header.tensors.get(spec.name.replace(/^transformer\./, ''));
    const size = spec.shape.reduce((a, b) => a * b, 1);
    if (t?.dtype !== 'F32' || t.size !== size || t.offset % 4 !== 0) return undefined;
    found.set(spec.name, t);
  }
  return found;
}

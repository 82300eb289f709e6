// Runs training steps on ONNX Runtime. Weights and AdamW moments stay in two sets of ORT tensors that
// swap roles each step (outputs are written straight into the other set's preallocated buffers), so a
// step copies nothing on the JS side.
import type { ModelConfig } from '../models/config.ts';
import { paramLayout } from '../models/model.ts';
import type { ParamLayout } from '../models/params.ts';
import { AdaptiveSession } from '../runtime/adaptive.ts';
import { ort, type SessionOptions, scalarOf } from '../runtime/session.ts';
import { buildEvalGraph, buildStepGraph, DEFAULT_OPTIM, type OptimConfig } from './graphs.ts';

export interface Batch {
  /** Token ids [batch, seq], row-major. */
  idx: BigInt64Array;
  /** Next-token targets [batch, seq]; `ignoreIndex` entries don't count. */
  targets: BigInt64Array;
}

export interface TrainerOptions {
  cfg: ModelConfig;
  batch: number;
  /** Sequence length; defaults to the model's context. */
  seq?: number;
  optim?: Partial<OptimConfig>;
  ignoreIndex?: number;
  /** Seeds weight init and dropout. */
  seed?: number;
  /** Micro-batches per optimizer step. */
  accumulate?: number;
  /** Initial weights (flat, layout order); default GPT-2 init from `seed`. */
  params?: Float32Array;
  session?: SessionOptions;
  /**
   * Keep sessions with different threading and use whichever runs fastest (see AdaptiveSession).
   * Default: on when `session.threads` is unset, the model has no dropout and under 20M parameters.
   */
  adaptive?: boolean;
}

interface StateSet {
  params: ort.Tensor;
  m: ort.Tensor;
  v: ort.Tensor;
}

export interface StepResult {
  loss: number;
  gradNorm: number;
}

export class Trainer {
  readonly layout: ParamLayout;
  /** Optimizer steps taken so far. */
  stepCount = 0;
  private cur: StateSet;
  private next: StateSet;
  private readonly decay: ort.Tensor;
  private readonly lossOut = new ort.Tensor('float32', new Float32Array(1), []);
  private readonly normOut = new ort.Tensor('float32', new Float32Array(1), []);
  private readonly accA: ort.Tensor | undefined;
  private readonly accB: ort.Tensor | undefined;

  private constructor(
    readonly cfg: ModelConfig,
    readonly batch: number,
    readonly seq: number,
    readonly accumulate: number,
    layout: ParamLayout,
    private readonly stepSession: AdaptiveSession,
    private readonly accSession: AdaptiveSession | undefined,
    private readonly evalSession: AdaptiveSession,
    init: Float32Array,
  ) {
    this.layout = layout;
    const P = layout.total;
    const set = (p: Float32Array): StateSet => ({
      params: new ort.Tensor('float32', p, [P]),
      m: new ort.Tensor('float32', new Float32Array(P), [P]),
      v: new ort.Tensor('float32', new Float32Array(P), [P]),
    });
    this.cur = set(init);
    this.next = set(new Float32Array(P));
    this.decay = new ort.Tensor('float32', layout.decayMask(), [P]);
    if (accumulate > 1) {
      this.accA = new ort.Tensor('float32', new Float32Array(P), [P]);
      this.accB = new ort.Tensor('float32', new Float32Array(P), [P]);
    }
  }

  static async create(opts: TrainerOptions): Promise<Trainer> {
    const cfg = opts.cfg;
    const layout = paramLayout(cfg);
    const seq = opts.seq ?? cfg.blockSize;
    const accumulate = opts.accumulate ?? 1;
    const optim = { ...DEFAULT_OPTIM, ...opts.optim };
    const ignoreIndex = opts.ignoreIndex ?? -100;
    const seed = opts.seed ?? 1337;
    const common = {
      cfg,
      layout,
      batch: opts.batch,
      seq,
      optim,
      ignoreIndex,
      seed,
      gradScale: 1 / accumulate,
    };
    const auto = opts.session?.threads === undefined && layout.total < 20e6;
    const adaptTrain = opts.adaptive ?? (auto && cfg.dropout === 0);
    const adaptEval = opts.adaptive ?? auto;
    const graph = (mode: 'step' | 'accumulate', s: number) =>
      buildStepGraph({
        ...common,
        seed: s,
        mode,
        accumulateIn: accumulate > 1 || mode === 'accumulate',
      }).toBytes();
    const stepSession = await AdaptiveSession.create(graph('step', seed), opts.session ?? {}, adaptTrain);
    const accSession =
      accumulate > 1
        ? await AdaptiveSession.create(graph('accumulate', seed + 100_000), opts.session ?? {}, adaptTrain)
        : undefined;
    const evalBytes = buildEvalGraph(cfg, layout, opts.batch, seq, ignoreIndex).toBytes();
    const evalSession = await AdaptiveSession.create(evalBytes, opts.session ?? {}, adaptEval);
    const init = opts.params ?? layout.init(seed);
    if (init.length !== layout.total)
      throw new Error(`params: expected ${layout.total} values, got ${init.length}`);
    return new Trainer(cfg, opts.batch, seq, accumulate, layout, stepSession, accSession, evalSession, init);
  }

  /** Current weights (flat, layout order). Valid until the next step. */
  get params(): Float32Array {
    return this.cur.params.data as Float32Array;
  }
  get m(): Float32Array {
    return this.cur.m.data as Float32Array;
  }
  get v(): Float32Array {
    return this.cur.v.data as Float32Array;
  }

  /** Threading variant the step session currently uses (see AdaptiveSession). */
  get threading(): string {
    return this.stepSession.current;
  }

  /** Replace weights and optimizer state (resume). */
  load(state: { params: Float32Array; m?: Float32Array; v?: Float32Array; step?: number }): void {
    this.params.set(state.params);
    if (state.m) this.m.set(state.m);
    else this.m.fill(0);
    if (state.v) this.v.set(state.v);
    else this.v.fill(0);
    this.stepCount = state.step ?? 0;
  }

  private batchFeeds(b: Batch): Record<string, ort.Tensor> {
    const dims = [this.batch, this.seq];
    return { idx: new ort.Tensor('int64', b.idx, dims), targets: new ort.Tensor('int64', b.targets, dims) };
  }

  /** One optimizer step over `micro.length === accumulate` micro-batches; returns the mean loss. */
  async step(micro: readonly Batch[], lr: number): Promise<StepResult> {
    if (micro.length !== this.accumulate)
      throw new Error(`step: expected ${this.accumulate} micro-batches, got ${micro.length}`);
    let lossSum = 0;
    let acc = this.accA;
    let accNext = this.accB;
    if (acc) (acc.data as Float32Array).fill(0);
    for (let i = 0; i < micro.length - 1; i++) {
      await this.accSession!.run(
        { params: this.cur.params, grad_acc: acc!, ...this.batchFeeds(micro[i]) },
        { loss: this.lossOut, grad_acc_out: accNext! },
      );
      lossSum += (this.lossOut.data as Float32Array)[0];
      [acc, accNext] = [accNext, acc];
    }
    const feeds: Record<string, ort.Tensor> = {
      params: this.cur.params,
      m: this.cur.m,
      v: this.cur.v,
      decay_mask: this.decay,
      lr: new ort.Tensor('float32', Float32Array.of(lr), []),
      step: new ort.Tensor('float32', Float32Array.of(this.stepCount + 1), []),
      ...this.batchFeeds(micro[micro.length - 1]),
    };
    if (acc) feeds.grad_acc = acc;
    await this.stepSession.run(feeds, {
      loss: this.lossOut,
      grad_norm: this.normOut,
      params_out: this.next.params,
      m_out: this.next.m,
      v_out: this.next.v,
    });
    lossSum += (this.lossOut.data as Float32Array)[0];
    [this.cur, this.next] = [this.next, this.cur];
    this.stepCount++;
    return { loss: lossSum / micro.length, gradNorm: (this.normOut.data as Float32Array)[0] };
  }

  /** Loss on one batch without dropout or updates. */
  async evaluate(b: Batch): Promise<number> {
    const out = await this.evalSession.run({ params: this.cur.params, ...this.batchFeeds(b) });
    return scalarOf(out.loss);
  }

  async release(): Promise<void> {
    await Promise.all([this.stepSession.release(), this.accSession?.release(), this.evalSession.release()]);
  }
}

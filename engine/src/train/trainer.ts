// Runs training steps on ONNX Runtime. Weights and AdamW moments live in two sets of flat buffers that
// swap roles each step: the graph reads one set through per-tensor views and writes the other set's
// views directly, so a step copies nothing on the JS side. How a step's rows are run (in one
// session.run, in several that accumulate, or by data-parallel workers) is an ExecutionPlan.

import { DPO } from '../finetune/dpo.ts';
import type { FrozenWeights } from '../finetune/frozen.ts';
import { LORA_DROPOUT_MASK, type LoraConfig, loraLayout, loraParams } from '../finetune/lora.ts';
import { LAST_INDEX, SCORES, scoreSpec } from '../finetune/reward.ts';
import type { Graph } from '../graph/graph.ts';
import type { ModelConfig } from '../models/config.ts';
import { paramLayout, paramSpecs } from '../models/model.ts';
import { ParamLayout } from '../models/params.ts';
import { AdaptiveSession } from '../runtime/adaptive.ts';
import { ort, type SessionOptions } from '../runtime/session.ts';
import { type Batch, joinRows } from './data.ts';
import { Evaluator } from './evaluator.ts';
import { bucketViews, DropoutMasks, type Feeds, StateSet, tokenFeeds } from './feeds.ts';
import {
  buildApplyGraph,
  buildLogpGraph,
  buildScoreGraph,
  buildStepGraph,
  DEFAULT_OPTIM,
  type FinetuneParts,
  type Objective,
  type OptimConfig,
  STATE,
} from './graphs.ts';
import { type ExecutionPlan, type PlanOptions, planExecution } from './plan.ts';
import { type GradRun, GradWorkers } from './workers.ts';

export type { Batch } from './data.ts';

export interface TrainerOptions {
  cfg: ModelConfig;
  batch: number;
  /** Sequence length; defaults to the model's context. */
  seq?: number;
  optim?: Partial<OptimConfig>;
  ignoreIndex?: number;
  /** Seeds weight init and dropout masks. */
  seed?: number;
  /** Micro-batches per optimizer step (gradient accumulation): a step takes batch × accumulate rows. */
  accumulate?: number;
  /** How the step's rows are run; defaults from planExecution (rows per run, gradient workers). */
  plan?: PlanOptions;
  /** Initial weights (flat, layout order); default GPT-2 init from `seed`. */
  params?: Float32Array;
  /**
   * Fine-tuning: base weights the forward reads but nothing updates. With `lora`, the trainable layout is
   * the adapter's (loraLayout) and `params` are adapter values; without, `frozen` alone is unusual but allowed.
   */
  frozen?: FrozenWeights;
  lora?: LoraConfig;
  /**
   * DPO: each micro-batch's rows are its pairs' chosen sequences then their rejected ones, and batches
   * carry the reference log-probabilities (Batch.refLogp). Runs never split a micro-batch (pairs stay whole).
   */
  objective?: Objective;
  /** Packed rows (see FinetuneParts.packed): every batch carries positions and segments. */
  packed?: boolean;
  session?: SessionOptions;
  /**
   * Keep sessions with different threading and use whichever runs fastest (see AdaptiveSession).
   * Default: on when `session.threads` is unset, the model has under 20M parameters and the plan has
   * no gradient workers (which are single-threaded by design).
   */
  adaptive?: boolean;
}

/** A gradient accumulator: one flat buffer, in buckets as `grad_acc.*` inputs and `grad_acc_out.*` outputs. */
class Accumulator {
  readonly flat: Float32Array;
  readonly inputs: Feeds;
  readonly outputs: Feeds;

  constructor(layout: ParamLayout) {
    this.flat = new Float32Array(layout.total);
    this.inputs = bucketViews(layout, this.flat, STATE.gradAcc);
    this.outputs = bucketViews(layout, this.flat, STATE.gradAccOut);
  }
}

export interface StepResult {
  loss: number;
  gradNorm: number;
  /** DPO: each pair's implicit rewards β·(log π − log π_ref), chosen and rejected (of the last run). */
  rewards?: { chosen: Float32Array; rejected: Float32Array };
}

export class Trainer {
  readonly layout: ParamLayout;
  /** Optimizer steps taken so far. */
  stepCount = 0;
  private cur: StateSet;
  private next: StateSet;
  private readonly lossOut = new ort.Tensor('float32', new Float32Array(1), []);
  private readonly normOut = new ort.Tensor('float32', new Float32Array(1), []);
  private readonly accs: [Accumulator, Accumulator] | undefined;

  private constructor(
    readonly cfg: ModelConfig,
    readonly batch: number,
    readonly seq: number,
    readonly accumulate: number,
    readonly seed: number,
    readonly plan: ExecutionPlan,
    layout: ParamLayout,
    /** The step graph (plan.workers === 1) or the apply graph (gradients from the workers). */
    private readonly stepSession: AdaptiveSession,
    private readonly accSession: AdaptiveSession | undefined,
    private readonly evaluator: Evaluator,
    private readonly workers: GradWorkers | undefined,
    /** The step graph's masks (gradient workers draw their own). */
    private readonly masks: DropoutMasks | undefined,
    init: Float32Array,
    /** Feeds every forward takes besides the trainable weights (frozen base weights, LoRA dropout masks' peers). */
    private readonly fixedFeeds: Feeds,
    private readonly loraMasks: DropoutMasks | undefined,
    private readonly parts: FinetuneParts,
    private readonly rewardOuts: Feeds | undefined,
    private readonly sessionOpts: SessionOptions,
  ) {
    this.layout = layout;
    this.cur = new StateSet(layout, init);
    this.next = new StateSet(layout, new Float32Array(layout.total));
    if (plan.runs > 1 && !workers) this.accs = [new Accumulator(layout), new Accumulator(layout)];
  }

  static async create(opts: TrainerOptions): Promise<Trainer> {
    const cfg = opts.cfg;
    // A reward model also trains its scalar head (score.weight), whatever else trains.
    const layout =
      opts.objective?.kind === 'reward'
        ? new ParamLayout([...(opts.lora ? loraParams(cfg, opts.lora) : paramSpecs(cfg)), scoreSpec(cfg)])
        : opts.lora
          ? loraLayout(cfg, opts.lora)
          : paramLayout(cfg);
    const parts = { frozen: opts.frozen, lora: opts.lora, packed: opts.packed };
    const seq = opts.seq ?? cfg.blockSize;
    const accumulate = opts.accumulate ?? 1;
    const optim = { ...DEFAULT_OPTIM, ...opts.optim };
    const ignoreIndex = opts.ignoreIndex ?? -100;
    const seed = opts.seed ?? 1337;
    const init = opts.params ?? layout.init(seed);
    if (init.length !== layout.total)
      throw new Error(`params: expected ${layout.total} values, got ${init.length}`);
    // Gradient workers rebuild the plain model's graph; fine-tuning graphs run in the trainer's own sessions.
    // DPO and reward models step on pairs: rows are chosen then rejected, with rewards as outputs.
    const dpo = opts.objective?.kind === 'dpo' || opts.objective?.kind === 'reward';
    const planOpts =
      opts.frozen || opts.lora || dpo || opts.packed
        ? { ...opts.plan, workers: 1, ...(dpo || opts.packed ? { rowsPerRun: opts.batch } : {}) }
        : opts.plan;
    const plan = planExecution(cfg, opts.batch * accumulate, seq, planOpts);
    const adaptive =
      opts.adaptive ?? (opts.session?.threads === undefined && layout.total < 20e6 && plan.workers === 1);
    const base = opts.session ?? {};
    const gradScale = 1 / plan.runs;
    const graph = (mode: 'step' | 'accumulate'): Graph =>
      buildStepGraph({
        cfg,
        layout,
        batch: plan.rowsPerRun,
        seq,
        optim,
        ignoreIndex,
        gradScale,
        mode,
        accumulateIn: plan.runs > 1 || mode === 'accumulate',
        objective: opts.objective,
        ...parts,
      });
    const sessions: AdaptiveSession[] = [];
    let evaluator: Evaluator | undefined;
    let workers: GradWorkers | undefined;
    try {
      // Runs that return weights, moments or gradients pass buffers for them: bound sessions (bound.ts).
      const session = async (g: Graph): Promise<AdaptiveSession> => {
        const s = await AdaptiveSession.create(g.toBytes(), base, adaptive, { bound: true });
        sessions.push(s);
        return s;
      };
      let stepSession: AdaptiveSession;
      let accSession: AdaptiveSession | undefined;
      let masks: DropoutMasks | undefined;
      let loraMasks: DropoutMasks | undefined;
      if (plan.workers > 1) {
        workers = await GradWorkers.start(
          plan.workers,
          { cfg, rowsPerRun: plan.rowsPerRun, seq, ignoreIndex, seed, gradScale, session: base },
          layout.total,
        );
        stepSession = await session(buildApplyGraph(layout, optim, plan.workers));
      } else {
        const stepGraph = graph('step');
        masks = new DropoutMasks(stepGraph, cfg.dropout);
        if (opts.lora?.dropout)
          loraMasks = new DropoutMasks(stepGraph, opts.lora.dropout, LORA_DROPOUT_MASK, 0x10ea);
        stepSession = await session(stepGraph);
        if (plan.runs > 1) accSession = await session(graph('accumulate'));
      }
      evaluator = await Evaluator.create(cfg, layout, opts.batch, seq, ignoreIndex, base, adaptive, parts);
      const trainer = new Trainer(
        cfg,
        opts.batch,
        seq,
        accumulate,
        seed,
        plan,
        layout,
        stepSession,
        accSession,
        evaluator,
        workers,
        masks,
        init,
        opts.frozen?.feeds ?? {},
        loraMasks,
        parts,
        dpo
          ? {
              [DPO.chosenReward]: new ort.Tensor('float32', new Float32Array(opts.batch / 2), [
                opts.batch / 2,
              ]),
              [DPO.rejectedReward]: new ort.Tensor('float32', new Float32Array(opts.batch / 2), [
                opts.batch / 2,
              ]),
            }
          : undefined,
        base,
      );
      trainer.objective = opts.objective;
      return trainer;
    } catch (e) {
      await Promise.all([...sessions.map((s) => s.release()), evaluator?.release(), workers?.release()]);
      throw e;
    }
  }

  /** Current weights (flat, layout order). Valid until the next step. */
  get params(): Float32Array {
    return this.cur.params;
  }
  get m(): Float32Array {
    return this.cur.m;
  }
  get v(): Float32Array {
    return this.cur.v;
  }

  /** Threading variant the step session currently uses (see AdaptiveSession). */
  get threading(): string {
    return this.workers ? `${this.workers.count} gradient workers` : this.stepSession.current;
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

  /** The step's rows cut into the plan's runs (views, no copies when a run is one micro-batch). */
  private runsOf(micro: readonly Batch[]): GradRun[] {
    for (const b of micro) {
      if (b.idx.length !== this.batch * this.seq || b.targets.length !== b.idx.length)
        throw new Error(`step: each micro-batch needs ${this.batch}×${this.seq} ids and targets`);
    }
    const width = this.plan.rowsPerRun * this.seq;
    const idx = joinRows(micro, 'idx');
    const targets = joinRows(micro, 'targets');
    return Array.from({ length: this.plan.runs }, (_, r) => ({
      firstRow: r * this.plan.rowsPerRun,
      idx: idx.subarray(r * width, (r + 1) * width),
      targets: targets.subarray(r * width, (r + 1) * width),
    }));
  }

  /** One optimizer step over `micro.length === accumulate` micro-batches; returns the mean loss. */
  async step(micro: readonly Batch[], lr: number): Promise<StepResult> {
    if (micro.length !== this.accumulate)
      throw new Error(`step: expected ${this.accumulate} micro-batches, got ${micro.length}`);
    const runs = this.runsOf(micro);
    const rows = this.plan.rowsPerRun;
    const scalars = {
      lr: new ort.Tensor('float32', Float32Array.of(lr), []),
      step: new ort.Tensor('float32', Float32Array.of(this.stepCount + 1), []),
    };
    let lossSum = 0;
    if (this.workers) {
      const { grads, losses } = await this.workers.compute(this.stepCount, this.cur.params, runs);
      const feeds: Feeds = { ...this.cur.optInputs, ...scalars };
      grads.forEach((grad, w) => {
        Object.assign(feeds, bucketViews(this.layout, grad, `${STATE.grad}${w}.`));
      });
      await this.stepSession.run(feeds, { grad_norm: this.normOut, ...this.next.outputs });
      lossSum = losses.reduce((a, b) => a + b, 0);
    } else {
      let [acc, accNext] = this.accs ?? [undefined, undefined];
      acc?.flat.fill(0);
      for (let i = 0; i < runs.length - 1; i++) {
        await this.accSession!.run(
          {
            ...this.fixedFeeds,
            ...this.loraMasks?.fill(this.seed, this.stepCount, runs[i].firstRow),
            ...this.cur.paramInputs,
            ...acc!.inputs,
            ...tokenFeeds(this.withRowExtras(runs[i], micro[i]), rows, this.seq),
            ...this.refFeed(micro[i]),
            ...this.masks!.fill(this.seed, this.stepCount, runs[i].firstRow),
          },
          { loss: this.lossOut, ...accNext!.outputs },
        );
        lossSum += (this.lossOut.data as Float32Array)[0];
        [acc, accNext] = [accNext, acc];
      }
      const last = runs[runs.length - 1];
      await this.stepSession.run(
        {
          ...this.fixedFeeds,
          ...this.loraMasks?.fill(this.seed, this.stepCount, last.firstRow),
          ...this.cur.inputs,
          ...(acc ? acc.inputs : {}),
          ...scalars,
          ...tokenFeeds(this.withRowExtras(last, micro[runs.length - 1]), rows, this.seq),
          ...this.refFeed(micro[runs.length - 1]),
          ...this.masks!.fill(this.seed, this.stepCount, last.firstRow),
        },
        { loss: this.lossOut, grad_norm: this.normOut, ...this.next.outputs, ...this.rewardOuts },
      );
      lossSum += (this.lossOut.data as Float32Array)[0];
    }
    [this.cur, this.next] = [this.next, this.cur];
    this.stepCount++;
    const rewards = this.rewardOuts && {
      chosen: (this.rewardOuts[DPO.chosenReward].data as Float32Array).slice(),
      rejected: (this.rewardOuts[DPO.rejectedReward].data as Float32Array).slice(),
    };
    return {
      loss: lossSum / runs.length,
      gradNorm: (this.normOut.data as Float32Array)[0],
      ...(rewards ? { rewards } : {}),
    };
  }

  /**
   * A run with its micro-batch's packing (positions, segments): packed and DPO steps run whole micro-batches
   * (plan.rowsPerRun = batch), so run i is micro-batch i.
   */
  private withRowExtras(run: GradRun, micro: Batch | undefined): Batch {
    if (!micro?.positions) return run;
    return { ...run, positions: micro.positions, segments: micro.segments };
  }

  /** DPO: a micro-batch's reference log-probabilities as the step graph's input (runs are micro-batches). */
  private refFeed(b: Batch | undefined): Feeds {
    if (!this.rewardOuts) return {};
    if (this.objective?.kind === 'reward') {
      if (!b?.lastIndex || b.lastIndex.length !== this.batch)
        throw new Error(`step: a reward-model batch needs lastIndex for its ${this.batch} rows`);
      return { [LAST_INDEX]: new ort.Tensor('int64', b.lastIndex, [this.batch]) };
    }
    if (!b?.refLogp || b.refLogp.length !== this.batch)
      throw new Error(`step: a DPO batch needs refLogp for its ${this.batch} rows`);
    return { [DPO.refLogp]: new ort.Tensor('float32', b.refLogp, [this.batch]) };
  }

  /** What the step minimises (set by create). */
  private objective: Objective | undefined;
  private logpSession: Promise<AdaptiveSession> | undefined;
  private scoreSession: Promise<AdaptiveSession> | undefined;

  /** A reward model's score of each row at its last token (Batch.lastIndex), under the current weights. */
  async rowScores(b: Batch): Promise<Float32Array> {
    if (!b.lastIndex) throw new Error('rowScores: the batch needs lastIndex');
    this.scoreSession ??= AdaptiveSession.create(
      buildScoreGraph(this.cfg, this.layout, this.batch, this.seq, this.parts).toBytes(),
      this.sessionOpts,
      false,
    );
    const s = await this.scoreSession;
    const r = await s.run({
      ...this.fixedFeeds,
      ...this.cur.paramInputs,
      idx: new ort.Tensor('int64', b.idx, [this.batch, this.seq]),
      [LAST_INDEX]: new ort.Tensor('int64', b.lastIndex, [this.batch]),
    });
    return (r[SCORES].data as Float32Array).slice();
  }

  /**
   * Each row's sequence log-probability (Σ log p of its non-ignored targets) under the current weights:
   * DPO's reference (before the first step) and its evaluation.
   */
  async rowLogProbs(b: Batch): Promise<Float32Array> {
    this.logpSession ??= AdaptiveSession.create(
      buildLogpGraph(this.cfg, this.layout, this.batch, this.seq, this.parts).toBytes(),
      this.sessionOpts,
      false,
    );
    const s = await this.logpSession;
    const r = await s.run({
      ...this.fixedFeeds,
      ...this.cur.paramInputs,
      ...tokenFeeds(b, this.batch, this.seq),
    });
    return (r[DPO.logp].data as Float32Array).slice();
  }

  /** Loss on one batch without dropout or updates. */
  async evaluate(b: Batch): Promise<number> {
    return (await this.evaluateAll([b]))[0];
  }

  /** The loss of each batch, without dropout or updates; batches run in parallel where they can. */
  evaluateAll(batches: readonly Batch[]): Promise<number[]> {
    return this.evaluator.losses({ ...this.fixedFeeds, ...this.cur.paramInputs }, batches);
  }

  async release(): Promise<void> {
    const logp = this.logpSession;
    const scores = this.scoreSession;
    this.logpSession = undefined;
    this.scoreSession = undefined;
    await Promise.all([
      logp?.then((s) => s.release()),
      scores?.then((s) => s.release()),
      this.stepSession.release(),
      this.accSession?.release(),
      this.evaluator.release(),
      this.workers?.release(),
    ]);
  }
}

// Evaluation: the loss of each of many batches, with no dropout and no update. Where bound sessions are
// available it runs one single-threaded session per core, in parallel, each run taking several batches
// (one graph output per batch, so each loss is still its own batch's mean). Measured on nanogpt-cpu with 240
// rows of 64 tokens, ms per 12-row batch: one 2-thread session with 12 rows per run 19.0, two 1-thread
// sessions with 12 rows 17.2, with 60 rows 15.0, with 120 rows 15.8; one 2-thread session with 240 rows 17.7.
import os from 'node:os';
import type { ModelConfig } from '../models/config.ts';
import type { ParamLayout } from '../models/params.ts';
import { AdaptiveSession } from '../runtime/adaptive.ts';
import { BoundSession } from '../runtime/bound.ts';
import { ort, type SessionOptions, scalarOf } from '../runtime/session.ts';
import { type Batch, joinRows } from './data.ts';
import { type Feeds, tokenFeeds } from './feeds.ts';
import { buildEvalGraph, type FinetuneParts } from './graphs.ts';

/** Tokens per evaluation run the batches are grouped up to (60 rows of 64 measured best, above)... */
export const EVAL_TOKENS_PER_RUN = 4096;
/** ...and at most this many batches per run: each is a loss node, and tiny batches would make thousands. */
export const EVAL_MAX_GROUPS = 8;

export class Evaluator {
  private constructor(
    private readonly batch: number,
    private readonly seq: number,
    /** Batches per run. */
    private readonly groups: number,
    private readonly runners: BoundSession[] | AdaptiveSession,
  ) {}

  static async create(
    cfg: ModelConfig,
    layout: ParamLayout,
    batch: number,
    seq: number,
    ignoreIndex: number,
    base: SessionOptions,
    adaptive: boolean,
    parts: FinetuneParts = {},
  ): Promise<Evaluator> {
    const groups = Math.min(EVAL_MAX_GROUPS, Math.max(1, Math.floor(EVAL_TOKENS_PER_RUN / (batch * seq))));
    const grouped = buildEvalGraph(cfg, layout, batch, seq, ignoreIndex, groups, parts).toBytes();
    // Threads given by the caller are honoured with one session; otherwise one 1-thread session per core.
    const count = base.threads === undefined ? Math.max(1, os.availableParallelism()) : 1;
    const opts = { ...base, threads: base.threads ?? 1 };
    const bound: BoundSession[] = [];
    for (let i = 0; i < count; i++) {
      const s = await BoundSession.create(grouped, opts);
      if (!s) break;
      bound.push(s);
    }
    if (bound.length === count) return new Evaluator(batch, seq, groups, bound);
    await Promise.all(bound.map((s) => s.release()));
    const single = buildEvalGraph(cfg, layout, batch, seq, ignoreIndex, 1, parts).toBytes();
    return new Evaluator(batch, seq, 1, await AdaptiveSession.create(single, base, adaptive));
  }

  /** The loss of each batch (in order) with the weights `params` (the `param.*` views). */
  async losses(params: Feeds, batches: readonly Batch[]): Promise<number[]> {
    const width = this.batch * this.seq;
    for (const b of batches) {
      if (b.idx.length !== width || b.targets.length !== width)
        throw new Error(`evaluate: each batch needs ${this.batch}×${this.seq} ids and targets`);
    }
    const out = new Array<number>(batches.length);
    if (!Array.isArray(this.runners)) {
      for (const [i, b] of batches.entries()) {
        const r = await this.runners.run({ ...params, ...this.feeds([b]) });
        out[i] = scalarOf(r.loss);
      }
      return out;
    }
    const chunks: number[] = [];
    for (let i = 0; i < batches.length; i += this.groups) chunks.push(i);
    const sessions = this.runners;
    await Promise.all(
      sessions.map(async (s, w) => {
        const loss = new ort.Tensor('float32', new Float32Array(this.groups), [this.groups]);
        for (let c = w; c < chunks.length; c += sessions.length) {
          const first = chunks[c];
          // A short last chunk repeats its last batch; those extra losses are dropped.
          const chunk = Array.from(
            { length: this.groups },
            (_, k) => batches[Math.min(first + k, batches.length - 1)],
          );
          await s.run({ ...params, ...this.feeds(chunk) }, { loss });
          const values = loss.data as Float32Array;
          for (let k = 0; k < this.groups && first + k < batches.length; k++) out[first + k] = values[k];
        }
      }),
    );
    return out;
  }

  private feeds(chunk: readonly Batch[]): Feeds {
    const joined: Batch = { idx: joinRows(chunk, 'idx'), targets: joinRows(chunk, 'targets') };
    if (chunk[0].positions) {
      joined.positions = joinRows(chunk, 'positions');
      joined.segments = Int32Array.from(chunk.flatMap((b) => [...(b.segments ?? [])]));
    }
    return tokenFeeds(joined, chunk.length * this.batch, this.seq);
  }

  async release(): Promise<void> {
    if (Array.isArray(this.runners)) await Promise.all(this.runners.map((s) => s.release()));
    else await this.runners.release();
  }
}

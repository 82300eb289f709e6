// What an evaluation of a model trained on repeated random tokens reports: the loss on each half of the
// held-out sequences and how strongly its best head does induction. The two move together at the
// induction-head phase change — the second-half loss falls from ≈ ln vocab as a head's score rises.
import { repeatedRandomTokens, scoreLayer } from '../inspect/patterns.ts';
import { TraceModel } from '../inspect/trace.ts';
import type { SessionOptions } from '../runtime/session.ts';
import type { Batch } from './data.ts';
import { halfTargets } from './repeated-tokens.ts';
import type { Trainer } from './trainer.ts';

export interface InductionMetrics {
  /** Mean loss over all held-out targets. */
  valLoss: number;
  /** Mean loss on the first half's targets (random: nothing to copy). */
  firstHalfLoss: number;
  /** Mean loss on the repeat's targets (copyable by an induction head). */
  secondHalfLoss: number;
  /** The highest induction score of any head (patterns.ts), averaged over the probe sequences. */
  inductionScore: number;
  /** Where that head is. */
  bestHead: { layer: number; head: number };
}

/** Probe sequences the induction score averages over: one sequence's score swings with its tokens. */
export const INDUCTION_PROBES = 4;

const mean = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;

/**
 * Every head's induction score on `probes` sequences of `half` random tokens repeated twice — the test the
 * Attention page runs (repeatedRandomTokens with seeds seed, seed+1, …) — averaged; [layer][head].
 */
export async function headInductionScores(
  trace: TraceModel,
  half: number,
  opts: { seed?: number; probes?: number } = {},
): Promise<number[][]> {
  const { nLayer, nHead, vocabSize } = trace.cfg;
  const probes = opts.probes ?? INDUCTION_PROBES;
  const sums = Array.from({ length: nLayer }, () => new Array<number>(nHead).fill(0));
  for (let k = 0; k < probes; k++) {
    const tokens = repeatedRandomTokens(vocabSize, half, (opts.seed ?? 0) + k);
    const run = await trace.run(tokens, { topK: 1, lens: false });
    run.attn.forEach((a, l) => {
      scoreLayer(a, nHead, tokens).forEach((s, h) => {
        sums[l][h] += s.induction / probes;
      });
    });
  }
  return sums;
}

/** Losses on `heldOut` (batches of RepeatedTokensSampler with this `half`) and the best head's induction score. */
export async function evaluateInduction(
  trainer: Trainer,
  heldOut: readonly Batch[],
  half: number,
  opts: { seed?: number; session?: SessionOptions } = {},
): Promise<InductionMetrics> {
  const n = heldOut.length;
  const losses = await trainer.evaluateAll([
    ...heldOut,
    ...heldOut.map((b) => halfTargets(b, half, 'first')),
    ...heldOut.map((b) => halfTargets(b, half, 'second')),
  ]);
  // The trace reads the trainer's weights in place; no step runs until it is released.
  const trace = await TraceModel.create(trainer.cfg, trainer.params, opts.session);
  let scores: number[][];
  try {
    scores = await headInductionScores(trace, half, { seed: opts.seed });
  } finally {
    await trace.release();
  }
  let best = { layer: 0, head: 0 };
  scores.forEach((row, l) => {
    row.forEach((s, h) => {
      if (s > scores[best.layer][best.head]) best = { layer: l, head: h };
    });
  });
  return {
    valLoss: mean(losses.slice(0, n)),
    firstHalfLoss: mean(losses.slice(n, 2 * n)),
    secondHalfLoss: mean(losses.slice(2 * n)),
    inductionScore: scores[best.layer][best.head],
    bestHead: best,
  };
}

// Direct Preference Optimization (Rafailov et al. 2023): with π the policy and π_ref the frozen reference,
// each pair's implicit rewards are r = β·(log π(y|x) − log π_ref(y|x)) for the chosen and the rejected
// answer, and the loss is −log σ(r_chosen − r_rejected), averaged over pairs. A step's rows are the pairs'
// chosen sequences followed by their rejected ones; targets are −100 outside the answers, so a sequence's
// log-probability is the sum over its answer tokens.
import type { Graph, Value } from '../graph/graph.ts';
import * as op from '../graph/ops.ts';

/** Graph inputs and outputs of a DPO step. */
export const DPO = {
  /** [rows]: the reference model's sequence log-probabilities, computed once before training. */
  refLogp: 'ref_logp',
  chosenReward: 'chosen_reward',
  rejectedReward: 'rejected_reward',
  /** [rows]: a logp graph's output. */
  logp: 'logp',
} as const;

/** Σ over each row's non-ignored tokens of log p(target): logits [rows·seq, V], targets [rows·seq] → [rows]. */
export function sequenceLogProbs(g: Graph, logits: Value, targets: Value, rows: number, seq: number): Value {
  const nll = op.tokenNll(g, logits, targets, -100);
  return op.neg(g, op.reduceSum(g, op.reshape(g, nll, [rows, seq]), [1], false));
}

/**
 * softplus(x) = log(1 + eˣ), with eˣ capped at x = 30 (beyond, softplus(x) = x to float precision) so it
 * cannot overflow. Not relu(x) + log(1 + e^−|x|): its gradient at exactly 0 — where every DPO run starts,
 * the policy being its own reference — would come out 0 through relu's and |x|'s kinks, not σ(0) = ½.
 */
export function softplus(g: Graph, x: Value): Value {
  const over = op.relu(g, op.sub(g, x, g.scalar(30)));
  const smooth = op.log(g, op.add(g, g.scalar(1), op.exp(g, op.sub(g, x, over))));
  return op.add(g, smooth, over);
}

/** DPO's loss and rewards from the rows' log-probabilities under the policy and the reference ([2·pairs]). */
export function dpoLoss(
  g: Graph,
  logp: Value,
  refLogp: Value,
  pairs: number,
  beta: number,
): { loss: Value; chosen: Value; rejected: Value } {
  const rewards = op.mul(g, op.sub(g, logp, refLogp), g.scalar(beta));
  const [chosen, rejected] = op.split(g, rewards, [pairs, pairs], 0);
  const loss = op.reduceMean(g, softplus(g, op.sub(g, rejected, chosen)), [0], false);
  return { loss, chosen, rejected };
}

/** A preference batch's figures: mean rewards of the chosen and the rejected answers, their margin, accuracy. */
export interface PairFigures {
  chosenReward: number;
  rejectedReward: number;
  margin: number;
  /** Share of pairs whose chosen answer has the higher reward. */
  accuracy: number;
}

/**
 * Bradley–Terry figures of pairs from their rewards (DPO's implicit ones or a reward model's scores): the
 * loss −log σ(chosen − rejected), averaged, with the batch's reward figures. log σ is computed as
 * −(max(−z, 0) + log(1 + e^−|z|)) so it stays finite for any margin.
 */
export function pairMetrics(
  chosen: ArrayLike<number>,
  rejected: ArrayLike<number>,
): PairFigures & { loss: number } {
  const pairs = chosen.length;
  let loss = 0;
  let c = 0;
  let r = 0;
  let right = 0;
  for (let i = 0; i < pairs; i++) {
    const z = chosen[i] - rejected[i];
    loss += Math.max(-z, 0) + Math.log1p(Math.exp(-Math.abs(z)));
    c += chosen[i];
    r += rejected[i];
    if (z > 0) right++;
  }
  return {
    loss: loss / pairs,
    chosenReward: c / pairs,
    rejectedReward: r / pairs,
    margin: (c - r) / pairs,
    accuracy: right / pairs,
  };
}

/** DPO's per-pair numbers in JS from the rows' log-probabilities under the policy and the reference ([2·pairs]). */
export function dpoMetrics(
  logp: Float32Array,
  refLogp: Float32Array,
  beta: number,
): PairFigures & { loss: number } {
  const pairs = logp.length / 2;
  const chosen = new Float64Array(pairs);
  const rejected = new Float64Array(pairs);
  for (let i = 0; i < pairs; i++) {
    chosen[i] = beta * (logp[i] - refLogp[i]);
    rejected[i] = beta * (logp[pairs + i] - refLogp[pairs + i]);
  }
  return pairMetrics(chosen, rejected);
}

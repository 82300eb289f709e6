// Synthetic pre-training data for induction heads: sequences of `half` random tokens repeated twice. The
// first half is unpredictable (loss ≈ ln vocab); the second half can be copied from the first, but only by
// a head that attends to the token after the earlier occurrence of the current one — an induction head
// (Olsson et al. 2022). A model learns that late and suddenly, so the second-half loss drops in one step.
import { distinctRandomIds } from '../inspect/patterns.ts';
import { Rng } from '../rng.ts';
import type { Batch } from './data.ts';

/** What the synthetic source is: ids in [0, vocab), `half` of them, then the same again. */
export interface RepeatedTokensSpec {
  vocab: number;
  half: number;
}

/** Targets that take no part in a loss (the trainer's default ignoreIndex). */
export const IGNORE = -100n;

/**
 * Batches of fresh sequences drawn from the generator the caller passes (the trainer's data RNG, whose
 * state a checkpoint saves), so a resumed run draws the same sequences it would have drawn. Each row is
 * h distinct ids (repeats only when vocab < h) then the same h ids, h drawn per row from [⌈half/2⌉, half];
 * the rest of the row is filler whose targets are ignored, as is the target after the repeat. The length
 * varies because with one fixed length a head learns "copy from h − 1 positions back" by position alone
 * (measured on the recipe's model: an induction score of 0.9–1.0 on runs of `half`, 0.0–0.2 on runs of 6
 * or 10 — no induction head); with lengths that vary, copying needs the real mechanism, a previous-token
 * head feeding an induction head.
 */
export class RepeatedTokensSampler {
  readonly seq: number;
  /** Shortest repeated run. */
  readonly minHalf: number;

  constructor(
    readonly spec: RepeatedTokensSpec,
    readonly batch: number,
  ) {
    if (!Number.isSafeInteger(spec.vocab) || spec.vocab < 2)
      throw new RangeError(`repeated tokens: vocab ${spec.vocab} must be an integer of at least 2`);
    if (!Number.isSafeInteger(spec.half) || spec.half < 2)
      throw new RangeError(`repeated tokens: half ${spec.half} must be an integer of at least 2`);
    this.seq = 2 * spec.half;
    this.minHalf = Math.max(2, Math.ceil(spec.half / 2));
  }

  next(rng: Rng): Batch {
    const { batch, seq, minHalf } = this;
    const { vocab, half } = this.spec;
    const idx = new BigInt64Array(batch * seq);
    const targets = new BigInt64Array(batch * seq).fill(IGNORE);
    for (let b = 0; b < batch; b++) {
      const row = b * seq;
      const h = minHalf + rng.int(half - minHalf + 1);
      distinctRandomIds(rng, h, vocab).forEach((id, t) => {
        idx[row + t] = idx[row + h + t] = BigInt(id);
      });
      for (let t = 2 * h; t < seq; t++) idx[row + t] = BigInt(rng.int(vocab));
      for (let t = 0; t + 1 < 2 * h; t++) targets[row + t] = idx[row + t + 1];
    }
    return { idx, targets };
  }

  /**
   * The held-out set: `batches` batches from a generator of their own (seeded from `seed` but not the
   * training stream), the same at every evaluation so the curves compare like with like.
   */
  heldOut(seed: number, batches: number): Batch[] {
    const rng = Rng.derive(seed, 0x68e1d);
    return Array.from({ length: batches }, () => this.next(rng));
  }
}

/**
 * `b` (a RepeatedTokensSampler batch) with only one half's targets kept: `first` the ids 2…h predicted
 * within the first run (random), `second` the repeat's ids predicted from position h on (copyable). The
 * target at position h−1 (the repeat's first id, which nothing predicts) is in neither. A row's h is where
 * its kept targets end (2h − 1).
 */
export function halfTargets(b: Batch, half: number, which: 'first' | 'second'): Batch {
  const seq = 2 * half;
  const targets = b.targets.slice();
  for (let row = 0; row < targets.length; row += seq) {
    let end = 0;
    while (end < seq && b.targets[row + end] !== IGNORE) end++;
    const h = (end + 1) / 2;
    for (let t = 0; t < end; t++) {
      const keep = which === 'first' ? t < h - 1 : t >= h;
      if (!keep) targets[row + t] = IGNORE;
    }
  }
  return { idx: b.idx, targets };
}

// Corpus BLEU as sacrebleu computes it by default: 13a tokens, 4-gram precisions clipped by the most any one
// reference has, the reference length closest to the hypothesis (shorter wins a tie), brevity penalty on the
// corpus sums, and the "exp" (NIST) smoothing for orders with no match. Scale 0-100.
import { pyRstrip, pySplit } from './python-text.ts';
import { tokenize13a } from './tokenize-13a.ts';

export interface BleuStats {
  hypLen: number;
  refLen: number;
  /** Matched n-grams per order (index 0 = unigrams). */
  correct: number[];
  /** Hypothesis n-grams per order. */
  total: number[];
}

export interface BleuOptions {
  /** Highest n-gram order (sacrebleu default 4). */
  maxOrder?: number;
  smooth?: 'exp' | 'none';
}

/** n-gram counts per order (index 0 = unigrams); a key is the tokens joined by a space (tokens hold none). */
function ngramCounts(tokens: readonly string[], maxOrder: number): Map<string, number>[] {
  const orders: Map<string, number>[] = [];
  for (let n = 1; n <= maxOrder; n++) {
    const counts = new Map<string, number>();
    for (let i = 0; i + n <= tokens.length; i++) {
      const key = tokens.slice(i, i + n).join(' ');
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    orders.push(counts);
  }
  return orders;
}

function closestRefLen(hypLen: number, refLens: readonly number[]): number {
  let best = -1;
  let bestDiff = -1;
  for (const len of refLens) {
    const diff = Math.abs(hypLen - len);
    if (bestDiff === -1 || diff < bestDiff || (diff === bestDiff && len < best)) {
      bestDiff = diff;
      best = len;
    }
  }
  return best;
}

/** Sufficient statistics of one segment against its references (raw strings; tokenized here). */
export function bleuSegmentStats(hypothesis: string, references: readonly string[], maxOrder = 4): BleuStats {
  // Clipping uses, per n-gram, the largest count in any single reference.
  const maxRef = Array.from({ length: maxOrder }, () => new Map<string, number>());
  const refLens: number[] = [];
  for (const ref of references) {
    const tokens = pySplit(tokenize13a(pyRstrip(ref)));
    refLens.push(tokens.length);
    ngramCounts(tokens, maxOrder).forEach((counts, n) => {
      for (const [k, c] of counts) maxRef[n]!.set(k, Math.max(maxRef[n]!.get(k) ?? 0, c));
    });
  }
  const hyp = pySplit(tokenize13a(pyRstrip(hypothesis)));
  const correct = new Array<number>(maxOrder).fill(0);
  const total = new Array<number>(maxOrder).fill(0);
  ngramCounts(hyp, maxOrder).forEach((counts, n) => {
    for (const [k, c] of counts) {
      total[n]! += c;
      correct[n]! += Math.min(c, maxRef[n]!.get(k) ?? 0);
    }
  });
  return { hypLen: hyp.length, refLen: closestRefLen(hyp.length, refLens), correct, total };
}

/** sacrebleu's floor for log(0), so a zero precision drives the score to 0 instead of NaN. */
const logFloor = (x: number): number => (x === 0 ? -9999999999 : Math.log(x));

/** BLEU from summed statistics (sacrebleu `BLEU.compute_bleu`, effective order off). */
export function bleuFromStats(s: BleuStats, smooth: 'exp' | 'none' = 'exp'): number {
  const order = s.correct.length;
  let bp = 1;
  if (s.hypLen < s.refLen) bp = s.hypLen > 0 ? Math.exp(1 - s.refLen / s.hypLen) : 0;
  if (!s.correct.some((c) => c > 0)) return 0;
  const precisions = new Array<number>(order).fill(0);
  let smoothDenominator = 1;
  for (let n = 0; n < order; n++) {
    if (s.total[n] === 0) break;
    if (s.correct[n] === 0) {
      if (smooth === 'exp') {
        smoothDenominator *= 2;
        precisions[n] = 100 / (smoothDenominator * s.total[n]!);
      }
    } else {
      precisions[n] = (100 * s.correct[n]!) / s.total[n]!;
    }
  }
  let logSum = 0;
  for (const p of precisions) logSum += logFloor(p);
  return bp * Math.exp(logSum / order);
}

/** Corpus BLEU: `references[r][i]` is reference r of segment i (sacrebleu's layout). */
export function corpusBleu(
  hypotheses: readonly string[],
  references: readonly (readonly string[])[],
  options: BleuOptions = {},
): number {
  const maxOrder = options.maxOrder ?? 4;
  const sum: BleuStats = {
    hypLen: 0,
    refLen: 0,
    correct: new Array(maxOrder).fill(0),
    total: new Array(maxOrder).fill(0),
  };
  hypotheses.forEach((hyp, i) => {
    const s = bleuSegmentStats(
      hyp,
      references.map((set) => set[i]!),
      maxOrder,
    );
    sum.hypLen += s.hypLen;
    sum.refLen += s.refLen;
    for (let n = 0; n < maxOrder; n++) {
      sum.correct[n]! += s.correct[n]!;
      sum.total[n]! += s.total[n]!;
    }
  });
  return bleuFromStats(sum, options.smooth ?? 'exp');
}

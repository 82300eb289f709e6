// Corpus chrF as sacrebleu computes it by default: character n-grams of order 1-6 over the text with all
// whitespace removed (characters are code points), beta 2, no word n-grams. Per segment the reference with
// the best F is kept; statistics are summed over the corpus and the F-score is taken once. Scale 0-100.
import { codePoints, pyRemoveSpaces } from './python-text.ts';

export interface ChrfOptions {
  /** Character n-gram order (default 6). */
  charOrder?: number;
  /** Recall weight (default 2). */
  beta?: number;
  /** Keep whitespace inside n-grams (sacrebleu `whitespace=True`; default false). */
  whitespace?: boolean;
  /**
   * sacrebleu's `eps_smoothing=True` (chrF++.py / NLTK / Moses style). Default false: average precision and
   * recall over the orders that both sides have, as sacrebleu does by default.
   */
  epsSmoothing?: boolean;
}

type Resolved = Required<ChrfOptions>;

function charNgrams(text: string, o: Resolved): Map<string, number>[] {
  const chars = codePoints(o.whitespace ? text : pyRemoveSpaces(text));
  const orders: Map<string, number>[] = [];
  for (let n = 1; n <= o.charOrder; n++) {
    const counts = new Map<string, number>();
    for (let i = 0; i + n <= chars.length; i++) {
      const g = chars.slice(i, i + n).join('');
      counts.set(g, (counts.get(g) ?? 0) + 1);
    }
    orders.push(counts);
  }
  return orders;
}

/** [hyp n-grams, ref n-grams, matches] for one order. */
function matchStats(hyp: Map<string, number>, ref: Map<string, number>): [number, number, number] {
  let hypCount = 0;
  let match = 0;
  for (const [g, c] of hyp) {
    hypCount += c;
    const r = ref.get(g);
    if (r !== undefined) match += Math.min(c, r);
  }
  let refCount = 0;
  for (const c of ref.values()) refCount += c;
  // A hypothesis n-gram does not count against precision when the reference has none of that order.
  return [ref.size > 0 ? hypCount : 0, refCount, match];
}

/** F-score from flattened [hyp, ref, match] triples, one per order (sacrebleu `_compute_f_score`). */
export function chrfFromStats(stats: readonly number[], options: ChrfOptions = {}): number {
  const o = resolve(options);
  const eps = 1e-16;
  const factor = o.beta ** 2;
  const orders = stats.length / 3;
  let score = 0;
  let effectiveOrder = 0;
  let avgPrec = 0;
  let avgRec = 0;
  for (let i = 0; i < orders; i++) {
    const [nHyp, nRef, nMatch] = [stats[3 * i]!, stats[3 * i + 1]!, stats[3 * i + 2]!];
    const prec = nHyp > 0 ? nMatch / nHyp : eps;
    const rec = nRef > 0 ? nMatch / nRef : eps;
    const denom = factor * prec + rec;
    score += denom > 0 ? ((1 + factor) * prec * rec) / denom : eps;
    if (nHyp > 0 && nRef > 0) {
      avgPrec += prec;
      avgRec += rec;
      effectiveOrder++;
    }
  }
  if (o.epsSmoothing) return (100 * score) / orders;
  if (effectiveOrder === 0) {
    avgPrec = 0;
    avgRec = 0;
  } else {
    avgPrec /= effectiveOrder;
    avgRec /= effectiveOrder;
  }
  if (avgPrec + avgRec === 0) return 0;
  // Same operation order as sacrebleu, so the float result is the same.
  let f = (1 + factor) * avgPrec * avgRec;
  f /= factor * avgPrec + avgRec;
  return 100 * f;
}

function resolve(o: ChrfOptions): Resolved {
  return {
    charOrder: o.charOrder ?? 6,
    beta: o.beta ?? 2,
    whitespace: o.whitespace ?? false,
    epsSmoothing: o.epsSmoothing ?? false,
  };
}

/** Statistics of one segment: those of the reference with the highest F (the first on a tie). */
export function chrfSegmentStats(
  hypothesis: string,
  references: readonly string[],
  options: ChrfOptions = {},
): number[] {
  const o = resolve(options);
  const hyp = charNgrams(hypothesis, o);
  let best: number[] = [];
  let bestF = -1;
  for (const ref of references) {
    const r = charNgrams(ref, o);
    const stats = hyp.flatMap((h, n) => matchStats(h, r[n]!));
    const f = chrfFromStats(stats, o);
    if (f > bestF) {
      bestF = f;
      best = stats;
    }
  }
  return best;
}

/** Corpus chrF: `references[r][i]` is reference r of segment i. */
export function corpusChrf(
  hypotheses: readonly string[],
  references: readonly (readonly string[])[],
  options: ChrfOptions = {},
): number {
  const o = resolve(options);
  const sum = new Array<number>(3 * o.charOrder).fill(0);
  hypotheses.forEach((hyp, i) => {
    const s = chrfSegmentStats(
      hyp,
      references.map((set) => set[i]!),
      o,
    );
    s.forEach((v, k) => {
      sum[k]! += v;
    });
  });
  return chrfFromStats(sum, o);
}

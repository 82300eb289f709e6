/**
 * Top-p's cut-off without sorting the vocabulary. Given the weights (unnormalised probabilities, all
 * > 0) of the candidate tokens, returns `cut` and `ties` such that the tokens weighing more than `cut`,
 * plus the first `ties` tokens (in id order) weighing exactly `cut`, form the smallest most-likely-first
 * prefix whose mass reaches `target`.
 *
 * A weighted quickselect, expected O(n): a flat distribution at top-p 0.95 can put tens of thousands of
 * GPT-2 tokens in the nucleus, and sorting those with a comparator costs ~40 ms a token.
 * Reorders `a[0..n)`.
 */
export function nucleusCut(a: Float64Array, n: number, target: number): { cut: number; ties: number } {
  let lo = 0;
  let hi = n;
  // mass of the elements already known to outweigh everything in [lo, hi); stays below target
  let above = 0;
  while (lo < hi) {
    const pivot = median3(a[lo], a[(lo + hi) >>> 1], a[hi - 1]);
    // three-way partition: [lo, gt) > pivot, [gt, lt) = pivot, [lt, hi) < pivot
    let gt = lo;
    let lt = hi;
    let i = lo;
    let massGt = 0;
    while (i < lt) {
      const v = a[i];
      if (v > pivot) {
        a[i++] = a[gt];
        a[gt++] = v;
        massGt += v;
      } else if (v < pivot) {
        a[i] = a[--lt];
        a[lt] = v;
      } else i++;
    }
    if (above + massGt >= target) {
      hi = gt;
      continue;
    }
    const need = target - above - massGt;
    const equal = lt - gt;
    if (equal * pivot >= need)
      return { cut: pivot, ties: Math.min(equal, Math.max(1, Math.ceil(need / pivot))) };
    above += massGt + equal * pivot;
    lo = lt;
  }
  // rounding left the target a hair out of reach of the whole mass: keep everything
  return { cut: 0, ties: Number.POSITIVE_INFINITY };
}

function median3(a: number, b: number, c: number): number {
  return Math.max(Math.min(a, b), Math.min(Math.max(a, b), c));
}

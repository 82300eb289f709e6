/**
 * Top-p's cut-off without sorting the vocabulary. Given the weights (unnormalised probabilities, all
 * > 0) of the candidate tokens, returns `cut` and `ties` such that the tokens weighing more than `cut`,
 * plus the first `ties` tokens (in id order) weighing exactly `cut`, form the smallest most-likely-first
 * prefix whose mass reaches `target`.
 *
 * A flat distribution at top-p 0.95 can put tens of thousands of GPT-2 tokens in the nucleus; sorting
 * them with a comparator costs ~40 ms a token. Instead, one pass sums the mass per bucket of the
 * weight's leading bits (1/16 of an octave each), which finds the bucket the cut falls in, and a
 * weighted quickselect settles it among that bucket's few tokens. Reorders `a[0..n)`.
 */
export function nucleusCut(a: Float64Array, n: number, target: number): { cut: number; ties: number } {
  if (n <= 1024) return select(a, 0, n, 0, target);
  // The high 32 bits of a positive double (the odd words, little-endian) order like the double itself;
  // their top 16 bits, exponent and 4 mantissa bits, name the bucket.
  const hi = new Int32Array(a.buffer, a.byteOffset, 2 * n);
  const mass = bucketMass;
  let top = 0;
  let bottom = BUCKETS;
  for (let i = 0; i < n; i++) {
    const b = hi[2 * i + 1] >>> 16;
    mass[b] += a[i];
    if (b > top) top = b;
    if (b < bottom) bottom = b;
  }
  let above = 0;
  let edge = -1;
  for (let b = top; b >= bottom; b--) {
    if (above + mass[b] >= target) {
      edge = b;
      break;
    }
    above += mass[b];
  }
  mass.fill(0, bottom, top + 1);
  // rounding left the target a hair out of reach of the whole mass: keep everything
  if (edge < 0) return { cut: 0, ties: Number.POSITIVE_INFINITY };
  let m = 0;
  for (let i = 0; i < n; i++)
    if (hi[2 * i + 1] >>> 16 === edge) {
      const v = a[i];
      a[i] = a[m];
      a[m++] = v;
    }
  return select(a, 0, m, above, target);
}

const BUCKETS = 1 << 16;
const bucketMass = new Float64Array(BUCKETS);

/** Weighted quickselect over a[lo..hi), where `above` is the mass of everything heavier outside it. */
function select(a: Float64Array, lo: number, hi: number, above: number, target: number) {
  // invariant: above < target
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
    // nothing lighter left: rounding kept the sum a hair short of the target, so keep all of it
    if (lt === hi) return { cut: pivot, ties: equal };
    above += massGt + equal * pivot;
    lo = lt;
  }
  return { cut: 0, ties: Number.POSITIVE_INFINITY };
}

function median3(a: number, b: number, c: number): number {
  return Math.max(Math.min(a, b), Math.min(Math.max(a, b), c));
}

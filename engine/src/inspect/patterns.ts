// Scores of what an attention head does, each the attention a query puts where a known mechanism would,
// averaged over the queries where that mechanism applies (1 = the head does only that):
// - previous-token: on the token just before;
// - first-token: on position 0, the "attention sink" many heads park their attention on;
// - duplicate-token: on earlier occurrences of the query's own token;
// - induction: on the token after an earlier occurrence of the query's token (the copying step of
//   induction heads, Olsson et al. 2022), measured on random tokens repeated twice, where only that
//   mechanism can predict the second half.
import { Rng } from '../rng.ts';

export interface HeadScores {
  previous: number;
  first: number;
  /** NaN where no token repeats. */
  duplicate: number;
  /** NaN where no token repeats with a token after its earlier occurrence. */
  induction: number;
}

export const PATTERNS = ['previous', 'first', 'duplicate', 'induction'] as const;
export type Pattern = (typeof PATTERNS)[number];

/**
 * Scores of one head's pattern `a` [T, T] (row = query, rows sum to 1) over `tokens` [T]. Row 0 counts for
 * none: it can only attend to itself.
 */
export function scoreHead(a: Float32Array, tokens: readonly number[]): HeadScores {
  const T = tokens.length;
  if (a.length !== T * T) throw new Error(`scoreHead: ${a.length} weights for ${T} tokens`);
  let prev = 0;
  let first = 0;
  let dup = 0;
  let dupRows = 0;
  let ind = 0;
  let indRows = 0;
  const seen = new Map<number, number[]>();
  seen.set(tokens[0], [0]);
  for (let i = 1; i < T; i++) {
    const row = i * T;
    prev += a[row + i - 1];
    first += a[row];
    const earlier = seen.get(tokens[i]);
    if (earlier) {
      let d = 0;
      let n = 0;
      let s = 0;
      for (const j of earlier) {
        d += a[row + j];
        // j + 1 = i would be the previous token, which the previous-token score already counts.
        if (j + 1 < i) {
          s += a[row + j + 1];
          n++;
        }
      }
      dup += d;
      dupRows++;
      if (n) {
        ind += s;
        indRows++;
      }
      earlier.push(i);
    } else seen.set(tokens[i], [i]);
  }
  const rows = T - 1;
  return {
    previous: rows ? prev / rows : Number.NaN,
    first: rows ? first / rows : Number.NaN,
    duplicate: dupRows ? dup / dupRows : Number.NaN,
    induction: indRows ? ind / indRows : Number.NaN,
  };
}

/** Scores of every head of a layer's attention [H, T, T]. */
export function scoreLayer(attn: Float32Array, heads: number, tokens: readonly number[]): HeadScores[] {
  const TT = tokens.length * tokens.length;
  return Array.from({ length: heads }, (_, h) => scoreHead(attn.subarray(h * TT, (h + 1) * TT), tokens));
}

/**
 * `n` distinct random ids from [from, vocab) (with repeats only when the range is smaller than n), then the
 * same ids again: the sequence induction scores are measured on.
 */
export function repeatedRandomTokens(vocab: number, n: number, seed: number, from = 0): number[] {
  const range = vocab - from;
  if (range <= 0 || n < 1) throw new RangeError(`repeatedRandomTokens: ${n} ids from [${from}, ${vocab})`);
  const picked = distinctRandomIds(new Rng(seed), n, range, from);
  return [...picked, ...picked];
}

/**
 * `n` random ids from [from, from + range) drawn from `rng`, each redrawn while it repeats an earlier one
 * (repeats only once the range is used up): the first run of an induction sequence, here and in training.
 */
export function distinctRandomIds(rng: Rng, n: number, range: number, from = 0): number[] {
  const picked: number[] = [];
  const used = new Set<number>();
  while (picked.length < n) {
    const id = from + rng.int(range);
    if (used.has(id) && used.size < range) continue;
    used.add(id);
    picked.push(id);
  }
  return picked;
}

import { TripleHeap } from './heap.ts';

/** Pieces longer than this use the O(n log n) heap merge; shorter ones the cache-friendly quadratic scan. */
const SMALL_PIECE = 48;

const starts = new Int32Array(SMALL_PIECE + 2);
const pairRanks = new Float64Array(SMALL_PIECE + 2);

/**
 * tiktoken's byte-pair merge over a byte string: repeatedly merge the adjacent pair whose concatenation has
 * the lowest rank (leftmost on ties) until no concatenation is a token. Appends the ranks (= ids) to `out`.
 * `maxRank` bounds the usable merges (used to recover the merge list of a rank table for export).
 */
export function rankMerge(
  piece: string,
  ranks: Map<string, number>,
  out: number[],
  maxRank = Infinity,
): void {
  const n = piece.length;
  if (n > SMALL_PIECE) {
    rankMergeLong(piece, ranks, out, maxRank);
    return;
  }
  let m = n; // number of parts
  for (let i = 0; i <= n; i++) starts[i] = i;
  for (let i = 0; i < n - 1; i++) {
    const r = ranks.get(piece.slice(i, i + 2));
    pairRanks[i] = r !== undefined && r < maxRank ? r : Infinity;
  }
  while (m > 1) {
    let best = Infinity;
    let bi = -1;
    for (let i = 0; i < m - 1; i++) {
      if (pairRanks[i] < best) {
        best = pairRanks[i];
        bi = i;
      }
    }
    if (bi < 0) break;
    // remove boundary bi+1
    for (let i = bi + 1; i < m; i++) starts[i] = starts[i + 1];
    for (let i = bi + 1; i < m - 1; i++) pairRanks[i] = pairRanks[i + 1];
    m--;
    if (bi < m - 1) {
      const r = ranks.get(piece.slice(starts[bi], starts[bi + 2]));
      pairRanks[bi] = r !== undefined && r < maxRank ? r : Infinity;
    }
    if (bi > 0) {
      const r = ranks.get(piece.slice(starts[bi - 1], starts[bi + 1]));
      pairRanks[bi - 1] = r !== undefined && r < maxRank ? r : Infinity;
    }
  }
  for (let i = 0; i < m; i++) {
    const r = ranks.get(piece.slice(starts[i], starts[i + 1]));
    out.push(r === undefined ? -1 : r);
  }
}

function rankMergeLong(piece: string, ranks: Map<string, number>, out: number[], maxRank: number): void {
  const n = piece.length;
  // parts identified by their start offset; end[i] valid while alive
  const next = new Int32Array(n);
  const prev = new Int32Array(n);
  const alive = new Uint8Array(n).fill(1);
  for (let i = 0; i < n; i++) {
    next[i] = i + 1 < n ? i + 1 : -1;
    prev[i] = i - 1;
  }
  const endOf = (i: number): number => (next[i] === -1 ? n : next[i]);
  const heap = new TripleHeap();
  const pushPair = (i: number): void => {
    const j = next[i];
    if (j === -1) return;
    const e = endOf(j);
    const r = ranks.get(piece.slice(i, e));
    if (r !== undefined && r < maxRank) heap.push(r, i, e);
  };
  for (let i = 0; i < n - 1; i++) pushPair(i);
  while (heap.size > 0) {
    const i = heap.topB();
    const e = heap.topPayload();
    heap.pop();
    const j = next[i];
    if (!alive[i] || j === -1 || endOf(j) !== e) continue; // stale entry
    alive[j] = 0;
    next[i] = next[j];
    if (next[j] !== -1) prev[next[j]] = i;
    pushPair(i);
    if (prev[i] >= 0) pushPair(prev[i]);
  }
  for (let i = 0; i !== -1; i = next[i]) {
    const r = ranks.get(piece.slice(i, endOf(i)));
    out.push(r === undefined ? -1 : r);
  }
}

/**
 * Hugging Face BPE semantics: merges are explicit (left id, right id) rules with a priority; only listed
 * pairs merge. `pairs` maps left*2^21+right to rank*2^21+mergedId. Merges `ids` in place, returns new length.
 */
export const PAIR_SHIFT = 2 ** 21;

export function pairMerge(ids: number[], pairs: Map<number, number>): number[] {
  const n = ids.length;
  if (n < 2) return ids;
  if (n <= SMALL_PIECE) {
    const sym = ids;
    let m = n;
    for (;;) {
      let best = Infinity;
      let bi = -1;
      for (let i = 0; i < m - 1; i++) {
        const v = pairs.get(sym[i] * PAIR_SHIFT + sym[i + 1]);
        if (v !== undefined && v < best) {
          best = v;
          bi = i;
        }
      }
      if (bi < 0) break;
      sym[bi] = best % PAIR_SHIFT;
      for (let i = bi + 1; i < m - 1; i++) sym[i] = sym[i + 1];
      m--;
    }
    sym.length = m;
    return sym;
  }
  const sym = ids;
  const next = new Int32Array(n);
  const prev = new Int32Array(n);
  const alive = new Uint8Array(n).fill(1);
  for (let i = 0; i < n; i++) {
    next[i] = i + 1 < n ? i + 1 : -1;
    prev[i] = i - 1;
  }
  const heap = new TripleHeap();
  const pushPair = (i: number): void => {
    const j = next[i];
    if (j === -1) return;
    const v = pairs.get(sym[i] * PAIR_SHIFT + sym[j]);
    // payload encodes the expected right symbol so stale entries are detectable
    if (v !== undefined) heap.push(Math.floor(v / PAIR_SHIFT), i, j * PAIR_SHIFT + sym[j]);
  };
  for (let i = 0; i < n - 1; i++) pushPair(i);
  while (heap.size > 0) {
    const rank = heap.topA();
    const i = heap.topB();
    const payload = heap.topPayload();
    heap.pop();
    const j = Math.floor(payload / PAIR_SHIFT);
    const rightSym = payload % PAIR_SHIFT;
    if (!alive[i] || next[i] !== j || sym[j] !== rightSym) continue;
    const v = pairs.get(sym[i] * PAIR_SHIFT + sym[j]);
    if (v === undefined || Math.floor(v / PAIR_SHIFT) !== rank) continue;
    sym[i] = v % PAIR_SHIFT;
    alive[j] = 0;
    next[i] = next[j];
    if (next[j] !== -1) prev[next[j]] = i;
    pushPair(i);
    if (prev[i] >= 0) pushPair(prev[i]);
  }
  const out: number[] = [];
  for (let i = 0; i !== -1; i = next[i]) out.push(sym[i]);
  return out;
}

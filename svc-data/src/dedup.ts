// Exact and near-duplicate detection. Near duplicates: MinHash signatures over word n-gram shingles
// (32-bit hashes, shingles hashed once, permutations in typed arrays), banded LSH for candidates, and a
// check of each candidate pair's exact Jaccard similarity (of the shingle sets) against the threshold.
import { createHash } from 'node:crypto';
import { mulberry32 } from '@lab/common';

export interface Duplicate {
  /** Index of the removed document. */
  index: number;
  /** Index of the document kept in its place (the first of its cluster). */
  keptIndex: number;
  /** Jaccard similarity of the shingle sets (1 for exact duplicates). */
  similarity: number;
}

export interface DedupResult {
  /** keep[i] is 1 when document i stays. */
  keep: Uint8Array;
  duplicates: Duplicate[];
  /** Groups of two or more documents that are duplicates of each other. */
  clusters: number;
}

/** Exact duplicates, optionally after lower-casing and collapsing whitespace; the first occurrence stays. */
export function exactDedup(texts: readonly string[], normalize = true): DedupResult {
  const first = new Map<string, number>();
  const keep = new Uint8Array(texts.length).fill(1);
  const duplicates: Duplicate[] = [];
  const clustered = new Set<number>();
  texts.forEach((t, i) => {
    const key = createHash('sha1')
      .update(normalize ? t.toLowerCase().replace(/\s+/g, ' ').trim() : t)
      .digest('base64');
    const f = first.get(key);
    if (f === undefined) first.set(key, i);
    else {
      keep[i] = 0;
      duplicates.push({ index: i, keptIndex: f, similarity: 1 });
      clustered.add(f);
    }
  });
  return { keep, duplicates, clusters: clustered.size };
}

export interface MinHashOptions {
  /** Number of hash functions (signature length). */
  numPerm: number;
  /** Words per shingle. */
  ngram: number;
  seed: number;
}

const WORD_CHAR = /[\p{L}\p{N}\p{M}]/u;
let wordBuf: Uint32Array = new Uint32Array(1 << 16);
function growTo(a: Uint32Array, size: number): Uint32Array {
  const b = new Uint32Array(size);
  b.set(a);
  return b;
}

/** MinHash with `numPerm` hash functions h_i(x) = mix((x ^ b_i) * a_i), a_i odd. */
export class MinHasher {
  readonly a: Uint32Array;
  readonly b: Uint32Array;

  constructor(readonly o: MinHashOptions) {
    const rnd = mulberry32(o.seed ^ 0x5bd1e995);
    this.a = new Uint32Array(o.numPerm);
    this.b = new Uint32Array(o.numPerm);
    for (let i = 0; i < o.numPerm; i++) {
      this.a[i] = (Math.floor(rnd() * 2 ** 32) | 1) >>> 0;
      this.b[i] = Math.floor(rnd() * 2 ** 32) >>> 0;
    }
  }

  /**
   * Word n-gram shingle hashes of a text; each shingle hashed once. Words are runs of letters, digits and
   * marks, lower-cased, hashed (FNV-1a) while scanning, without building substrings.
   */
  shingles(text: string): Uint32Array {
    const n = this.o.ngram;
    let wh = wordBuf;
    let count = 0;
    let h = 0x811c9dc5;
    let inWord = false;
    for (let i = 0; i < text.length; i++) {
      let c = text.charCodeAt(i);
      let word: boolean;
      if (c < 128) {
        if (c >= 65 && c <= 90) {
          c |= 0x20;
          word = true;
        } else word = (c >= 97 && c <= 122) || (c >= 48 && c <= 57);
      } else if (c >= 0xd800 && c <= 0xdfff) word = true;
      else {
        const ch = text[i]!;
        word = WORD_CHAR.test(ch);
        if (word) c = ch.toLowerCase().charCodeAt(0);
      }
      if (word) {
        h = Math.imul(h ^ c, 0x01000193);
        inWord = true;
      } else if (inWord) {
        if (count === wh.length) wh = wordBuf = growTo(wh, count * 2);
        wh[count++] = h >>> 0;
        h = 0x811c9dc5;
        inWord = false;
      }
    }
    if (inWord) {
      if (count === wh.length) wh = wordBuf = growTo(wh, count * 2);
      wh[count++] = h >>> 0;
    }
    const shingles = Math.max(1, count - n + 1);
    const out = new Uint32Array(shingles);
    for (let i = 0; i < shingles; i++) {
      let x = 0x9e3779b9;
      const end = Math.min(i + n, count);
      for (let j = i; j < end; j++) x = Math.imul(x ^ wh[j]!, 0x01000193) ^ (x >>> 15);
      out[i] = x >>> 0;
    }
    return out;
  }

  /** Writes the signature of `shingles` into `out` (length numPerm). */
  signature(shingles: Uint32Array, out: Uint32Array): void {
    const { a, b } = this;
    const k = a.length;
    out.fill(0xffffffff);
    for (let s = 0; s < shingles.length; s++) {
      const x = shingles[s]!;
      for (let i = 0; i < k; i++) {
        let v = Math.imul(x ^ b[i]!, a[i]!);
        v = (v ^ (v >>> 15)) >>> 0;
        if (v < out[i]!) out[i] = v;
      }
    }
  }
}

/**
 * Bands and rows (bands × rows ≤ numPerm) for banded LSH: among the choices that make a pair right at the
 * threshold a candidate with probability ≥ 0.95, the one with the fewest candidates below it (candidates
 * are checked exactly afterwards, so a missed pair costs more than an extra check).
 */
export function lshParams(threshold: number, numPerm: number): { bands: number; rows: number } {
  const integrate = (f: (s: number) => number, lo: number, hi: number) => {
    let sum = 0;
    const steps = 100;
    const h = (hi - lo) / steps;
    for (let i = 0; i < steps; i++) sum += f(lo + (i + 0.5) * h) * h;
    return sum;
  };
  let best = { bands: numPerm, rows: 1, fp: Number.POSITIVE_INFINITY };
  for (let bands = 1; bands <= numPerm; bands++) {
    for (let rows = 1; rows * bands <= numPerm; rows++) {
      const p = (s: number) => 1 - (1 - s ** rows) ** bands;
      if (p(threshold) < 0.95) continue;
      const fp = integrate(p, 0, threshold);
      if (fp < best.fp) best = { bands, rows, fp };
    }
  }
  return { bands: best.bands, rows: best.rows };
}

export interface NearDedupOptions extends MinHashOptions {
  /** Jaccard similarity at or above which two documents are duplicates. */
  threshold: number;
}

function uniqueSorted(a: Uint32Array): Uint32Array {
  a.sort();
  let w = 0;
  for (let r = 0; r < a.length; r++) if (r === 0 || a[r] !== a[r - 1]) a[w++] = a[r]!;
  return a.slice(0, w);
}

/** Jaccard similarity of two sorted sets of unique values. */
export function jaccardSorted(a: Uint32Array, b: Uint32Array): number {
  let i = 0;
  let j = 0;
  let inter = 0;
  while (i < a.length && j < b.length) {
    if (a[i] === b[j]) {
      inter++;
      i++;
      j++;
    } else if (a[i]! < b[j]!) i++;
    else j++;
  }
  const union = a.length + b.length - inter;
  return union ? inter / union : 1;
}

class UnionFind {
  readonly parent: Int32Array;
  constructor(n: number) {
    this.parent = new Int32Array(n).map((_, i) => i);
  }
  find(x: number): number {
    const p = this.parent;
    while (p[x] !== x) {
      p[x] = p[p[x]!]!;
      x = p[x]!;
    }
    return x;
  }
  /** Joins the sets; the smaller index becomes the root, so each cluster's root is its first document. */
  union(x: number, y: number): void {
    const a = this.find(x);
    const b = this.find(y);
    if (a < b) this.parent[b] = a;
    else if (b < a) this.parent[a] = b;
  }
}

/**
 * Near-duplicate detection. Each cluster keeps its first document; the others are removed.
 * `onProgress(done, total)` is called every few thousand documents.
 */
export function nearDedup(
  texts: readonly string[],
  o: NearDedupOptions,
  onProgress?: (done: number, total: number) => void,
): DedupResult {
  const n = texts.length;
  const { bands, rows } = lshParams(o.threshold, o.numPerm);
  // Signatures only feed the LSH bands (pairs are checked exactly), so only bands × rows hashes are needed.
  const k = bands * rows;
  const hasher = new MinHasher({ ...o, numPerm: k });
  const sigs = new Uint32Array(n * k);
  const buckets: Map<number, number[]>[] = Array.from({ length: bands }, () => new Map());
  const uf = new UnionFind(n);
  // Candidates are checked with the exact Jaccard similarity of their shingle sets (sorted, unique), so
  // the signature's estimation error decides only which pairs are looked at, not which are duplicates.
  const sets: Uint32Array[] = new Array(n);
  const sim = (i: number, j: number) => jaccardSorted(sets[i]!, sets[j]!);
  const best = new Float64Array(n);
  const MAX_COMPARE = 16;
  for (let i = 0; i < n; i++) {
    const sig = sigs.subarray(i * k, (i + 1) * k);
    sets[i] = uniqueSorted(hasher.shingles(texts[i]!));
    hasher.signature(sets[i]!, sig);
    for (let band = 0; band < bands; band++) {
      let h = 0x811c9dc5 ^ band;
      for (let r = band * rows; r < (band + 1) * rows; r++) h = Math.imul(h ^ sig[r]!, 0x01000193);
      const key = h >>> 0;
      const bucket = buckets[band]!.get(key);
      if (!bucket) {
        buckets[band]!.set(key, [i]);
        continue;
      }
      // Compare with a few members not already in this document's cluster.
      let compared = 0;
      for (const j of bucket) {
        if (compared >= MAX_COMPARE) break;
        if (uf.find(j) === uf.find(i)) continue;
        compared++;
        const s = sim(i, j);
        if (s >= o.threshold) {
          uf.union(i, j);
          if (s > best[i]!) best[i] = s;
        }
      }
      if (bucket.length < 64) bucket.push(i);
    }
    if (onProgress && (i + 1) % 5000 === 0) onProgress(i + 1, n);
  }
  const keep = new Uint8Array(n).fill(1);
  const duplicates: Duplicate[] = [];
  const roots = new Set<number>();
  for (let i = 0; i < n; i++) {
    const r = uf.find(i);
    if (r === i) continue;
    keep[i] = 0;
    roots.add(r);
    duplicates.push({ index: i, keptIndex: r, similarity: best[i] || sim(i, r) });
  }
  onProgress?.(n, n);
  return { keep, duplicates, clusters: roots.size };
}

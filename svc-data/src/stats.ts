// Statistics of a set of documents: counts, a length histogram, top word n-grams, token counts.
import type { Tokenizer } from '@lab/tokenizer';
import type { Doc } from './registry.ts';

export interface Stats {
  documents: number;
  characters: number;
  bytes: number;
  words: number;
  tokens: number;
  lengthBucketBounds: number[];
  lengthBucketCounts: number[];
  topNgrams: { ngram: string; count: number }[];
  splits: Record<string, number>;
  minLength: number;
  maxLength: number;
  meanLength: number;
}

/** Bucket upper bounds in characters: powers of two from 64 to 1 Mi, then everything above. */
export const LENGTH_BOUNDS = [...Array.from({ length: 15 }, (_, i) => 2 ** (i + 6)), Number.MAX_SAFE_INTEGER];

export function computeStats(
  docs: Iterable<Doc>,
  o: { tokenizer?: Tokenizer; ngram: number; topK: number },
): Stats {
  const counts = new Array<number>(LENGTH_BOUNDS.length).fill(0);
  const grams = new Map<string, number>();
  const s: Stats = {
    documents: 0,
    characters: 0,
    bytes: 0,
    words: 0,
    tokens: 0,
    lengthBucketBounds: LENGTH_BOUNDS,
    lengthBucketCounts: counts,
    topNgrams: [],
    splits: {},
    minLength: 0,
    maxLength: 0,
    meanLength: 0,
  };
  let min = Number.POSITIVE_INFINITY;
  for (const d of docs) {
    const len = d.text.length;
    s.documents++;
    s.characters += len;
    s.bytes += Buffer.byteLength(d.text);
    if (len < min) min = len;
    if (len > s.maxLength) s.maxLength = len;
    counts[LENGTH_BOUNDS.findIndex((b) => len <= b)]!++;
    if (d.split) s.splits[d.split] = (s.splits[d.split] ?? 0) + 1;
    const words = d.text.toLowerCase().match(/[\p{L}\p{N}']+/gu) ?? [];
    s.words += words.length;
    for (let i = 0; i + o.ngram <= words.length; i++) {
      const g = o.ngram === 1 ? words[i]! : words.slice(i, i + o.ngram).join(' ');
      grams.set(g, (grams.get(g) ?? 0) + 1);
    }
    // Bound the n-gram table: drop singletons when it grows large (approximate top-k for huge corpora).
    if (grams.size > 2_000_000) for (const [k, v] of grams) if (v < 2) grams.delete(k);
    if (o.tokenizer) s.tokens += o.tokenizer.encodeOrdinary(d.text).length;
  }
  s.minLength = s.documents ? min : 0;
  s.meanLength = s.documents ? s.characters / s.documents : 0;
  s.topNgrams = [...grams.entries()]
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
    .slice(0, o.topK)
    .map(([ngram, count]) => ({ ngram, count }));
  return s;
}

// Document quality rules in the style of Gopher (Rae et al. 2021, appendix A): each rule is a threshold a
// document must meet; the first rule it fails is the reason it is removed.

export interface QualityOptions {
  minWords: number;
  maxWords: number;
  minMeanWordLength: number;
  maxMeanWordLength: number;
  /** (hash symbols + ellipses) / words. */
  maxSymbolWordRatio: number;
  /** Lines starting with a bullet / lines. */
  maxBulletLineFraction: number;
  /** Lines ending with an ellipsis / lines. */
  maxEllipsisLineFraction: number;
  /** Words with at least one letter / words. */
  minAlphaWordFraction: number;
  /** Documents need at least this many of: the, be, to, of, and, that, have, with. 0 turns it off. */
  minStopWords: number;
  /** Lines that repeat an earlier line / lines. */
  maxDuplicateLineFraction: number;
  /** Characters in repeated lines / characters. */
  maxDuplicateLineCharFraction: number;
  /** Paragraphs that repeat an earlier paragraph / paragraphs. */
  maxDuplicateParagraphFraction: number;
  /** n → max fraction of characters in the most frequent word n-gram (Gopher: 2→0.2, 3→0.18, 4→0.16). */
  topNgramCharFraction: Record<string, number>;
  /** n → max fraction of characters in word n-grams seen more than once (Gopher: 5→0.15 … 10→0.10). */
  duplicateNgramCharFraction: Record<string, number>;
}

export const GOPHER_DEFAULTS: QualityOptions = {
  minWords: 50,
  maxWords: 100_000,
  minMeanWordLength: 3,
  maxMeanWordLength: 10,
  maxSymbolWordRatio: 0.1,
  maxBulletLineFraction: 0.9,
  maxEllipsisLineFraction: 0.3,
  minAlphaWordFraction: 0.8,
  minStopWords: 2,
  maxDuplicateLineFraction: 0.3,
  maxDuplicateLineCharFraction: 0.2,
  maxDuplicateParagraphFraction: 0.3,
  topNgramCharFraction: { '2': 0.2, '3': 0.18, '4': 0.16 },
  duplicateNgramCharFraction: { '5': 0.15, '6': 0.14, '7': 0.13, '8': 0.12, '9': 0.11, '10': 0.1 },
};

const STOP_WORDS = new Set(['the', 'be', 'to', 'of', 'and', 'that', 'have', 'with']);
const LETTER = /\p{L}/u;
const BULLET = /^\s*[•●○▪▫◦‣⁃*-]\s/;

/** FNV-1a 32-bit of a string's UTF-16 units. */
export function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** Why a document fails the rules (the first rule it fails, with the measured value), or undefined. */
export function qualityCheck(text: string, o: QualityOptions): { rule: string; value: number } | undefined {
  const words = text.split(/\s+/).filter(Boolean);
  const n = words.length;
  if (n < o.minWords) return { rule: 'min_words', value: n };
  if (n > o.maxWords) return { rule: 'max_words', value: n };
  let letters = 0;
  let alpha = 0;
  let stops = 0;
  const wordHashes = new Uint32Array(n);
  const wordLens = new Uint32Array(n);
  for (let i = 0; i < n; i++) {
    const w = words[i]!;
    letters += w.length;
    wordLens[i] = w.length;
    if (LETTER.test(w)) alpha++;
    const lw = w.toLowerCase();
    if (stops < o.minStopWords && STOP_WORDS.has(lw)) stops++;
    wordHashes[i] = fnv1a(lw);
  }
  const mean = letters / Math.max(1, n);
  if (mean < o.minMeanWordLength) return { rule: 'min_mean_word_length', value: mean };
  if (mean > o.maxMeanWordLength) return { rule: 'max_mean_word_length', value: mean };
  const symbols = (text.match(/#|\.\.\.|…/g)?.length ?? 0) / Math.max(1, n);
  if (symbols > o.maxSymbolWordRatio) return { rule: 'symbol_word_ratio', value: symbols };
  const lines = text.split('\n').filter((l) => l.trim());
  if (lines.length) {
    const bullets = lines.filter((l) => BULLET.test(l)).length / lines.length;
    if (bullets > o.maxBulletLineFraction) return { rule: 'bullet_lines', value: bullets };
    const ellipses = lines.filter((l) => /(\.\.\.|…)\s*$/.test(l)).length / lines.length;
    if (ellipses > o.maxEllipsisLineFraction) return { rule: 'ellipsis_lines', value: ellipses };
  }
  const alphaFrac = alpha / Math.max(1, n);
  if (alphaFrac < o.minAlphaWordFraction) return { rule: 'alpha_words', value: alphaFrac };
  if (stops < o.minStopWords) return { rule: 'stop_words', value: stops };

  if (lines.length > 1) {
    const seen = new Set<string>();
    let dupLines = 0;
    let dupChars = 0;
    let chars = 0;
    for (const l of lines) {
      chars += l.length;
      if (seen.has(l)) {
        dupLines++;
        dupChars += l.length;
      } else seen.add(l);
    }
    const f = dupLines / lines.length;
    if (f > o.maxDuplicateLineFraction) return { rule: 'duplicate_lines', value: f };
    const fc = dupChars / Math.max(1, chars);
    if (fc > o.maxDuplicateLineCharFraction) return { rule: 'duplicate_line_chars', value: fc };
  }
  const paras = text.split(/\n\s*\n/).filter((p) => p.trim());
  if (paras.length > 1) {
    const f = (paras.length - new Set(paras).size) / paras.length;
    if (f > o.maxDuplicateParagraphFraction) return { rule: 'duplicate_paragraphs', value: f };
  }
  for (const [k, max] of Object.entries(o.topNgramCharFraction)) {
    const f = topNgramFraction(wordHashes, wordLens, letters, Number(k));
    if (f > max) return { rule: `top_${k}gram`, value: f };
  }
  for (const [k, max] of Object.entries(o.duplicateNgramCharFraction)) {
    const f = duplicateNgramFraction(wordHashes, wordLens, letters, Number(k));
    if (f > max) return { rule: `duplicate_${k}grams`, value: f };
  }
  return undefined;
}

function ngramHashes(h: Uint32Array, n: number): Uint32Array {
  const out = new Uint32Array(Math.max(0, h.length - n + 1));
  for (let i = 0; i < out.length; i++) {
    let x = 0x9e3779b9 ^ n;
    for (let j = 0; j < n; j++) x = Math.imul(x ^ h[i + j]!, 0x01000193) ^ (x >>> 15);
    out[i] = x >>> 0;
  }
  return out;
}

/** Characters (of words) in the most frequent n-gram times its count, over all word characters. */
function topNgramFraction(h: Uint32Array, lens: Uint32Array, letters: number, n: number): number {
  if (h.length < n || letters === 0) return 0;
  const g = ngramHashes(h, n);
  const counts = new Map<number, number>();
  let best = 0;
  let bestAt = 0;
  for (let i = 0; i < g.length; i++) {
    const c = (counts.get(g[i]!) ?? 0) + 1;
    counts.set(g[i]!, c);
    if (c > best) {
      best = c;
      bestAt = i;
    }
  }
  if (best < 2) return 0;
  let chars = 0;
  for (let j = 0; j < n; j++) chars += lens[bestAt + j]!;
  return (chars * best) / letters;
}

/** Characters of words covered by n-grams that occur more than once, over all word characters. */
function duplicateNgramFraction(h: Uint32Array, lens: Uint32Array, letters: number, n: number): number {
  if (h.length < n || letters === 0) return 0;
  const g = ngramHashes(h, n);
  const counts = new Map<number, number>();
  for (const x of g) counts.set(x, (counts.get(x) ?? 0) + 1);
  let covered = 0;
  let until = -1;
  for (let i = 0; i < g.length; i++) {
    if (counts.get(g[i]!)! < 2) continue;
    for (let j = Math.max(i, until + 1); j < i + n; j++) covered += lens[j]!;
    until = i + n - 1;
  }
  return covered / letters;
}

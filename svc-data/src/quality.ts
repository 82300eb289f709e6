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

/**
 * What one document of a dataset is. Gopher's thresholds were made for web pages (hundreds of words, prose):
 * on paragraphs of verse its 50-word minimum removed 85 % of tiny Shakespeare, and its stop-word rule (two of
 * eight function words) a further 28 % of what is left, because a short speech often has none of them.
 */
export const DOCUMENT_KINDS = ['paragraph', 'line', 'file', 'record'] as const;
export type DocumentKind = (typeof DOCUMENT_KINDS)[number];

/** The quality defaults for a kind of document, and why they differ from Gopher's ('' when they do not). */
export function qualityDefaults(kind: DocumentKind): { options: QualityOptions; note: string } {
  switch (kind) {
    case 'paragraph':
      return {
        options: { ...GOPHER_DEFAULTS, minWords: 3, minStopWords: 0 },
        note: "Documents are paragraphs: at least 3 words instead of Gopher's 50, and no stop-word test (a short paragraph of verse may have none of the, be, to, of, and, that, have, with).",
      };
    case 'line':
      return {
        options: { ...GOPHER_DEFAULTS, minWords: 1, minStopWords: 0 },
        note: "Documents are single lines: no minimum beyond one word and no stop-word test (Gopher's 50-word minimum would remove every line).",
      };
    case 'file':
      return {
        options: { ...GOPHER_DEFAULTS, maxWords: 100_000_000 },
        note: "Documents are whole files: no practical maximum length (Gopher's 100,000 words would remove a book).",
      };
    case 'record':
      return { options: GOPHER_DEFAULTS, note: '' };
  }
}

/** Why a document was removed: the rule, what it measures, the document's value and the threshold. */
export interface QualityFailure {
  rule: string;
  measure: string;
  value: number;
  limit: number;
  limitKind: 'min' | 'max';
}

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

const below = (rule: string, measure: string, value: number, limit: number): QualityFailure => ({
  rule,
  measure,
  value,
  limit,
  limitKind: 'min',
});
const above = (rule: string, measure: string, value: number, limit: number): QualityFailure => ({
  rule,
  measure,
  value,
  limit,
  limitKind: 'max',
});

/** Why a document fails the rules (the first rule it fails, with its measure), or undefined. */
export function qualityCheck(text: string, o: QualityOptions): QualityFailure | undefined {
  const words = text.split(/\s+/).filter(Boolean);
  const n = words.length;
  if (n < o.minWords) return below('min_words', 'words', n, o.minWords);
  if (n > o.maxWords) return above('max_words', 'words', n, o.maxWords);
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
  if (mean < o.minMeanWordLength)
    return below('min_mean_word_length', 'mean word length (characters)', mean, o.minMeanWordLength);
  if (mean > o.maxMeanWordLength)
    return above('max_mean_word_length', 'mean word length (characters)', mean, o.maxMeanWordLength);
  const symbols = (text.match(/#|\.\.\.|…/g)?.length ?? 0) / Math.max(1, n);
  if (symbols > o.maxSymbolWordRatio)
    return above('symbol_word_ratio', '# and ellipses per word', symbols, o.maxSymbolWordRatio);
  const lines = text.split('\n').filter((l) => l.trim());
  if (lines.length) {
    const bullets = lines.filter((l) => BULLET.test(l)).length / lines.length;
    if (bullets > o.maxBulletLineFraction)
      return above(
        'bullet_lines',
        'fraction of lines starting with a bullet',
        bullets,
        o.maxBulletLineFraction,
      );
    const ellipses = lines.filter((l) => /(\.\.\.|…)\s*$/.test(l)).length / lines.length;
    if (ellipses > o.maxEllipsisLineFraction)
      return above(
        'ellipsis_lines',
        'fraction of lines ending with an ellipsis',
        ellipses,
        o.maxEllipsisLineFraction,
      );
  }
  const alphaFrac = alpha / Math.max(1, n);
  if (alphaFrac < o.minAlphaWordFraction)
    return below('alpha_words', 'fraction of words with a letter', alphaFrac, o.minAlphaWordFraction);
  if (stops < o.minStopWords)
    return below('stop_words', 'stop words (the, be, to, of, and, that, have, with)', stops, o.minStopWords);

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
    if (f > o.maxDuplicateLineFraction)
      return above('duplicate_lines', 'fraction of lines repeated', f, o.maxDuplicateLineFraction);
    const fc = dupChars / Math.max(1, chars);
    if (fc > o.maxDuplicateLineCharFraction)
      return above(
        'duplicate_line_chars',
        'fraction of characters in repeated lines',
        fc,
        o.maxDuplicateLineCharFraction,
      );
  }
  const paras = text.split(/\n\s*\n/).filter((p) => p.trim());
  if (paras.length > 1) {
    const f = (paras.length - new Set(paras).size) / paras.length;
    if (f > o.maxDuplicateParagraphFraction)
      return above(
        'duplicate_paragraphs',
        'fraction of paragraphs repeated',
        f,
        o.maxDuplicateParagraphFraction,
      );
  }
  for (const [k, max] of Object.entries(o.topNgramCharFraction)) {
    const f = topNgramFraction(wordHashes, wordLens, letters, Number(k));
    if (f > max)
      return above(`top_${k}gram`, `fraction of word characters in the most frequent ${k}-gram`, f, max);
  }
  for (const [k, max] of Object.entries(o.duplicateNgramCharFraction)) {
    const f = duplicateNgramFraction(wordHashes, wordLens, letters, Number(k));
    if (f > max)
      return above(`duplicate_${k}grams`, `fraction of word characters in repeated ${k}-grams`, f, max);
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

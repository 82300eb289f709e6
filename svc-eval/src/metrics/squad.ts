// Exact match and token F1 as the SQuAD v1.1 evaluation script computes them: answers are normalized
// (lowercase, ASCII punctuation removed, the articles a/an/the removed as whole words, whitespace collapsed),
// each prediction takes its best score over the ground truths, and the corpus value is the mean times 100.
import { pySplit } from './python-text.ts';

// Python's `string.punctuation`.
const PUNCTUATION = new Set('!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~');
// Python's `\b` in a str pattern is Unicode-aware (letters and digits of any script, and '_'), JavaScript's
// is ASCII-only, so the word boundary is spelled out: "éthe" keeps its "the", as in the script.
const ARTICLE = /(?<![\p{L}\p{N}_])(?:a|an|the)(?![\p{L}\p{N}_])/gu;

export function normalizeAnswer(s: string): string {
  const noPunct = Array.from(s.toLowerCase())
    .filter((c) => !PUNCTUATION.has(c))
    .join('');
  return pySplit(noPunct.replace(ARTICLE, ' ')).join(' ');
}

export function squadExactMatch(prediction: string, groundTruth: string): boolean {
  return normalizeAnswer(prediction) === normalizeAnswer(groundTruth);
}

export function squadF1(prediction: string, groundTruth: string): number {
  const p = pySplit(normalizeAnswer(prediction));
  const g = pySplit(normalizeAnswer(groundTruth));
  const left = new Map<string, number>();
  for (const t of g) left.set(t, (left.get(t) ?? 0) + 1);
  let same = 0;
  for (const t of p) {
    const c = left.get(t) ?? 0;
    if (c > 0) {
      same++;
      left.set(t, c - 1);
    }
  }
  if (same === 0) return 0;
  const precision = (1.0 * same) / p.length;
  const recall = (1.0 * same) / g.length;
  return (2 * precision * recall) / (precision + recall);
}

/** Corpus exact match and F1, 0-100: `references[r][i]` is ground truth r of question i. */
export function corpusSquad(
  predictions: readonly string[],
  references: readonly (readonly string[])[],
): { exact_match: number; f1: number } {
  let em = 0;
  let f1 = 0;
  predictions.forEach((pred, i) => {
    const truths = references.map((set) => set[i]!);
    em += Math.max(...truths.map((t) => (squadExactMatch(pred, t) ? 1 : 0)));
    f1 += Math.max(...truths.map((t) => squadF1(pred, t)));
  });
  return { exact_match: (100.0 * em) / predictions.length, f1: (100.0 * f1) / predictions.length };
}

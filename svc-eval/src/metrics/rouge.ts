// ROUGE-1/2/L/Lsum F-measures as Google's rouge-score computes them with use_stemmer=True: lowercase, every
// run of characters other than a-z0-9 becomes a space (so non-ASCII letters separate tokens and are
// dropped), tokens longer than 3 characters are Porter-stemmed (nltk's default mode). ROUGE-Lsum splits the
// texts on newlines and scores the union of per-sentence LCS hits (ROUGE-1.5.5's summary-level LCS).
// Several references: the best F per segment (rouge-score `score_multi`); corpus value = mean over segments.
import { porterStem } from './porter.ts';

export interface RougeScores {
  rouge1: number;
  rouge2: number;
  rougeL: number;
  rougeLsum: number;
}

const VALID_TOKEN = /^[a-z0-9]+$/;

/** rouge-score's default tokenizer with stemming. */
export function rougeTokens(text: string): string[] {
  return text
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, ' ')
    .split(/\s+/)
    .map((t) => (t.length > 3 ? porterStem(t) : t))
    .filter((t) => VALID_TOKEN.test(t));
}

function fmeasure(precision: number, recall: number): number {
  return precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0;
}

function ngrams(tokens: readonly string[], n: number): Map<string, number> {
  const counts = new Map<string, number>();
  for (let i = 0; i + n <= tokens.length; i++) {
    const key = tokens.slice(i, i + n).join(' ');
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return counts;
}

function rougeN(target: readonly string[], prediction: readonly string[], n: number): number {
  const t = ngrams(target, n);
  const p = ngrams(prediction, n);
  let overlap = 0;
  for (const [g, c] of t) overlap += Math.min(c, p.get(g) ?? 0);
  const tCount = Math.max(target.length - n + 1, 0);
  const pCount = Math.max(prediction.length - n + 1, 0);
  return fmeasure(overlap / Math.max(pCount, 1), overlap / Math.max(tCount, 1));
}

/** Full LCS length table, (ref.length+1) x (can.length+1), row-major. */
function lcsTable(ref: readonly string[], can: readonly string[]): Int32Array {
  const w = can.length + 1;
  const t = new Int32Array((ref.length + 1) * w);
  for (let i = 1; i <= ref.length; i++) {
    for (let j = 1; j <= can.length; j++) {
      t[i * w + j] =
        ref[i - 1] === can[j - 1]
          ? t[(i - 1) * w + j - 1]! + 1
          : Math.max(t[(i - 1) * w + j]!, t[i * w + j - 1]!);
    }
  }
  return t;
}

function rougeL(target: readonly string[], prediction: readonly string[]): number {
  if (target.length === 0 || prediction.length === 0) return 0;
  const lcs = lcsTable(target, prediction).at(-1)!;
  return fmeasure(lcs / prediction.length, lcs / target.length);
}

/** Indices into `ref` of one LCS; the walk's tie-breaking is rouge-score's and decides the union below. */
function lcsIndices(ref: readonly string[], can: readonly string[]): number[] {
  const t = lcsTable(ref, can);
  const w = can.length + 1;
  const out: number[] = [];
  let i = ref.length;
  let j = can.length;
  while (i > 0 && j > 0) {
    if (ref[i - 1] === can[j - 1]) {
      out.push(i - 1);
      i--;
      j--;
    } else if (t[i * w + j - 1]! > t[(i - 1) * w + j]!) j--;
    else i--;
  }
  return out.reverse();
}

function countTokens(sentences: readonly (readonly string[])[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const s of sentences) for (const t of s) counts.set(t, (counts.get(t) ?? 0) + 1);
  return counts;
}

function rougeLsum(targetText: string, predictionText: string): number {
  const sentences = (text: string) =>
    text
      .split('\n')
      .filter((s) => s.length > 0)
      .map(rougeTokens);
  const ref = sentences(targetText);
  const can = sentences(predictionText);
  if (ref.length === 0 || can.length === 0) return 0;
  const m = ref.reduce((a, s) => a + s.length, 0);
  const n = can.reduce((a, s) => a + s.length, 0);
  if (m === 0 || n === 0) return 0;
  // A token counts as a hit at most as often as it occurs on both sides (ROUGE-1.5.5's double-count guard).
  const left = { r: countTokens(ref), c: countTokens(can) };
  let hits = 0;
  for (const r of ref) {
    const union = new Set<number>();
    for (const c of can) for (const k of lcsIndices(r, c)) union.add(k);
    for (const k of [...union].sort((a, b) => a - b)) {
      const tok = r[k]!;
      if ((left.c.get(tok) ?? 0) > 0 && (left.r.get(tok) ?? 0) > 0) {
        hits++;
        left.c.set(tok, left.c.get(tok)! - 1);
        left.r.set(tok, left.r.get(tok)! - 1);
      }
    }
  }
  return fmeasure(hits / n, hits / m);
}

/** F-measures of one prediction against one target (rouge-score `RougeScorer.score`). */
export function rougeScore(target: string, prediction: string): RougeScores {
  const t = rougeTokens(target);
  const p = rougeTokens(prediction);
  return {
    rouge1: rougeN(t, p, 1),
    rouge2: rougeN(t, p, 2),
    rougeL: rougeL(t, p),
    rougeLsum: rougeLsum(target, prediction),
  };
}

/** Best F per type over several targets (rouge-score `score_multi`). */
export function rougeScoreMulti(targets: readonly string[], prediction: string): RougeScores {
  const best: RougeScores = { rouge1: 0, rouge2: 0, rougeL: 0, rougeLsum: 0 };
  for (const t of targets) {
    const s = rougeScore(t, prediction);
    for (const k of Object.keys(best) as (keyof RougeScores)[]) best[k] = Math.max(best[k], s[k]);
  }
  return best;
}

/** Corpus ROUGE: mean over segments of the best F against that segment's references. */
export function corpusRouge(
  hypotheses: readonly string[],
  references: readonly (readonly string[])[],
): RougeScores {
  const sum: RougeScores = { rouge1: 0, rouge2: 0, rougeL: 0, rougeLsum: 0 };
  hypotheses.forEach((hyp, i) => {
    const s = rougeScoreMulti(
      references.map((set) => set[i]!),
      hyp,
    );
    for (const k of Object.keys(sum) as (keyof RougeScores)[]) sum[k] += s[k];
  });
  const n = hypotheses.length;
  return {
    rouge1: sum.rouge1 / n,
    rouge2: sum.rouge2 / n,
    rougeL: sum.rougeL / n,
    rougeLsum: sum.rougeLsum / n,
  };
}

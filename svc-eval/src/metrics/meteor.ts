// METEOR as nltk's `meteor_score` computes it (alpha 0.9, beta 3, gamma 0.5): words are lowercased, then
// aligned in three stages: exact, Porter stem, WordNet synonym. Each stage matches greedily from the last
// hypothesis word backwards to the last unmatched reference word that fits, and later stages see only what
// is left (and, as in nltk, the synonym stage sees the stems of those words). Score = F-mean weighted to
// recall, times 1 - gamma * (chunks / matches)^beta. Several references: the best. Scale 0-1.
//
// nltk takes pre-tokenized input; here a text is split on whitespace (Python `str.split()`), which is what a
// caller passing `text.split()` to nltk gets. Punctuation stays attached to words (nltk's own doctests use
// `word_tokenize`, which splits it off; the two agree on text without punctuation).
import { porterStem } from './porter.ts';
import { pySplit } from './python-text.ts';
import type { WordNet } from './wordnet.ts';

export type MeteorStage = 'exact' | 'stem' | 'wordnet';

/** [position in the original sentence, word as this stage sees it] */
type Entry = [number, string];
type Match = [hyp: number, ref: number];

/** Greedy alignment shared by the stages: later hypothesis words first, each to the last reference word that fits. */
function matchGreedy(hyp: Entry[], ref: Entry[], fits: (h: string, r: string) => boolean): Match[] {
  const matches: Match[] = [];
  for (let i = hyp.length - 1; i >= 0; i--) {
    for (let j = ref.length - 1; j >= 0; j--) {
      if (fits(hyp[i]![1], ref[j]![1])) {
        matches.push([hyp[i]![0], ref[j]![0]]);
        hyp.splice(i, 1);
        ref.splice(j, 1);
        break;
      }
    }
  }
  return matches;
}

function align(hypWords: readonly string[], refWords: readonly string[], wordnet: WordNet | null): Match[] {
  let hyp: Entry[] = hypWords.map((w, i) => [i, w]);
  let ref: Entry[] = refWords.map((w, i) => [i, w]);
  const exact = matchGreedy(hyp, ref, (h, r) => h === r);
  hyp = hyp.map(([i, w]) => [i, porterStem(w)]);
  ref = ref.map(([i, w]) => [i, porterStem(w)]);
  const stem = matchGreedy(hyp, ref, (h, r) => h === r);
  // nltk keeps only single-word lemma names (no '_') and the word itself.
  const synonyms = (h: string): Set<string> => {
    const names = new Set([...(wordnet?.lemmaNames(h) ?? [])].filter((n) => !n.includes('_')));
    return names.add(h);
  };
  const cache = new Map<string, Set<string>>();
  const syn = wordnet
    ? matchGreedy(hyp, ref, (h, r) => {
        let s = cache.get(h);
        if (!s) {
          s = synonyms(h);
          cache.set(h, s);
        }
        return s.has(r);
      })
    : [];
  // Sorted by hypothesis position (positions are unique, so the order is total).
  return [...exact, ...stem, ...syn].sort((a, b) => a[0] - b[0]);
}

/** Fewest runs of matches adjacent in both sentences. */
function chunks(matches: readonly Match[]): number {
  let n = 1;
  for (let i = 0; i + 1 < matches.length; i++) {
    const [h, r] = matches[i]!;
    const [h2, r2] = matches[i + 1]!;
    if (!(h2 === h + 1 && r2 === r + 1)) n++;
  }
  return n;
}

/** nltk `single_meteor_score` on token lists. */
export function meteorTokens(
  reference: readonly string[],
  hypothesis: readonly string[],
  wordnet: WordNet | null,
): number {
  const hyp = hypothesis.map((w) => w.toLowerCase());
  const ref = reference.map((w) => w.toLowerCase());
  const matches = align(hyp, ref, wordnet);
  const m = matches.length;
  // nltk returns 0 where it would divide by zero: no match, or an empty side.
  if (m === 0 || hyp.length === 0 || ref.length === 0) return 0;
  const alpha = 0.9;
  const beta = 3;
  const gamma = 0.5;
  const precision = m / hyp.length;
  const recall = m / ref.length;
  const fmean = (precision * recall) / (alpha * precision + (1 - alpha) * recall);
  const penalty = gamma * (chunks(matches) / m) ** beta;
  return (1 - penalty) * fmean;
}

/** nltk `meteor_score`: best over the references; texts are split on whitespace. */
export function meteorScore(
  references: readonly string[],
  hypothesis: string,
  wordnet: WordNet | null,
): number {
  const hyp = pySplit(hypothesis);
  return Math.max(...references.map((r) => meteorTokens(pySplit(r), hyp, wordnet)));
}

/** Corpus METEOR: mean over segments; `references[r][i]` is reference r of segment i. */
export function corpusMeteor(
  hypotheses: readonly string[],
  references: readonly (readonly string[])[],
  wordnet: WordNet | null,
): number {
  let sum = 0;
  hypotheses.forEach((hyp, i) => {
    sum += meteorScore(
      references.map((set) => set[i]!),
      hyp,
      wordnet,
    );
  });
  return sum / hypotheses.length;
}

/** The alignment stages that run with this WordNet (none: exact and stem only). */
export function meteorStages(wordnet: WordNet | null): MeteorStage[] {
  return wordnet ? ['exact', 'stem', 'wordnet'] : ['exact', 'stem'];
}

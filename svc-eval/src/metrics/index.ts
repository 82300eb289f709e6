// Text-generation metrics, each equal to its reference implementation on the same input and in its scale:
// BLEU, chrF, TER (sacrebleu, 0-100), ROUGE (rouge-score with stemming, 0-1), METEOR (nltk, 0-1), exact
// match and F1 (SQuAD v1.1 script, 0-100). Every metric sees every reference set.
import { LabError } from '@lab/common';
import { corpusBleu } from './bleu.ts';
import { corpusChrf } from './chrf.ts';
import { corpusMeteor, meteorStages } from './meteor.ts';
import { corpusRouge } from './rouge.ts';
import { corpusSquad } from './squad.ts';
import { corpusTer } from './ter.ts';
import { loadWordNet } from './wordnet.ts';

export { type BleuOptions, type BleuStats, bleuFromStats, bleuSegmentStats, corpusBleu } from './bleu.ts';
export { type ChrfOptions, chrfFromStats, chrfSegmentStats, corpusChrf } from './chrf.ts';
export { corpusMeteor, type MeteorStage, meteorScore, meteorStages, meteorTokens } from './meteor.ts';
export { porterStem } from './porter.ts';
export { corpusRouge, type RougeScores, rougeScore, rougeScoreMulti, rougeTokens } from './rouge.ts';
export { corpusSquad, normalizeAnswer, squadExactMatch, squadF1 } from './squad.ts';
export { corpusTer, terEdits, terTokens } from './ter.ts';
export { tokenize13a } from './tokenize-13a.ts';
export { loadWordNet, type WordNet, wordnetDir } from './wordnet.ts';

export interface TextMetrics {
  bleu: number;
  chrf: number;
  ter: number;
  rouge1: number;
  rouge2: number;
  rougeL: number;
  rougeLsum: number;
  meteor: number;
  exact_match: number;
  f1: number;
}

export interface TextMetricsReport {
  metrics: TextMetrics;
  /** METEOR alignment stages that ran: ['exact','stem','wordnet'], or without 'wordnet' when its files are absent. */
  meteorStages: string[];
  segments: number;
  referenceSets: number;
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return typeof v;
}

/** Checks the shapes the metrics rely on; errors name the offending field. */
function validate(hypotheses: unknown, references: unknown): void {
  const bad = (field: string, message: string): never => {
    throw new LabError('INVALID_ARGUMENT', `${field}: ${message}`, field);
  };
  if (!Array.isArray(hypotheses))
    bad('hypotheses', `expected a list of strings, got ${describe(hypotheses)}`);
  const hyps = hypotheses as unknown[];
  if (hyps.length === 0) bad('hypotheses', 'no hypotheses given');
  hyps.forEach((h, i) => {
    if (typeof h !== 'string') bad(`hypotheses[${i}]`, `expected a string, got ${describe(h)}`);
  });
  if (!Array.isArray(references))
    bad('references', `expected a list of reference sets, got ${describe(references)}`);
  const sets = references as unknown[];
  if (sets.length === 0) bad('references', 'no reference set given');
  sets.forEach((set, r) => {
    if (!Array.isArray(set)) bad(`references[${r}]`, `expected a list of strings, got ${describe(set)}`);
    const s = set as unknown[];
    if (s.length !== hyps.length)
      bad(`references[${r}]`, `${s.length} segments, hypotheses has ${hyps.length}`);
    s.forEach((x, i) => {
      if (typeof x !== 'string') bad(`references[${r}][${i}]`, `expected a string, got ${describe(x)}`);
    });
  });
}

/**
 * All text metrics of a corpus. `references[r][i]` is reference r of segment i (sacrebleu's layout: one list
 * per reference set, aligned with the hypotheses).
 */
export function textMetrics(
  hypotheses: readonly string[],
  references: readonly (readonly string[])[],
): TextMetricsReport {
  validate(hypotheses, references);
  const wordnet = loadWordNet();
  const rouge = corpusRouge(hypotheses, references);
  const squad = corpusSquad(hypotheses, references);
  return {
    metrics: {
      bleu: corpusBleu(hypotheses, references),
      chrf: corpusChrf(hypotheses, references),
      ter: corpusTer(hypotheses, references),
      rouge1: rouge.rouge1,
      rouge2: rouge.rouge2,
      rougeL: rouge.rougeL,
      rougeLsum: rouge.rougeLsum,
      meteor: corpusMeteor(hypotheses, references, wordnet),
      exact_match: squad.exact_match,
      f1: squad.f1,
    },
    meteorStages: meteorStages(wordnet),
    segments: hypotheses.length,
    referenceSets: references.length,
  };
}

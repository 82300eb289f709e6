// What each score means, in two plain lines, and how scores are written on the page.
import type { EvalMetric, EvalRunState, EvalTask } from '../../api.ts';
import { formatNumber } from '../../components/LineChart.tsx';

/** Two sentences per measure: what it counts, and what to keep in mind when reading it. */
const MEASURES: Record<string, [string, string]> = {
  acc: [
    'The share of questions where the choice the model finds most likely — the highest total log-likelihood of its tokens — is the right one.',
    'Every extra token adds a negative log-probability, so a long answer starts behind: plain acc leans towards short choices.',
  ],
  acc_norm: [
    'Like acc, but each choice’s log-likelihood is divided by its length in characters before the choices are compared.',
    'That removes most of the bias towards short answers; where acc and acc_norm disagree, the length of the choices decided the pick.',
  ],
  acc_bytes: [
    'Like acc_norm, but the log-likelihood is divided by the choice’s length in UTF-8 bytes instead of characters.',
    'Bytes are the same for every tokenizer and every script (a Chinese character is 3 bytes), so it compares across languages and vocabularies.',
  ],
  mc1: [
    'TruthfulQA with exactly one true answer: the share of questions where the model gives the true answer the highest log-likelihood.',
    'The wrong choices are popular misconceptions, so a model that imitates web text well can score worse than chance.',
  ],
  mc2: [
    'TruthfulQA with several true and false answers: the probability the model puts on the true ones, as a share of all the choices’ probability, averaged.',
    'It rewards a model for how much it believes the truth, not only whether the truth comes first; 1 means all belief on true answers.',
  ],
  perplexity: [
    'e to the power of the average negative log-likelihood per token: the number of tokens the model is, on average, as unsure between as a fair die.',
    'Lower is better. It depends on the tokenizer (bigger tokens, fewer but harder guesses), so compare only models that share one.',
  ],
  bits_per_byte: [
    'The bits the model needs to encode the text (its total negative log-likelihood in base 2) divided by the text’s UTF-8 bytes.',
    'Lower is better, and it does not depend on the tokenizer, so models with different vocabularies can be compared; 8 means no better than raw bytes.',
  ],
  nll: [
    'The average negative log-likelihood per token in nats (natural log): the training loss, measured on this text.',
    'Lower is better; perplexity is e^nll, so a drop of 0.1 in nll is about a 10% lower perplexity.',
  ],
  'pass@k': [
    'The chance that at least one of k sampled programs passes the problem’s unit tests, estimated without bias from n ≥ k samples per problem.',
    'pass@1 is the chance a single answer works; a larger k forgives a model that is right only sometimes.',
  ],
  bleu: [
    'sacrebleu’s BLEU, 0–100: how many of the answer’s 1- to 4-word sequences appear in the reference, with a penalty for answers shorter than it.',
    'It rewards exact wording: a correct answer in other words scores low, so read it with chrF and ROUGE.',
  ],
  chrf: [
    'sacrebleu’s chrF, 0–100: an F-score of character 1- to 6-grams shared with the reference (recall weighted twice).',
    'Characters forgive inflections and word order more than BLEU does, which helps for short answers and small models.',
  ],
  ter: [
    'sacrebleu’s translation edit rate, 0–100: the edits (insertions, deletions, substitutions, shifts) to turn the answer into the reference, per reference word.',
    'Lower is better; above 100 means more edits than the reference has words.',
  ],
  rouge1: [
    'rouge-score’s ROUGE-1 F-measure, 0–1: the overlap of single (Porter-stemmed) words between answer and reference.',
    'Word overlap without order: it says the answer talks about the right things, not that it says them well.',
  ],
  rouge2: [
    'ROUGE-2 F-measure, 0–1: the overlap of pairs of consecutive words.',
    'Pairs need local word order, so it is stricter than ROUGE-1 and closer to fluency.',
  ],
  rougeL: [
    'ROUGE-L F-measure, 0–1: the longest sequence of words that answer and reference share in the same order.',
    'The leaderboard’s measure for answers: order matters, gaps are allowed.',
  ],
  rougeLsum: [
    'ROUGE-Lsum, 0–1: ROUGE-L over sentences (split on newlines), the union of their longest common sequences.',
    'Meant for multi-sentence summaries; on one-line answers it equals ROUGE-L.',
  ],
  meteor: [
    'nltk’s METEOR, 0–1: unigram matches (exact, then stems, then WordNet synonyms), recall-weighted, with a penalty for matches in scattered chunks.',
    'Synonyms and stems count, so it forgives paraphrase more than BLEU; the run’s details say which matching stages ran.',
  ],
  exact_match: [
    'The SQuAD script’s exact match, 0–100: answers equal to the reference after lowercasing and removing punctuation and articles.',
    'All or nothing: useful for short factual answers, near zero for free text.',
  ],
  f1: [
    'The SQuAD script’s token F1, 0–100: the overlap of normalised words between answer and reference.',
    'Partial credit for short answers; order does not matter.',
  ],
  score: [
    'A judge model’s grade of each answer on a 1–10 rubric, averaged over the questions.',
    'A judge has its own tastes (longer answers, its own style), so read a few of its verdicts before trusting the number.',
  ],
  win_rate: [
    'The share of questions where the judge preferred this model’s answer to the baseline’s; each pair is judged in both orders and a tie counts half.',
    'Judging both orders cancels the judge’s habit of preferring the first (or second) answer; 0.5 means as good as the baseline.',
  ],
};

/** The explanation of a metric (pass@1, pass@10 … share pass@k's). */
export function explain(name: string): [string, string] | undefined {
  return MEASURES[name] ?? (/^pass@\d+$/.test(name) ? MEASURES['pass@k'] : undefined);
}

/** Lower is better for these (whatever the task says for its other metrics). */
const LOWER_IS_BETTER = new Set(['perplexity', 'bits_per_byte', 'nll']);
export const lowerIsBetter = (metric: string) => LOWER_IS_BETTER.has(metric);

/** A score for reading: accuracies (and their intervals) with 4 digits, other numbers via formatNumber. */
export function fmtScore(v: number | null | undefined): string {
  if (v == null || !Number.isFinite(v)) return '—';
  if (Math.abs(v) <= 1) return v.toFixed(4);
  return formatNumber(v);
}

/** No uncertainty computed: null, or the 0 a perplexity run reports (one text, no spread over items). */
const noStderr = (m: EvalMetric) =>
  m.stderr == null || !Number.isFinite(m.stderr) || (m.stderr === 0 && lowerIsBetter(m.name));

export function fmtStderr(m: EvalMetric): string {
  return noStderr(m) ? '' : `± ${fmtScore(m.stderr)}`;
}

export function fmtInterval(m: EvalMetric): string {
  if (noStderr(m) || m.ciLow == null || m.ciHigh == null) return '';
  return `[${fmtScore(m.ciLow)}, ${fmtScore(m.ciHigh)}]`;
}

/** The task's headline metric for the whole task (group ''), if the run has it. */
export function headline(metrics: readonly EvalMetric[], task?: EvalTask): EvalMetric | undefined {
  const whole = metrics.filter((m) => m.group === '');
  const first = task?.metrics[0];
  return (first ? whole.find((m) => m.name === first) : undefined) ?? whole[0];
}

export const KIND_LABELS: Record<string, string> = {
  multiple_choice: 'Multiple choice (log-likelihood of each answer)',
  perplexity: 'Perplexity (how well the model predicts a text)',
  humaneval: 'Code (programs run against unit tests)',
  judge: 'LLM as judge (another model grades the answers)',
  generation: 'Answers scored against references (BLEU, ROUGE, METEOR …)',
};

export const TERMINAL: EvalRunState[] = ['completed', 'failed', 'cancelled'];
export const isTerminal = (s: string) => (TERMINAL as string[]).includes(s);

/** "12.3 s", "4 min 05 s". */
export function fmtSeconds(s: number): string {
  if (!Number.isFinite(s) || s <= 0) return '—';
  if (s < 60) return `${s < 10 ? s.toFixed(1) : Math.round(s)} s`;
  const m = Math.floor(s / 60);
  return `${m} min ${String(Math.round(s - 60 * m)).padStart(2, '0')} s`;
}

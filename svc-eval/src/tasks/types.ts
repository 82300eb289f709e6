/**
 * Multiple-choice benchmark tasks, shaped after lm-evaluation-harness (v0.4.12): every choice is one
 * loglikelihood request (context, target delimiter + choice), and the metrics are computed from those
 * logliks alone, so the model side only has to score pairs.
 */

/** One loglikelihood request: log P(continuation | context), as lm-eval's `Instance.arguments`. */
export interface McRequest {
  context: string;
  continuation: string;
}

export interface McItem {
  /** `<task>/<0-based position of the doc in its source file>`. */
  id: string;
  /** The leaf task: `mmlu_<subject>` for MMLU items, even when loaded through the `mmlu` group. */
  task: string;
  subject?: string;
  /** Description + few-shot examples + this doc's prompt, exactly as lm-eval's fewshot_context renders it. */
  context: string;
  /** Continuations exactly as scored, each starting with `targetDelimiter`. */
  choices: string[];
  /** Kept so acc_norm can measure the choice the way lm-eval does: without the delimiter. */
  targetDelimiter: string;
  gold: number;
  /** mc2 only: every true choice. */
  goldSet?: number[];
}

export type MetricName = 'acc' | 'acc_norm' | 'acc_bytes' | 'mc1' | 'mc2';

export interface LoadOptions {
  /** Root of the datasets tree (the folder holding hellaswag/, mmlu/, arc/, truthfulqa/). */
  datasets: string;
  /** First `limit` docs (per subject for the `mmlu` group, as lm-eval limits each subtask). */
  limit?: number;
  fewshot: number;
  /** Seeds few-shot sampling where examples are drawn at random (hellaswag, arc). */
  seed: number;
}

export interface TaskSpec {
  name: string;
  description: string;
  defaultFewshot: number;
  maxFewshot: number;
  /** Where few-shot examples come from and in what order, for the run's record of its prompt. */
  fewshotOrder: string;
  metrics: MetricName[];
  load(opts: LoadOptions): McItem[];
}

export interface ChoiceScore {
  loglik: number;
  /** Whether greedy decoding would produce the continuation (lm-eval's is_greedy); kept for exact_match later. */
  greedy: boolean;
}

/** Generic so a caller's richer scores (token counts, say) come back with the results. */
export interface ItemResult<S extends ChoiceScore = ChoiceScore> {
  item: McItem;
  scores: S[];
  /** acc / acc_norm / acc_bytes / mc1 as booleans, mc2 as the probability mass of the true answers. */
  correct: Partial<Record<MetricName, boolean | number>>;
}

export interface MetricValue {
  value: number;
  /** lm-eval's mean stderr; NaN where it reports "N/A" (fewer than two items). */
  stderr: number;
}

export interface ScoreReport<S extends ChoiceScore = ChoiceScore> {
  results: ItemResult<S>[];
  metrics: Partial<Record<MetricName, MetricValue>>;
  perSubject?: Record<string, Partial<Record<MetricName, MetricValue & { n: number }>>>;
}

// Every task a run can name: the multiple-choice benchmarks (tasks/), perplexity, HumanEval and the judge.
import { LabError } from '@lab/common';
import type { TaskInfo } from '@lab/proto/eval';
import { listTasks } from './tasks/index.ts';

const OTHER: TaskInfo[] = [
  {
    name: 'perplexity',
    kind: 'perplexity',
    description:
      'Perplexity and bits per byte of a text (inline, a file, or a svc-data version and split) with a sliding window (context, stride). `limit` = the first N tokens. Bits per byte compare models with different tokenizers.',
    metrics: ['bits_per_byte', 'perplexity', 'nll'],
    defaultFewshot: 0,
    maxFewshot: 0,
    higherIsBetter: false,
  },
  {
    name: 'humaneval',
    kind: 'humaneval',
    description:
      'OpenAI HumanEval: completions of 164 Python functions run with their tests in a sandbox (own process group, time, CPU and memory limits, no network); pass@k by the unbiased estimator.',
    metrics: ['pass@1', 'pass@k'],
    defaultFewshot: 0,
    maxFewshot: 0,
    higherIsBetter: true,
  },
  {
    name: 'alpaca_generation',
    kind: 'generation',
    description:
      'The model answers Alpaca instructions (shared/datasets/alpaca, through its chat template, greedily); its answers are scored against the records’ outputs with BLEU, chrF, TER (sacrebleu), ROUGE (rouge-score), METEOR (nltk), exact match and F1 (SQuAD).',
    metrics: [
      'rougeL',
      'bleu',
      'chrf',
      'ter',
      'rouge1',
      'rouge2',
      'rougeLsum',
      'meteor',
      'exact_match',
      'f1',
    ],
    defaultFewshot: 0,
    maxFewshot: 0,
    higherIsBetter: true,
  },
  {
    name: 'judge',
    kind: 'judge',
    description:
      'LLM-as-judge over an OpenAI-compatible endpoint (default: the lab’s own /v1): each answer graded 1–10 on a rubric, or compared with a baseline model’s answer in both orders.',
    metrics: ['score', 'win_rate'],
    defaultFewshot: 0,
    maxFewshot: 0,
    higherIsBetter: true,
  },
];

export function allTasks(): TaskInfo[] {
  const mc: TaskInfo[] = listTasks().map((t) => ({
    name: t.name,
    kind: 'multiple_choice',
    description: t.description,
    // The leaderboard's measure comes first: acc_norm where the task has it, as leaderboards quote HellaSwag
    // and ARC (a raw sum of log-probabilities favours short choices).
    metrics: t.metrics.includes('acc_norm')
      ? ['acc_norm', ...t.metrics.filter((m) => m !== 'acc_norm')]
      : [...t.metrics],
    defaultFewshot: t.defaultFewshot,
    maxFewshot: t.maxFewshot,
    higherIsBetter: true,
  }));
  return [...mc, ...OTHER];
}

export function taskInfo(name: string): TaskInfo {
  const all = allTasks();
  const t = all.find((x) => x.name === name);
  if (!t)
    throw new LabError(
      'INVALID_ARGUMENT',
      `task: unknown task ${JSON.stringify(name)}; known: ${all.map((x) => x.name).join(', ')}`,
      'task',
    );
  return t;
}

import { invalidArgument } from '@lab/common';
import type {
  ChoiceScore,
  ItemResult,
  McItem,
  McRequest,
  MetricName,
  MetricValue,
  ScoreReport,
  TaskSpec,
} from './types.ts';

/** The loglikelihood requests of one item, one per choice, in choice order. */
export function toRequests(item: McItem): McRequest[] {
  return item.choices.map((continuation) => ({ context: item.context, continuation }));
}

/** First index of the maximum, as numpy's argmax breaks ties. */
function argmax(xs: number[]): number {
  let best = 0;
  for (let i = 1; i < xs.length; i++) if (xs[i] > xs[best]) best = i;
  return best;
}

/** lm-eval divides by len(choice) in Python: code points of the choice text, without the target delimiter. */
const chars = (item: McItem, i: number) => [...item.choices[i].slice(item.targetDelimiter.length)].length;
const bytes = (item: McItem, i: number) =>
  Buffer.byteLength(item.choices[i].slice(item.targetDelimiter.length));

/**
 * mc2: probability mass of the true answers after normalising over all choices. Shifting by the max
 * logit is the same quantity, but stays finite where lm-eval's plain exp() underflows to 0/0 = NaN.
 */
function trueMass(lls: number[], gold: number[]): number {
  const top = Math.max(...lls);
  const p = lls.map((l) => Math.exp(l - top));
  const total = p.reduce((a, b) => a + b, 0);
  return gold.reduce((a, i) => a + p[i], 0) / total;
}

function metricOf(name: MetricName, item: McItem, lls: number[]): boolean | number {
  switch (name) {
    case 'acc':
    case 'mc1':
      return argmax(lls) === item.gold;
    case 'acc_norm':
      return argmax(lls.map((l, i) => l / chars(item, i))) === item.gold;
    case 'acc_bytes':
      return argmax(lls.map((l, i) => l / bytes(item, i))) === item.gold;
    case 'mc2':
      return trueMass(lls, item.goldSet ?? [item.gold]);
  }
}

/** lm-eval's mean and mean_stderr (sample stdev / sqrt(n)); the stderr is NaN below two items, its "N/A". */
export function meanStderr(xs: number[]): MetricValue {
  const n = xs.length;
  const value = xs.reduce((a, b) => a + b, 0) / n;
  const variance = xs.reduce((a, x) => a + (x - value) ** 2, 0) / (n - 1);
  return { value, stderr: n > 1 ? Math.sqrt(variance / n) : Number.NaN };
}

/**
 * lm-eval's group aggregation for MMLU (weight_by_size: true, over the leaf subjects as in v0.4.12): the
 * size-weighted mean, which is the mean over all questions, and the pooled stderr, which ignores the
 * spread between subjects.
 */
export function pooled(parts: (MetricValue & { n: number })[]): MetricValue {
  const total = parts.reduce((a, p) => a + p.n, 0);
  const value = parts.reduce((a, p) => a + p.value * p.n, 0) / total;
  const variance = parts.reduce((a, p) => a + (p.n - 1) * p.stderr ** 2 * p.n, 0) / (total - parts.length);
  return { value, stderr: Math.sqrt(variance / total) };
}

export function scoreItems<S extends ChoiceScore>(
  task: TaskSpec,
  items: McItem[],
  scores: S[][],
): ScoreReport<S> {
  if (scores.length !== items.length) {
    throw invalidArgument('scores', `${scores.length} score lists for ${items.length} items`);
  }
  const results: ItemResult<S>[] = items.map((item, k) => {
    if (scores[k].length !== item.choices.length) {
      throw invalidArgument(
        'scores',
        `item ${item.id}: ${scores[k].length} scores for ${item.choices.length} choices`,
      );
    }
    const lls = scores[k].map((s) => s.loglik);
    const correct = Object.fromEntries(task.metrics.map((m) => [m, metricOf(m, item, lls)]));
    return { item, scores: scores[k], correct };
  });
  const values = (rs: ItemResult<S>[], m: MetricName) => rs.map((r) => Number(r.correct[m]));

  if (!items.some((i) => i.subject)) {
    return {
      results,
      metrics: Object.fromEntries(task.metrics.map((m) => [m, meanStderr(values(results, m))])),
    };
  }
  const bySubject = new Map<string, ItemResult<S>[]>();
  for (const r of results) {
    const s = r.item.subject ?? '';
    if (!bySubject.has(s)) bySubject.set(s, []);
    bySubject.get(s)!.push(r);
  }
  const perSubject: NonNullable<ScoreReport<S>['perSubject']> = {};
  for (const [s, rs] of bySubject) {
    perSubject[s] = Object.fromEntries(
      task.metrics.map((m) => [m, { ...meanStderr(values(rs, m)), n: rs.length }]),
    );
  }
  const metrics = Object.fromEntries(
    task.metrics.map((m) => [m, pooled(Object.values(perSubject).map((p) => p[m]!))]),
  );
  return { results, metrics, perSubject };
}

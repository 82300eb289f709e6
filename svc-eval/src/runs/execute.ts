// What an eval run does, by the kind of its task: perplexity of a text, log-likelihood scoring of a
// multiple-choice benchmark, HumanEval in the sandbox, or answers graded by a judge model.
import type { EvalItem, EvalRun, MetricValue, SubmitRunRequest } from '@lab/proto/eval';
import { renderChat } from '@lab/svc-infer';
import { taskInfo } from '../catalog.ts';
import type { EvalModels } from '../models.ts';
import { type ContinuationScore, scoreContinuations } from '../score/loglik.ts';
import { perplexity } from '../score/perplexity.ts';
import { getTask, scoreItems } from '../tasks/index.ts';
import type { McItem, MetricName } from '../tasks/types.ts';
import type { Executor, RunContext, RunOutcome } from './manager.ts';
import { readText } from './text-source.ts';

export interface ExecuteDeps {
  models: EvalModels;
  /** Root of the benchmark files (shared/datasets layout). */
  datasets: string;
  dataAddress: string;
  /** Folders a textPath may be in (LAB_DATA_ROOTS). */
  dataRoots?: readonly string[];
  /** HumanEval and judge runs, which generate text. */
  generative?: (run: EvalRun, req: SubmitRunRequest, ctx: RunContext) => Promise<RunOutcome>;
}

/** A value with a 95% interval from its standard error (normal approximation, as lm-evaluation-harness reports). */
export function metricValue(name: string, value: number, stderr: number, n: number, group = ''): MetricValue {
  return { name, value, stderr, ciLow: value - 1.96 * stderr, ciHigh: value + 1.96 * stderr, n, group };
}

/** The first item as the model saw it, for the run's record of its prompt format. */
export function renderFirstItem(context: string, choices: readonly string[]): string {
  return `${context}${choices.map((c) => `\n→ ${JSON.stringify(c)}`).join('')}`;
}

/** A choice's length as acc_norm divides by it: characters of the choice, without the joining delimiter. */
function choiceLength(item: McItem, c: number): number {
  const text = item.choices[c]!;
  return text.startsWith(item.targetDelimiter) ? text.length - item.targetDelimiter.length : text.length;
}

export function createExecutor(deps: ExecuteDeps): Executor {
  return async (run, ctx) => {
    const req = JSON.parse(run.requestJson) as SubmitRunRequest;
    if (req.task === 'perplexity') return perplexityRun(deps, run, req, ctx);
    if (req.task === 'humaneval' || req.task === 'judge' || req.task === 'alpaca_generation') {
      if (!deps.generative) throw new Error(`${req.task} runs are not available in this build`);
      return deps.generative(run, req, ctx);
    }
    return multipleChoiceRun(deps, run, req, ctx);
  };
}

async function perplexityRun(
  deps: ExecuteDeps,
  run: EvalRun,
  req: SubmitRunRequest,
  ctx: RunContext,
): Promise<RunOutcome> {
  ctx.progress(0, 0, 'reading the text');
  const text = await readText(req, deps.dataAddress, deps.dataRoots, ctx.signal);
  const info = await deps.models.describe(run.model);
  return deps.models.use(info, async (_m, scoring) => {
    const r = await perplexity(scoring, text, {
      context: req.context,
      stride: req.stride,
      limit: req.limit,
      signal: ctx.signal,
      onProgress: (done, total) => ctx.progress(done, total, `window ${done} of ${total}`),
    });
    ctx.setPrompt({
      fewshot: 0,
      fewshotOrder: '',
      chatTemplate: false,
      firstItem: text.slice(0, 500),
      description: `sliding window of ${r.context} tokens, stride ${r.stride}; ${r.firstTokenScored ? 'the first token scored after the end-of-text token' : 'the first token unscored (the model has no end-of-text token)'}`,
    });
    return {
      metrics: [
        metricValue('bits_per_byte', r.bitsPerByte, 0, r.tokens),
        metricValue('perplexity', r.perplexity, 0, r.tokens),
        metricValue('nll', r.nll, 0, r.tokens),
      ],
      details: {
        tokens: r.tokens,
        bytes: r.bytes,
        windows: r.windows,
        context: r.context,
        stride: r.stride,
        firstTokenScored: r.firstTokenScored,
      },
      tokens: r.tokensRun,
    };
  });
}

async function multipleChoiceRun(
  deps: ExecuteDeps,
  run: EvalRun,
  req: SubmitRunRequest,
  ctx: RunContext,
): Promise<RunOutcome> {
  const task = getTask(req.task);
  const headline = taskInfo(req.task).metrics[0] as MetricName;
  const fewshot = req.fewshot ?? task.defaultFewshot;
  ctx.progress(0, 0, 'reading the benchmark');
  const items = task.load({
    datasets: deps.datasets,
    limit: req.limit || undefined,
    fewshot,
    seed: req.seed,
  });
  const info = await deps.models.describe(run.model);
  return deps.models.use(info, async (m, scoring) => {
    // Through the chat template the item's context is the user's turn and each choice the start of the
    // assistant's answer, without the space that joins them in plain text.
    const render = (item: McItem): { context: string; choices: string[] } =>
      req.chatTemplate
        ? {
            context: renderChat([{ role: 'user', content: item.context }], m.info.chatTemplate, {
              bos_token: m.bosToken,
              eos_token: m.eosToken,
            }),
            choices: item.choices.map((c) => c.replace(/^ /, '')),
          }
        : { context: item.context, choices: item.choices };
    const first = render(items[0]!);
    ctx.setPrompt({
      fewshot,
      fewshotOrder: task.fewshotOrder ?? '',
      chatTemplate: req.chatTemplate,
      firstItem: renderFirstItem(first.context, first.choices),
      description: task.description,
    });
    const stats = { tokensRun: 0 };
    const scores: ContinuationScore[][] = [];
    for (let i = 0; i < items.length; i++) {
      if (ctx.signal.aborted) throw new Error('cancelled');
      const r = render(items[i]!);
      scores.push(await scoreContinuations(scoring, r.context, r.choices, stats));
      ctx.progress(i + 1, items.length, `item ${i + 1} of ${items.length}`);
    }
    const scored = scoreItems(task, items, scores);
    const metrics: MetricValue[] = Object.entries(scored.metrics).map(([name, v]) =>
      metricValue(name, v.value, v.stderr, items.length),
    );
    for (const [group, byMetric] of Object.entries(scored.perSubject ?? {}))
      for (const [name, v] of Object.entries(byMetric))
        metrics.push(metricValue(name, v.value, v.stderr, v.n, group));
    ctx.addItems(
      scored.results.map((r, index): EvalItem => {
        const shown = render(r.item);
        return {
          index,
          id: r.item.id,
          group: r.item.subject ?? '',
          prompt: shown.context,
          choices: shown.choices.map((text, c) => ({
            text,
            loglik: scores[index]![c]!.loglik,
            loglikNorm: scores[index]![c]!.loglik / Math.max(1, choiceLength(r.item, c)),
            tokens: scores[index]![c]!.tokens,
            greedy: scores[index]![c]!.greedy,
            gold: r.item.goldSet ? r.item.goldSet.includes(c) : c === r.item.gold,
          })),
          references: [],
          outputs: [],
          // Right or wrong by the task's headline measure (acc_norm where it has one), as the leaderboard.
          correct: r.correct[headline] === true || r.correct[headline] === 1,
          score: Number(r.correct[headline] ?? 0),
          detailsJson: JSON.stringify(r.correct),
        };
      }),
    );
    return { metrics, tokens: stats.tokensRun, details: { items: items.length } };
  });
}

// Runs that generate: HumanEval (completions from svc-infer, each run with the problem's tests in the
// sandbox, pass@k by the unbiased estimator) and LLM-as-judge (answers from svc-infer, graded by a judge
// model behind an OpenAI-compatible endpoint).
import { join } from 'node:path';
import { type LabConfig, LabError } from '@lab/common';
import type { EvalItem, EvalRun, MetricValue, SubmitRunRequest } from '@lab/proto/eval';
import { SamplingParams } from '@lab/proto/infer';
import { meanPassAtK, passAtK } from '../humaneval/pass-at-k.ts';
import { loadHumanEval } from '../humaneval/problems.ts';
import { checkProgram, STOP_SEQUENCES, truncateCompletion } from '../humaneval/program.ts';
import { runSandboxed } from '../humaneval/sandbox.ts';
import { type JudgeEndpoint, judgeCompletion } from '../judge/client.ts';
import {
  fillPrompt,
  PAIRWISE_PROMPT,
  pairwiseWin,
  parseRating,
  parseVerdict,
  SINGLE_PROMPT,
} from '../judge/prompts.ts';
import { meanStderr } from '../tasks/index.ts';
import { generateTexts } from './complete.ts';
import { metricValue } from './execute.ts';
import type { RunContext, RunOutcome } from './manager.ts';
import { referenceGeneration } from './reference-generation.ts';

export interface GenerativeDeps {
  config: Pick<LabConfig, 'addresses' | 'gatewayPort' | 'host' | 'gateway'>;
  datasets: string;
}

export function createGenerative(deps: GenerativeDeps) {
  return (run: EvalRun, req: SubmitRunRequest, ctx: RunContext): Promise<RunOutcome> =>
    req.task === 'humaneval'
      ? humaneval(deps, run, req, ctx)
      : req.task === 'alpaca_generation'
        ? referenceGeneration(deps.config.addresses.infer, deps.datasets, run, req, ctx)
        : judge(deps, run, req, ctx);
}

async function humaneval(
  deps: GenerativeDeps,
  run: EvalRun,
  req: SubmitRunRequest,
  ctx: RunContext,
): Promise<RunOutcome> {
  const problems = await loadHumanEval(join(deps.datasets, 'humaneval', 'HumanEval.jsonl'), {
    limit: req.limit || undefined,
  });
  const n = req.samples || 1;
  const temperature = req.temperature ?? (n > 1 ? 0.8 : 0);
  const ks = (req.k.length ? req.k : [1, 10, 100]).filter((k) => k <= n);
  ctx.setPrompt({
    fewshot: 0,
    fewshotOrder: '',
    chatTemplate: false,
    firstItem: problems[0]?.prompt ?? '',
    description: `the problem's prompt continued as plain text; completions cut at ${STOP_SEQUENCES.map((s) => JSON.stringify(s)).join(', ')}; ${n} sample(s) per problem at temperature ${temperature}`,
  });
  const counts: { n: number; c: number }[] = [];
  let tokens = 0;
  for (let i = 0; i < problems.length; i++) {
    const p = problems[i]!;
    let raw: string[];
    try {
      raw = await generateTexts(
        deps.config.addresses.infer,
        {
          model: run.model,
          prompt: p.prompt,
          messages: [],
          params: SamplingParams.fromPartial({
            maxTokens: req.maxTokens || 384,
            temperature,
            n,
            stop: [...STOP_SEQUENCES],
            seed: req.seed + i,
            truncate: true,
          }),
        },
        ctx.signal,
      );
    } catch (err) {
      // A prompt the model cannot take (a character outside a char model's vocabulary) fails this problem's
      // samples, not the run.
      if (!(err instanceof LabError) || err.field !== 'prompt') throw err;
      counts.push({ n, c: 0 });
      ctx.addItems([
        {
          index: i,
          id: p.taskId,
          group: '',
          prompt: p.prompt,
          choices: [],
          references: [p.canonicalSolution],
          outputs: [],
          correct: false,
          score: 0,
          detailsJson: JSON.stringify(
            Array.from({ length: n }, () => ({ status: 'not generated', error: err.message })),
          ),
        },
      ]);
      ctx.progress(i + 1, problems.length, `problem ${i + 1} of ${problems.length}`);
      continue;
    }
    const completions = raw.map((t) => truncateCompletion(t));
    const results = [];
    for (const completion of completions) {
      if (ctx.signal.aborted) throw new Error('cancelled');
      results.push(await runSandboxed(checkProgram(p, completion)));
    }
    const c = results.filter((r) => r.status === 'passed').length;
    counts.push({ n, c });
    tokens += completions.reduce((a, s) => a + s.length, 0);
    ctx.addItems([
      {
        index: i,
        id: p.taskId,
        group: '',
        prompt: p.prompt,
        choices: [],
        references: [p.canonicalSolution],
        outputs: completions,
        correct: c > 0,
        score: c / n,
        detailsJson: JSON.stringify(
          results.map((r) => ({ status: r.status, ms: Math.round(r.ms), stderr: r.stderr.slice(-600) })),
        ),
      },
    ]);
    ctx.progress(i + 1, problems.length, `problem ${i + 1} of ${problems.length}`);
  }
  const metrics: MetricValue[] = ks.map((k) => {
    const per = counts.map((x) => passAtK(x.n, x.c, k));
    return metricValue(`pass@${k}`, meanPassAtK(counts, k), meanStderr(per).stderr, counts.length);
  });
  return { metrics, tokens, details: { samples: n, temperature, problems: problems.length } };
}

function endpoint(deps: GenerativeDeps, run: EvalRun, req: SubmitRunRequest): JudgeEndpoint {
  const host = deps.config.host === '0.0.0.0' || deps.config.host === '::' ? '127.0.0.1' : deps.config.host;
  const own = `http://${host.includes(':') ? `[${host}]` : host}:${deps.config.gatewayPort}/v1`;
  return {
    url: req.judgeUrl || own,
    key: req.judgeUrl ? req.judgeKey || undefined : deps.config.gateway.token,
    model: req.judgeModel || run.model,
  };
}

async function answer(
  deps: GenerativeDeps,
  model: string,
  question: string,
  req: SubmitRunRequest,
  i: number,
  signal: AbortSignal,
): Promise<string> {
  const [text] = await generateTexts(
    deps.config.addresses.infer,
    {
      model,
      prompt: '',
      messages: [{ role: 'user', content: question }],
      params: SamplingParams.fromPartial({
        maxTokens: req.maxTokens || 256,
        temperature: req.temperature ?? 0,
        n: 1,
        stop: [],
        seed: req.seed + i,
        truncate: true,
      }),
    },
    signal,
  );
  return (text ?? '').trim();
}

/** A judged question as an item: the question, the answer(s) and the judge's words. */
function judgedItem(
  i: number,
  question: string,
  outputs: string[],
  correct: boolean,
  score: number,
  details: Record<string, unknown>,
): EvalItem {
  const base = { index: i, id: String(i + 1), group: '', prompt: question, choices: [], references: [] };
  return { ...base, outputs, correct, score, detailsJson: JSON.stringify(details) };
}

async function judge(
  deps: GenerativeDeps,
  run: EvalRun,
  req: SubmitRunRequest,
  ctx: RunContext,
): Promise<RunOutcome> {
  const ep = endpoint(deps, run, req);
  const pairwise = req.judgeMode === 'pairwise';
  const template = req.judgePrompt || (pairwise ? PAIRWISE_PROMPT : SINGLE_PROMPT);
  const questions = req.limit ? req.questions.slice(0, req.limit) : req.questions;
  ctx.setPrompt({
    fewshot: 0,
    fewshotOrder: '',
    chatTemplate: true,
    firstItem: template,
    description: `${pairwise ? `pairwise against ${req.baseline}, both orders` : 'single-answer grading 1–10'}; judge ${ep.model} at ${ep.url}`,
  });
  const scores: number[] = [];
  let unparsed = 0;
  let tokens = 0;
  for (let i = 0; i < questions.length; i++) {
    const q = questions[i]!;
    const a = await answer(deps, run.model, q, req, i, ctx.signal);
    tokens += a.length;
    let item: EvalItem;
    if (!pairwise) {
      const prompt = fillPrompt(template, { question: q, answer: a });
      const verdict = await judgeCompletion(ep, prompt, ctx.signal);
      const rating = parseRating(verdict);
      if (rating === undefined) unparsed++;
      else scores.push(rating);
      item = judgedItem(i, q, [a], rating !== undefined && rating >= 5, rating ?? 0, {
        judgePrompt: prompt,
        judgement: verdict,
        rating: rating ?? null,
      });
    } else {
      const b = await answer(deps, req.baseline, q, req, i, ctx.signal);
      // Both orders: a verdict that follows the position rather than the answer cancels out into a tie.
      const first = await judgeCompletion(
        ep,
        fillPrompt(template, { question: q, answer_a: a, answer_b: b }),
        ctx.signal,
      );
      const second = await judgeCompletion(
        ep,
        fillPrompt(template, { question: q, answer_a: b, answer_b: a }),
        ctx.signal,
      );
      const v1 = parseVerdict(first);
      const v2 = parseVerdict(second);
      const won = pairwiseWin(v1, v2);
      if (won === undefined) unparsed++;
      else scores.push(won);
      item = judgedItem(i, q, [a, b], won !== undefined && won > 0.5, won ?? 0, {
        judgements: [first, second],
        verdicts: [v1 ?? null, v2 ?? null],
        win: won ?? null,
      });
    }
    ctx.addItems([item]);
    ctx.progress(i + 1, questions.length, `question ${i + 1} of ${questions.length}`);
  }
  const { value: mean, stderr } = meanStderr(scores);
  const name = pairwise ? 'win_rate' : 'score';
  return {
    metrics: [metricValue(name, scores.length ? mean : Number.NaN, stderr, scores.length)],
    tokens,
    details: {
      judged: scores.length,
      unparsed,
      judge: { url: ep.url, model: ep.model },
      mode: pairwise ? 'pairwise' : 'single',
    },
  };
}

import { existsSync } from 'node:fs';
import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi';
import { datasetPath, localCallContext } from '@lab/common';
import {
  type EvalItem,
  type EvalRun,
  type MetricValue,
  SubmitRunRequest,
  type VarianceReport,
} from '@lab/proto/eval';
import type { ServiceClients } from '../clients.ts';
import { ErrorBody } from '../errors.ts';
import { relayStream } from '../sse.ts';

const tags = ['eval'];
/** General text of the shared datasets (no model here trains on it); svc-infer's merge report reads it too. */
const GENERAL_TEXT = 'wikitext-2/wiki.test.raw.crlf-nonempty-lines';
const json = <T extends z.ZodType>(schema: T, description: string) => ({
  description,
  content: { 'application/json': { schema } },
});
const errors = {
  400: json(ErrorBody, 'Invalid input; `error.field` names it'),
  404: json(ErrorBody, 'Unknown run or model'),
  409: json(ErrorBody, 'Not possible in the run’s state (e.g. cancelling a finished run)'),
};
const body = <T extends z.ZodType>(schema: T) => ({
  body: { required: true, content: { 'application/json': { schema } } },
});

const MetricsBody = z
  .object({
    hypotheses: z
      .array(z.string().max(1_000_000))
      .min(1, 'at least one hypothesis')
      .max(100_000)
      .openapi({ description: 'The system outputs, one per segment' }),
    references: z
      .array(z.array(z.string().max(1_000_000)).max(100_000))
      .min(1, 'at least one reference set')
      .max(64)
      .openapi({
        description: 'Reference sets, each with one reference per hypothesis (sacrebleu’s layout)',
      }),
  })
  .openapi('MetricsRequest');

const MetricsResult = z
  .object({
    bleu: z.number(),
    chrf: z.number(),
    ter: z.number(),
    rouge1: z.number(),
    rouge2: z.number(),
    rougeL: z.number(),
    rougeLsum: z.number(),
    meteor: z.number(),
    exact_match: z.number(),
    f1: z.number(),
    meteor_stages: z.array(z.string()),
    segments: z.number().int(),
    reference_sets: z.number().int(),
  })
  .openapi('Metrics');

const atLeast1 = (description: string) =>
  z
    .number()
    .int()
    .min(1, 'must be at least 1 (leave it out for the default)')
    .optional()
    .openapi({ description });

const SubmitBody = z
  .object({
    model: z
      .string()
      .min(1, 'required')
      .max(300)
      .openapi({ description: 'A model of svc-infer (GET /api/infer/models)' }),
    task: z
      .string()
      .min(1, 'required')
      .max(100)
      .openapi({ description: 'A task of GET /api/eval/tasks', example: 'hellaswag' }),
    limit: z
      .number()
      .int()
      .min(1, 'must be at least 1 (leave it out for every item)')
      .max(10_000_000)
      .optional()
      .openapi({ description: 'Score only the first N items (perplexity: tokens)' }),
    fewshot: z
      .number()
      .int()
      .min(0)
      .max(25)
      .optional()
      .openapi({ description: 'Few-shot examples (default: the task’s)' }),
    seed: z
      .number()
      .int()
      .min(0)
      .max(2 ** 32 - 1)
      .optional()
      .openapi({ description: 'Seed of few-shot sampling and generation' }),
    chatTemplate: z
      .boolean()
      .optional()
      .openapi({ description: 'Render prompts with the model’s chat template' }),
    label: z
      .string()
      .max(200)
      .optional()
      .openapi({ description: 'Shown on the leaderboard (default: the model’s name)' }),
    text: z.string().optional().openapi({ description: 'Perplexity: the text' }),
    textPath: z
      .string()
      .max(4096)
      .optional()
      .openapi({ description: 'Perplexity: a UTF-8 file on the server' }),
    datasetId: z.string().max(200).optional().openapi({ description: 'Perplexity: a svc-data dataset' }),
    datasetVersion: z
      .number()
      .int()
      .min(0)
      .optional()
      .openapi({ description: 'Perplexity: version of datasetId (0 or absent: the latest)' }),
    split: z
      .enum(['', 'train', 'val'])
      .optional()
      .openapi({ description: 'Perplexity: split of the dataset version ("" or absent: all)' }),
    context: atLeast1('Perplexity: window in tokens (default: the model’s context)'),
    stride: atLeast1('Perplexity: tokens the window advances by (default: the window)'),
    samples: z
      .number()
      .int()
      .min(1)
      .max(200)
      .optional()
      .openapi({ description: 'HumanEval: samples per problem' }),
    temperature: z.number().min(0).max(2).optional().openapi({
      description: 'HumanEval: sampling temperature (default 0 for one sample, 0.8 for several)',
    }),
    k: z
      .array(z.number().int().min(1).max(200))
      .max(10)
      .optional()
      .openapi({ description: 'HumanEval: pass@k values' }),
    maxTokens: z
      .number()
      .int()
      .min(1)
      .max(4096)
      .optional()
      .openapi({ description: 'HumanEval and judge: tokens per completion or answer' }),
    judgeMode: z.enum(['single', 'pairwise']).optional().openapi({
      description: "Judge: single grades each answer on the rubric; pairwise compares it with baseline's",
    }),
    questions: z
      .array(z.string().min(1).max(20_000))
      .max(1000)
      .optional()
      .openapi({ description: 'Judge: the questions the model answers' }),
    baseline: z
      .string()
      .max(300)
      .optional()
      .openapi({ description: 'Judge, pairwise: the model compared with' }),
    judgeUrl: z
      .string()
      .max(2000)
      .optional()
      .openapi({ description: 'Judge: an OpenAI-compatible endpoint (default: the lab’s own /v1)' }),
    judgeKey: z
      .string()
      .max(2000)
      .optional()
      .openapi({ description: 'Judge: the endpoint’s API key (never shown back)' }),
    judgeModel: z
      .string()
      .max(300)
      .optional()
      .openapi({ description: 'Judge: the judging model (default: the judged model)' }),
    judgePrompt: z
      .string()
      .max(20_000)
      .optional()
      .openapi({ description: 'Judge: prompt templates (default: the lab’s, in the task’s description)' }),
  })
  .openapi('EvalRunRequest');

const VarianceBody = z
  .object({
    base: SubmitBody.openapi({ description: 'The run every variant starts from' }),
    seeds: z
      .array(
        z
          .number()
          .int()
          .min(0)
          .max(2 ** 32 - 1),
      )
      .max(16)
      .optional()
      .openapi({ description: 'Seeds to run base with' }),
    fewshots: z
      .array(z.number().int().min(0).max(25))
      .max(8)
      .optional()
      .openapi({ description: 'Few-shot counts to run base with' }),
    chatTemplates: z
      .array(z.boolean())
      .max(2)
      .optional()
      .openapi({ description: 'Chat template off and/or on' }),
  })
  .openapi('VarianceRequest');

const Metric = z.object({
  name: z.string(),
  value: z.number().nullable(),
  stderr: z.number().nullable(),
  ciLow: z.number().nullable(),
  ciHigh: z.number().nullable(),
  n: z.number().int(),
  group: z.string(),
});

const Run = z
  .object({
    id: z.string(),
    model: z.string(),
    task: z.string(),
    label: z.string(),
    state: z.enum(['queued', 'running', 'completed', 'failed', 'cancelled']),
    request: z.record(z.string(), z.unknown()),
    progress: z.object({ done: z.number(), total: z.number(), message: z.string() }),
    metrics: z.array(Metric),
    prompt: z
      .object({
        fewshot: z.number().int(),
        fewshotOrder: z.string(),
        chatTemplate: z.boolean(),
        firstItem: z.string(),
        description: z.string(),
      })
      .nullable(),
    details: z.record(z.string(), z.unknown()),
    error: z.string(),
    createdAt: z.string(),
    startedAt: z.string(),
    finishedAt: z.string(),
    jobId: z.string(),
    step: z.number().int(),
    items: z.number().int(),
    seconds: z.number(),
    tokens: z.number().int(),
    varianceId: z.string(),
  })
  .openapi('EvalRun');

const Item = z
  .object({
    index: z.number().int(),
    id: z.string(),
    group: z.string(),
    prompt: z.string(),
    choices: z.array(
      z.object({
        text: z.string(),
        loglik: z.number(),
        loglikNorm: z.number(),
        tokens: z.number().int(),
        greedy: z.boolean(),
        gold: z.boolean(),
      }),
    ),
    references: z.array(z.string()),
    outputs: z.array(z.string()),
    correct: z.boolean(),
    score: z.number(),
    details: z.unknown(),
  })
  .openapi('EvalItem');

const Task = z
  .object({
    name: z.string(),
    kind: z.string(),
    description: z.string(),
    metrics: z.array(z.string()),
    defaultFewshot: z.number().int(),
    maxFewshot: z.number().int(),
    higherIsBetter: z.boolean(),
  })
  .openapi('EvalTask');

const IdParam = z.object({ id: z.string().min(1).max(100) });

const Variance = z
  .object({
    id: z.string(),
    model: z.string(),
    task: z.string(),
    metric: z.string(),
    mean: z.number().nullable(),
    std: z.number().nullable(),
    min: z.number().nullable(),
    max: z.number().nullable(),
    completed: z.number().int(),
    runs: z.array(Run),
  })
  .openapi('VarianceReport');

export const routes = {
  metrics: createRoute({
    method: 'post',
    path: '/api/eval/metrics',
    tags,
    summary: 'BLEU, chrF, TER (sacrebleu), ROUGE (rouge-score), METEOR (nltk), exact match and F1 (SQuAD)',
    request: body(MetricsBody),
    responses: { 200: json(MetricsResult, 'Corpus-level scores'), 400: errors[400] },
  }),
  tasks: createRoute({
    method: 'get',
    path: '/api/eval/tasks',
    tags,
    summary: 'Tasks a run can name',
    responses: { 200: json(z.object({ tasks: z.array(Task) }), 'Tasks') },
  }),
  generalText: createRoute({
    method: 'get',
    path: '/api/eval/general-text',
    tags,
    summary: 'General text for perplexity runs (e.g. a forgetting check): WikiText-2’s raw test split',
    responses: {
      200: json(
        z.object({
          name: z.string(),
          description: z.string(),
          textPath: z.string().openapi({ description: 'Give it as `textPath` to a perplexity run' }),
          available: z.boolean(),
        }),
        'The text',
      ),
    },
  }),
  submit: createRoute({
    method: 'post',
    path: '/api/eval/runs',
    tags,
    summary: 'Queue an eval run; follow it at /api/eval/runs/{id}/events',
    request: body(SubmitBody),
    responses: { 201: json(Run, 'The queued run'), 400: errors[400], 404: errors[404] },
  }),
  list: createRoute({
    method: 'get',
    path: '/api/eval/runs',
    tags,
    summary: 'Eval runs, newest first',
    request: {
      query: z.object({
        model: z.string().max(300).optional().openapi({ description: 'Only runs of this model' }),
        task: z.string().max(100).optional().openapi({ description: 'Only runs of this task' }),
        state: z
          .enum(['queued', 'running', 'completed', 'failed', 'cancelled'])
          .optional()
          .openapi({ description: 'Only runs in this state' }),
        offset: z.coerce.number().int().min(0).optional(),
        limit: z.coerce.number().int().min(1).max(1000).optional(),
      }),
    },
    responses: {
      200: json(z.object({ runs: z.array(Run), total: z.number().int() }), 'Runs'),
      400: errors[400],
    },
  }),
  get: createRoute({
    method: 'get',
    path: '/api/eval/runs/{id}',
    tags,
    summary: 'One run with its scores (and 95% intervals where the metric has one)',
    request: { params: IdParam },
    responses: { 200: json(Run, 'The run'), 404: errors[404] },
  }),
  items: createRoute({
    method: 'get',
    path: '/api/eval/runs/{id}/items',
    tags,
    summary: 'Every scored item: prompt, choices with log-likelihoods, or outputs; correct or not',
    request: {
      params: IdParam,
      query: z.object({
        wrong: z.enum(['true', 'false']).optional().openapi({ description: 'Only items scored wrong' }),
        group: z
          .string()
          .max(200)
          .optional()
          .openapi({ description: 'Only items of this group (an MMLU subject)' }),
        offset: z.coerce.number().int().min(0).optional(),
        limit: z.coerce.number().int().min(1).max(1000).optional(),
      }),
    },
    responses: {
      200: json(z.object({ items: z.array(Item), total: z.number().int() }), 'Items'),
      404: errors[404],
    },
  }),
  cancel: createRoute({
    method: 'post',
    path: '/api/eval/runs/{id}/cancel',
    tags,
    summary: 'Cancel a queued or running run',
    request: { params: IdParam },
    responses: { 200: json(Run, 'The run'), 404: errors[404], 409: errors[409] },
  }),
  events: createRoute({
    method: 'get',
    path: '/api/eval/runs/{id}/events',
    tags,
    summary: 'The run now, then progress and state events as SSE until it ends',
    request: { params: IdParam },
    responses: {
      200: {
        description: 'SSE: `state`, `progress` and a last `done` event, each with the run (JSON EvalRun)',
        content: { 'text/event-stream': { schema: Run } },
      },
      404: errors[404],
    },
  }),
  variance: createRoute({
    method: 'post',
    path: '/api/eval/variance',
    tags,
    summary:
      'Re-run a task across seeds, few-shot counts and chat template on/off; the report shows the spread',
    request: body(VarianceBody),
    responses: { 201: json(Variance, 'The report, its runs queued'), 400: errors[400], 404: errors[404] },
  }),
  getVariance: createRoute({
    method: 'get',
    path: '/api/eval/variance/{id}',
    tags,
    summary: 'A variance report: its runs and the spread of the score over those completed',
    request: { params: IdParam },
    responses: { 200: json(Variance, 'The report'), 404: errors[404] },
  }),
  leaderboard: createRoute({
    method: 'get',
    path: '/api/eval/leaderboard',
    tags,
    summary: 'Every model’s latest score per task',
    request: {
      query: z.object({ tasks: z.string().max(2000).optional().openapi({ description: 'Comma-separated' }) }),
    },
    responses: {
      200: json(
        z.object({
          rows: z.array(
            z.object({
              model: z.string(),
              label: z.string(),
              jobId: z.string(),
              step: z.number().int(),
              scores: z.array(
                z.object({ task: z.string(), metric: Metric, runId: z.string(), finishedAt: z.string() }),
              ),
            }),
          ),
          tasks: z.array(Task),
        }),
        'Leaderboard',
      ),
    },
  }),
};

const finite = (v: number): number | null => (Number.isFinite(v) ? v : null);

const metricJson = (m: MetricValue) => ({
  ...m,
  value: finite(m.value),
  stderr: finite(m.stderr),
  ciLow: finite(m.ciLow),
  ciHigh: finite(m.ciHigh),
});

function runJson(r: EvalRun) {
  const parse = (s: string) => (s ? (JSON.parse(s) as Record<string, unknown>) : {});
  return {
    id: r.id,
    model: r.model,
    task: r.task,
    label: r.label,
    state: r.state,
    request: parse(r.requestJson),
    progress: {
      done: Number(r.progress?.done ?? 0),
      total: Number(r.progress?.total ?? 0),
      message: r.progress?.message ?? '',
    },
    metrics: r.metrics.map(metricJson),
    prompt: r.prompt ?? null,
    details: parse(r.detailsJson),
    error: r.error,
    createdAt: r.createdAt,
    startedAt: r.startedAt,
    finishedAt: r.finishedAt,
    jobId: r.jobId,
    step: r.step,
    items: r.items,
    seconds: r.seconds,
    tokens: Number(r.tokens),
    varianceId: r.varianceId,
  };
}

function itemJson(i: EvalItem) {
  return {
    ...i,
    detailsJson: undefined,
    details: i.detailsJson ? (JSON.parse(i.detailsJson) as unknown) : null,
  };
}

function varianceJson(v: VarianceReport) {
  return {
    ...v,
    mean: finite(v.mean),
    std: finite(v.std),
    min: finite(v.min),
    max: finite(v.max),
    runs: v.runs.map(runJson),
  };
}

const submitRequest = (b: z.infer<typeof SubmitBody>) =>
  SubmitRunRequest.fromPartial({ ...b, k: b.k ?? [], questions: b.questions ?? [] });

export function evalRoutes(app: OpenAPIHono, services: ServiceClients): void {
  const svc = services.eval;
  const ctx = () => localCallContext();

  // The shared reference datasets sit under the data roots svc-eval reads (LAB_DATASETS, else
  // ../shared/datasets); only the path is named here, svc-eval reads the file.
  app.openapi(routes.generalText, (c) => {
    const textPath = datasetPath(GENERAL_TEXT);
    return c.json(
      {
        name: 'wikitext-2',
        description: 'WikiText-2 (Merity et al., 2016), raw test split: Wikipedia articles',
        textPath,
        available: existsSync(textPath),
      },
      200,
    );
  });

  app.openapi(routes.variance, async (c) => {
    const b = c.req.valid('json');
    const v = await svc.submitVariance!(
      {
        base: submitRequest(b.base),
        seeds: b.seeds ?? [],
        fewshots: b.fewshots ?? [],
        chatTemplates: b.chatTemplates ?? [],
      },
      ctx(),
    );
    return c.json(varianceJson(v) as never, 201);
  });
  app.openapi(routes.getVariance, async (c) =>
    c.json(varianceJson(await svc.getVariance!(c.req.valid('param'), ctx())) as never, 200),
  );

  app.openapi(routes.metrics, async (c) => {
    const b = c.req.valid('json');
    const r = await svc.scoreTexts!(
      { hypotheses: b.hypotheses, references: b.references.map((texts) => ({ texts })) },
      ctx(),
    );
    return c.json(
      {
        bleu: r.bleu,
        chrf: r.chrf,
        ter: r.ter,
        rouge1: r.rouge1,
        rouge2: r.rouge2,
        rougeL: r.rougeL,
        rougeLsum: r.rougeLsum,
        meteor: r.meteor,
        exact_match: r.exactMatch,
        f1: r.f1,
        meteor_stages: r.meteorStages,
        segments: r.segments,
        reference_sets: r.referenceSets,
      },
      200,
    );
  });

  app.openapi(routes.tasks, async (c) => c.json((await svc.listTasks!({}, ctx())) as never, 200));

  app.openapi(routes.submit, async (c) => {
    const b = c.req.valid('json');
    const run = await svc.submitRun!(submitRequest(b), ctx());
    return c.json(runJson(run) as never, 201);
  });

  app.openapi(routes.list, async (c) => {
    const q = c.req.valid('query');
    const res = await svc.listRuns!(
      {
        model: q.model ?? '',
        task: q.task ?? '',
        state: q.state ?? '',
        page: { offset: q.offset ?? 0, limit: q.limit ?? 100 },
      },
      ctx(),
    );
    return c.json({ runs: res.runs.map(runJson), total: res.total } as never, 200);
  });

  app.openapi(routes.get, async (c) =>
    c.json(runJson(await svc.getRun!(c.req.valid('param'), ctx())) as never, 200),
  );

  app.openapi(routes.items, async (c) => {
    const q = c.req.valid('query');
    const res = await svc.listRunItems!(
      {
        id: c.req.valid('param').id,
        wrongOnly: q.wrong === 'true',
        group: q.group ?? '',
        page: { offset: q.offset ?? 0, limit: q.limit ?? 50 },
      },
      ctx(),
    );
    return c.json({ items: res.items.map(itemJson), total: res.total } as never, 200);
  });

  app.openapi(routes.cancel, async (c) =>
    c.json(runJson(await svc.cancelRun!(c.req.valid('param'), ctx())) as never, 200),
  );

  app.openapi(routes.events, async (c) => {
    const { id } = c.req.valid('param');
    // An unknown run answers 404 as JSON before the stream starts.
    await svc.getRun!({ id }, ctx());
    return relayStream(
      c,
      (callCtx) => svc.watchRun!({ id }, callCtx),
      (e) => ({ id: String(e.seq), event: e.kind, data: JSON.stringify(runJson(e.run!)) }),
    ) as never;
  });

  app.openapi(routes.leaderboard, async (c) => {
    const tasks = (c.req.valid('query').tasks ?? '')
      .split(',')
      .map((t) => t.trim())
      .filter(Boolean);
    const res = await svc.leaderboard!({ tasks }, ctx());
    return c.json(
      {
        rows: res.rows.map((r) => ({
          ...r,
          scores: r.scores.map((s) => ({ ...s, metric: s.metric && metricJson(s.metric) })),
        })),
        tasks: res.tasks,
      } as never,
      200,
    );
  });
}

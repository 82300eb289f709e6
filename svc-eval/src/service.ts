import { randomBytes } from 'node:crypto';
import {
  bindService,
  type CallContext,
  confinePath,
  datasetPath,
  LabError,
  type ServiceBinding,
  type ServiceDeps,
  type ServiceImpl,
} from '@lab/common';
import {
  type EvalRun,
  type EvalRunEvent,
  EvalServiceService,
  SubmitRunRequest,
  type VarianceReport,
} from '@lab/proto/eval';
import { allTasks, taskInfo } from './catalog.ts';
import { leaderboard } from './leaderboard.ts';
import { textMetrics } from './metrics/index.ts';
import { EvalModels } from './models.ts';
import { createExecutor } from './runs/execute.ts';
import { createGenerative } from './runs/generative.ts';
import { RunManager } from './runs/manager.ts';
import { getTask } from './tasks/index.ts';
import { validateRun } from './validate.ts';

export interface EvalServiceOptions {
  /** Root of the benchmark files (default: LAB_DATASETS, else ../shared/datasets beside the repository). */
  datasets?: string;
  memoryBytes?: number;
}

export interface EvalImpl {
  impl: ServiceImpl<typeof EvalServiceService>;
  manager: RunManager;
  close(): Promise<void>;
}

export function createEvalImpl(
  deps: Pick<ServiceDeps, 'bus' | 'store' | 'config' | 'log'>,
  options: EvalServiceOptions = {},
): EvalImpl {
  const models = new EvalModels(deps.config.addresses.infer, {
    memoryBytes:
      options.memoryBytes ??
      (deps.config.infer.memoryMb ? deps.config.infer.memoryMb * 1024 * 1024 : undefined),
  });
  const datasets = options.datasets ?? datasetPath();
  const execute = createExecutor({
    models,
    datasets,
    dataAddress: deps.config.addresses.data,
    dataRoots: deps.config.dataRoots,
    generative: createGenerative({ config: deps.config, datasets }),
  });
  const manager = new RunManager(deps.store, deps.bus, deps.log, execute);

  /** Checks a request (the model asked of svc-infer, a benchmark's files read) and queues its run. */
  const submit = async (req: SubmitRunRequest): Promise<EvalRun> => {
    const task = taskInfo(req.task);
    validateRun(req, task);
    // A benchmark file that is missing or does not parse is refused now, naming the file and line.
    if (task.kind === 'multiple_choice')
      getTask(req.task).load({
        datasets,
        limit: 1,
        fewshot: req.fewshot ?? task.defaultFewshot,
        seed: req.seed,
      });
    // A text file outside the data roots is refused at submission, like every path the API takes.
    if (req.textPath) confinePath(req.textPath, 'textPath', deps.config.dataRoots);
    // An unknown model is refused now, not as a run that fails later.
    const info = await models.describe(req.model);
    const filled: SubmitRunRequest = {
      ...req,
      fewshot: task.kind === 'multiple_choice' ? (req.fewshot ?? task.defaultFewshot) : req.fewshot,
    };
    return manager.submit({
      model: req.model,
      task: req.task,
      requestJson: JSON.stringify(filled),
      label: req.label || req.model,
      jobId: info.jobId,
      step: info.step,
      startedAt: '',
      finishedAt: '',
      error: '',
      items: 0,
      seconds: 0,
      tokens: 0,
      detailsJson: '',
      prompt: undefined,
      varianceId: req.varianceId,
    });
  };

  const varianceReport = (id: string): VarianceReport => {
    const rec = deps.store.get(`variance:${id}`) as
      | { id: string; model: string; task: string; runIds: string[] }
      | undefined;
    if (!rec) throw new LabError('NOT_FOUND', `id: no variance report ${id}`, 'id');
    const runs = rec.runIds.map((r) => manager.get(r));
    const metric = taskInfo(rec.task).metrics[0]!;
    const values = runs
      .filter((r) => r.state === 'completed')
      .map((r) => r.metrics.find((m) => m.name === metric && m.group === '')?.value)
      .filter((v): v is number => v !== undefined && Number.isFinite(v));
    const mean = values.reduce((a, b) => a + b, 0) / Math.max(1, values.length);
    const std =
      values.length > 1
        ? Math.sqrt(values.reduce((a, b) => a + (b - mean) ** 2, 0) / (values.length - 1))
        : 0;
    return {
      id,
      model: rec.model,
      task: rec.task,
      metric,
      mean: values.length ? mean : Number.NaN,
      std,
      min: values.length ? Math.min(...values) : Number.NaN,
      max: values.length ? Math.max(...values) : Number.NaN,
      completed: values.length,
      runs: runs.map(publicRun),
    };
  };

  const impl: ServiceImpl<typeof EvalServiceService> = {
    scoreTexts: async (req) => {
      const r = textMetrics(
        req.hypotheses,
        req.references.map((s) => s.texts),
      );
      return {
        bleu: r.metrics.bleu,
        chrf: r.metrics.chrf,
        ter: r.metrics.ter,
        rouge1: r.metrics.rouge1,
        rouge2: r.metrics.rouge2,
        rougeL: r.metrics.rougeL,
        rougeLsum: r.metrics.rougeLsum,
        meteor: r.metrics.meteor,
        exactMatch: r.metrics.exact_match,
        f1: r.metrics.f1,
        meteorStages: r.meteorStages,
        segments: r.segments,
        referenceSets: r.referenceSets,
      };
    },
    listTasks: async () => ({ tasks: allTasks() }),
    submitRun: async (raw) => publicRun(await submit(SubmitRunRequest.fromPartial(raw))),
    listRuns: async (req) => {
      const all = manager.runs
        .list()
        .filter(
          (r) =>
            (!req.model || r.model === req.model) &&
            (!req.task || r.task === req.task) &&
            (!req.state || r.state === req.state),
        );
      const offset = req.page?.offset ?? 0;
      const limit = Math.min(req.page?.limit || 100, 1000);
      return { runs: all.slice(offset, offset + limit).map(publicRun), total: all.length };
    },
    getRun: async (req) => publicRun(manager.get(req.id)),
    listRunItems: async (req) => {
      manager.get(req.id);
      const offset = req.page?.offset ?? 0;
      const limit = Math.min(req.page?.limit || 50, 1000);
      const items = [];
      let total = 0;
      for (const item of manager.runs.items(req.id)) {
        if (req.wrongOnly && item.correct) continue;
        if (req.group && item.group !== req.group) continue;
        if (total >= offset && items.length < limit) items.push(item);
        total++;
      }
      return { items, total };
    },
    cancelRun: async (req) => publicRun(manager.cancel(req.id)),
    watchRun: async function* (req, ctx: CallContext): AsyncGenerator<EvalRunEvent> {
      for await (const e of manager.watch(req.id, ctx.signal)) yield { ...e, run: e.run && publicRun(e.run) };
    },
    submitVariance: async (req) => {
      const base = SubmitRunRequest.fromPartial(req.base ?? {});
      const task = taskInfo(base.task);
      const seeds = req.seeds.length ? req.seeds : [base.seed];
      const fewshots = req.fewshots.length ? req.fewshots : [base.fewshot ?? task.defaultFewshot];
      const chats = req.chatTemplates.length ? req.chatTemplates : [base.chatTemplate];
      const n = seeds.length * fewshots.length * chats.length;
      if (n < 2)
        throw new LabError(
          'INVALID_ARGUMENT',
          'seeds: give at least two variants (seeds, fewshots or chatTemplates)',
          'seeds',
        );
      if (n > 48)
        throw new LabError(
          'INVALID_ARGUMENT',
          `seeds: ${n} variants; at most 48 (seeds × fewshots × chat templates)`,
          'seeds',
        );
      const variants = seeds.flatMap((seed) =>
        fewshots.flatMap((fewshot) =>
          chats.map((chatTemplate) => ({ ...base, seed, fewshot, chatTemplate })),
        ),
      );
      // Every variant is checked before any is queued.
      for (const v of variants) validateRun(v, task);
      const id = `var-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
      const runIds: string[] = [];
      for (const v of variants) runIds.push((await submit({ ...v, varianceId: id })).id);
      await deps.store.put(`variance:${id}`, { id, model: base.model, task: base.task, runIds });
      return varianceReport(id);
    },
    getVariance: async (req) => varianceReport(req.id),
    leaderboard: async (req) => {
      const tasks = allTasks();
      return { rows: leaderboard(manager.runs.list(), tasks, req.tasks.filter(Boolean)), tasks };
    },
  };
  return {
    impl,
    manager,
    close: async () => {
      await manager.close();
      await models.close();
    },
  };
}

/** A judge endpoint's key is kept for the run and never shown back. */
function publicRun(run: EvalRun): EvalRun {
  const req = JSON.parse(run.requestJson) as Record<string, unknown>;
  if (req.judgeKey) req.judgeKey = '(set)';
  return { ...run, requestJson: JSON.stringify(req) };
}

export function buildEvalService(deps: ServiceDeps): ServiceBinding {
  return bindService(EvalServiceService, createEvalImpl(deps).impl);
}

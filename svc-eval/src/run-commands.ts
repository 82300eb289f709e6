// Run commands of lab-eval: they talk to a running svc-eval (its configured address, or --remote), since
// runs live in the service's queue and store and scoring needs svc-infer's models.
import {
  type CliCommand,
  type CliValues,
  createClient,
  intFlag,
  LabError,
  loadConfig,
  localCallContext,
  remoteImpl,
  remoteOption,
  type ServiceImpl,
} from '@lab/common';
import { type EvalRun, EvalServiceClient, EvalServiceService, SubmitRunRequest } from '@lab/proto/eval';

type Impl = Required<ServiceImpl<typeof EvalServiceService>>;
const ctx = localCallContext();
const out = (s: string): void => {
  process.stdout.write(`${s}\n`);
};

function withService(run: (svc: Impl, values: CliValues, positionals: string[]) => Promise<void>) {
  return async (values: CliValues, positionals: string[]) => {
    const address = typeof values.remote === 'string' ? values.remote : loadConfig().addresses.eval;
    const client = createClient(EvalServiceClient, address, { deadlineMs: 24 * 3600_000 });
    try {
      await run(remoteImpl(EvalServiceService, client) as Impl, values, positionals);
    } finally {
      client.close();
    }
  };
}

const fmt = (v: number) => (Number.isFinite(v) ? (Math.abs(v) >= 100 ? v.toFixed(1) : v.toFixed(4)) : '—');

function summary(r: EvalRun): string {
  const main = r.metrics
    .filter((m) => m.group === '')
    .map((m) => `${m.name}=${fmt(m.value)}${m.stderr ? `±${fmt(m.stderr)}` : ''}`);
  return `${r.id}  ${r.state.padEnd(9)} ${r.task.padEnd(16)} ${r.model}  ${main.join(' ')}${r.error ? `  (${r.error})` : ''}`;
}

function printRun(r: EvalRun, json: boolean): void {
  if (json) {
    out(JSON.stringify({ ...r, request: JSON.parse(r.requestJson), requestJson: undefined }, null, 2));
    return;
  }
  out(summary(r));
  for (const m of r.metrics)
    out(
      `  ${(m.group ? `${m.group} ` : '') + m.name}: ${fmt(m.value)}${m.stderr ? ` ± ${fmt(m.stderr)} (95% ${fmt(m.ciLow)}–${fmt(m.ciHigh)})` : ''}  n=${m.n}`,
    );
  if (r.prompt)
    out(
      `  prompt: ${r.prompt.fewshot}-shot${r.prompt.chatTemplate ? ', chat template' : ''}; ${r.prompt.description}`,
    );
}

const runId = (positionals: string[]): string => {
  if (!positionals[0]) throw new LabError('INVALID_ARGUMENT', 'give the run id', 'id');
  return positionals[0];
};

export const runCommands: Record<string, CliCommand> = {
  run: {
    summary: 'queue an eval run and follow it to the end',
    usage:
      'run --model NAME --task TASK [--limit N] [--fewshot N] [--seed N] [--chat-template] [--text-path FILE] [--context N] [--stride N] [--samples N] [--json]',
    help: {
      model: 'a model of svc-infer (lab-infer models)',
      task: 'hellaswag, mmlu, mmlu_<subject>, arc_easy, arc_challenge, truthfulqa_mc1, truthfulqa_mc2, perplexity, alpaca_generation, humaneval',
      limit: 'the first N items (perplexity: tokens)',
      fewshot: 'few-shot examples (default: the task’s)',
      seed: 'seed for few-shot sampling and generation',
      'chat-template': 'render prompts with the model’s chat template',
      'text-path': 'perplexity: a UTF-8 text file',
      context: 'perplexity: window in tokens',
      stride: 'perplexity: tokens the window advances by',
      samples: 'humaneval: samples per problem',
      'no-wait': 'print the run id and return',
      json: 'print the finished run as JSON',
    },
    options: {
      model: { type: 'string' },
      task: { type: 'string' },
      limit: { type: 'string' },
      fewshot: { type: 'string' },
      seed: { type: 'string' },
      'chat-template': { type: 'boolean' },
      'text-path': { type: 'string' },
      context: { type: 'string' },
      stride: { type: 'string' },
      samples: { type: 'string' },
      'no-wait': { type: 'boolean' },
      json: { type: 'boolean' },
      ...remoteOption,
    },
    run: withService(async (svc, values) => {
      const req = SubmitRunRequest.fromPartial({
        model: String(values.model ?? ''),
        task: String(values.task ?? ''),
        limit: intFlag(values, 'limit', 0, 1),
        fewshot: values.fewshot === undefined ? undefined : intFlag(values, 'fewshot', 0, 0, 25),
        seed: intFlag(values, 'seed', 0),
        chatTemplate: !!values['chat-template'],
        textPath: typeof values['text-path'] === 'string' ? values['text-path'] : '',
        context: intFlag(values, 'context', 0, 1),
        stride: intFlag(values, 'stride', 0, 1),
        samples: intFlag(values, 'samples', 0, 1, 200),
      });
      const run = await svc.submitRun(req, ctx);
      if (values['no-wait']) return out(run.id);
      if (!values.json) out(`queued ${run.id}`);
      let last = run;
      let shown = -1;
      for await (const e of svc.watchRun({ id: run.id }, ctx)) {
        last = e.run!;
        const p = last.progress;
        if (!values.json && p && p.total && Math.floor((10 * Number(p.done)) / Number(p.total)) > shown) {
          shown = Math.floor((10 * Number(p.done)) / Number(p.total));
          out(`  ${p.done}/${p.total} ${p.message}`);
        }
      }
      printRun(last, !!values.json);
      if (last.state !== 'completed') process.exitCode = 1;
    }),
  },
  runs: {
    summary: 'list eval runs, newest first',
    usage: 'runs [--model NAME] [--task TASK] [--json]',
    help: { model: 'only this model’s', task: 'only this task’s', json: 'print JSON' },
    options: {
      model: { type: 'string' },
      task: { type: 'string' },
      json: { type: 'boolean' },
      ...remoteOption,
    },
    run: withService(async (svc, values) => {
      const res = await svc.listRuns(
        {
          model: String(values.model ?? ''),
          task: String(values.task ?? ''),
          state: '',
          page: { offset: 0, limit: 1000 },
        },
        ctx,
      );
      if (values.json)
        return out(
          JSON.stringify(
            res.runs.map((r) => ({ ...r, request: JSON.parse(r.requestJson), requestJson: undefined })),
          ),
        );
      if (!res.runs.length)
        return out('no eval runs yet: lab-eval run --model NAME --task hellaswag --limit 100');
      for (const r of res.runs) out(summary(r));
    }),
  },
  show: {
    summary: 'show a run’s scores, prompt format and (with --items) its items',
    usage: 'show RUN_ID [--items N] [--wrong] [--json]',
    help: { items: 'also print the first N items', wrong: 'only items scored wrong', json: 'print JSON' },
    options: {
      items: { type: 'string' },
      wrong: { type: 'boolean' },
      json: { type: 'boolean' },
      ...remoteOption,
    },
    run: withService(async (svc, values, positionals) => {
      const run = await svc.getRun({ id: runId(positionals) }, ctx);
      printRun(run, !!values.json);
      const n = intFlag(values, 'items', 0, 0, 1000);
      if (!n) return;
      const res = await svc.listRunItems(
        { id: run.id, wrongOnly: !!values.wrong, group: '', page: { offset: 0, limit: n } },
        ctx,
      );
      for (const it of res.items) {
        if (values.json) {
          out(JSON.stringify(it));
          continue;
        }
        out(`\n#${it.index} ${it.id} ${it.correct ? 'right' : 'wrong'}`);
        out(it.prompt.length > 400 ? `…${it.prompt.slice(-400)}` : it.prompt);
        for (const c of it.choices)
          out(
            `  ${c.gold ? '*' : ' '} ${fmt(c.loglik).padStart(10)} ${fmt(c.loglikNorm).padStart(8)}/char  ${JSON.stringify(c.text)}`,
          );
        for (const o of it.outputs) out(`  → ${JSON.stringify(o.slice(0, 300))}`);
      }
    }),
  },
};

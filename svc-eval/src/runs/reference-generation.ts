// A generation benchmark scored with the text metrics: the model answers each instruction of the Alpaca
// records in shared/datasets (through its chat template, greedily), and its answers are scored against the
// records' outputs with BLEU, chrF, TER, ROUGE, METEOR, exact match and F1 — the report a learner quotes for
// a checkpoint's answers, computed as the reference implementations compute it.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { LabError } from '@lab/common';
import type { EvalRun, MetricValue, SubmitRunRequest } from '@lab/proto/eval';
import { SamplingParams } from '@lab/proto/infer';
import { textMetrics } from '../metrics/index.ts';
import { generateTexts } from './complete.ts';
import { metricValue } from './execute.ts';
import type { RunContext, RunOutcome } from './manager.ts';

export const ALPACA_FILE = join('alpaca', 'alpaca_data_first335.json');

interface Record {
  instruction: string;
  input: string;
  output: string;
}

export function alpacaItems(datasets: string, limit?: number): { prompt: string; reference: string }[] {
  const file = join(datasets, ALPACA_FILE);
  let rows: Record[];
  try {
    rows = JSON.parse(readFileSync(file, 'utf8')) as Record[];
  } catch (err) {
    throw new LabError(
      'FAILED_PRECONDITION',
      `datasets: ${file} cannot be read as JSON (${(err as Error).message})`,
      'datasets',
    );
  }
  return rows.slice(0, limit || rows.length).map((r, i) => {
    if (typeof r?.instruction !== 'string' || typeof r.output !== 'string')
      throw new LabError(
        'FAILED_PRECONDITION',
        `datasets: ${file}: record ${i} has no instruction or output string`,
        'datasets',
      );
    return { prompt: r.input ? `${r.instruction}\n\n${r.input}` : r.instruction, reference: r.output };
  });
}

export async function referenceGeneration(
  inferAddress: string,
  datasets: string,
  run: EvalRun,
  req: SubmitRunRequest,
  ctx: RunContext,
): Promise<RunOutcome> {
  const items = alpacaItems(datasets, req.limit);
  ctx.setPrompt({
    fewshot: 0,
    fewshotOrder: '',
    chatTemplate: true,
    firstItem: items[0]?.prompt ?? '',
    description: `each instruction as the user's message through the model's chat template; greedy answers of at most ${req.maxTokens || 128} tokens`,
  });
  const outputs: string[] = [];
  for (let i = 0; i < items.length; i++) {
    const [text] = await generateTexts(
      inferAddress,
      {
        model: run.model,
        prompt: '',
        messages: [{ role: 'user', content: items[i]!.prompt }],
        params: SamplingParams.fromPartial({
          maxTokens: req.maxTokens || 128,
          temperature: 0,
          n: 1,
          seed: req.seed,
          truncate: true,
        }),
      },
      ctx.signal,
    );
    outputs.push((text ?? '').trim());
    ctx.progress(i + 1, items.length, `answer ${i + 1} of ${items.length}`);
  }
  const report = textMetrics(outputs, [items.map((it) => it.reference)]);
  // Each answer on its own, so the items show which answers came close.
  ctx.addItems(
    items.map((it, index) => {
      const own = textMetrics([outputs[index]!], [[it.reference]]).metrics;
      return {
        index,
        id: String(index),
        group: '',
        prompt: it.prompt,
        choices: [],
        references: [it.reference],
        outputs: [outputs[index]!],
        correct: own.exact_match === 100,
        score: own.rougeL,
        detailsJson: JSON.stringify(own),
      };
    }),
  );
  const m = report.metrics;
  const order: (keyof typeof m)[] = [
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
  ];
  const metrics: MetricValue[] = order.map((k) => metricValue(k, m[k], 0, items.length));
  return {
    metrics,
    tokens: outputs.reduce((a, o) => a + o.length, 0),
    details: { meteorStages: report.meteorStages, answers: items.length },
  };
}

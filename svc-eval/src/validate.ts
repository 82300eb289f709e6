// A run request checked before it is queued: every problem names its field, so a bad request is an
// INVALID_ARGUMENT now and never a run that fails later.
import { LabError } from '@lab/common';
import type { SubmitRunRequest, TaskInfo } from '@lab/proto/eval';

const bad = (field: string, message: string) =>
  new LabError('INVALID_ARGUMENT', `${field}: ${message}`, field);

export function validateRun(req: SubmitRunRequest, task: TaskInfo): void {
  if (!req.model) throw bad('model', 'required');
  if (req.fewshot !== undefined && req.fewshot > task.maxFewshot)
    throw bad('fewshot', `${task.name} takes at most ${task.maxFewshot} examples (got ${req.fewshot})`);
  const perplexityOnly: (keyof SubmitRunRequest)[] = [
    'textPath',
    'text',
    'datasetId',
    'context',
    'stride',
    'split',
  ];
  const generativeOnly: (keyof SubmitRunRequest)[] = ['samples', 'maxTokens'];
  const judgeOnly: (keyof SubmitRunRequest)[] = [
    'judgeMode',
    'questions',
    'baseline',
    'judgeUrl',
    'judgeKey',
    'judgeModel',
    'judgePrompt',
  ];
  const refuse = (fields: (keyof SubmitRunRequest)[], kinds: string[]) => {
    if (kinds.includes(task.kind)) return;
    for (const f of fields) {
      const v = req[f];
      if (v !== undefined && v !== '' && v !== 0 && !(Array.isArray(v) && v.length === 0))
        throw bad(f, `does not apply to ${task.name} (a ${task.kind.replace('_', '-')} task)`);
    }
  };
  refuse(perplexityOnly, ['perplexity']);
  refuse(generativeOnly, ['humaneval', 'judge', 'generation']);
  refuse(judgeOnly, ['judge']);
  if (task.kind === 'perplexity') {
    const sources = [req.text, req.textPath, req.datasetId].filter(Boolean).length;
    if (sources !== 1) throw bad('text', 'give exactly one of text, textPath or datasetId');
    if (req.stride && req.context && req.stride > req.context)
      throw bad('stride', `at most the window (context ${req.context}); got ${req.stride}`);
  }
  if (task.kind === 'humaneval') {
    if (req.samples > 200) throw bad('samples', `at most 200 per problem (got ${req.samples})`);
    const n = req.samples || 1;
    for (const k of req.k) if (k < 1 || k > n) throw bad('k', `each k must be 1 to samples (${n}); got ${k}`);
    if (req.temperature !== undefined && (req.temperature < 0 || req.temperature > 2))
      throw bad('temperature', `0 to 2 (got ${req.temperature})`);
  }
  if (task.kind === 'judge') {
    if (!['single', 'pairwise', ''].includes(req.judgeMode)) throw bad('judgeMode', 'single or pairwise');
    if (!req.questions.length) throw bad('questions', 'at least one question to answer and judge');
    if (req.judgeMode === 'pairwise' && !req.baseline)
      throw bad('baseline', 'a pairwise judgement needs a baseline model');
    if (req.judgeUrl && !/^https?:\/\//.test(req.judgeUrl))
      throw bad('judgeUrl', 'an http(s) URL of an OpenAI-compatible API');
  }
}

// The end-of-turn check after a fine-tune: the token training ended every answer with (rendered through the
// base's chat template, as the job rendered its examples) must still be the one the model stops on once the
// adapter is merged into a checkpoint and that checkpoint exported as a Hugging Face folder. Each folder is
// read as a user's tools would read it — generation_config.json's eos_token_id, tokenizer_config.json's
// eos_token, the chat template — plus the stop set svc-infer derives from it, and the served checkpoint
// generates once with the token forced, to see generation end on it. A merged model that lost its EOS
// writes answers that never end: the most common complaint after fine-tuning.
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { LabError } from '@lab/common';
import { inspectModelFolder, type ModelFolderInfo } from '@lab/engine';
import type { EosFolder, EosItem, EosSurvival } from '@lab/proto/train';
import { folderStopIds } from '@lab/svc-infer';
import { parseTokenizerJson, type Tokenizer } from '@lab/tokenizer';
import { fieldError } from '../jobs/field-error.ts';
import { sourcePath } from '../jobs/resolve-tokens.ts';
import type { JobRecord } from '../jobs/types.ts';
import { conversationsOf, preferencesOf, readRecords } from './examples.ts';
import { endTokenOf } from './preview.ts';
import { type Tokenized, tokenizeConversation, tokenizePair } from './render.ts';
import { chatFormatOf, EXAMPLES_FILE } from './run.ts';

export interface EosSurvivalDeps {
  /** svc-infer's ExportModel: writes the servable model `name` as a Hugging Face folder at `dest`. */
  exportModel(name: string, dest: string): Promise<void>;
  /**
   * Greedy generation on the servable model `name` with `endId` forced (a large logit bias): the finish
   * reason and the tokens it emitted before finishing.
   */
  generateForced(
    name: string,
    prompt: string,
    endId: number,
  ): Promise<{ finishReason: string; emitted: number[] }>;
}

export interface EosSurvivalRequest {
  /** The checkpoint's step; 0 or absent: the newest kept. */
  step?: number;
  /** A merged model folder exported from the checkpoint; absent: svc-infer exports one to scratch. */
  exportPath?: string;
}

type Kind = 'base' | 'checkpoint' | 'export';

/** The first example of the job's data, tokenized with `info`'s chat format. */
function firstExample(rec: JobRecord, jobDir: string, info: ModelFolderInfo, tok: Tokenizer): Tokenized {
  const spec = rec.spec;
  const field = spec.source.kind === 'dataset' ? 'datasetId' : 'dataPath';
  const path = spec.source.kind === 'dataset' ? join(jobDir, EXAMPLES_FILE) : sourcePath(spec.source);
  // The first record is enough: every example ends its answer the same way.
  const records = readRecords(path, field).slice(0, 1);
  const fmt = chatFormatOf(info, tok);
  if (spec.finetune?.method !== 'sft') return tokenizePair(preferencesOf(records, field)[0]!, fmt).chosen;
  return tokenizeConversation(conversationsOf(records, field)[0]!, fmt);
}

const show = (s: string) => JSON.stringify(s);

function ids(v: unknown): number[] {
  if (typeof v === 'number') return [v];
  return Array.isArray(v) ? v.filter((x): x is number => typeof x === 'number') : [];
}

interface FolderFacts {
  info: ModelFolderInfo;
  tok: Tokenizer;
}

function readFolder(dir: string, field: string): FolderFacts {
  let info: ModelFolderInfo;
  try {
    info = inspectModelFolder(dir);
  } catch (err) {
    throw fieldError(field, `${dir} is not a model folder: ${(err as Error).message}`);
  }
  if (!info.tokenizerJson) throw fieldError(field, `${dir} has no tokenizer.json.`);
  return { info, tok: parseTokenizerJson(info.tokenizerJson, dir) };
}

/** The checks every folder gets, each "pass" when the folder names `endId` as the end of a turn. */
function folderItems(
  dir: string,
  facts: FolderFacts,
  end: { id: number; text: string },
  render: (f: FolderFacts) => Tokenized,
): { items: EosItem[]; stopIds: number[] } {
  const { info, tok } = facts;
  const name = (id: number) => `${id} (${show(tok.decode([id]))})`;
  const items: EosItem[] = [];
  const item = (n: string, ok: boolean, detail: string) =>
    items.push({ name: n, status: ok ? 'pass' : 'fail', detail });

  const gen = info.generationConfig;
  const genIds = ids(gen?.eos_token_id);
  item(
    'generation_config',
    genIds.includes(end.id),
    !gen
      ? 'There is no generation_config.json.'
      : !genIds.length
        ? 'generation_config.json has no eos_token_id.'
        : `generation_config.json's eos_token_id is ${genIds.map(name).join(', ')}.`,
  );
  const eos = info.specialTokens.eos;
  item(
    'tokenizer_config',
    eos === end.text,
    eos === undefined
      ? 'tokenizer_config.json names no eos_token.'
      : `tokenizer_config.json's eos_token is ${show(eos)}.`,
  );
  let rendered: number | undefined;
  let renderError = '';
  try {
    rendered = endTokenOf(render(facts), tok);
  } catch (err) {
    renderError = (err as Error).message;
  }
  item(
    'chat_template',
    rendered === end.id,
    renderError
      ? `The folder's chat template does not render the example: ${renderError}`
      : `${info.chatTemplate ? 'Its chat template' : 'The default template (it has none)'} ends an answer with ${
          rendered === undefined ? 'no special token' : name(rendered)
        }.`,
  );
  const stopIds = folderStopIds(dir);
  item(
    'stop_set',
    stopIds.includes(end.id),
    stopIds.length
      ? `svc-infer stops generation on ${stopIds.map(name).join(', ')}.`
      : 'svc-infer finds no token to stop generation on.',
  );
  return { items, stopIds };
}

const LABEL: Record<Kind, string> = {
  base: 'the base',
  checkpoint: 'the merged checkpoint',
  export: 'the exported model',
};

const ITEM_LABEL: Record<string, string> = {
  generation_config: 'generation_config.json’s eos_token_id',
  tokenizer_config: 'tokenizer_config.json’s eos_token',
  chat_template: 'the chat template’s end of turn',
  stop_set: 'the stop set',
  generation: 'greedy generation stopping on it',
};

/**
 * Whether the end-of-turn token survives in the job's merged checkpoint and in an export of it. Status
 * "fail" when either lost something the base had (or generation does not stop on it), "warn" when the
 * base itself does not stop on the token training ended answers with, "info" for models with no such token.
 */
export async function checkEosSurvival(
  rec: JobRecord,
  req: EosSurvivalRequest,
  deps: EosSurvivalDeps,
): Promise<EosSurvival> {
  const ft = rec.spec.finetune;
  if (!ft) throw fieldError('id', `Job ${rec.id} is a pre-training job, not a fine-tune.`);
  const kept = rec.checkpointInfo ?? [];
  if (!kept.length)
    throw new LabError('FAILED_PRECONDITION', `id: job ${rec.id} has no checkpoint yet`, 'id');
  const ck = req.step ? kept.find((c) => c.step === req.step) : kept.at(-1);
  if (!ck)
    throw fieldError(
      'step',
      `Job ${rec.id} keeps no checkpoint at step ${req.step} (kept: ${kept.map((c) => c.step).join(', ')}).`,
    );
  const model = `${rec.id}@${ck.step}`;
  const jobDir = dirname(dirname(ck.dir));
  if (!existsSync(ft.baseDir))
    throw new LabError(
      'FAILED_PRECONDITION',
      `id: the base model's folder ${ft.baseDir} is gone, so the end of turn training used cannot be rendered`,
      'id',
    );
  const base = readFolder(ft.baseDir, 'id');
  const render = (f: FolderFacts) => firstExample(rec, jobDir, f.info, f.tok);
  const first = render(base);
  const endId = endTokenOf(first, base.tok);
  const result: EosSurvival = {
    status: 'pass',
    message: '',
    endToken: endId === undefined ? '' : base.tok.decode([endId]),
    endId: endId ?? 0,
    step: ck.step,
    model,
    folders: [],
  };
  if (endId === undefined)
    return {
      ...result,
      status: 'info',
      message:
        'Training ended answers with no special token (the default template and a model without EOS): there is no end-of-turn token to keep through merge and export; generation stops when the model writes the next “User:” turn.',
    };
  const end = { id: endId, text: result.endToken };

  const folder = (kind: Kind, dir: string, facts: FolderFacts, extra: EosItem[] = []): EosFolder => {
    const { items, stopIds } = folderItems(dir, facts, end, render);
    items.push(...extra);
    return {
      kind,
      path: dir,
      status: items.every((i) => i.status === 'pass') ? 'pass' : 'fail',
      items,
      stopIds,
    };
  };
  // The prompt of the first example as training rendered it (everything before its answer).
  const answerAt = first.loss.indexOf(1);
  const prompt = base.tok.decode(first.ids.slice(0, answerAt < 0 ? first.ids.length : answerAt));
  const forced = await deps.generateForced(model, prompt, endId);
  const stops = forced.finishReason === 'stop' && forced.emitted.length === 0;
  const generation: EosItem = {
    name: 'generation',
    status: stops ? 'pass' : 'fail',
    detail: stops
      ? `With ${show(end.text)} forced, greedy generation from ${model} ends at once.`
      : `With ${show(end.text)} forced, greedy generation from ${model} went on: ${forced.emitted.length} token(s), finish reason "${forced.finishReason}".`,
  };
  result.folders.push(folder('base', ft.baseDir, base));
  result.folders.push(folder('checkpoint', ck.dir, readFolder(ck.dir, 'step'), [generation]));
  if (req.exportPath)
    result.folders.push(folder('export', req.exportPath, readFolder(req.exportPath, 'exportPath')));
  else {
    const scratch = join(jobDir, 'eos-check');
    const dest = join(scratch, `export-${ck.step}-${process.pid}-${Date.now()}`);
    mkdirSync(scratch, { recursive: true });
    try {
      await deps.exportModel(model, dest);
      // The scratch folder is gone when the answer arrives: no path to point at.
      result.folders.push({ ...folder('export', dest, readFolder(dest, 'exportPath')), path: '' });
    } finally {
      rmSync(dest, { recursive: true, force: true });
    }
  }

  // What counts is what a later folder lost against the base: a base whose tokenizer_config names another
  // eos (Qwen's "<|endoftext|>" beside the template's "<|im_end|>") passes on nothing to keep there.
  const basePassed = new Set(result.folders[0]!.items.filter((i) => i.status === 'pass').map((i) => i.name));
  const lost: string[] = [];
  for (const f of result.folders.slice(1))
    for (const i of f.items)
      if (
        i.status === 'fail' &&
        (basePassed.has(i.name) || (i.name === 'generation' && basePassed.has('stop_set')))
      )
        lost.push(`${LABEL[f.kind as Kind]}: ${ITEM_LABEL[i.name] ?? i.name} (${i.detail})`);
  if (lost.length)
    return {
      ...result,
      status: 'fail',
      message: `${show(end.text)} ends every trained answer, but ${lost.join('; ')}. A model that lost its end-of-turn token never stops.`,
    };
  if (!basePassed.has('stop_set'))
    return {
      ...result,
      status: 'warn',
      message: `${show(end.text)} ends every trained answer, but the base does not stop on it either: fix the base's generation_config.json (see the check before training).`,
    };
  return {
    ...result,
    status: 'pass',
    message: `${show(end.text)} ends every trained answer and still stops generation in the merged checkpoint (${model}) and in its export.`,
  };
}

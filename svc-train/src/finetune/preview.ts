// What a fine-tune will train on, before it trains: the first examples rendered through the same path as
// the job (chat template → tokens with the loss mask → a row cut to the context), the truncation over all
// examples, and the end-of-turn check — whether each answer ends with a token generation stops on. A model
// fine-tuned on answers without one never learns to stop (LLaMA-Factory's most common complaint).
import type { EosCheck, FinetunePreview, PreviewFinetuneRequest, PreviewSequence } from '@lab/proto/train';
import { DEFAULT_CHAT_TEMPLATE, folderStopIds } from '@lab/svc-infer';
import { parseTokenizerJson, type Tokenizer } from '@lab/tokenizer';
import { fieldError, invalid } from '../jobs/field-error.ts';
import { checkSource } from '../jobs/resolve-tokens.ts';
import { finetuneContext } from './estimate.ts';
import { conversationsOf, preferencesOf, readRecords } from './examples.ts';
import { type FinetuneDeps, resolveBase } from './prepare.ts';
import { type Tokenized, tokenizeConversation, tokenizePair, toRow } from './render.ts';
import { chatFormatOf } from './run.ts';
import { validateFinetune } from './validate.ts';

/** Tokens past the context shown per sequence: enough to see what is lost, not a whole long document. */
const SHOWN_PAST_CONTEXT = 128;

/** Index ranges [start, end) of the answers (runs of loss tokens). */
function answers(t: Tokenized): [number, number][] {
  const out: [number, number][] = [];
  for (let i = 0; i < t.loss.length; i++) {
    if (!t.loss[i]) continue;
    const start = i;
    while (i < t.loss.length && t.loss[i]) i++;
    out.push([start, i]);
  }
  return out;
}

/** Whether every answer keeps a stop token within the first `kept` tokens (what the row holds). */
function answersStop(t: Tokenized, kept: number, stops: ReadonlySet<number>): boolean {
  const spans = answers(t);
  if (!spans.length || !stops.size) return false;
  return spans.every(([s, e]) => {
    for (let i = s; i < Math.min(e, kept); i++) if (stops.has(t.ids[i])) return true;
    return false;
  });
}

function sequenceOf(t: Tokenized, seq: number, tok: Tokenizer, stops: ReadonlySet<number>): PreviewSequence {
  const row = toRow(t, seq);
  const kept = t.ids.length - row.truncated;
  const shown = Math.min(t.ids.length, kept + SHOWN_PAST_CONTEXT);
  return {
    tokens: t.ids.slice(0, shown).map((id, i) => ({
      text: tok.decode([id]),
      id,
      loss: t.loss[i] === 1,
      truncated: i >= kept,
    })),
    lossTokens: row.targetCount,
    truncatedTokens: row.truncated,
    endsWithEos: answersStop(t, kept, stops),
  };
}

/** The last special token of the first answer: what the template (or the appended EOS) ends it with. */
export function endTokenOf(t: Tokenized | undefined, tok: Tokenizer): number | undefined {
  const span = t && answers(t)[0];
  if (!t || !span) return undefined;
  for (let i = span[1] - 1; i >= span[0]; i--) if (tok.isSpecial(t.ids[i])) return t.ids[i];
  return undefined;
}

const show = (s: string) => JSON.stringify(s);

export function eosCheck(args: {
  tok: Tokenizer;
  stops: number[];
  first: Tokenized | undefined;
  /** Previewed sequences, and how many of them have every answer ending with a stop token. */
  previewed: number;
  stopping: number;
  /** Over all examples: sequences whose answers would stop but lose the stop token to truncation. */
  cutOff: number;
  defaultTemplate: boolean;
}): EosCheck {
  const { tok, stops } = args;
  const endId = endTokenOf(args.first, tok);
  const endToken = endId === undefined ? '' : tok.decode([endId]);
  const stopTokens = stops.map((id) => tok.decode([id]));
  const base = {
    endToken,
    stopIds: stops,
    stopTokens,
    endingWithEos: args.stopping,
    sequences: args.previewed,
    endTokenStops: endId !== undefined && stops.includes(endId),
    answerEnd: '',
  };
  if (!stops.length) {
    if (args.defaultTemplate)
      return {
        ...base,
        status: 'info',
        answerEnd: '\n\nUser:',
        message:
          'This model has no EOS token. With the default template an answer ends with a blank line, and ' +
          'generation stops when the model goes on to write the next turn’s “User:” (or at the token limit).',
      };
    return {
      ...base,
      status: 'warn',
      message: `This model has no token generation stops on${endToken ? ` (its answers end with ${show(endToken)}, which is not one)` : ''}: the fine-tuned model will only stop at the token limit.`,
    };
  }
  const stopList = stopTokens.map(show).join(', ');
  if (base.endTokenStops && args.stopping === args.previewed && !args.cutOff)
    return {
      ...base,
      status: 'pass',
      message: `Every answer ends with ${show(endToken)}, a token generation stops on.`,
    };
  const problems: string[] = [];
  if (endToken && !base.endTokenStops)
    problems.push(
      `Answers end with ${show(endToken)}, but generation stops on ${stopList}: the fine-tuned model will write ${show(endToken)} and keep going.`,
    );
  else if (args.cutOff)
    problems.push(
      `${args.cutOff} example(s) lose their answer’s end token to truncation: raise the context or drop long examples.`,
    );
  else
    problems.push(
      `${args.previewed - args.stopping} of ${args.previewed} previewed answers hold no token generation stops on (${stopList}).`,
    );
  return { ...base, status: 'warn', message: problems.join(' ') };
}

/** The examples of a preview request: its data file, or the documents of a svc-data version. */
async function recordsOf(
  source: ReturnType<typeof checkSource>,
  deps: FinetuneDeps,
): Promise<Record<string, unknown>[]> {
  if (source.kind === 'file') return readRecords(source.path, 'dataPath');
  if (!deps.readDocuments) throw fieldError('datasetId', 'svc-data is not configured.');
  const docs = await deps.readDocuments(source.datasetId, source.version);
  return docs.map((text) => ({ text }));
}

export async function previewFinetune(
  req: PreviewFinetuneRequest,
  deps: FinetuneDeps,
): Promise<FinetunePreview> {
  const job = req.job;
  if (!job?.finetune) throw invalid('finetune', 'is required (base model, method and adapter)');
  const ft = validateFinetune(job.finetune);
  const count = req.examples || 3;
  if (!Number.isInteger(count) || count < 1 || count > 20)
    throw invalid('examples', `must be a whole number from 1 to 20 (got ${count})`);
  const source = checkSource(job);
  const { info } = await resolveBase(ft.baseModel, deps);
  if (!info.tokenizerJson)
    throw fieldError('finetune.baseModel', `The base model's folder ${info.dir} has no tokenizer.json.`);
  const tok = parseTokenizerJson(info.tokenizerJson, 'base model');
  const fmt = chatFormatOf(info, tok);
  const seq = finetuneContext(job.config, info.cfg);
  const records = await recordsOf(source, deps);
  const field = source.kind === 'dataset' ? 'datasetId' : 'dataPath';
  // What svc-infer's pool will stop generation on: the check vouches for the service itself.
  const stops = folderStopIds(info.dir);
  const stopSet = new Set(stops);

  // Every example (a DPO pair: both answers) as tokenized sequences.
  const examples: Tokenized[][] =
    ft.method !== 'sft'
      ? preferencesOf(records, field).map((p) => {
          const t = tokenizePair(p, fmt);
          return [t.chosen, t.rejected];
        })
      : conversationsOf(records, field).map((c) => [tokenizeConversation(c, fmt)]);
  let truncatedExamples = 0;
  let truncatedTokens = 0;
  let emptyExamples = 0;
  let cutOff = 0;
  for (const seqs of examples) {
    const rows = seqs.map((t) => toRow(t, seq));
    if (rows.some((r) => r.truncated > 0)) truncatedExamples++;
    truncatedTokens += rows.reduce((s, r) => s + r.truncated, 0);
    if (rows.some((r) => r.targetCount === 0)) emptyExamples++;
    if (
      seqs.some(
        (t, i) =>
          answersStop(t, Infinity, stopSet) && !answersStop(t, t.ids.length - rows[i].truncated, stopSet),
      )
    )
      cutOff++;
  }
  const pairs = ft.method !== 'sft' ? preferencesOf(records.slice(0, count), field) : [];
  const shown = examples.slice(0, count).map((seqs, index) => {
    const [first, second] = seqs.map((t) => sequenceOf(t, seq, tok, stopSet));
    return {
      index,
      sequence: first,
      rejected: second,
      chosenText: pairs[index]?.chosen ?? '',
      rejectedText: pairs[index]?.rejected ?? '',
    };
  });
  const sequences = shown.flatMap((e) => (e.rejected ? [e.sequence, e.rejected] : [e.sequence]));
  const defaultTemplate = !info.chatTemplate || info.chatTemplate === DEFAULT_CHAT_TEMPLATE;
  return {
    examples: shown,
    totalExamples: examples.length,
    truncatedExamples,
    truncatedTokens,
    emptyExamples,
    context: seq,
    method: ft.method,
    template: defaultTemplate ? 'default' : 'model',
    eos: eosCheck({
      tok,
      stops,
      first: examples[0]?.[0],
      previewed: sequences.length,
      stopping: sequences.filter((s) => s!.endsWithEos).length,
      cutOff,
      defaultTemplate,
    }),
  };
}

// The interventions that need more than one run: activation patching (clean into corrupted, one stream
// position at a time) and linear probes (residual streams of a text, a classifier per stream). Checks name
// the request's field; the engine does the work.
import { type CallContext, LabError } from '@lab/common';
import {
  collectResiduals,
  patchSweep,
  pooledResiduals,
  probeStreams,
  restored,
  type TraceModel,
} from '@lab/engine';
import type { PatchRequest, PatchResponse, ProbeRequest, ProbeResponse } from '@lab/proto/infer';
import { tokenText } from '../generate/prepare.ts';
import type { LoadedModel } from '../models/pool.ts';
import { promptTokens, resolveTokens } from './input.ts';
import type { DatasetExamples } from './probe-dataset.ts';

/** Patched runs one request may ask for (streams × positions): each is a forward pass. */
export const MAX_PATCH_RUNS = 4096;
/** Tokens a probe request may run: fitting is O(tokens × width) per step, in the service's own thread. */
export const MAX_PROBE_TOKENS = 16_384;
export const PROBE_LABELS = ['next_vowel', 'vowel'] as const;

const bad = (field: string, message: string) =>
  new LabError('INVALID_ARGUMENT', `${field}: ${message}`, field);

/** resolveTokens for a prompt whose fields have other names than text / tokens. */
function tokensOf(model: LoadedModel, text: string, tokens: number[], field: string): number[] {
  if (text && tokens.length) throw bad(field, `give text or ${field}_tokens, not both`);
  if (!text && !tokens.length) throw bad(field, 'empty: give a prompt');
  try {
    return resolveTokens(model, { text, tokens });
  } catch (err) {
    if (err instanceof LabError && (err.field === 'text' || err.field === 'tokens')) {
      const name = err.field === 'text' ? field : `${field}_tokens`;
      throw bad(name, err.message.replace(/^(text|tokens): /, ''));
    }
    throw err;
  }
}

/** A token given as text (exactly one token) or as an id. */
function oneToken(model: LoadedModel, text: string, id: number | undefined, field: string): number {
  const vocab = model.info.cfg.vocabSize;
  if (text) {
    const ids = model.tokenizer.encode(text, { allowedSpecial: 'all' });
    if (ids.length !== 1)
      throw bad(
        field,
        `${JSON.stringify(text)} is ${ids.length} tokens (${ids.map((t) => JSON.stringify(tokenText(model, t))).join(' ')}); give one token`,
      );
    return ids[0]!;
  }
  if (id === undefined) throw bad(field, 'give a token (text or id)');
  if (id >= vocab) throw bad(`${field}_id`, `${id} is not a token id of this model (0 to ${vocab - 1})`);
  return id;
}

/** Activation patching over the request's streams × positions. */
export async function runPatch(
  model: LoadedModel,
  tracer: TraceModel,
  req: PatchRequest,
  ctx: CallContext,
): Promise<PatchResponse> {
  const clean = tokensOf(model, req.clean, req.cleanTokens, 'clean');
  const corrupted = tokensOf(model, req.corrupted, req.corruptedTokens, 'corrupted');
  const target = oneToken(model, req.target, req.targetId, 'target');
  const foil = oneToken(model, req.foil, req.foilId, 'foil');
  const L = model.info.cfg.nLayer;
  const streams = req.streams.length ? req.streams : undefined;
  const positions = req.positions.length ? req.positions : undefined;
  const runs = (streams?.length ?? L + 1) * (positions?.length ?? clean.length);
  if (runs > MAX_PATCH_RUNS)
    throw bad(
      'positions',
      `${runs} patched runs (streams × positions); at most ${MAX_PATCH_RUNS}: choose fewer streams or positions`,
    );
  let res: Awaited<ReturnType<typeof patchSweep>>;
  try {
    res = await patchSweep(tracer, clean, corrupted, {
      target,
      foil,
      at: req.at,
      streams,
      positions,
      progress: () => {
        // A client that went away stops the sweep at the next run.
        if (ctx.signal?.aborted) throw new LabError('CANCELLED', 'patching cancelled');
      },
    });
  } catch (err) {
    // The engine's messages begin with the field they are about (corrupted, streams[i], positions[i], at).
    if (err instanceof RangeError) {
      const field = /^(\w+)/.exec(err.message)?.[1] ?? 'clean';
      throw new LabError('INVALID_ARGUMENT', err.message, field);
    }
    throw err;
  }
  return {
    cleanTokens: promptTokens(model, clean),
    corruptedTokens: promptTokens(model, corrupted),
    targetId: target,
    targetText: tokenText(model, target),
    foilId: foil,
    foilText: tokenText(model, foil),
    at: req.at ?? clean.length - 1,
    cleanDiff: res.clean,
    corruptedDiff: res.corrupted,
    streams: res.streams,
    positions: res.positions,
    patched: Array.from(res.patched),
    restored: Array.from(restored(res)),
  };
}

// Word-piece tokens carry their leading space (' and'): the letter after it is what counts.
const isVowel = (s: string) => /^\s*[aeiouAEIOU]/.test(s);

/** The built-in label of each token (−1 where it has none). */
function builtinLabels(model: LoadedModel, ids: readonly number[], label: string): Int32Array {
  const texts = ids.map((id) => tokenText(model, id));
  if (label === 'vowel') return Int32Array.from(texts, (t) => (isVowel(t) ? 1 : 0));
  return Int32Array.from(texts, (_, t) => (t + 1 < texts.length ? (isVowel(texts[t + 1]!) ? 1 : 0) : -1));
}

/** The share of examples probes are fitted on, checked. */
function trainFraction(req: ProbeRequest): number {
  const f = req.trainFraction ?? 0.8;
  if (!(f > 0 && f < 1)) throw bad('train_fraction', `${f}: between 0 and 1, exclusive`);
  return f;
}

/** Lets other calls in between runs and fits (both plain work in the service's thread), and stops when asked. */
const breather = (ctx: CallContext) => async () => {
  await new Promise((r) => setImmediate(r));
  if (ctx.signal?.aborted) throw new LabError('CANCELLED', 'probe cancelled');
};

/** Fits the probes of every stream and reports them with the class counts. */
async function fitProbes(
  model: LoadedModel,
  acts: Float32Array[],
  labels: Int32Array,
  req: ProbeRequest,
  ctx: CallContext,
): Promise<Pick<ProbeResponse, 'train' | 'test' | 'classes' | 'baseline' | 'layers' | 'classCounts'>> {
  const counts: number[] = [];
  for (const l of labels) if (l >= 0) counts[l] = (counts[l] ?? 0) + 1;
  const res = await probeStreams(
    acts,
    model.info.cfg.nEmbd,
    labels,
    { trainFraction: trainFraction(req), seed: req.seed, control: req.control },
    breather(ctx),
  );
  return {
    train: res.train,
    test: res.test,
    classes: res.classes,
    baseline: res.baseline,
    layers: res.accuracy.map((accuracy, stream) => ({
      stream,
      accuracy,
      trainAccuracy: res.trainAccuracy[stream]!,
      control: res.control[stream] ?? 0,
    })),
    classCounts: Array.from({ length: res.classes }, (_, k) => counts[k] ?? 0),
  };
}

/**
 * Probes for a document's class in every residual stream: each document run alone from an empty context
 * (cut to the context), one vector per document and stream (its last token's, or the mean of its tokens').
 */
async function probeDocuments(
  model: LoadedModel,
  tracer: TraceModel,
  ex: DatasetExamples,
  req: ProbeRequest,
  ctx: CallContext,
): Promise<ProbeResponse> {
  trainFraction(req);
  const context = model.info.cfg.blockSize;
  let truncated = 0;
  let tokens = 0;
  // Dataset text is data, as in svc-data's shards: a special token's spelling in it is text, not a marker.
  const seqs = ex.texts.map((text, i) => {
    let ids: number[];
    try {
      ids = model.tokenizer.encodeOrdinary(text);
    } catch (err) {
      throw bad(ex.textField, `document ${ex.indices[i]}: ${(err as Error).message.replace(/^text /, '')}`);
    }
    if (!ids.length) throw bad(ex.textField, `document ${ex.indices[i]}: no tokens to read`);
    if (ids.length > context) truncated++;
    const kept = ids.slice(0, context);
    tokens += kept.length;
    return kept;
  });
  const pause = breather(ctx);
  const acts = await pooledResiduals(tracer, seqs, ex.pool, (i) => (i % 16 === 15 ? pause() : undefined));
  return {
    tokens,
    ...(await fitProbes(model, acts, ex.labels, req, ctx)),
    classNames: ex.classNames,
    documents: seqs.length,
    truncated,
    pool: ex.pool,
  };
}

/** Probes for a label in every residual stream of a text's tokens, or of a dataset's documents. */
export async function runProbe(
  model: LoadedModel,
  tracer: TraceModel,
  req: ProbeRequest,
  ctx: CallContext,
  examples?: DatasetExamples,
): Promise<ProbeResponse> {
  if (examples) return probeDocuments(model, tracer, examples, req, ctx);
  let ids: number[];
  if (req.text && req.tokens.length) throw bad('text', 'give text or tokens, not both');
  if (req.tokens.length) {
    const vocab = model.info.cfg.vocabSize;
    const at = req.tokens.findIndex((id) => id >= vocab);
    if (at >= 0) throw bad('tokens', `tokens[${at}] = ${req.tokens[at]} is not an id of this model`);
    ids = req.tokens;
  } else {
    if (!req.text) throw bad('text', 'empty: give a text to probe (or tokens)');
    ids = model.tokenizer.encode(req.text, { allowedSpecial: 'all' });
  }
  if (ids.length > MAX_PROBE_TOKENS)
    throw bad(req.tokens.length ? 'tokens' : 'text', `${ids.length} tokens; at most ${MAX_PROBE_TOKENS}`);
  let labels: Int32Array;
  if (req.label) {
    if (req.labels.length) throw bad('labels', 'give label or labels, not both');
    if (!(PROBE_LABELS as readonly string[]).includes(req.label))
      throw bad('label', `${JSON.stringify(req.label)} is not a built-in label (${PROBE_LABELS.join(', ')})`);
    labels = builtinLabels(model, ids, req.label);
  } else {
    if (req.labels.length !== ids.length)
      throw bad('labels', `${req.labels.length} labels for ${ids.length} tokens (or name a built-in label)`);
    const at = req.labels.findIndex((l) => l < -1 || l > 255);
    if (at >= 0)
      throw bad('labels', `labels[${at}] = ${req.labels[at]}: classes are 0 to 255, −1 leaves a token out`);
    labels = Int32Array.from(req.labels);
  }
  trainFraction(req);
  const classes = new Set<number>();
  for (const l of labels) if (l >= 0) classes.add(l);
  if (classes.size < 2)
    throw bad(
      req.label ? 'text' : 'labels',
      'the labelled tokens are all of one class: a probe has nothing to tell apart',
    );
  const acts = await collectResiduals(tracer, ids);
  return {
    tokens: ids.length,
    ...(await fitProbes(model, acts, labels, req, ctx)),
    classNames: [],
    documents: 0,
    truncated: 0,
    pool: '',
  };
}

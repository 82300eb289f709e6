// A trace as the service answers it: the summary (tokens, losses, norms, logit lens, head scores), then the
// attention of each layer asked for, each its own message so no message holds every layer at once.
import { LabError } from '@lab/common';
import { lensAt, lossPerToken, type RawTrace, traceNorms, traceScores } from '@lab/engine';
import type { HeadScore, TraceEvent, TraceLayer, TraceRequest, TraceSummary } from '@lab/proto/infer';
import { tokenText } from '../generate/prepare.ts';
import type { LoadedModel } from '../models/pool.ts';
import { promptTokens } from './input.ts';

export const MAX_TOP_K = 50;

/** Checks the request's own settings (before the model loads). */
export function checkTraceOptions(req: TraceRequest): void {
  if (req.topK > MAX_TOP_K)
    throw new LabError('INVALID_ARGUMENT', `top_k: at most ${MAX_TOP_K} (got ${req.topK})`, 'top_k');
}

/** The layers whose attention is sent, checked against the model. */
export function attentionLayers(req: TraceRequest, layers: number): number[] {
  if (req.skipAttention) return [];
  if (!req.attentionLayers.length) return Array.from({ length: layers }, (_, i) => i);
  const badAt = req.attentionLayers.findIndex((l) => l >= layers);
  if (badAt >= 0)
    throw new LabError(
      'INVALID_ARGUMENT',
      `attention_layers[${badAt}]: ${req.attentionLayers[badAt]} is not a layer (0 to ${layers - 1})`,
      'attention_layers',
    );
  return [...new Set(req.attentionLayers)].sort((a, b) => a - b);
}

/** Queries the duplicate-token and induction scores average over (see the engine's scoreHead). */
function repeatRows(tokens: readonly number[]): { duplicate: number; induction: number } {
  const first = new Map<number, number>();
  let duplicate = 0;
  let induction = 0;
  tokens.forEach((id, i) => {
    const j = first.get(id);
    if (j === undefined) first.set(id, i);
    else {
      duplicate++;
      if (j + 1 < i) induction++;
    }
  });
  return { duplicate, induction };
}

export function summarise(model: LoadedModel, raw: RawTrace): TraceSummary {
  const { nLayer, nHead, nEmbd } = model.info.cfg;
  const norms = traceNorms(raw, nEmbd);
  const loss = lossPerToken(raw);
  const texts = new Map<number, string>();
  const text = (id: number) => {
    const known = texts.get(id);
    if (known !== undefined) return known;
    const s = tokenText(model, id);
    texts.set(id, s);
    return s;
  };
  const streams: TraceLayer[] = norms.map((n, layer) => ({
    layer,
    residNorm: Array.from(n.resid),
    attnNorm: Array.from(n.attn),
    mlpNorm: Array.from(n.mlp),
    lens: lensAt(raw, layer).map((p) => ({
      ids: p.ids,
      texts: p.ids.map(text),
      probs: p.probs,
      targetProb: Number.isNaN(p.target) ? 0 : p.target,
    })),
  }));
  const zero = (x: number) => (Number.isNaN(x) ? 0 : x);
  const scores: HeadScore[] = traceScores(raw, nHead).flatMap((layer, l) =>
    layer.map((s, h) => ({
      layer: l,
      head: h,
      previous: zero(s.previous),
      first: zero(s.first),
      duplicate: zero(s.duplicate),
      induction: zero(s.induction),
    })),
  );
  const rows = repeatRows(raw.tokens);
  return {
    model: model.entry.name,
    tokens: promptTokens(model, raw.tokens, raw.targetLogp),
    loss: Array.from(loss),
    meanLoss: loss.length ? loss.reduce((a, b) => a + b, 0) / loss.length : 0,
    layers: nLayer,
    heads: nHead,
    streams,
    scores,
    duplicateRows: rows.duplicate,
    inductionRows: rows.induction,
    topK: raw.topK,
  };
}

/** A float32 array's bytes (little-endian on the machines the lab runs on), sent without a copy. */
function float32Bytes(x: Float32Array): Buffer {
  return Buffer.from(x.buffer, x.byteOffset, x.byteLength);
}

/** The summary, then one event per layer in `layers`. */
export function* traceEvents(
  model: LoadedModel,
  raw: RawTrace,
  layers: readonly number[],
): Generator<TraceEvent> {
  yield { event: { $case: 'summary', value: summarise(model, raw) } };
  const T = raw.tokens.length;
  for (const layer of layers)
    yield {
      event: {
        $case: 'attention',
        value: { layer, heads: model.info.cfg.nHead, tokens: T, weights: float32Bytes(raw.attn[layer]) },
      },
    };
}

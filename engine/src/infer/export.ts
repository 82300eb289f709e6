// Inference graph in the Hugging Face ONNX naming: input_ids, attention_mask, position_ids and
// past_key_values.N.key/value in; logits and present.N.key/value out; optionally attention
// probabilities and residual-stream activations for the lab's visualisations. Weights are initializers
// under their Hugging Face names.
import { Graph, type Value } from '../graph/graph.ts';
import * as op from '../graph/ops.ts';
import { headDim, type ModelConfig } from '../models/config.ts';
import type { ForwardCtx, KvPair } from '../models/layers.ts';
import { forward, paramLayout, paramLookup } from '../models/model.ts';

export interface ExportOptions {
  /** Also output `attn_probs.N` [batch, heads, seq, total] per layer. */
  attentionProbs?: boolean;
  /** Also output `residual.K` [batch, seq, width]: after embeddings, then after each attention and MLP. */
  residuals?: boolean;
}

/** Scalar dim `axis` of x's runtime shape, as int64. */
function dimOf(g: Graph, x: Value, axis: number): Value {
  const [shape] = g.node('Shape', [x], [{ dtype: 'int64', shape: [x.shape.length] }]);
  return g.node('Gather', [shape, g.constant('int64', [], [axis])], [{ dtype: 'int64', shape: [] }], {
    axis: 0,
  })[0];
}

function range(g: Graph, start: Value, limit: Value, name: string): Value {
  return g.node(
    'Range',
    [start, limit, g.constant('int64', [], [1])],
    [{ dtype: 'int64', shape: [name] }],
  )[0];
}

/**
 * Dynamic dimension names as Hugging Face's ONNX exports spell them: transformers.js builds its empty
 * KV cache from these names, so a lab checkpoint's graph loads there unchanged.
 */
export const BATCH = 'batch_size';
export const SEQ = 'sequence_length';
export const PAST = 'past_sequence_length';
export const TOTAL = 'total_sequence_length';

export function buildInferenceGraph(cfg: ModelConfig, params: Float32Array, opts: ExportOptions = {}): Graph {
  const layout = paramLayout(cfg);
  const g = new Graph(`${cfg.family}_inference`);
  const d = headDim(cfg);
  const ids = g.input('input_ids', 'int64', [BATCH, SEQ]);
  const attn = g.input('attention_mask', 'int64', [BATCH, TOTAL]);
  const positions = g.input('position_ids', 'int64', [BATCH, SEQ]);
  const past: KvPair[] = [];
  for (let i = 0; i < cfg.nLayer; i++) {
    const shape = [BATCH, cfg.nKvHead, PAST, d];
    past.push({
      key: g.input(`past_key_values.${i}.key`, 'float32', shape),
      value: g.input(`past_key_values.${i}.value`, 'float32', shape),
    });
  }
  const weights = new Map<string, Value>();
  for (const e of layout.entries) {
    weights.set(e.name, g.initializer(e.name, 'float32', e.shape, params.slice(e.offset, e.offset + e.size)));
  }

  // Additive mask [batch, 1, seq, total]: key j is visible to query i iff j ≤ past + i and not padding.
  const mask = g.scope('mask', () => {
    const total = dimOf(g, attn, 1);
    const seq = dimOf(g, ids, 1);
    const pastLen = op.sub(g, total, seq);
    const kpos = op.unsqueeze(g, range(g, g.constant('int64', [], [0]), total, TOTAL), [0]);
    const qpos = op.unsqueeze(g, range(g, pastLen, total, SEQ), [1]);
    const causal = op.not(g, op.greater(g, kpos, qpos));
    const notPad = op.unsqueeze(g, op.equal(g, attn, g.constant('int64', [], [1])), [1, 2]);
    const [ok] = g.node('And', [causal, notPad], [{ dtype: 'bool', shape: [BATCH, 1, SEQ, TOTAL] }]);
    return op.where(g, ok, g.scalar(0), g.scalar(-1e9));
  });

  const presents: KvPair[] = [];
  const attnProbs: Value[] = [];
  const residuals: Value[] = [];
  const ctx: ForwardCtx = {
    g,
    cfg,
    p: paramLookup(weights),
    batch: BATCH,
    seq: SEQ,
    positions,
    mask,
    train: false,
    past,
    presents,
    attnProbs: opts.attentionProbs ? attnProbs : undefined,
    residuals: opts.residuals ? residuals : undefined,
  };
  const logits = forward(ctx, ids);
  g.output(logits, 'logits');
  presents.forEach((p, i) => {
    g.output(p.key, `present.${i}.key`);
    g.output(p.value, `present.${i}.value`);
  });
  attnProbs.forEach((p, i) => {
    g.output(p, `attn_probs.${i}`);
  });
  residuals.forEach((r, i) => {
    g.output(r, `residual.${i}`);
  });
  return g;
}

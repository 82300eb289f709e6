// Attention for the decoding graph (decode-graph.ts), per layer over the KV cache: ORT's
// GroupQueryAttention, which appends to a past buffer in place when present is bound to the same memory,
// or standard ops over Concat(past, new) where GroupQueryAttention does not apply.
import type { Graph, Value } from '../graph/graph.ts';
import * as op from '../graph/ops.ts';
import { headDim, type ModelConfig } from '../models/config.ts';

/** The token axis of the decoding graph's activations, [T, width]. */
export const T = 'tokens';

/** GroupQueryAttention's CPU kernel takes head sizes that are multiples of 8 only. */
export function canFuseAttention(cfg: ModelConfig): boolean {
  return headDim(cfg) % 8 === 0;
}

/**
 * Attention through GroupQueryAttention: q [T, H·D], k and v [T, KV·D] (or q packed [T, (H + 2·KV)·D] and
 * no k, v) in, [T, H·D] out. The layer's `past_key.i`/`past_value.i` [1, KV, S, D] hold S ≥ past positions
 * (a buffer whose first `past` rows count); `present_key.i`/`present_value.i` come out [1, KV, max(S,
 * total), D]. It scales q·kᵀ by 1/√D itself. With `labOp`, the node is lab.engine::Attention
 * (engine/native/attention.c), which takes the same inputs and attributes, the rows without the batch
 * axis, and whose present outputs are as big as the past buffers.
 */
export function fusedAttention(g: Graph, cfg: ModelConfig, io: AttentionIo, labOp = false) {
  const d = headDim(cfg);
  const present = { dtype: 'float32', shape: [1, cfg.nKvHead, 'present', d] } as const;
  return (q: Value, k: Value | undefined, v: Value | undefined, i: number): Value => {
    const inputs = (x: Value | undefined) => [x, io.past[i].key, io.past[i].value, io.seqlensK, io.total];
    const attrs = { num_heads: cfg.nHead, kv_num_heads: cfg.nKvHead };
    if (labOp) {
      // Rows [T, ·] in and out: two nodes fewer per layer than GroupQueryAttention's batch axis needs.
      const [out, presentK, presentV] = g.node(
        'Attention',
        [q, k, ...inputs(v)],
        [{ dtype: 'float32', shape: [T, cfg.nHead * d] }, present, present],
        attrs,
      );
      io.present.push({ key: presentK, value: presentV });
      return out;
    }
    const batched = (x: Value | undefined) => x && op.unsqueeze(g, x, [0]);
    const [out, presentK, presentV] = g.node(
      'GroupQueryAttention',
      [batched(q), batched(k), ...inputs(batched(v))],
      [{ dtype: 'float32', shape: [1, T, cfg.nHead * d] }, present, present],
      attrs,
    );
    io.present.push({ key: presentK, value: presentV });
    return op.reshape(g, out, [T, cfg.nHead * d]);
  };
}

/** The same attention from standard ops over Concat(past, new): past is exactly the past positions. */
export function plainAttention(g: Graph, cfg: ModelConfig, io: AttentionIo, mask: Value) {
  const d = headDim(cfg);
  return (q: Value, k: Value | undefined, v: Value | undefined, i: number): Value => {
    if (!k || !v) throw new Error('plain attention takes q, k and v apart');
    const heads = (x: Value, n: number) => op.transpose(g, op.reshape(g, x, [1, T, n, d]), [0, 2, 1, 3]);
    let kh = op.concat(g, [io.past[i].key, heads(k, cfg.nKvHead)], 2);
    let vh = op.concat(g, [io.past[i].value, heads(v, cfg.nKvHead)], 2);
    io.present.push({ key: kh, value: vh });
    const rep = cfg.nHead / cfg.nKvHead;
    if (rep > 1) {
      const repeat = (x: Value): Value =>
        op.reshape(g, op.expand(g, op.unsqueeze(g, x, [2]), [1, 1, rep, 1, 1]), [1, cfg.nHead, -1, d]);
      kh = repeat(kh);
      vh = repeat(vh);
    }
    const qh = op.mul(g, heads(q, cfg.nHead), g.scalar(1 / Math.sqrt(d)));
    const scores = op.add(g, op.matmul(g, qh, op.transpose(g, kh, [0, 1, 3, 2])), mask);
    const y = op.matmul(g, op.softmax(g, scores, -1), vh);
    return op.reshape(g, op.transpose(g, y, [0, 2, 1, 3]), [T, cfg.nHead * d]);
  };
}

/** The layers' cache inputs and outputs, and GroupQueryAttention's length inputs. */
export interface AttentionIo {
  past: { key: Value; value: Value }[];
  present: { key: Value; value: Value }[];
  seqlensK: Value;
  total: Value;
}

// Back-of-envelope model arithmetic: parameters by component, FLOPs per token, and memory for weights,
// optimizer state and activations at a given batch × context (float32 throughout).
import { headDim, type ModelConfig } from './models/config.ts';
import { paramLayout } from './models/model.ts';

export interface Estimate {
  params: { embeddings: number; attention: number; mlp: number; norms: number; head: number; total: number };
  /** FLOPs per token: forward ≈ 2·(matmul params) + attention scores; backward ≈ 2× forward. */
  flopsPerToken: { forward: number; backward: number; total: number };
  /** Bytes. `optimizer` is AdamW's two moments; `activations` what the backward pass keeps. */
  memory: { weights: number; gradients: number; optimizer: number; activations: number; total: number };
}

export function estimateModel(cfg: ModelConfig, batch = 1, seq = cfg.blockSize): Estimate {
  const layout = paramLayout(cfg);
  const p = { embeddings: 0, attention: 0, mlp: 0, norms: 0, head: 0, total: layout.total };
  for (const e of layout.entries) {
    if (/wte|wpe|embed_tokens|embed_positions/.test(e.name)) p.embeddings += e.size;
    else if (/attn/.test(e.name)) p.attention += e.size;
    else if (/mlp/.test(e.name)) p.mlp += e.size;
    else if (/lm_head/.test(e.name)) p.head += e.size;
    else p.norms += e.size;
  }
  const C = cfg.nEmbd;
  const headFlops = 2 * C * cfg.vocabSize;
  const attnScores = 2 * 2 * cfg.nLayer * seq * cfg.nHead * headDim(cfg);
  const forward = 2 * (p.attention + p.mlp) + headFlops + attnScores;
  const kv = 2 * cfg.nKvHead * headDim(cfg);
  const ffn = cfg.activation === 'swiglu' ? 3 * cfg.ffnHidden : 2 * cfg.ffnHidden;
  // Per token and layer: norm outputs, q/k/v, attention output and projection, MLP hidden + activation,
  // residuals; plus scores and probabilities over the context per head.
  const perLayer = 2 * C + C + kv + 2 * C + ffn + 2 * C + 2 * cfg.nHead * seq + (cfg.dropout > 0 ? 4 * C : 0);
  const perToken = cfg.nLayer * perLayer + 2 * C + 2 * cfg.vocabSize;
  const f = 4;
  const memory = {
    weights: layout.total * f,
    gradients: layout.total * f,
    optimizer: 2 * layout.total * f,
    activations: batch * seq * perToken * f,
    total: 0,
  };
  memory.total = memory.weights + memory.gradients + memory.optimizer + memory.activations;
  return { params: p, flopsPerToken: { forward, backward: 2 * forward, total: 3 * forward }, memory };
}

// Back-of-envelope model arithmetic: parameters by component, FLOPs per token, and memory for weights,
// optimizer state and activations at a given batch × context (float32 throughout).
import { headDim, type ModelConfig } from './models/config.ts';
import { paramLayout } from './models/model.ts';

/** Parameters of a model by component; `total` is the trainer's ParamLayout total. */
export interface ParameterCounts {
  embeddings: number;
  attention: number;
  mlp: number;
  norms: number;
  head: number;
  total: number;
}

export interface Estimate {
  params: ParameterCounts;
  /** FLOPs per token: forward ≈ 2·(matmul params) + attention scores; backward ≈ 2× forward. */
  flopsPerToken: { forward: number; backward: number; total: number };
  /** Bytes. `optimizer` is AdamW's two moments; `activations` what the backward pass keeps. */
  memory: { weights: number; gradients: number; optimizer: number; activations: number; total: number };
}

/**
 * The one parameter count of a model: the tensors the trainer allocates (its ParamLayout), sorted into
 * components by their Hugging Face names. Everything that shows a count (the estimate, a job) must get it
 * from here with the config the job trains — a count from a different vocabulary or context is a different
 * model (a Train page once showed the preset's 65 characters where the job had the data's 64).
 */
export function countParameters(cfg: ModelConfig): ParameterCounts {
  const layout = paramLayout(cfg);
  const p: ParameterCounts = { embeddings: 0, attention: 0, mlp: 0, norms: 0, head: 0, total: layout.total };
  for (const e of layout.entries) {
    if (/wte|wpe|embed_tokens|embed_positions/.test(e.name)) p.embeddings += e.size;
    else if (/attn/.test(e.name)) p.attention += e.size;
    else if (/mlp/.test(e.name)) p.mlp += e.size;
    else if (/lm_head/.test(e.name)) p.head += e.size;
    else p.norms += e.size;
  }
  return p;
}

export function estimateModel(cfg: ModelConfig, batch = 1, seq = cfg.blockSize): Estimate {
  const p = countParameters(cfg);
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
    weights: p.total * f,
    gradients: p.total * f,
    optimizer: 2 * p.total * f,
    activations: batch * seq * perToken * f,
    total: 0,
  };
  memory.total = memory.weights + memory.gradients + memory.optimizer + memory.activations;
  return { params: p, flopsPerToken: { forward, backward: 2 * forward, total: 3 * forward }, memory };
}

/** Seconds in a day: past this much compute a run is worth a second thought. */
export const DAY_SECONDS = 86_400;

/** Why a planned run is unwise on a machine; `field` is the request field that changes it most. */
export interface RunWarning {
  kind: 'memory' | 'time';
  message: string;
  field: string;
}

const gb = (bytes: number) => `${(bytes / 2 ** 30).toFixed(1)} GB`;

function days(seconds: number): string {
  if (seconds >= DAY_SECONDS) return `${(seconds / DAY_SECONDS).toFixed(1)} days`;
  return `${(seconds / 3600).toFixed(1)} hours`;
}

/**
 * Warnings for a run of `steps` optimizer steps needing `memory` bytes (an Estimate's memory) at
 * `secondsPerStep`, on a machine with `machineBytes` of memory: beyond the machine's memory it would swap
 * or be killed, and beyond a day of compute a learner has most likely mistyped or picked the wrong preset.
 */
export function runWarnings(
  run: { memory: Estimate['memory']; secondsPerStep: number; steps: number },
  machineBytes: number,
): RunWarning[] {
  const out: RunWarning[] = [];
  if (machineBytes > 0 && run.memory.total > machineBytes) {
    // Weights, gradients and AdamW alone do not fit: only a smaller model helps, not a smaller batch.
    const fixed = run.memory.total - run.memory.activations;
    out.push({
      kind: 'memory',
      message:
        `This run needs about ${gb(run.memory.total)} of memory; this machine has ${gb(machineBytes)}. ` +
        (fixed > machineBytes
          ? 'The weights and optimizer state alone do not fit: pick a smaller model.'
          : 'Lower the batch size or the context.'),
      field: fixed > machineBytes ? 'config.preset' : 'config.batchSize',
    });
  }
  const total = run.secondsPerStep * run.steps;
  if (total > DAY_SECONDS)
    out.push({
      kind: 'time',
      message:
        `${run.steps.toLocaleString('en')} steps at about ${run.secondsPerStep.toPrecision(3)} s each take about ` +
        `${days(total)} of compute on this machine. Fewer steps or a smaller model finish sooner.`,
      field: 'config.iters',
    });
  return out;
}

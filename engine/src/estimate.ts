// Back-of-envelope model arithmetic: parameters by component, FLOPs per token, and memory for weights,
// optimizer state and activations at a given batch × context (float32 throughout).
import { isNf4Frozen } from './finetune/frozen.ts';
import { type LoraConfig, loraLayout, loraModules } from './finetune/lora.ts';
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
  // The MLP's share: its norm output, hidden + activation, its residual (none in an attention-only model).
  const mlpActs = cfg.attnOnly ? 0 : C + ffn + 2 * C;
  // Per token and layer: norm outputs, q/k/v, attention output and projection, MLP hidden + activation,
  // residuals; plus scores and probabilities over the context per head.
  const perLayer = C + C + kv + 2 * C + mlpActs + 2 * cfg.nHead * seq + (cfg.dropout > 0 ? 4 * C : 0);
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

/** How a fine-tune trains: every weight, or a LoRA on a float32 or an NF4 base. */
export type FinetuneAdapter = 'full' | 'lora' | 'qlora';

export interface FinetuneEstimate {
  /** Parameters of the base model. */
  baseParams: number;
  /** Parameters the optimizer updates: the whole model (full) or the adapter's (loraLayout). */
  trainable: number;
  /** How the base's weights are held: float32, or NF4 for the projections of a QLoRA base. */
  weightsFormat: 'fp32' | 'nf4';
  flopsPerToken: { forward: number; backward: number; total: number };
  /**
   * Bytes. `weights`: the base (trainable for full, frozen otherwise; frozenNf4's bytes for QLoRA);
   * `adapter`: the LoRA matrices; `gradients` and `optimizer` (AdamW's two moments) exist for trainable
   * values only; `dequantized`: QLoRA's projections rebuilt in float32 inside the step graph, which the
   * backward pass reads again, so they are alive together at the turn from forward to backward.
   */
  memory: {
    weights: number;
    adapter: number;
    gradients: number;
    optimizer: number;
    activations: number;
    dequantized: number;
    total: number;
  };
}

/** NF4's block of 64 values: 32 bytes of codes and a float32 absmax. */
const NF4_BLOCK = 64;
const NF4_BLOCK_BYTES = NF4_BLOCK / 2 + 4;

/**
 * Size, compute and memory of fine-tuning `cfg` at `rows` sequences of `seq` tokens per micro-batch (DPO's
 * rows are twice its pairs: chosen and rejected). Counts come from the layouts the Trainer allocates
 * (paramLayout, loraLayout) and QLoRA's weights from the rule frozenNf4 applies, so they match a real run.
 */
export function estimateFinetune(
  cfg: ModelConfig,
  opts: { adapter: FinetuneAdapter; lora?: LoraConfig; rows: number; seq: number },
): FinetuneEstimate {
  // Fine-tuning jobs train without the model's dropout (run.ts), so activations hold no masks for it.
  const c: ModelConfig = { ...cfg, dropout: 0 };
  const base = estimateModel(c, opts.rows, opts.seq);
  const layout = paramLayout(c);
  const f = 4;
  if (opts.adapter === 'full') {
    const p = layout.total;
    const memory = {
      weights: p * f,
      adapter: 0,
      gradients: p * f,
      optimizer: 2 * p * f,
      activations: base.memory.activations,
      dequantized: 0,
      total: 0,
    };
    memory.total = memory.weights + memory.gradients + memory.optimizer + memory.activations;
    return { baseParams: p, trainable: p, weightsFormat: 'fp32', flopsPerToken: base.flopsPerToken, memory };
  }
  if (!opts.lora) throw new Error(`estimateFinetune: ${opts.adapter} needs a LoRA config`);
  const lora = opts.lora;
  const modules = loraModules(c, lora);
  const trainable = loraLayout(c, lora).total;
  let weights = 0;
  let dequantized = 0;
  for (const e of layout.entries) {
    if (opts.adapter === 'qlora' && isNf4Frozen(e.name, e.shape)) {
      weights += e.shape[0] * Math.ceil(e.shape[1] / NF4_BLOCK) * NF4_BLOCK_BYTES;
      dequantized += e.size * f;
    } else weights += e.size * f;
  }
  // Per token: x·Aᵀ (rank values) for each adapted module; with dropout also its mask and the masked input.
  const perToken = modules.reduce((s, m) => s + lora.rank + (lora.dropout > 0 ? 2 * m.in : 0), 0);
  const adapterFlops = modules.reduce((s, m) => s + 2 * lora.rank * (m.in + m.out), 0);
  const forward = base.flopsPerToken.forward + adapterFlops;
  // The frozen weights need no weight gradient: their backward is the input gradient alone (about one
  // forward), while the adapter's matrices get both (twice theirs).
  const backward = base.flopsPerToken.forward + 2 * adapterFlops;
  const memory = {
    weights,
    adapter: trainable * f,
    gradients: trainable * f,
    optimizer: 2 * trainable * f,
    activations: base.memory.activations + opts.rows * opts.seq * perToken * f,
    dequantized,
    total: 0,
  };
  memory.total =
    memory.weights +
    memory.adapter +
    memory.gradients +
    memory.optimizer +
    memory.activations +
    memory.dequantized;
  return {
    baseParams: layout.total,
    trainable,
    weightsFormat: opts.adapter === 'qlora' ? 'nf4' : 'fp32',
    flopsPerToken: { forward, backward, total: forward + backward },
    memory,
  };
}

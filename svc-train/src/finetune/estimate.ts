// The Fine-tune page's estimate before a run: the engine's estimateFinetune for the base model the job would
// train, at the batch and context the job would get (the same defaults as SubmitJob), with the step time at
// bench:train's measured throughput and the fit against this machine's memory and a 16 GB GPU (the card
// compose reserves for svc-train).
import { DAY_SECONDS, estimateFinetune, type ModelConfig } from '@lab/engine';
import type {
  EstimateFinetuneRequest,
  EstimateWarning,
  FinetuneEstimate,
  MachineInfo,
  MemoryFit,
  TrainConfig,
} from '@lab/proto/train';
import { MEASURED_FLOPS, machineInfo } from '../jobs/estimate.ts';
import { invalid, num } from '../jobs/field-error.ts';
import { type FinetuneDeps, resolveBase } from './prepare.ts';
import { checkTargets, validateFinetune } from './validate.ts';

/** A 16 GB card, as sold (GiB): what a learner with one GPU most often has. */
export const GPU_16GB = 16 * 2 ** 30;

const gb = (bytes: number) => `${(bytes / 2 ** 30).toFixed(1)} GB`;

function whole(field: string, v: number | undefined, min: number, max: number, fallback: number): number {
  if (!v) return fallback;
  if (!Number.isInteger(v) || v < min || v > max)
    throw invalid(field, `must be a whole number from ${num(min)} to ${num(max)} (got ${num(v)})`);
  return v;
}

/** The context a fine-tune trains with: config.context (default 256, as SubmitJob) capped by the base's. */
export function finetuneContext(c: TrainConfig | undefined, base: ModelConfig): number {
  return Math.min(whole('config.context', c?.context, 1, 8192, 256), base.blockSize);
}

/** The estimate of a request: its fields checked before the base model is resolved through svc-infer. */
export async function estimateFinetuneRequest(
  req: EstimateFinetuneRequest,
  deps: FinetuneDeps,
): Promise<FinetuneEstimate> {
  if (!req.finetune) throw invalid('finetune', 'is required (base model, method and adapter)');
  const ft = validateFinetune(req.finetune);
  const { info } = await resolveBase(ft.baseModel, deps);
  return estimateFinetuneJob(req, info.cfg);
}

export function estimateFinetuneJob(
  req: EstimateFinetuneRequest,
  base: ModelConfig,
  machine: MachineInfo = machineInfo(),
): FinetuneEstimate {
  if (!req.finetune) throw invalid('finetune', 'is required (base model, method and adapter)');
  const ft = validateFinetune(req.finetune);
  const lora = ft.lora ? checkTargets(ft.lora, base) : undefined;
  const c = req.config;
  const batch = whole('config.batchSize', c?.batchSize, 1, 1024, 12);
  const accumulate = whole('config.gradAccum', c?.gradAccum, 1, 1024, 1);
  const iters = whole('config.iters', c?.iters, 1, 10_000_000, 0);
  const seq = finetuneContext(c, base);
  // DPO's micro-batch holds both answers of each pair.
  const rows = ft.method !== 'sft' ? 2 * batch : batch;
  const e = estimateFinetune(base, { adapter: ft.adapter, lora, rows, seq });
  const tokensPerStep = rows * seq * accumulate;
  const secondsPerStep = (e.flopsPerToken.total * tokensPerStep) / MEASURED_FLOPS;
  const m = e.memory;
  const fits: MemoryFit[] = [
    { device: 'this machine', memoryBytes: machine.memoryBytes, fits: m.total <= machine.memoryBytes },
    { device: 'a 16 GB GPU', memoryBytes: GPU_16GB, fits: m.total <= GPU_16GB },
  ];
  const warnings: EstimateWarning[] = [];
  if (machine.memoryBytes > 0 && m.total > machine.memoryBytes) {
    // Without the activations it still does not fit: only a lighter method helps, not a smaller batch.
    const fixed = m.total - m.activations;
    const lighter =
      ft.adapter === 'full'
        ? 'use LoRA or QLoRA (only the adapter trains)'
        : ft.adapter === 'lora'
          ? 'use QLoRA (the base in 4 bits)'
          : 'pick a smaller base model';
    warnings.push({
      kind: 'memory',
      message:
        `This fine-tune needs about ${gb(m.total)} of memory; this machine has ${gb(machine.memoryBytes)}. ` +
        (fixed > machine.memoryBytes
          ? `The weights and optimizer state alone do not fit: ${lighter}.`
          : 'Lower the batch size or the context.'),
      field: fixed > machine.memoryBytes ? 'finetune.adapter' : 'config.batchSize',
    });
  }
  if (secondsPerStep * iters > DAY_SECONDS)
    warnings.push({
      kind: 'time',
      message: `${num(iters)} steps at about ${secondsPerStep.toPrecision(3)} s each take more than a day of compute on this machine.`,
      field: 'config.iters',
    });
  return {
    baseParameters: e.baseParams,
    trainableParameters: e.trainable,
    weightsFormat: e.weightsFormat,
    weightsBytes: m.weights,
    adapterBytes: m.adapter,
    gradientsBytes: m.gradients,
    optimizerBytes: m.optimizer,
    activationsBytes: m.activations,
    dequantizedBytes: m.dequantized,
    totalBytes: m.total,
    flopsPerToken: e.flopsPerToken.total,
    secondsPerStep,
    totalSeconds: secondsPerStep * iters,
    tokensPerStep,
    fits,
    warnings,
    context: seq,
    modelJson: JSON.stringify(base),
  };
}

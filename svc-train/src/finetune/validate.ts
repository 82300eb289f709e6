// Submit-time checks of a fine-tuning request, before the base model is known (its family's modules are
// checked once svc-infer has resolved it: checkTargets).
import { type LoraConfig, LoraError, loraModules, loraTargetsOf, type ModelConfig } from '@lab/engine';
import type { FinetuneConfig } from '@lab/proto/train';
import { fieldError, invalid } from '../jobs/field-error.ts';
import type { FinetuneSpec } from '../jobs/types.ts';

/** The request's fine-tuning settings with defaults; baseDir is filled in when the base is resolved. */
export function validateFinetune(f: FinetuneConfig): FinetuneSpec {
  const method = (f.method || 'sft') as FinetuneSpec['method'];
  if (!['sft', 'dpo', 'reward'].includes(method))
    throw invalid('finetune.method', `must be sft, dpo or reward (got "${f.method}")`);
  const adapter = (f.adapter || 'lora') as FinetuneSpec['adapter'];
  if (!['lora', 'qlora', 'full'].includes(adapter))
    throw invalid('finetune.adapter', `must be lora, qlora or full (got "${f.adapter}")`);
  if (method === 'reward' && adapter === 'full')
    throw invalid(
      'finetune.adapter',
      'must be lora or qlora for a reward model (its head trains beside the adapter)',
    );
  if (!f.baseModel) throw invalid('finetune.baseModel', 'is required (a model of the Models list)');
  const rank = f.loraRank || 8;
  if (!Number.isInteger(rank) || rank < 1 || rank > 1024)
    throw invalid('finetune.loraRank', `must be a whole number from 1 to 1,024 (got ${rank})`);
  const alpha = f.loraAlpha || 2 * rank;
  if (!(alpha > 0) || !Number.isFinite(alpha)) throw invalid('finetune.loraAlpha', 'must be positive');
  const dropout = f.loraDropout ?? 0.05;
  if (!(dropout >= 0 && dropout < 1)) throw invalid('finetune.loraDropout', 'must be at least 0 and below 1');
  const beta = f.beta || 0.1;
  if (!(beta > 0) || !Number.isFinite(beta)) throw invalid('finetune.beta', 'must be positive');
  return {
    method,
    adapter,
    baseModel: f.baseModel,
    baseDir: '',
    ...(adapter !== 'full' ? { lora: { rank, alpha, dropout, targets: f.loraTargets } } : {}),
    beta,
    ...(f.packing ? { packing: true } : {}),
  };
}

/** The default targets for a family (the attention projections, as PEFT's defaults for these models). */
export function defaultTargets(cfg: ModelConfig): string[] {
  return cfg.family === 'gpt2' ? ['c_attn'] : ['q_proj', 'v_proj'];
}

/** Fills in default targets and checks them against the base model's family. */
export function checkTargets(lora: LoraConfig, cfg: ModelConfig): LoraConfig {
  const full = { ...lora, targets: lora.targets.length ? lora.targets : defaultTargets(cfg) };
  try {
    loraModules(cfg, full);
  } catch (err) {
    if (err instanceof LoraError && err.field === 'targets')
      throw fieldError(
        'finetune.loraTargets',
        `The base model (${cfg.family} family) has no module ${JSON.stringify(full.targets.find((t) => !loraTargetsOf(cfg).includes(t)))}; LoRA can target ${loraTargetsOf(cfg).join(', ')}.`,
      );
    throw err;
  }
  return full;
}

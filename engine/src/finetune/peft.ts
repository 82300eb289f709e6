// Adapters in PEFT's format, so they travel both ways between the lab and Hugging Face tooling: a folder
// with adapter_config.json and adapter_model.safetensors whose tensors are named
// `base_model.model.<module>.lora_A.weight` / `.lora_B.weight` (PEFT's names without the adapter name).
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readSafetensors, writeSafetensors } from '../checkpoint/safetensors.ts';
import type { ModelConfig } from '../models/config.ts';
import { type LoraConfig, LoraError, loraLayout, loraTargetsOf } from './lora.ts';

export const PEFT_PREFIX = 'base_model.model.';
export const ADAPTER_CONFIG = 'adapter_config.json';
export const ADAPTER_WEIGHTS = 'adapter_model.safetensors';

/** adapter_config.json as PEFT writes it for a LoRA on a causal LM. */
export function peftConfig(cfg: ModelConfig, lora: LoraConfig, baseModel: string): Record<string, unknown> {
  return {
    peft_type: 'LORA',
    task_type: 'CAUSAL_LM',
    base_model_name_or_path: baseModel,
    r: lora.rank,
    lora_alpha: lora.alpha,
    lora_dropout: lora.dropout,
    target_modules: [...lora.targets],
    bias: 'none',
    // GPT-2's Conv1D stores weights [in, out]: PEFT then transposes the delta.
    fan_in_fan_out: cfg.family === 'gpt2',
    use_rslora: false,
    use_dora: false,
    modules_to_save: null,
    init_lora_weights: true,
    inference_mode: true,
  };
}

/** Writes `dir`/adapter_config.json and adapter_model.safetensors (adapter flat in loraLayout order). */
export function writePeftAdapter(
  dir: string,
  cfg: ModelConfig,
  lora: LoraConfig,
  adapter: Float32Array,
  baseModel: string,
): void {
  const layout = loraLayout(cfg, lora);
  if (adapter.length !== layout.total)
    throw new Error(`adapter: expected ${layout.total} values, got ${adapter.length}`);
  mkdirSync(dir, { recursive: true });
  writeSafetensors(
    join(dir, ADAPTER_WEIGHTS),
    layout.entries.map((e) => ({
      name: `${PEFT_PREFIX}${e.name}`,
      shape: [...e.shape],
      data: layout.view(adapter, e.name),
    })),
    { format: 'pt' },
  );
  const tmp = join(dir, `${ADAPTER_CONFIG}.tmp`);
  writeFileSync(tmp, `${JSON.stringify(peftConfig(cfg, lora, baseModel), null, 2)}\n`);
  renameSync(tmp, join(dir, ADAPTER_CONFIG));
}

export interface PeftAdapter {
  lora: LoraConfig;
  /** Flat in loraLayout(cfg, lora) order. */
  params: Float32Array;
  baseModel: string;
}

/**
 * Reads a PEFT LoRA folder for a model of `cfg`; errors name the file and what is wrong (not LoRA, rsLoRA
 * or DoRA, a regex target, a missing tensor or one of the wrong shape).
 */
export function readPeftAdapter(dir: string, cfg: ModelConfig): PeftAdapter {
  const cfgPath = join(dir, ADAPTER_CONFIG);
  const wPath = join(dir, ADAPTER_WEIGHTS);
  if (!existsSync(cfgPath)) throw new LoraError('path', `${dir} has no ${ADAPTER_CONFIG}`);
  if (!existsSync(wPath)) throw new LoraError('path', `${dir} has no ${ADAPTER_WEIGHTS}`);
  let c: Record<string, unknown>;
  try {
    c = JSON.parse(readFileSync(cfgPath, 'utf8')) as Record<string, unknown>;
  } catch (err) {
    throw new LoraError('path', `${cfgPath}: not valid JSON (${(err as Error).message})`);
  }
  if (c.peft_type !== 'LORA')
    throw new LoraError(
      'path',
      `${cfgPath}: peft_type is ${JSON.stringify(c.peft_type)}; only LORA adapters load`,
    );
  if (c.use_rslora || c.use_dora)
    throw new LoraError('path', `${cfgPath}: rsLoRA and DoRA adapters are not supported`);
  if (!Array.isArray(c.target_modules))
    throw new LoraError(
      'path',
      `${cfgPath}: target_modules must be a list of module names (a regular expression is not supported); the ${cfg.family} family has ${loraTargetsOf(cfg).join(', ')}`,
    );
  const lora: LoraConfig = {
    rank: Number(c.r),
    alpha: Number(c.lora_alpha),
    dropout: Number(c.lora_dropout ?? 0),
    targets: (c.target_modules as unknown[]).map(String),
  };
  const layout = loraLayout(cfg, lora);
  const file = readSafetensors(wPath);
  const params = new Float32Array(layout.total);
  for (const e of layout.entries) {
    // PEFT saves without the adapter name; some tools keep it (`lora_A.default.weight`).
    const t =
      file.tensors.get(`${PEFT_PREFIX}${e.name}`) ??
      file.tensors.get(`${PEFT_PREFIX}${e.name.replace(/\.weight$/, '.default.weight')}`);
    if (!t) throw new LoraError('path', `${wPath}: missing tensor ${PEFT_PREFIX}${e.name}`);
    if (t.shape.join() !== e.shape.join())
      throw new LoraError(
        'path',
        `${wPath}: ${PEFT_PREFIX}${e.name} has shape [${t.shape.join(', ')}], expected [${e.shape.join(', ')}]`,
      );
    layout.view(params, e.name).set(t.data);
  }
  return { lora, params, baseModel: String(c.base_model_name_or_path ?? '') };
}

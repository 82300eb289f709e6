// An InferenceModel from a checkpoint folder (config.json + model.safetensors). float32 weights are used
// where they lie in the file, mapped read-only (see mmap.ts): the model is ready once ORT has a session for
// the small decoding graph. Other folders (sharded, half precision, unaligned) are read into memory.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { configFromHf, loadCheckpoint } from '../checkpoint/checkpoint.ts';
import { readSafetensorsHeader, type TensorInfo } from '../checkpoint/safetensors.ts';
import type { ModelConfig } from '../models/config.ts';
import { paramSpecs } from '../models/model.ts';
import { mapFile } from './mmap.ts';
import { InferenceModel, type InferenceOptions } from './model.ts';

export async function loadInferenceModel(dir: string, opts: InferenceOptions = {}): Promise<InferenceModel> {
  const cfg = configFromHf(
    JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Record<string, unknown>,
  );
  const file = join(dir, 'model.safetensors');
  const infos = existsSync(file) ? mappable(cfg, file) : undefined;
  const mapped = infos && (await mapFile(file));
  if (!infos || !mapped) return InferenceModel.create(cfg, loadCheckpoint(dir).params, opts);
  const tensors = new Map<string, Float32Array>();
  for (const [name, t] of infos)
    tensors.set(name, new Float32Array(mapped.bytes.buffer, mapped.bytes.byteOffset + t.offset, t.size));
  try {
    return await InferenceModel.fromTensors(cfg, tensors, opts, mapped);
  } catch (e) {
    mapped.close();
    throw e;
  }
}

/** Each parameter's tensor in the file, when all are float32, 4-byte aligned and shaped as the config says. */
function mappable(cfg: ModelConfig, file: string): Map<string, TensorInfo> | undefined {
  const header = readSafetensorsHeader(file);
  const found = new Map<string, TensorInfo>();
  for (const spec of paramSpecs(cfg)) {
    // The original GPT-2 checkpoints were saved from GPT2Model, without the `transformer.` prefix.
    const t = header.tensors.get(spec.name) ?? header.tensors.get(spec.name.replace(/^transformer\./, ''));
    const size = spec.shape.reduce((a, b) => a * b, 1);
    if (t?.dtype !== 'F32' || t.size !== size || t.offset % 4 !== 0) return undefined;
    found.set(spec.name, t);
  }
  return found;
}

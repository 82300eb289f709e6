// An InferenceModel from a checkpoint folder (config.json + model.safetensors). float32 weights are used
// where they lie in the file, mapped read-only (see mmap.ts): the model is ready once ORT has a session for
// the small decoding graph. Other folders (sharded, half precision, unaligned) are read into memory.
// Quantised (InferenceOptions.quantize), the codes come from the cache (quantCache) or a worker thread.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { configFromHf, loadCheckpoint } from '../checkpoint/checkpoint.ts';
import { readSafetensorsHeader, type TensorInfo } from '../checkpoint/safetensors.ts';
import type { ModelConfig } from '../models/config.ts';
import { paramSpecs } from '../models/model.ts';
import { DEFAULT_BLOCK } from '../quant/formats.ts';
import { mapFile, mappingAvailable } from './mmap.ts';
import { InferenceModel, type InferenceOptions, type PreparedQuantized } from './model.ts';
import {
  cachePath,
  type FileIdentity,
  folderIdentity,
  readQuantCache,
  writeQuantCache,
} from './quant-cache.ts';
import { checkDecodeFormat, type QuantizeJob, quantizeOffThread } from './quantized.ts';

export async function loadInferenceModel(dir: string, opts: InferenceOptions = {}): Promise<InferenceModel> {
  // Before anything is read: a cache file records this, so it must describe the files read next, or older
  // ones (then the check after quantising sees the change), never newer ones than the codes came from.
  const identity =
    opts.quantize && opts.quantCache && (await mappingAvailable()) ? tryIdentity(dir) : undefined;
  const cfg = configFromHf(
    JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Record<string, unknown>,
  );
  const file = join(dir, 'model.safetensors');
  const infos = existsSync(file) ? mappable(cfg, file) : undefined;
  const mapped = infos && (await mapFile(file));
  if (!infos || !mapped) {
    let params = loadCheckpoint(dir).params;
    let prepared: PreparedQuantized | undefined;
    if (opts.quantize)
      prepared = await quantizedWeights(dir, cfg, opts, identity, { params }, (p) => {
        params = p;
      });
    try {
      return await InferenceModel.create(cfg, params, opts, prepared);
    } catch (e) {
      prepared?.file?.close();
      throw e;
    }
  }
  const tensors = new Map<string, Float32Array>();
  for (const [name, t] of infos)
    tensors.set(name, new Float32Array(mapped.bytes.buffer, mapped.bytes.byteOffset + t.offset, t.size));
  let prepared: PreparedQuantized | undefined;
  try {
    if (opts.quantize)
      prepared = await quantizedWeights(dir, cfg, opts, identity, {
        file: {
          path: file,
          tensors: [...infos].map(([n, t]) => [n, t.offset, t.size]),
          expect: mapped.id,
        },
      });
    return await InferenceModel.fromTensors(cfg, tensors, opts, mapped, prepared);
  } catch (e) {
    prepared?.file?.close();
    mapped.close();
    throw e;
  }
}

/**
 * The folder's weights quantised as `opts` asks: mapped from the cache when it holds them for the folder
 * as it was before the load read anything (`identity`, absent without a usable cache) and still is, else
 * quantised on a worker thread and, with a cache, written there and mapped back, unless the folder
 * changed during the load. `restore` receives `source.params` again after the worker has used it.
 */
async function quantizedWeights(
  dir: string,
  cfg: ModelConfig,
  opts: InferenceOptions,
  identity: FileIdentity[] | undefined,
  source: Pick<QuantizeJob, 'file' | 'params'>,
  restore: (params: Float32Array) => void = () => {},
): Promise<PreparedQuantized> {
  const format = checkDecodeFormat(opts.quantize ?? '');
  const blockSize = opts.quantBlockSize ?? DEFAULT_BLOCK[format];
  const path = identity && opts.quantCache && cachePath(opts.quantCache, dir, format, blockSize);
  // Unchanged since the load began: what it read is what `identity` describes.
  const unchanged = () => {
    try {
      return JSON.stringify(folderIdentity(dir)) === JSON.stringify(identity);
    } catch {
      return false;
    }
  };
  if (path && unchanged()) {
    const cached = await readQuantCache(path, cfg, format, blockSize, identity);
    if (cached) return { weights: cached, fromCache: true, cachePath: path, file: cached.file };
  }
  const made = await quantizeOffThread({ cfg, format, blockSize, ...source });
  if (made.params) restore(made.params);
  // Rewritten during the load: the codes match what this load read, but that may not be what either
  // identity describes, so they serve this load only.
  if (!path || !unchanged()) return { weights: made.weights, fromCache: false };
  try {
    await writeQuantCache(path, cfg, made.weights, identity);
    // Decode from the file as a later load will: its pages are shared, the worker's arrays are dropped.
    const back = await readQuantCache(path, cfg, format, blockSize, identity);
    if (back) return { weights: back, fromCache: false, cachePath: path, file: back.file };
  } catch {
    // A cache that cannot be written (read-only, full disk) leaves this load as it would be without one.
  }
  return { weights: made.weights, fromCache: false };
}

/** The folder's identity, or none (no cache for this load) where it cannot be listed: reading it says why. */
function tryIdentity(dir: string): FileIdentity[] | undefined {
  try {
    return folderIdentity(dir);
  } catch {
    return undefined;
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

// The forward pass generation needs: tokens after a KV cache in, logits and a new cache out. Caches are
// immutable snapshots, so samples can share a prefilled prompt and beams can branch from any hypothesis.
// The engine's InferenceModel does the work: weights mapped from model.safetensors (or read, for sharded
// and half-precision folders), a small decoding graph, and KV caches ORT appends to in place.
import { type InferenceModel, type KvCache, loadInferenceModel, type ModelConfig } from '@lab/engine';

export type { KvCache };

export interface RunResult {
  /** Logits of the last position [vocab], or of every position [tokens × vocab] when asked. */
  logits: Float32Array;
  cache: KvCache;
}

export interface LanguageModel {
  readonly cfg: ModelConfig;
  /** Bytes the loaded model holds (weights, copies in faster layouts, ORT's workspace). */
  readonly bytes: number;
  run(tokens: readonly number[], cache?: KvCache, allPositions?: boolean): Promise<RunResult>;
  release(): Promise<void>;
}

class EngineModel implements LanguageModel {
  constructor(private readonly model: InferenceModel) {}

  get cfg(): ModelConfig {
    return this.model.cfg;
  }

  get bytes(): number {
    return this.model.memory.total;
  }

  run(tokens: readonly number[], cache?: KvCache, allPositions = false): Promise<RunResult> {
    return this.model.run(tokens, cache, { allPositions });
  }

  release(): Promise<void> {
    return this.model.release();
  }
}

/** Loads a model folder for decoding; `cfg` is the configuration the folder was checked to have. */
export async function loadLanguageModel(dir: string): Promise<LanguageModel> {
  return new EngineModel(await loadInferenceModel(dir));
}

// The forward pass generation needs: tokens after a KV cache in, logits and a new cache out. Caches are
// immutable snapshots, so samples can share a prefilled prompt and beams can branch from any hypothesis.
import {
  buildInferenceGraph,
  createSession,
  headDim,
  type ModelConfig,
  ort,
  type Session,
} from '@lab/engine';

export interface KvCache {
  /** Tokens the cache holds. */
  readonly length: number;
}

export interface RunResult {
  /** Logits of the last position [vocab], or of every position [tokens × vocab] when asked. */
  logits: Float32Array;
  cache: KvCache;
}

export interface LanguageModel {
  readonly cfg: ModelConfig;
  run(tokens: readonly number[], cache?: KvCache, allPositions?: boolean): Promise<RunResult>;
  release(): Promise<void>;
}

class OrtCache implements KvCache {
  constructor(
    readonly length: number,
    readonly past: readonly ort.Tensor[],
  ) {}
}

/** A LanguageModel over one ONNX Runtime session of the engine's KV-cache graph, shared by all requests. */
export class SessionModel implements LanguageModel {
  private readonly empty: OrtCache;

  private constructor(
    readonly cfg: ModelConfig,
    private readonly session: Session,
  ) {
    const d = headDim(cfg);
    const zero = new ort.Tensor('float32', new Float32Array(0), [1, cfg.nKvHead, 0, d]);
    this.empty = new OrtCache(
      0,
      Array.from({ length: 2 * cfg.nLayer }, () => zero),
    );
  }

  static async create(cfg: ModelConfig, params: Float32Array): Promise<SessionModel> {
    return new SessionModel(cfg, await createSession(buildInferenceGraph(cfg, params)));
  }

  async run(tokens: readonly number[], cache?: KvCache, allPositions = false): Promise<RunResult> {
    const from = (cache as OrtCache | undefined) ?? this.empty;
    const T = tokens.length;
    const total = from.length + T;
    const feeds: Record<string, ort.Tensor> = {
      input_ids: new ort.Tensor('int64', BigInt64Array.from(tokens, BigInt), [1, T]),
      attention_mask: new ort.Tensor('int64', new BigInt64Array(total).fill(1n), [1, total]),
      position_ids: new ort.Tensor(
        'int64',
        BigInt64Array.from({ length: T }, (_, i) => BigInt(from.length + i)),
        [1, T],
      ),
    };
    for (let i = 0; i < this.cfg.nLayer; i++) {
      feeds[`past_key_values.${i}.key`] = from.past[2 * i]!;
      feeds[`past_key_values.${i}.value`] = from.past[2 * i + 1]!;
    }
    const out = await this.session.run(feeds);
    const past: ort.Tensor[] = [];
    for (let i = 0; i < this.cfg.nLayer; i++)
      past.push(out[`present.${i}.key`] as ort.Tensor, out[`present.${i}.value`] as ort.Tensor);
    const all = out.logits!.data as Float32Array;
    const V = this.cfg.vocabSize;
    return {
      logits: allPositions ? all : all.subarray((T - 1) * V, T * V),
      cache: new OrtCache(total, past),
    };
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}

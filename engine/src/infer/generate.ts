// Autoregressive decoding over the exported inference graph with a KV cache, and a seeded sampler.
import type { ModelConfig } from '../models/config.ts';
import { headDim } from '../models/config.ts';
import { Rng } from '../rng.ts';
import { createSession, ort, type Session, type SessionOptions } from '../runtime/session.ts';
import { buildInferenceGraph, type ExportOptions } from './export.ts';

export interface SampleOptions {
  /** 0 = greedy (argmax). */
  temperature?: number;
  /** Keep only the k most likely tokens (0 = all). */
  topK?: number;
  seed?: number;
}

/** Pick a token id from one row of logits. */
export function sampleToken(logits: Float32Array, opts: SampleOptions, rng: Rng): number {
  const temp = opts.temperature ?? 1;
  if (temp <= 0) {
    let best = 0;
    for (let i = 1; i < logits.length; i++) if (logits[i] > logits[best]) best = i;
    return best;
  }
  const scaled = Array.from(logits, (l) => l / temp);
  let cutoff = -Infinity;
  const k = opts.topK ?? 0;
  if (k > 0 && k < scaled.length) cutoff = [...scaled].sort((a, b) => b - a)[k - 1];
  const mx = Math.max(...scaled);
  const probs = scaled.map((l) => (l < cutoff ? 0 : Math.exp(l - mx)));
  const total = probs.reduce((a, b) => a + b, 0);
  let u = rng.uniform() * total;
  for (let i = 0; i < probs.length; i++) {
    u -= probs[i];
    if (u <= 0 && probs[i] > 0) return i;
  }
  return probs.findLastIndex((p) => p > 0);
}

export interface StepOutput {
  /** Logits [batch=1, seq, vocab]. */
  logits: Float32Array;
  seq: number;
}

/** A loaded model for decoding: one session over the KV-cache graph. */
export class Decoder {
  private past: ort.Tensor[] = [];
  private length = 0;

  private constructor(
    readonly cfg: ModelConfig,
    readonly session: Session,
  ) {
    this.reset();
  }

  static async create(
    cfg: ModelConfig,
    params: Float32Array,
    opts: SessionOptions & ExportOptions = {},
  ): Promise<Decoder> {
    return new Decoder(cfg, await createSession(buildInferenceGraph(cfg, params, opts), opts));
  }

  reset(): void {
    const d = headDim(this.cfg);
    const empty = () => new ort.Tensor('float32', new Float32Array(0), [1, this.cfg.nKvHead, 0, d]);
    this.past = Array.from({ length: 2 * this.cfg.nLayer }, empty);
    this.length = 0;
  }

  /** Feed tokens after those already in the cache; returns their logits. */
  async feed(tokens: readonly number[]): Promise<StepOutput> {
    const T = tokens.length;
    const total = this.length + T;
    const feeds: Record<string, ort.Tensor> = {
      input_ids: new ort.Tensor('int64', BigInt64Array.from(tokens.map(BigInt)), [1, T]),
      attention_mask: new ort.Tensor('int64', new BigInt64Array(total).fill(1n), [1, total]),
      position_ids: new ort.Tensor(
        'int64',
        BigInt64Array.from({ length: T }, (_, i) => BigInt(this.length + i)),
        [1, T],
      ),
    };
    for (let i = 0; i < this.cfg.nLayer; i++) {
      feeds[`past_key_values.${i}.key`] = this.past[2 * i];
      feeds[`past_key_values.${i}.value`] = this.past[2 * i + 1];
    }
    const out = await this.session.run(feeds);
    for (let i = 0; i < this.cfg.nLayer; i++) {
      this.past[2 * i] = out[`present.${i}.key`] as ort.Tensor;
      this.past[2 * i + 1] = out[`present.${i}.value`] as ort.Tensor;
    }
    this.length = total;
    return { logits: out.logits.data as Float32Array, seq: T };
  }

  /** Continue `prompt` by `n` tokens. The cache restarts on the last half-context when it fills up. */
  async generate(prompt: readonly number[], n: number, opts: SampleOptions = {}): Promise<number[]> {
    const rng = new Rng(opts.seed ?? 1337);
    const V = this.cfg.vocabSize;
    const tokens = [...prompt];
    if (tokens.length === 0) throw new Error('generate: prompt must have at least one token');
    this.reset();
    let { logits, seq } = await this.feed(tokens.slice(-this.cfg.blockSize));
    for (let i = 0; i < n; i++) {
      const next = sampleToken(logits.subarray((seq - 1) * V, seq * V), opts, rng);
      tokens.push(next);
      if (i === n - 1) break;
      if (this.length + 1 > this.cfg.blockSize) {
        this.reset();
        ({ logits, seq } = await this.feed(tokens.slice(-Math.floor(this.cfg.blockSize / 2))));
      } else ({ logits, seq } = await this.feed([next]));
    }
    return tokens.slice(prompt.length);
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}

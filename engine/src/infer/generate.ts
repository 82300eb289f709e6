// Autoregressive decoding of one sequence over an InferenceModel, and a seeded sampler.
import type { ModelConfig } from '../models/config.ts';
import { Rng } from '../rng.ts';
import type { KvCache } from './kv-cache.ts';
import { InferenceModel, type InferenceOptions } from './model.ts';

export interface SampleOptions {
  /** 0 = greedy (argmax). */
  temperature?: number;
  /** Keep only the k most likely tokens (0 = all). */
  topK?: number;
  seed?: number;
}

/**
 * Pick a token id from one row of logits. Linear in the vocabulary (top-k's cut-off by selection, not a
 * sort of 50K logits per token), with the same draws as sorting would give.
 */
export function sampleToken(logits: Float32Array, opts: SampleOptions, rng: Rng): number {
  const temp = opts.temperature ?? 1;
  const n = logits.length;
  if (temp <= 0) {
    let best = 0;
    for (let i = 1; i < n; i++) if (logits[i] > logits[best]) best = i;
    return best;
  }
  const scaled = new Float64Array(n);
  let mx = -Infinity;
  for (let i = 0; i < n; i++) {
    scaled[i] = logits[i] / temp;
    if (scaled[i] > mx) mx = scaled[i];
  }
  const k = opts.topK ?? 0;
  const cutoff = k > 0 && k < n ? kthLargest(scaled, k) : -Infinity;
  const probs = new Float64Array(n);
  let total = 0;
  for (let i = 0; i < n; i++) {
    probs[i] = scaled[i] < cutoff ? 0 : Math.exp(scaled[i] - mx);
    total += probs[i];
  }
  let u = rng.uniform() * total;
  for (let i = 0; i < n; i++) {
    u -= probs[i];
    if (u <= 0 && probs[i] > 0) return i;
  }
  return probs.findLastIndex((p) => p > 0);
}

/** The k-th largest value (k ≥ 1) by quickselect on a copy. */
export function kthLargest(values: Float64Array, k: number): number {
  const a = values.slice();
  const want = k - 1;
  let lo = 0;
  let hi = a.length - 1;
  while (lo < hi) {
    const pivot = a[(lo + hi) >> 1];
    let i = lo;
    let j = hi;
    // Descending partition: a[lo..j] >= pivot >= a[i..hi].
    while (i <= j) {
      while (a[i] > pivot) i++;
      while (a[j] < pivot) j--;
      if (i <= j) {
        const t = a[i];
        a[i] = a[j];
        a[j] = t;
        i++;
        j--;
      }
    }
    if (want <= j) hi = j;
    else if (want >= i) lo = i;
    else return a[want];
  }
  return a[want];
}

export interface StepOutput {
  /** Logits [batch=1, seq, vocab]. */
  logits: Float32Array;
  seq: number;
}

/** A model and one sequence's KV cache: the loop `generate` runs, for callers that decode one sequence. */
export class Decoder {
  private cache: KvCache | undefined;

  private constructor(readonly model: InferenceModel) {}

  get cfg(): ModelConfig {
    return this.model.cfg;
  }

  /** Tokens in the cache. */
  get length(): number {
    return this.cache?.length ?? 0;
  }

  static async create(cfg: ModelConfig, params: Float32Array, opts: InferenceOptions = {}): Promise<Decoder> {
    return new Decoder(await InferenceModel.create(cfg, params, opts));
  }

  reset(): void {
    this.cache = undefined;
  }

  /** Feed tokens after those already in the cache; returns their logits. */
  async feed(tokens: readonly number[]): Promise<StepOutput> {
    const { logits, cache } = await this.model.run(tokens, this.cache, { allPositions: true });
    this.cache = cache;
    return { logits, seq: tokens.length };
  }

  /** Continue `prompt` by `n` tokens. The cache restarts on the last half-context when it fills up. */
  async generate(prompt: readonly number[], n: number, opts: SampleOptions = {}): Promise<number[]> {
    const rng = new Rng(opts.seed ?? 1337);
    const { blockSize, vocabSize: V } = this.cfg;
    const tokens = [...prompt];
    if (tokens.length === 0) throw new Error('generate: prompt must have at least one token');
    let { logits, cache } = await this.model.run(tokens.slice(-blockSize));
    // Each token's logits are sampled before the next run: one array for all of them.
    const into = new Float32Array(V);
    for (let i = 0; i < n; i++) {
      const next = sampleToken(logits.subarray(logits.length - V), opts, rng);
      tokens.push(next);
      if (i === n - 1) break;
      if (cache.length + 1 > blockSize)
        ({ logits, cache } = await this.model.run(tokens.slice(-Math.floor(blockSize / 2)), undefined, {
          into,
        }));
      else ({ logits, cache } = await this.model.run([next], cache, { into }));
    }
    this.cache = cache;
    return tokens.slice(prompt.length);
  }

  async release(): Promise<void> {
    await this.model.release();
  }
}

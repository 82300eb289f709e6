// The configurator's model: the engine's ModelConfig fields a learner sets, the presets (the shapes of
// engine/src/models/config.ts's PRESETS; the page never imports the engine), checks that name the field,
// and what the server's estimate (engine/src/estimate.ts, through /api/train/estimate) leaves out:
// inference memory with a KV cache.
import { postJSON, type RequestOptions, type TrainEstimate } from '../../api.ts';

export type Family = 'gpt2' | 'llama';
export type Positions = 'learned' | 'sinusoidal' | 'rope' | 'none';
export type Norm = 'layernorm' | 'rmsnorm';
export type Activation = 'gelu' | 'gelu_tanh' | 'swiglu' | 'relu';

export interface ArchConfig {
  family: Family;
  nLayer: number;
  nHead: number;
  nKvHead: number;
  nEmbd: number;
  ffnHidden: number;
  context: number;
  vocabSize: number;
  positions: Positions;
  norm: Norm;
  activation: Activation;
  bias: boolean;
  tieEmbeddings: boolean;
}

const gpt2 = (o: Partial<ArchConfig>): ArchConfig => ({
  family: 'gpt2',
  nLayer: 12,
  nHead: 12,
  nKvHead: o.nHead ?? 12,
  nEmbd: 768,
  ffnHidden: 4 * (o.nEmbd ?? 768),
  context: 1024,
  vocabSize: 50257,
  positions: 'learned',
  norm: 'layernorm',
  activation: 'gelu_tanh',
  bias: true,
  tieEmbeddings: true,
  ...o,
});

/** Presets by the engine's names (svc-train knows them), with their shapes. */
export const PRESETS: Record<string, ArchConfig> = {
  'nanogpt-cpu': gpt2({
    nLayer: 4,
    nHead: 4,
    nEmbd: 128,
    ffnHidden: 512,
    context: 64,
    vocabSize: 65,
    bias: false,
    activation: 'gelu',
  }),
  'nanogpt-shakespeare': gpt2({
    nLayer: 6,
    nHead: 6,
    nEmbd: 384,
    ffnHidden: 1536,
    context: 256,
    vocabSize: 65,
    bias: false,
    activation: 'gelu',
  }),
  'gpt2-small': gpt2({}),
  'gpt2-medium': gpt2({ nLayer: 24, nHead: 16, nEmbd: 1024, ffnHidden: 4096 }),
  'llama-small': {
    family: 'llama',
    nLayer: 4,
    nHead: 8,
    nKvHead: 2,
    nEmbd: 256,
    ffnHidden: 688,
    context: 256,
    vocabSize: 32000,
    positions: 'rope',
    norm: 'rmsnorm',
    activation: 'swiglu',
    bias: false,
    tieEmbeddings: false,
  },
};

/** What switching family changes besides the name: each family's usual parts. */
export function familyDefaults(family: Family): Partial<ArchConfig> {
  return family === 'llama'
    ? { positions: 'rope', norm: 'rmsnorm', activation: 'swiglu', bias: false, tieEmbeddings: false }
    : { positions: 'learned', norm: 'layernorm', activation: 'gelu_tanh', bias: true, tieEmbeddings: true };
}

export interface FieldError {
  field: keyof ArchConfig;
  message: string;
}

/** Shape rules the engine enforces (config.ts headDim, RoPE's pairs), as messages naming the field. */
export function checkConfig(c: ArchConfig): FieldError | undefined {
  const ints: (keyof ArchConfig)[] = [
    'nLayer',
    'nHead',
    'nKvHead',
    'nEmbd',
    'ffnHidden',
    'context',
    'vocabSize',
  ];
  for (const k of ints) {
    const v = c[k] as number;
    if (!Number.isInteger(v) || v < 1) return { field: k, message: `${k}: a whole number of at least 1` };
  }
  if (c.nEmbd % c.nHead)
    return { field: 'nHead', message: `nHead: the width ${c.nEmbd} does not split into ${c.nHead} heads` };
  if (c.nHead % c.nKvHead)
    return {
      field: 'nKvHead',
      message: `nKvHead: ${c.nHead} query heads do not share ${c.nKvHead} key/value heads evenly`,
    };
  if (c.positions === 'rope' && (c.nEmbd / c.nHead) % 2)
    return {
      field: 'nHead',
      message: `nHead: RoPE rotates pairs, so the head width ${c.nEmbd / c.nHead} must be even`,
    };
  return undefined;
}

/** The estimate the gateway returns (gateway/src/routes/train.ts ModelEstimate). */
export type ArchEstimate = TrainEstimate;

/** The request body for /api/train/estimate: the nearest preset and every field as an override. */
export function estimateBody(base: string, c: ArchConfig, batchSize: number) {
  return {
    preset: base,
    model: {
      family: c.family,
      nLayer: c.nLayer,
      nHead: c.nHead,
      nKvHead: c.nKvHead,
      nEmbd: c.nEmbd,
      ffnHidden: c.ffnHidden,
      positions: c.positions,
      norm: c.norm,
      activation: c.activation,
      bias: c.bias,
      tieEmbeddings: c.tieEmbeddings,
    },
    context: c.context,
    vocabSize: c.vocabSize,
    batchSize,
  };
}

export const estimate = (body: ReturnType<typeof estimateBody>, opts?: RequestOptions) =>
  postJSON<ArchEstimate>('/api/train/estimate', body, opts);

/**
 * Inference memory at batch 1 and the full context (float32): the weights, the KV cache (a key and a
 * value of nKvHead × head width per layer and token), and one position's activations, which are small.
 */
export function inferenceMemory(
  c: ArchConfig,
  parameters: number,
): { weights: number; kvCache: number; total: number } {
  const weights = 4 * parameters;
  const kvCache = 4 * 2 * c.nLayer * c.nKvHead * (c.nEmbd / c.nHead) * c.context;
  const scratch = 4 * (4 * c.nEmbd + c.ffnHidden * 2 + c.vocabSize + c.nHead * c.context);
  return { weights, kvCache, total: weights + kvCache + scratch };
}

/** A 16 GB GPU, the size the compose file reserves for. */
export const GPU_BYTES = 16 * 2 ** 30;

/** The Train page link that carries this config (preset, overrides and context) in the hash. */
export function trainHref(base: string, c: ArchConfig): string {
  const body = estimateBody(base, c, 0);
  const q = new URLSearchParams({
    preset: base,
    model: JSON.stringify(body.model),
    context: String(c.context),
  });
  return `#/train?${q}`;
}

/** The config a Train page link carries (trainHref), or undefined for a hash without one. */
export function readTrainLink(
  hash: string,
): { preset: string; model: Record<string, unknown>; context: number } | undefined {
  const q = hash.split('?')[1];
  if (!q) return undefined;
  const p = new URLSearchParams(q);
  const model = p.get('model');
  if (!p.get('preset') || !model) return undefined;
  try {
    return {
      preset: p.get('preset')!,
      model: JSON.parse(model) as Record<string, unknown>,
      context: Number(p.get('context')),
    };
  } catch {
    return undefined;
  }
}

export function bytes(n: number): string {
  const u = ['B', 'KB', 'MB', 'GB', 'TB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < u.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(v < 10 && i ? 2 : v < 100 && i ? 1 : 0)} ${u[i]}`;
}

/** 1.2 G, 340 M, 12 k. */
export function si(n: number): string {
  const a = Math.abs(n);
  if (a >= 1e12) return `${(n / 1e12).toPrecision(3)} T`;
  if (a >= 1e9) return `${(n / 1e9).toPrecision(3)} G`;
  if (a >= 1e6) return `${(n / 1e6).toPrecision(3)} M`;
  if (a >= 1e3) return `${(n / 1e3).toPrecision(3)} k`;
  return String(n);
}

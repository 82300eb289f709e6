// Model configuration shared by the gpt2 and llama families, and the named presets.

export type Family = 'gpt2' | 'llama';
export type NormKind = 'layernorm' | 'rmsnorm';
export type PositionKind = 'learned' | 'sinusoidal' | 'rope' | 'none';
export type Activation = 'gelu' | 'gelu_tanh' | 'swiglu' | 'relu';

export interface ModelConfig {
  family: Family;
  nLayer: number;
  nHead: number;
  /** Key/value heads; fewer than nHead gives grouped-query attention. */
  nKvHead: number;
  nEmbd: number;
  /** Hidden width of the feed-forward block. */
  ffnHidden: number;
  /** Context length (maximum positions). */
  blockSize: number;
  vocabSize: number;
  norm: NormKind;
  normEps: number;
  positions: PositionKind;
  ropeTheta: number;
  activation: Activation;
  /** Biases on linear layers (and LayerNorm). */
  bias: boolean;
  tieEmbeddings: boolean;
  dropout: number;
  /**
   * Attention-only: no MLP block (nor its norm) in any layer, as the two-layer models in which Olsson et al.
   * (2022) watch induction heads form. The MLP is left out of the graph and of the checkpoint rather than kept
   * as zero, frozen weights: an exact GPT-2 checkpoint would cost every step the MLP's FLOPs (4/5 of a
   * layer's at the usual 4× width) for nothing. The lab's own loaders read it from config.json (lab_config,
   * and the `lab_attn_only` key); Hugging Face transformers cannot load such a checkpoint (GPT-2 always has
   * an MLP — it would initialise the missing weights at random).
   */
  attnOnly?: boolean;
}

export function gpt2Config(over: Partial<ModelConfig> = {}): ModelConfig {
  const nEmbd = over.nEmbd ?? 768;
  const nHead = over.nHead ?? 12;
  return {
    family: 'gpt2',
    nLayer: 12,
    nHead,
    nKvHead: over.nKvHead ?? nHead,
    nEmbd,
    ffnHidden: 4 * nEmbd,
    blockSize: 1024,
    vocabSize: 50257,
    norm: 'layernorm',
    normEps: 1e-5,
    positions: 'learned',
    ropeTheta: 10000,
    activation: 'gelu_tanh',
    bias: true,
    tieEmbeddings: true,
    dropout: 0,
    ...over,
  };
}

export function llamaConfig(over: Partial<ModelConfig> = {}): ModelConfig {
  const nEmbd = over.nEmbd ?? 512;
  const nHead = over.nHead ?? 8;
  return {
    family: 'llama',
    nLayer: 8,
    nHead,
    nKvHead: over.nKvHead ?? nHead,
    nEmbd,
    ffnHidden: llamaFfn(nEmbd),
    blockSize: 1024,
    vocabSize: 32000,
    norm: 'rmsnorm',
    normEps: 1e-5,
    positions: 'rope',
    ropeTheta: 10000,
    activation: 'swiglu',
    bias: false,
    tieEmbeddings: false,
    dropout: 0,
    ...over,
  };
}

/** Llama's FFN width: 2/3 of 4·d, rounded up to a multiple of 256. */
export function llamaFfn(nEmbd: number): number {
  return 256 * Math.ceil((4 * nEmbd * 2) / 3 / 256);
}

export const PRESETS = {
  /** nanoGPT's shakespeare_char recipe with the README's CPU overrides. */
  'nanogpt-cpu': () =>
    gpt2Config({
      nLayer: 4,
      nHead: 4,
      nEmbd: 128,
      ffnHidden: 512,
      blockSize: 64,
      vocabSize: 65,
      bias: false,
      activation: 'gelu',
    }),
  'nanogpt-shakespeare': () =>
    gpt2Config({
      nLayer: 6,
      nHead: 6,
      nEmbd: 384,
      ffnHidden: 1536,
      blockSize: 256,
      vocabSize: 65,
      bias: false,
      dropout: 0.2,
      activation: 'gelu',
    }),
  'gpt2-small': () => gpt2Config({}),
  'gpt2-medium': () => gpt2Config({ nLayer: 24, nHead: 16, nEmbd: 1024, ffnHidden: 4096 }),
  'gpt2-large': () => gpt2Config({ nLayer: 36, nHead: 20, nEmbd: 1280, ffnHidden: 5120 }),
  'gpt2-xl': () => gpt2Config({ nLayer: 48, nHead: 25, nEmbd: 1600, ffnHidden: 6400 }),
  /** A small Llama (GQA 8 query / 2 kv heads) for CPU experiments. */
  'llama-small': () =>
    llamaConfig({ nLayer: 4, nHead: 8, nKvHead: 2, nEmbd: 256, ffnHidden: 688, blockSize: 256 }),
} satisfies Record<string, () => ModelConfig>;

export type PresetName = keyof typeof PRESETS;

export function preset(name: string, over: Partial<ModelConfig> = {}): ModelConfig {
  const make = (PRESETS as Record<string, () => ModelConfig>)[name];
  if (!make) throw new Error(`unknown preset '${name}' (known: ${Object.keys(PRESETS).join(', ')})`);
  return { ...make(), ...over };
}

export function headDim(cfg: ModelConfig): number {
  if (cfg.nEmbd % cfg.nHead !== 0)
    throw new Error(`nEmbd ${cfg.nEmbd} is not divisible by nHead ${cfg.nHead}`);
  if (cfg.nHead % cfg.nKvHead !== 0)
    throw new Error(`nHead ${cfg.nHead} is not a multiple of nKvHead ${cfg.nKvHead}`);
  return cfg.nEmbd / cfg.nHead;
}

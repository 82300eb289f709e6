// Each supported architecture as a tiny random-weight Hugging Face folder (real config.json keys, HF tensor
// names and layouts, written byte by byte in F32/F16/BF16, single file or sharded), loaded by
// loadModelFolder and run through the engine's Decoder; the logits must match a float64 forward pass
// written independently in hf-fixtures.ts on the weights as the file stores them.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadModelFolder, type ModelFolder } from '../src/checkpoint/hf-folder.ts';
import { Decoder } from '../src/infer/generate.ts';
import {
  CHAT_TEMPLATE,
  type Dtype,
  gpt2Weights,
  llamaWeights,
  qwen2Config,
  refGpt2,
  refLlama,
  roundedWeights,
  TOKENIZER_JSON,
  type Weights,
  writeHfFolder,
} from './hf-fixtures.ts';

const root = mkdtempSync(join(tmpdir(), 'hf-arch-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const TOKENS = [1, 7, 3, 12, 0, 5, 9, 30, 2, 17];

async function engineLogits(m: ModelFolder, tokens: number[]): Promise<Float32Array> {
  const dec = await Decoder.create(m.cfg, m.params);
  try {
    return (await dec.feed(tokens)).logits;
  } finally {
    await dec.release();
  }
}

function maxAbsDiff(a: Float32Array, b: Float64Array): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

const gpt2Config = {
  activation_function: 'gelu_new',
  architectures: ['GPT2LMHeadModel'],
  attn_pdrop: 0.1,
  bos_token_id: 0,
  embd_pdrop: 0.1,
  eos_token_id: 0,
  initializer_range: 0.02,
  layer_norm_epsilon: 1e-5,
  model_type: 'gpt2',
  n_ctx: 16,
  n_embd: 16,
  n_head: 4,
  n_inner: null,
  n_layer: 2,
  n_positions: 16,
  reorder_and_upcast_attn: false,
  resid_pdrop: 0.1,
  scale_attn_by_inverse_layer_idx: false,
  scale_attn_weights: true,
  summary_activation: null,
  summary_first_dropout: 0.1,
  summary_proj_to_labels: true,
  summary_type: 'cls_index',
  summary_use_proj: true,
  task_specific_params: { 'text-generation': { do_sample: true, max_length: 50 } },
  torch_dtype: 'float32',
  transformers_version: '4.44.0',
  use_cache: true,
  vocab_size: 40,
};

/** TinyLlama-style: GQA (4 query heads on 2 kv heads), untied head. */
const llamaConfig = {
  architectures: ['LlamaForCausalLM'],
  attention_bias: false,
  attention_dropout: 0.0,
  bos_token_id: 1,
  eos_token_id: 2,
  hidden_act: 'silu',
  hidden_size: 32,
  initializer_range: 0.02,
  intermediate_size: 48,
  max_position_embeddings: 64,
  mlp_bias: false,
  model_type: 'llama',
  num_attention_heads: 4,
  num_hidden_layers: 2,
  num_key_value_heads: 2,
  pretraining_tp: 1,
  rms_norm_eps: 1e-5,
  rope_scaling: null,
  rope_theta: 10000.0,
  tie_word_embeddings: false,
  torch_dtype: 'bfloat16',
  transformers_version: '4.44.0',
  use_cache: true,
  vocab_size: 48,
};

/** Mistral 7B v0.1-style: the sliding window is shorter than max_position_embeddings. */
const mistralConfig = {
  architectures: ['MistralForCausalLM'],
  attention_dropout: 0.0,
  bos_token_id: 1,
  eos_token_id: 2,
  hidden_act: 'silu',
  hidden_size: 32,
  initializer_range: 0.02,
  intermediate_size: 56,
  max_position_embeddings: 128,
  model_type: 'mistral',
  num_attention_heads: 8,
  num_hidden_layers: 2,
  num_key_value_heads: 2,
  rms_norm_eps: 1e-5,
  rope_theta: 1000000.0,
  sliding_window: 16,
  tie_word_embeddings: false,
  torch_dtype: 'bfloat16',
  transformers_version: '4.44.0',
  use_cache: true,
  vocab_size: 40,
};

/** SmolLM2-style Llama: tied embeddings (no lm_head.weight), head_dim stated, 3 query heads on 1 kv head. */
const smolConfig = {
  architectures: ['LlamaForCausalLM'],
  attention_bias: false,
  attention_dropout: 0.0,
  bos_token_id: 0,
  eos_token_id: 0,
  head_dim: 8,
  hidden_act: 'silu',
  hidden_size: 24,
  initializer_range: 0.041666666666666664,
  intermediate_size: 64,
  is_llama_config: true,
  max_position_embeddings: 32,
  mlp_bias: false,
  model_type: 'llama',
  num_attention_heads: 3,
  num_hidden_layers: 2,
  num_key_value_heads: 1,
  pretraining_tp: 1,
  rms_norm_eps: 1e-5,
  rope_interleaved: false,
  rope_scaling: null,
  rope_theta: 100000,
  tie_word_embeddings: true,
  torch_dtype: 'bfloat16',
  transformers_version: '4.48.0',
  use_cache: true,
  vocab_size: 40,
};

interface Arch {
  name: string;
  config: Record<string, unknown>;
  weights: (variant: Variant) => Weights;
  reference: (c: Record<string, unknown>, w: Weights, tokens: number[]) => Float64Array;
  check?: (m: ModelFolder) => void;
}

interface Variant {
  dtype: Dtype;
  shards?: number;
  unaligned?: boolean;
}

const VARIANTS: Variant[] = [
  { dtype: 'F32' },
  { dtype: 'F16', unaligned: true },
  { dtype: 'BF16' },
  { dtype: 'BF16', shards: 3 },
  { dtype: 'F16', shards: 2 },
];

const ARCHS: Arch[] = [
  {
    name: 'GPT2LMHeadModel',
    config: gpt2Config,
    // F32 as openai-community/gpt2 ships it: GPT2Model names (no `transformer.`) plus attention buffers.
    weights: (v) => gpt2Weights(gpt2Config, 11, v.dtype === 'F32'),
    reference: refGpt2,
    check: (m) =>
      expect(m.cfg).toMatchObject({
        family: 'gpt2',
        nEmbd: 16,
        nHead: 4,
        blockSize: 16,
        tieEmbeddings: true,
      }),
  },
  {
    name: 'LlamaForCausalLM (GQA)',
    config: llamaConfig,
    weights: () => llamaWeights(llamaConfig, 12, false),
    reference: refLlama,
    check: (m) =>
      expect(m.cfg).toMatchObject({
        family: 'llama',
        nHead: 4,
        nKvHead: 2,
        bias: false,
        tieEmbeddings: false,
      }),
  },
  {
    name: 'MistralForCausalLM',
    config: mistralConfig,
    weights: () => llamaWeights(mistralConfig, 13, false),
    reference: refLlama,
    check: (m) => {
      expect(m.cfg).toMatchObject({ nHead: 8, nKvHead: 2, ropeTheta: 1e6, blockSize: 16 });
      expect(m.notes.join('\n')).toMatch(
        /context capped from max_position_embeddings 128 to sliding_window 16/,
      );
    },
  },
  {
    name: 'Qwen2ForCausalLM (q/k/v biases)',
    config: qwen2Config,
    weights: () => llamaWeights(qwen2Config, 14, true),
    reference: refLlama,
    // use_sliding_window is false, so the small sliding_window must not cap the context.
    check: (m) => expect(m.cfg).toMatchObject({ bias: true, blockSize: 64, normEps: 1e-6 }),
  },
  {
    name: 'LlamaForCausalLM tied (SmolLM)',
    config: smolConfig,
    weights: () => llamaWeights(smolConfig, 15, false),
    reference: refLlama,
    check: (m) => expect(m.cfg).toMatchObject({ tieEmbeddings: true, nHead: 3, nKvHead: 1 }),
  },
];

describe.each(ARCHS)('$name', (arch) => {
  it.each(VARIANTS)(
    '$dtype shards=$shards unaligned=$unaligned: logits match the reference within 1e-4',
    async (v) => {
      const dir = join(root, `${arch.name.replace(/\W+/g, '_')}-${v.dtype}-${v.shards ?? 1}`);
      const weights = arch.weights(v);
      writeHfFolder(dir, arch.config, weights, v);
      const m = loadModelFolder(dir);
      expect(m.architecture).toBe(arch.config.architectures && (arch.config.architectures as string[])[0]);
      expect(m.lab).toBe(false);
      expect(m.dtype).toBe(v.dtype);
      expect(m.files.length).toBe(v.shards ?? 1);
      expect(m.bytes).toBe(4 * m.params.length);
      expect(m.tokenizerJson).toBe(TOKENIZER_JSON);
      expect(m.chatTemplate).toBe(CHAT_TEMPLATE);
      expect(m.specialTokens).toEqual({ bos: '<|endoftext|>', eos: '<|im_end|>' });
      expect(m.generationConfig?.eos_token_id).toEqual([0, 2]);
      arch.check?.(m);

      const got = await engineLogits(m, TOKENS);
      const stored = roundedWeights(weights, v.dtype);
      const want = arch.reference(arch.config, stored, TOKENS);
      expect(maxAbsDiff(got, want)).toBeLessThan(1e-4);
      // The reference must see the weights as stored: half precision moves the logits far beyond the tolerance.
      if (v.dtype !== 'F32')
        expect(maxAbsDiff(got, arch.reference(arch.config, weights, TOKENS))).toBeGreaterThan(1e-3);
    },
  );
});

describe('GPT-2 variants', () => {
  it('untied head with n_inner, and maxContext reading the first rows of the position table', async () => {
    const config = {
      ...gpt2Config,
      n_inner: 24,
      tie_word_embeddings: false,
      activation_function: 'gelu_new',
    };
    const weights = gpt2Weights(config, 21);
    expect(weights.has('lm_head.weight')).toBe(true);
    const dir = join(root, 'gpt2-untied');
    writeHfFolder(dir, config, weights, { dtype: 'F32' });
    const full = loadModelFolder(dir);
    expect(full.cfg).toMatchObject({ ffnHidden: 24, tieEmbeddings: false, blockSize: 16 });
    const want = refGpt2(config, weights, TOKENS);
    expect(maxAbsDiff(await engineLogits(full, TOKENS), want)).toBeLessThan(1e-4);

    const capped = loadModelFolder(dir, { maxContext: 12 });
    expect(capped.cfg.blockSize).toBe(12);
    expect(capped.layout.get('transformer.wpe.weight').shape).toEqual([12, 16]);
    expect(capped.notes.join()).toMatch(/capped from 16 to 12/);
    expect(capped.bytes).toBe(full.bytes - 4 * 4 * 16);
    expect(maxAbsDiff(await engineLogits(capped, TOKENS), want)).toBeLessThan(1e-4);
  });
});

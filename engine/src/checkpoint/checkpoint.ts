// Checkpoint directory: model.safetensors + config.json in Hugging Face names/layouts (so real GPT-2 or
// Llama weights can come in and ours can go out), plus optimizer.safetensors and trainer_state.json
// for resuming. Every file is written to a temp name and renamed, so a crash leaves the old one intact.
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ModelConfig } from '../models/config.ts';
import { paramLayout } from '../models/model.ts';
import type { ParamLayout } from '../models/params.ts';
import type { RngState } from '../rng.ts';
import { modelConfigFromHf } from './hf-config.ts';
import { loadModelFolder, readLayoutTensors } from './hf-folder.ts';
import { writeSafetensors } from './safetensors.ts';

export interface TrainerState {
  step: number;
  /** Data-sampling RNG state. */
  rng: RngState;
  [key: string]: unknown;
}

export interface Checkpoint {
  cfg: ModelConfig;
  layout: ParamLayout;
  params: Float32Array;
  m?: Float32Array;
  v?: Float32Array;
  state?: TrainerState;
}

/** Hugging Face config.json for the family, with the engine's own config under `lab_config`. */
export function hfConfig(cfg: ModelConfig): Record<string, unknown> {
  // For transformers.js, which runs the checkpoint's onnx/model.onnx: dtype fp32 names that file (browsers
  // would otherwise look for a quantized one), and a graph a protobuf cannot hold (2 GiB) keeps its weights
  // in ONNX external data, onnx/model.onnx_data, which transformers.js loads only when told.
  const jsConfig = {
    dtype: 'fp32',
    ...(paramLayout(cfg).total * 4 > 2 ** 31 - 2 ** 24 && { use_external_data_format: true }),
  };
  if (cfg.family === 'gpt2') {
    const act = { gelu: 'gelu', gelu_tanh: 'gelu_new', relu: 'relu', swiglu: 'silu' }[cfg.activation];
    return {
      architectures: ['GPT2LMHeadModel'],
      model_type: 'gpt2',
      vocab_size: cfg.vocabSize,
      n_positions: cfg.blockSize,
      n_ctx: cfg.blockSize,
      n_embd: cfg.nEmbd,
      n_layer: cfg.nLayer,
      n_head: cfg.nHead,
      n_inner: cfg.ffnHidden,
      activation_function: act,
      layer_norm_epsilon: cfg.normEps,
      resid_pdrop: cfg.dropout,
      embd_pdrop: cfg.dropout,
      attn_pdrop: cfg.dropout,
      tie_word_embeddings: cfg.tieEmbeddings,
      torch_dtype: 'float32',
      'transformers.js_config': jsConfig,
      // Lab extension: no MLP weights (see ModelConfig.attnOnly); transformers cannot load this folder.
      ...(cfg.attnOnly && { lab_attn_only: true }),
      lab_config: cfg,
    };
  }
  return {
    architectures: ['LlamaForCausalLM'],
    model_type: 'llama',
    vocab_size: cfg.vocabSize,
    hidden_size: cfg.nEmbd,
    intermediate_size: cfg.ffnHidden,
    num_hidden_layers: cfg.nLayer,
    num_attention_heads: cfg.nHead,
    num_key_value_heads: cfg.nKvHead,
    max_position_embeddings: cfg.blockSize,
    rms_norm_eps: cfg.normEps,
    rope_theta: cfg.ropeTheta,
    hidden_act: cfg.activation === 'swiglu' ? 'silu' : cfg.activation,
    attention_bias: cfg.bias,
    tie_word_embeddings: cfg.tieEmbeddings,
    torch_dtype: 'float32',
    'transformers.js_config': jsConfig,
    ...(cfg.attnOnly && { lab_attn_only: true }),
    lab_config: cfg,
  };
}

/**
 * Read back a ModelConfig from config.json: ours (`lab_config`), or a Hugging Face one of a supported
 * architecture (see modelConfigFromHf, which also reports the architecture and any adjustments).
 */
export function configFromHf(json: Record<string, unknown>): ModelConfig {
  return modelConfigFromHf(json).cfg;
}

function writeAtomic(path: string, text: string): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, text);
  renameSync(tmp, path);
}

export function saveCheckpoint(dir: string, ck: Omit<Checkpoint, 'layout'> & { layout?: ParamLayout }): void {
  mkdirSync(dir, { recursive: true });
  const layout = ck.layout ?? paramLayout(ck.cfg);
  const named = (flat: Float32Array, prefix = '') =>
    layout.entries.map((e) => ({
      name: prefix + e.name,
      shape: e.shape,
      data: flat.subarray(e.offset, e.offset + e.size),
    }));
  writeSafetensors(join(dir, 'model.safetensors'), named(ck.params), { format: 'pt' });
  if (ck.m && ck.v) {
    writeSafetensors(
      join(dir, 'optimizer.safetensors'),
      [...named(ck.m, 'exp_avg.'), ...named(ck.v, 'exp_avg_sq.')],
      {
        optimizer: 'AdamW',
      },
    );
  }
  writeAtomic(join(dir, 'config.json'), `${JSON.stringify(hfConfig(ck.cfg), null, 2)}\n`);
  if (ck.state) writeAtomic(join(dir, 'trainer_state.json'), `${JSON.stringify(ck.state, null, 2)}\n`);
}

export function loadCheckpoint(dir: string): Checkpoint {
  // The same validated reader as Hugging Face folders; training state has no memory cap or tokenizer.
  const { cfg, layout, params } = loadModelFolder(dir, {
    maxBytes: Number.POSITIVE_INFINITY,
    requireTokenizer: false,
  });
  const optFile = join(dir, 'optimizer.safetensors');
  const m = existsSync(optFile) ? readLayoutTensors(optFile, cfg, layout, 'exp_avg.') : undefined;
  const v = existsSync(optFile) ? readLayoutTensors(optFile, cfg, layout, 'exp_avg_sq.') : undefined;
  const stateFile = join(dir, 'trainer_state.json');
  const state = existsSync(stateFile)
    ? (JSON.parse(readFileSync(stateFile, 'utf8')) as TrainerState)
    : undefined;
  return { cfg, layout, params, m, v, state };
}

// Checkpoint directory: model.safetensors + config.json in Hugging Face names/layouts (so real GPT-2 or
// Llama weights can come in and ours can go out), plus optimizer.safetensors and trainer_state.json
// for resuming. Every file is written to a temp name and renamed, so a crash leaves the old one intact.
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ModelConfig } from '../models/config.ts';
import { paramLayout } from '../models/model.ts';
import type { ParamLayout } from '../models/params.ts';
import type { RngState } from '../rng.ts';
import { readSafetensors, writeSafetensors } from './safetensors.ts';

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
    lab_config: cfg,
  };
}

/** Read back a ModelConfig from config.json (ours, or a plain Hugging Face one). */
export function configFromHf(json: Record<string, unknown>): ModelConfig {
  if (json.lab_config) return json.lab_config as ModelConfig;
  const n = (k: string, d?: number): number => {
    const v = json[k] ?? d;
    if (typeof v !== 'number') throw new Error(`config.json: missing number '${k}'`);
    return v;
  };
  if (json.model_type === 'gpt2') {
    const act = String(json.activation_function ?? 'gelu_new');
    return {
      family: 'gpt2',
      nLayer: n('n_layer'),
      nHead: n('n_head'),
      nKvHead: n('n_head'),
      nEmbd: n('n_embd'),
      ffnHidden: typeof json.n_inner === 'number' ? json.n_inner : 4 * n('n_embd'),
      blockSize: n('n_positions'),
      vocabSize: n('vocab_size'),
      norm: 'layernorm',
      normEps: n('layer_norm_epsilon', 1e-5),
      positions: 'learned',
      ropeTheta: 10000,
      activation: act === 'gelu' ? 'gelu' : act === 'relu' ? 'relu' : 'gelu_tanh',
      bias: true,
      tieEmbeddings: json.tie_word_embeddings !== false,
      dropout: 0,
    };
  }
  if (json.model_type === 'llama' || json.model_type === 'qwen2') {
    return {
      family: 'llama',
      nLayer: n('num_hidden_layers'),
      nHead: n('num_attention_heads'),
      nKvHead: n('num_key_value_heads', n('num_attention_heads')),
      nEmbd: n('hidden_size'),
      ffnHidden: n('intermediate_size'),
      blockSize: n('max_position_embeddings'),
      vocabSize: n('vocab_size'),
      norm: 'rmsnorm',
      normEps: n('rms_norm_eps', 1e-6),
      positions: 'rope',
      ropeTheta: n('rope_theta', 10000),
      activation: 'swiglu',
      bias: json.model_type === 'qwen2' || json.attention_bias === true,
      tieEmbeddings: json.tie_word_embeddings === true,
      dropout: 0,
    };
  }
  throw new Error(`config.json: unsupported model_type '${String(json.model_type)}'`);
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
  const cfg = configFromHf(
    JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Record<string, unknown>,
  );
  const layout = paramLayout(cfg);
  const flat = (file: string, prefix: string, optional: boolean): Float32Array | undefined => {
    const st = readSafetensors(file).tensors;
    const out = new Float32Array(layout.total);
    for (const e of layout.entries) {
      // The original GPT-2 checkpoints were saved from GPT2Model, without the `transformer.` prefix.
      const t = st.get(prefix + e.name) ?? st.get(prefix + e.name.replace(/^transformer\./, ''));
      if (!t) {
        if (optional) return undefined;
        throw new Error(`${file}: missing tensor '${prefix + e.name}'`);
      }
      if (t.data.length !== e.size)
        throw new Error(`${file}: '${e.name}' has shape [${t.shape}], expected [${e.shape}]`);
      out.set(t.data, e.offset);
    }
    return out;
  };
  const params = flat(join(dir, 'model.safetensors'), '', false)!;
  const optFile = join(dir, 'optimizer.safetensors');
  const m = existsSync(optFile) ? flat(optFile, 'exp_avg.', true) : undefined;
  const v = existsSync(optFile) ? flat(optFile, 'exp_avg_sq.', true) : undefined;
  const stateFile = join(dir, 'trainer_state.json');
  const state = existsSync(stateFile)
    ? (JSON.parse(readFileSync(stateFile, 'utf8')) as TrainerState)
    : undefined;
  return { cfg, layout, params, m, v, state };
}

// Hugging Face config.json → ModelConfig, by architecture. Only what the engine's two model files compute
// exactly is accepted; a config asking for anything else (RoPE scaling, biases the model has no place
// for, a head size other than hidden/heads) is refused by name rather than loaded into different maths.
import type { Activation, ModelConfig } from '../models/config.ts';

/** Hugging Face model classes that load (architectures[0] in config.json). */
export const SUPPORTED_ARCHITECTURES = [
  'GPT2LMHeadModel',
  'LlamaForCausalLM',
  'MistralForCausalLM',
  'Qwen2ForCausalLM',
] as const;
export type HfArchitecture = (typeof SUPPORTED_ARCHITECTURES)[number];

/** For configs without `architectures` (older or hand-written ones). */
const BY_MODEL_TYPE: Record<string, HfArchitecture> = {
  gpt2: 'GPT2LMHeadModel',
  llama: 'LlamaForCausalLM',
  mistral: 'MistralForCausalLM',
  qwen2: 'Qwen2ForCausalLM',
};

export interface HfModelConfig {
  cfg: ModelConfig;
  /** Hugging Face class name (architectures[0]). */
  architecture: string;
  /** A lab checkpoint: config.json carries the engine's own config under `lab_config`. */
  lab: boolean;
  /** The context config.json declares, before any cap (a learned position table has this many rows). */
  declaredContext: number;
  /** Adjustments made while mapping, for the user to see (e.g. the context capped to a sliding window). */
  notes: string[];
}

export interface HfConfigOptions {
  /** Cap the context (cfg.blockSize) to this many positions. */
  maxContext?: number;
  /** Named in errors (default 'config.json'). */
  source?: string;
}

const supportedList = (): string => SUPPORTED_ARCHITECTURES.join(', ');

function labConfig(json: Record<string, unknown>, src: string): ModelConfig {
  const c = json.lab_config as Partial<ModelConfig>;
  if (typeof c !== 'object' || c === null || (c.family !== 'gpt2' && c.family !== 'llama'))
    throw new Error(`${src}: lab_config is not a lab model config (family must be 'gpt2' or 'llama')`);
  for (const k of ['nLayer', 'nHead', 'nKvHead', 'nEmbd', 'ffnHidden', 'blockSize', 'vocabSize'] as const)
    if (typeof c[k] !== 'number') throw new Error(`${src}: lab_config.${k} is not a number`);
  return c as ModelConfig;
}

/** Map a config.json (a lab checkpoint's or a Hugging Face one) to the engine's ModelConfig. */
export function modelConfigFromHf(json: Record<string, unknown>, opts: HfConfigOptions = {}): HfModelConfig {
  const src = opts.source ?? 'config.json';
  const notes: string[] = [];
  const archs = json.architectures;
  const declared = Array.isArray(archs) && typeof archs[0] === 'string' ? archs[0] : undefined;
  const cap = (cfg: ModelConfig): ModelConfig => {
    if (opts.maxContext === undefined || opts.maxContext >= cfg.blockSize) return cfg;
    if (!Number.isSafeInteger(opts.maxContext) || opts.maxContext < 1)
      throw new Error(`maxContext must be a positive integer, got ${opts.maxContext}`);
    notes.push(`context capped from ${cfg.blockSize} to ${opts.maxContext} tokens (maxContext)`);
    return { ...cfg, blockSize: opts.maxContext };
  };

  if (json.lab_config !== undefined) {
    const cfg = labConfig(json, src);
    // `lab_attn_only` says it where lab_config does not (a config.json edited by hand): no MLP weights.
    if (json.lab_attn_only === true) cfg.attnOnly = true;
    const architecture = declared ?? (cfg.family === 'gpt2' ? 'GPT2LMHeadModel' : 'LlamaForCausalLM');
    return { cfg: cap(cfg), architecture, lab: true, declaredContext: cfg.blockSize, notes };
  }

  if (json.lab_attn_only === true)
    throw new Error(`${src}: lab_attn_only (an attention-only lab model) needs its lab_config`);
  const modelType = typeof json.model_type === 'string' ? json.model_type : undefined;
  const architecture = declared ?? (modelType ? BY_MODEL_TYPE[modelType] : undefined);
  if (!architecture)
    throw new Error(
      `${src}: no architectures entry and model_type ${JSON.stringify(json.model_type)} is not one the engine` +
        ` knows; supported architectures: ${supportedList()}`,
    );
  if (!(SUPPORTED_ARCHITECTURES as readonly string[]).includes(architecture))
    throw new Error(
      `${src}: unsupported architecture '${architecture}'; supported architectures: ${supportedList()}`,
    );

  const num = (k: string, d?: number): number => {
    const v = json[k] ?? d;
    if (typeof v !== 'number' || !Number.isFinite(v))
      throw new Error(`${src}: missing number '${k}' (${architecture})`);
    return v;
  };
  const int = (k: string, d?: number): number => {
    const v = num(k, d);
    if (!Number.isSafeInteger(v) || v < 1)
      throw new Error(`${src}: '${k}' must be a positive integer, got ${v}`);
    return v;
  };
  const refuse = (what: string): never => {
    throw new Error(`${src}: ${what} is not supported by the engine's ${architecture} model`);
  };

  if (architecture === 'GPT2LMHeadModel') {
    const act = String(json.activation_function ?? 'gelu_new');
    const acts: Record<string, Activation> = {
      gelu_new: 'gelu_tanh',
      gelu_pytorch_tanh: 'gelu_tanh',
      gelu: 'gelu',
      relu: 'relu',
    };
    if (!(act in acts)) refuse(`activation_function '${act}' (supported: ${Object.keys(acts).join(', ')})`);
    if (json.scale_attn_weights === false) refuse('scale_attn_weights: false (unscaled attention)');
    if (json.scale_attn_by_inverse_layer_idx === true) refuse('scale_attn_by_inverse_layer_idx: true');
    if (json.add_cross_attention === true) refuse('add_cross_attention: true');
    const nEmbd = int('n_embd');
    const nHead = int('n_head');
    if (nEmbd % nHead) throw new Error(`${src}: n_embd ${nEmbd} is not divisible by n_head ${nHead}`);
    const blockSize = int('n_positions', typeof json.n_ctx === 'number' ? json.n_ctx : undefined);
    const cfg: ModelConfig = {
      family: 'gpt2',
      nLayer: int('n_layer'),
      nHead,
      nKvHead: nHead,
      nEmbd,
      // n_inner is null in most GPT-2 configs, meaning 4 × n_embd.
      ffnHidden: typeof json.n_inner === 'number' ? int('n_inner') : 4 * nEmbd,
      blockSize,
      vocabSize: int('vocab_size'),
      norm: 'layernorm',
      normEps: num('layer_norm_epsilon', 1e-5),
      positions: 'learned',
      ropeTheta: 10000,
      activation: acts[act],
      bias: true,
      // PretrainedConfig defaults to tied embeddings, and GPT-2 configs rarely say so.
      tieEmbeddings: json.tie_word_embeddings !== false,
      dropout: 0,
    };
    return { cfg: cap(cfg), architecture, lab: false, declaredContext: blockSize, notes };
  }

  // Llama, Mistral and Qwen2 share the Llama layout: RMSNorm, RoPE (rotate-half), SwiGLU, GQA.
  const act = json.hidden_act ?? 'silu';
  if (act !== 'silu') refuse(`hidden_act '${String(act)}' (only 'silu', i.e. SwiGLU)`);
  const nEmbd = int('hidden_size');
  const nHead = int('num_attention_heads');
  // Omitted, each config class has its own default (LlamaConfig: one kv head per query head).
  const kvDefaults: Record<string, number> = { MistralForCausalLM: 8, Qwen2ForCausalLM: 32 };
  const kvDefault = kvDefaults[architecture] ?? nHead;
  const nKvHead = int('num_key_value_heads', kvDefault);
  if (nEmbd % nHead)
    throw new Error(`${src}: hidden_size ${nEmbd} is not divisible by num_attention_heads ${nHead}`);
  if (nHead % nKvHead)
    throw new Error(
      `${src}: num_attention_heads ${nHead} is not a multiple of num_key_value_heads ${nKvHead}`,
    );
  // The engine's attention sizes heads as hidden/heads; Mistral-Nemo-style configs decouple the two.
  if (json.head_dim != null && json.head_dim !== nEmbd / nHead)
    refuse(
      `head_dim ${JSON.stringify(json.head_dim)} (the engine's heads are hidden_size / num_attention_heads` +
        ` = ${nEmbd / nHead})`,
    );
  // transformers v5 moves rope_theta and the scaling type into rope_parameters.
  const ropeParams =
    typeof json.rope_parameters === 'object' && json.rope_parameters !== null
      ? (json.rope_parameters as Record<string, unknown>)
      : undefined;
  for (const scaling of [json.rope_scaling, ropeParams]) {
    if (scaling == null) continue;
    const s = scaling as Record<string, unknown>;
    const type = s.rope_type ?? s.type;
    // rope_parameters always exists in v5 configs; only its type says whether positions are scaled.
    if (type === 'default' || (scaling === ropeParams && type === undefined)) continue;
    refuse(
      `${scaling === ropeParams ? 'rope_parameters' : 'rope_scaling'} ${JSON.stringify(scaling)}` +
        ' (only unscaled RoPE is implemented; Llama 3.1+ and' +
        ' long-context variants scale it)',
    );
  }
  if (json.rope_interleaved === true)
    refuse('rope_interleaved: true (the engine rotates halves, as HF does)');
  if (json.mlp_bias === true) refuse('mlp_bias: true');
  let bias = false;
  if (architecture === 'Qwen2ForCausalLM') bias = true;
  // Llama's attention_bias puts biases on q, k, v and o_proj; the engine's llama has them on q, k, v only.
  else if (json.attention_bias === true) refuse('attention_bias: true (a bias on o_proj)');
  const declaredContext = int('max_position_embeddings');
  let blockSize = declaredContext;
  // Mistral applies its window whenever it is set (MistralConfig's default is 4096); Qwen2 only with
  // use_sliding_window.
  const window =
    architecture === 'MistralForCausalLM'
      ? 'sliding_window' in json
        ? json.sliding_window
        : 4096
      : architecture === 'Qwen2ForCausalLM' && json.use_sliding_window === true
        ? json.sliding_window
        : null;
  if (window != null) {
    if (typeof window !== 'number' || !Number.isSafeInteger(window) || window < 1)
      throw new Error(
        `${src}: sliding_window must be a positive integer or null, got ${JSON.stringify(window)}`,
      );
    if (window < blockSize) {
      // Up to `window` tokens, sliding-window attention sees every earlier token, i.e. it equals the engine's
      // full causal attention; past it the two differ, so the context stops there rather than go wrong.
      notes.push(
        `context capped from max_position_embeddings ${blockSize} to sliding_window ${window} tokens:` +
          ' the engine has no sliding-window mask, and within the window full causal attention is exact',
      );
      blockSize = window;
    }
  }
  const cfg: ModelConfig = {
    family: 'llama',
    nLayer: int('num_hidden_layers'),
    nHead,
    nKvHead,
    nEmbd,
    ffnHidden: int('intermediate_size'),
    blockSize,
    vocabSize: int('vocab_size'),
    norm: 'rmsnorm',
    normEps: num('rms_norm_eps', 1e-6),
    positions: 'rope',
    ropeTheta: typeof ropeParams?.rope_theta === 'number' ? ropeParams.rope_theta : num('rope_theta', 10000),
    activation: 'swiglu',
    bias,
    // LlamaConfig, MistralConfig and Qwen2Config all default to untied embeddings.
    tieEmbeddings: json.tie_word_embeddings === true,
    dropout: 0,
  };
  return { cfg: cap(cfg), architecture, lab: false, declaredContext, notes };
}

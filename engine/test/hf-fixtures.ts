// Test fixtures for Hugging Face model folders, written without the engine: safetensors files built byte
// by byte (with their own float16/bfloat16 rounding), config.json in each architecture's real keys, and
// reference forward passes in float64 that follow transformers' modelling code, so a loader or layout
// bug cannot cancel out between the writer and the reader.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export type Dtype = 'F32' | 'F16' | 'BF16';

export interface HfTensor {
  shape: number[];
  data: Float32Array;
}
export type Weights = Map<string, HfTensor>;

/** mulberry32: a tiny seeded generator, so every fixture is the same on every run. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** float32 → float16 bits, rounding to nearest even (what torch's .half() does). */
export function toF16Bits(x: number): number {
  f32[0] = x;
  const b = u32[0];
  const sign = (b >>> 16) & 0x8000;
  const exp = (b >>> 23) & 0xff;
  const mant = b & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    const m = mant | 0x800000;
    const shift = 14 - e;
    let h = m >>> shift;
    const rem = m & ((1 << shift) - 1);
    const half = 1 << (shift - 1);
    if (rem > half || (rem === half && h & 1)) h++;
    return sign | h;
  }
  let h = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  // A carry out of the mantissa correctly bumps the exponent.
  if (rem > 0x1000 || (rem === 0x1000 && h & 1)) h++;
  return sign | h;
}

/** float16 bits → value, by rebuilding float32 bits (a different route from the engine's table). */
export function fromF16Bits(h: number): number {
  const sign = (h & 0x8000) << 16;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return (sign ? -1 : 1) * m * 2 ** -24;
  u32[0] = e === 31 ? sign | 0x7f800000 | (m << 13) : sign | ((e - 15 + 127) << 23) | (m << 13);
  return f32[0];
}

/** float32 → bfloat16 bits, rounding to nearest even. */
export function toBf16Bits(x: number): number {
  f32[0] = x;
  const b = u32[0];
  return ((b + 0x7fff + ((b >>> 16) & 1)) >>> 16) & 0xffff;
}

export function fromBf16Bits(h: number): number {
  u32[0] = h << 16;
  return f32[0];
}

/** The values as a file of this dtype holds them. */
export function rounded(data: Float32Array, dtype: Dtype): Float32Array {
  if (dtype === 'F32') return data;
  return data.map((x) => (dtype === 'F16' ? fromF16Bits(toF16Bits(x)) : fromBf16Bits(toBf16Bits(x))));
}

export function roundedWeights(w: Weights, dtype: Dtype): Weights {
  return new Map([...w].map(([k, t]) => [k, { shape: t.shape, data: rounded(t.data, dtype) }]));
}

function encode(data: Float32Array, dtype: Dtype): Uint8Array {
  if (dtype === 'F32')
    return new Uint8Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength));
  const out = Buffer.alloc(2 * data.length);
  for (let i = 0; i < data.length; i++)
    out.writeUInt16LE(dtype === 'F16' ? toF16Bits(data[i]) : toBf16Bits(data[i]), 2 * i);
  return out;
}

export interface RawTensor {
  dtype: string;
  shape: number[];
  bytes: Uint8Array;
}

/** A safetensors file from raw parts: tensors in name order, the header space-padded to 8 bytes unless `align` is false. */
export function safetensorsBytes(
  tensors: ReadonlyMap<string, RawTensor>,
  opts: { align?: boolean; metadata?: Record<string, string> } = {},
): Buffer {
  const header: Record<string, unknown> = { __metadata__: opts.metadata ?? { format: 'pt' } };
  let offset = 0;
  const names = [...tensors.keys()].sort();
  for (const name of names) {
    const t = tensors.get(name)!;
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + t.bytes.length] };
    offset += t.bytes.length;
  }
  let json = JSON.stringify(header);
  if (opts.align !== false) json += ' '.repeat((8 - ((8 + Buffer.byteLength(json)) % 8)) % 8);
  else if ((8 + Buffer.byteLength(json)) % 2 === 0) json += ' ';
  const head = Buffer.alloc(8);
  head.writeBigUInt64LE(BigInt(Buffer.byteLength(json)));
  return Buffer.concat([head, Buffer.from(json), ...names.map((n) => tensors.get(n)!.bytes)]);
}

export function writeSafetensorsFile(path: string, w: Weights, dtype: Dtype, align = true): number {
  const raw = new Map([...w].map(([k, t]) => [k, { dtype, shape: t.shape, bytes: encode(t.data, dtype) }]));
  const bytes = safetensorsBytes(raw, { align });
  writeFileSync(path, bytes);
  return bytes.length;
}

export interface FolderOptions {
  dtype: Dtype;
  /** Split into this many shards with model.safetensors.index.json. */
  shards?: number;
  /** Leave the header unpadded, so tensor data starts at an odd offset. */
  unaligned?: boolean;
  tokenizer?: boolean;
}

export const TOKENIZER_JSON = JSON.stringify({
  version: '1.0',
  added_tokens: [{ id: 0, content: '<|endoftext|>', special: true }],
  model: { type: 'BPE', vocab: { '<|endoftext|>': 0, a: 1 }, merges: [] },
});

export const CHAT_TEMPLATE =
  "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n'}}{% endfor %}";

/** A Hugging Face model folder as save_pretrained writes it. */
export function writeHfFolder(
  dir: string,
  config: Record<string, unknown>,
  w: Weights,
  o: FolderOptions,
): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'config.json'), JSON.stringify(config, null, 2));
  if (o.shards && o.shards > 1) {
    const names = [...w.keys()].sort();
    const n = o.shards;
    const pad = (i: number) => String(i).padStart(5, '0');
    const weightMap: Record<string, string> = {};
    let total = 0;
    for (let s = 0; s < n; s++) {
      const file = `model-${pad(s + 1)}-of-${pad(n)}.safetensors`;
      const part: Weights = new Map();
      names.forEach((name, i) => {
        if (Math.floor((i * n) / names.length) !== s) return;
        part.set(name, w.get(name)!);
        weightMap[name] = file;
        total += w.get(name)!.data.length * (o.dtype === 'F32' ? 4 : 2);
      });
      writeSafetensorsFile(join(dir, file), part, o.dtype, !o.unaligned);
    }
    writeFileSync(
      join(dir, 'model.safetensors.index.json'),
      JSON.stringify({ metadata: { total_size: total }, weight_map: weightMap }, null, 2),
    );
  } else writeSafetensorsFile(join(dir, 'model.safetensors'), w, o.dtype, !o.unaligned);
  if (o.tokenizer !== false) {
    writeFileSync(join(dir, 'tokenizer.json'), TOKENIZER_JSON);
    writeFileSync(
      join(dir, 'tokenizer_config.json'),
      JSON.stringify({
        add_bos_token: false,
        bos_token: '<|endoftext|>',
        eos_token: { __type: 'AddedToken', content: '<|im_end|>', lstrip: false, rstrip: false },
        chat_template: CHAT_TEMPLATE,
        model_max_length: 2048,
        tokenizer_class: 'GPT2Tokenizer',
      }),
    );
  }
  writeFileSync(
    join(dir, 'generation_config.json'),
    JSON.stringify({
      _from_model_config: true,
      bos_token_id: 0,
      eos_token_id: [0, 2],
      transformers_version: '4.44.0',
    }),
  );
}

// ---- random weights in Hugging Face names and layouts ----

function filler(seed: number) {
  const r = rng(seed);
  const uniform = (n: number, scale: number, center = 0) =>
    Float32Array.from({ length: n }, () => center + scale * (2 * r() - 1));
  return {
    /** nn.Linear / Conv1D weights scaled by fan-in, so activations stay O(1) through the layers. */
    mat: (shape: number[], fanIn: number): HfTensor => ({
      shape,
      data: uniform(shape[0] * shape[1], 1.7 / Math.sqrt(fanIn)),
    }),
    vec: (n: number, scale: number, center = 0): HfTensor => ({
      shape: [n],
      data: uniform(n, scale, center),
    }),
    emb: (rows: number, cols: number): HfTensor => ({ shape: [rows, cols], data: uniform(rows * cols, 1) }),
  };
}

/** GPT2LMHeadModel weights. `original`: GPT2Model names without `transformer.` plus the attention buffers, as openai-community/gpt2 ships them. */
export function gpt2Weights(c: Record<string, unknown>, seed: number, original = false): Weights {
  const f = filler(seed);
  const n = (k: string) => c[k] as number;
  const C = n('n_embd');
  const F = (c.n_inner as number | null) ?? 4 * C;
  const P = n('n_positions');
  const w: Weights = new Map();
  const pre = original ? '' : 'transformer.';
  w.set(`${pre}wte.weight`, f.emb(n('vocab_size'), C));
  w.set(`${pre}wpe.weight`, f.emb(P, C));
  for (let i = 0; i < n('n_layer'); i++) {
    const h = `${pre}h.${i}`;
    w.set(`${h}.ln_1.weight`, f.vec(C, 0.3, 1));
    w.set(`${h}.ln_1.bias`, f.vec(C, 0.2));
    w.set(`${h}.attn.c_attn.weight`, f.mat([C, 3 * C], C));
    w.set(`${h}.attn.c_attn.bias`, f.vec(3 * C, 0.2));
    w.set(`${h}.attn.c_proj.weight`, f.mat([C, C], C));
    w.set(`${h}.attn.c_proj.bias`, f.vec(C, 0.2));
    w.set(`${h}.ln_2.weight`, f.vec(C, 0.3, 1));
    w.set(`${h}.ln_2.bias`, f.vec(C, 0.2));
    w.set(`${h}.mlp.c_fc.weight`, f.mat([C, F], C));
    w.set(`${h}.mlp.c_fc.bias`, f.vec(F, 0.2));
    w.set(`${h}.mlp.c_proj.weight`, f.mat([F, C], F));
    w.set(`${h}.mlp.c_proj.bias`, f.vec(C, 0.2));
    if (original) {
      const tril = new Float32Array(P * P);
      for (let r = 0; r < P; r++) for (let k = 0; k <= r; k++) tril[r * P + k] = 1;
      w.set(`${h}.attn.bias`, { shape: [1, 1, P, P], data: tril });
      w.set(`${h}.attn.masked_bias`, { shape: [], data: Float32Array.of(-1e4) });
    }
  }
  w.set(`${pre}ln_f.weight`, f.vec(C, 0.3, 1));
  w.set(`${pre}ln_f.bias`, f.vec(C, 0.2));
  if (c.tie_word_embeddings === false) w.set('lm_head.weight', f.emb(n('vocab_size'), C));
  return w;
}

/** LlamaForCausalLM / MistralForCausalLM / Qwen2ForCausalLM weights (nn.Linear: [out, in]). */
export function llamaWeights(c: Record<string, unknown>, seed: number, qkvBias: boolean): Weights {
  const f = filler(seed);
  const n = (k: string) => c[k] as number;
  const C = n('hidden_size');
  const H = n('num_attention_heads');
  const KV = n('num_key_value_heads');
  const d = (c.head_dim as number | undefined) ?? C / H;
  const F = n('intermediate_size');
  const w: Weights = new Map();
  w.set('model.embed_tokens.weight', f.emb(n('vocab_size'), C));
  for (let i = 0; i < n('num_hidden_layers'); i++) {
    const l = `model.layers.${i}`;
    w.set(`${l}.input_layernorm.weight`, f.vec(C, 0.3, 1));
    w.set(`${l}.self_attn.q_proj.weight`, f.mat([H * d, C], C));
    w.set(`${l}.self_attn.k_proj.weight`, f.mat([KV * d, C], C));
    w.set(`${l}.self_attn.v_proj.weight`, f.mat([KV * d, C], C));
    if (qkvBias) {
      w.set(`${l}.self_attn.q_proj.bias`, f.vec(H * d, 0.3));
      w.set(`${l}.self_attn.k_proj.bias`, f.vec(KV * d, 0.3));
      w.set(`${l}.self_attn.v_proj.bias`, f.vec(KV * d, 0.3));
    }
    w.set(`${l}.self_attn.o_proj.weight`, f.mat([C, H * d], H * d));
    w.set(`${l}.post_attention_layernorm.weight`, f.vec(C, 0.3, 1));
    w.set(`${l}.mlp.gate_proj.weight`, f.mat([F, C], C));
    w.set(`${l}.mlp.up_proj.weight`, f.mat([F, C], C));
    w.set(`${l}.mlp.down_proj.weight`, f.mat([C, F], F));
  }
  w.set('model.norm.weight', f.vec(C, 0.3, 1));
  if (c.tie_word_embeddings !== true) w.set('lm_head.weight', f.emb(n('vocab_size'), C));
  return w;
}

// ---- reference forward passes (float64), after transformers' modeling_gpt2.py and modeling_llama.py ----

type Mat = Float64Array;

/** x [T, in] · w, with w stored [in, out] (GPT-2's Conv1D) or [out, in] (nn.Linear). */
function matmul(x: Mat, T: number, w: HfTensor, layout: 'in_out' | 'out_in', bias?: HfTensor): Mat {
  const [a, b] = w.shape;
  const [nIn, nOut] = layout === 'in_out' ? [a, b] : [b, a];
  const y = new Float64Array(T * nOut);
  for (let t = 0; t < T; t++)
    for (let o = 0; o < nOut; o++) {
      let s = bias ? bias.data[o] : 0;
      for (let i = 0; i < nIn; i++)
        s += x[t * nIn + i] * (layout === 'in_out' ? w.data[i * nOut + o] : w.data[o * nIn + i]);
      y[t * nOut + o] = s;
    }
  return y;
}

function layerNorm(x: Mat, T: number, C: number, g: HfTensor, b: HfTensor, eps: number): Mat {
  const y = new Float64Array(T * C);
  for (let t = 0; t < T; t++) {
    let mean = 0;
    for (let i = 0; i < C; i++) mean += x[t * C + i] / C;
    let v = 0;
    for (let i = 0; i < C; i++) v += (x[t * C + i] - mean) ** 2 / C;
    for (let i = 0; i < C; i++)
      y[t * C + i] = ((x[t * C + i] - mean) / Math.sqrt(v + eps)) * g.data[i] + b.data[i];
  }
  return y;
}

function rmsNorm(x: Mat, T: number, C: number, g: HfTensor, eps: number): Mat {
  const y = new Float64Array(T * C);
  for (let t = 0; t < T; t++) {
    let ms = 0;
    for (let i = 0; i < C; i++) ms += x[t * C + i] ** 2 / C;
    for (let i = 0; i < C; i++) y[t * C + i] = (x[t * C + i] / Math.sqrt(ms + eps)) * g.data[i];
  }
  return y;
}

/** Causal attention; query head h reads kv head floor(h / (H / KV)), as repeat_kv lays them out. */
function attention(q: Mat, k: Mat, v: Mat, T: number, H: number, KV: number, d: number): Mat {
  const y = new Float64Array(T * H * d);
  const rep = H / KV;
  for (let h = 0; h < H; h++) {
    const kvh = Math.floor(h / rep);
    for (let t = 0; t < T; t++) {
      const s = new Float64Array(t + 1);
      let mx = -Infinity;
      for (let u = 0; u <= t; u++) {
        let dot = 0;
        for (let j = 0; j < d; j++) dot += q[t * H * d + h * d + j] * k[u * KV * d + kvh * d + j];
        s[u] = dot / Math.sqrt(d);
        mx = Math.max(mx, s[u]);
      }
      let z = 0;
      for (let u = 0; u <= t; u++) {
        s[u] = Math.exp(s[u] - mx);
        z += s[u];
      }
      for (let j = 0; j < d; j++) {
        let acc = 0;
        for (let u = 0; u <= t; u++) acc += (s[u] / z) * v[u * KV * d + kvh * d + j];
        y[t * H * d + h * d + j] = acc;
      }
    }
  }
  return y;
}

/** RoPE in transformers' rotate_half convention: pairs (i, i + d/2) of each head rotate by pos·θ^(−2i/d). */
function rope(x: Mat, T: number, heads: number, d: number, theta: number): Mat {
  const y = new Float64Array(x.length);
  const half = d / 2;
  for (let t = 0; t < T; t++)
    for (let h = 0; h < heads; h++)
      for (let i = 0; i < half; i++) {
        const a = t * theta ** (-(2 * i) / d);
        const base = t * heads * d + h * d;
        const x1 = x[base + i];
        const x2 = x[base + i + half];
        y[base + i] = x1 * Math.cos(a) - x2 * Math.sin(a);
        y[base + i + half] = x2 * Math.cos(a) + x1 * Math.sin(a);
      }
  return y;
}

/** Logits: the final hidden state times the output matrix [vocab, C] (lm_head or the tied embedding). */
function head(x: Mat, T: number, w: HfTensor): Mat {
  return matmul(x, T, w, 'out_in');
}

export function refGpt2(c: Record<string, unknown>, W: Weights, tokens: number[]): Float64Array {
  const get = (name: string): HfTensor => {
    const t = W.get(name) ?? W.get(name.replace(/^transformer\./, ''));
    if (!t) throw new Error(`reference: no ${name}`);
    return t;
  };
  const C = c.n_embd as number;
  const H = c.n_head as number;
  const d = C / H;
  const eps = (c.layer_norm_epsilon as number) ?? 1e-5;
  const T = tokens.length;
  const wte = get('transformer.wte.weight');
  const wpe = get('transformer.wpe.weight');
  let x: Mat = new Float64Array(T * C);
  for (let t = 0; t < T; t++)
    for (let i = 0; i < C; i++) x[t * C + i] = wte.data[tokens[t] * C + i] + wpe.data[t * C + i];
  const add = (a: Mat, b: Mat) => a.map((v, i) => v + b[i]);
  const geluNew = (v: number) => 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v ** 3)));
  for (let l = 0; l < (c.n_layer as number); l++) {
    const p = `transformer.h.${l}`;
    const h1 = layerNorm(x, T, C, get(`${p}.ln_1.weight`), get(`${p}.ln_1.bias`), eps);
    const qkv = matmul(h1, T, get(`${p}.attn.c_attn.weight`), 'in_out', get(`${p}.attn.c_attn.bias`));
    const part = (k: number) => {
      const out = new Float64Array(T * C);
      for (let t = 0; t < T; t++) for (let i = 0; i < C; i++) out[t * C + i] = qkv[t * 3 * C + k * C + i];
      return out;
    };
    const a = attention(part(0), part(1), part(2), T, H, H, d);
    x = add(x, matmul(a, T, get(`${p}.attn.c_proj.weight`), 'in_out', get(`${p}.attn.c_proj.bias`)));
    // The lab's attention-only models (config.json `lab_attn_only`) have no MLP block.
    if (c.lab_attn_only === true) continue;
    const h2 = layerNorm(x, T, C, get(`${p}.ln_2.weight`), get(`${p}.ln_2.bias`), eps);
    const fc = matmul(h2, T, get(`${p}.mlp.c_fc.weight`), 'in_out', get(`${p}.mlp.c_fc.bias`)).map(geluNew);
    x = add(x, matmul(fc, T, get(`${p}.mlp.c_proj.weight`), 'in_out', get(`${p}.mlp.c_proj.bias`)));
  }
  x = layerNorm(x, T, C, get('transformer.ln_f.weight'), get('transformer.ln_f.bias'), eps);
  return head(x, T, c.tie_word_embeddings === false ? get('lm_head.weight') : wte);
}

export function refLlama(c: Record<string, unknown>, W: Weights, tokens: number[]): Float64Array {
  const get = (name: string): HfTensor => {
    const t = W.get(name);
    if (!t) throw new Error(`reference: no ${name}`);
    return t;
  };
  const C = c.hidden_size as number;
  const H = c.num_attention_heads as number;
  const KV = (c.num_key_value_heads as number) ?? H;
  const d = (c.head_dim as number | undefined) ?? C / H;
  const eps = c.rms_norm_eps as number;
  const theta = (c.rope_theta as number) ?? 10000;
  const T = tokens.length;
  const emb = get('model.embed_tokens.weight');
  let x: Mat = new Float64Array(T * C);
  for (let t = 0; t < T; t++) for (let i = 0; i < C; i++) x[t * C + i] = emb.data[tokens[t] * C + i];
  const add = (a: Mat, b: Mat) => a.map((v, i) => v + b[i]);
  const silu = (v: number) => v / (1 + Math.exp(-v));
  for (let l = 0; l < (c.num_hidden_layers as number); l++) {
    const p = `model.layers.${l}`;
    const h = rmsNorm(x, T, C, get(`${p}.input_layernorm.weight`), eps);
    const lin = (name: string) => matmul(h, T, get(`${name}.weight`), 'out_in', W.get(`${name}.bias`));
    const q = rope(lin(`${p}.self_attn.q_proj`), T, H, d, theta);
    const k = rope(lin(`${p}.self_attn.k_proj`), T, KV, d, theta);
    const v = lin(`${p}.self_attn.v_proj`);
    const a = attention(q, k, v, T, H, KV, d);
    x = add(x, matmul(a, T, get(`${p}.self_attn.o_proj.weight`), 'out_in'));
    // The lab's attention-only models (config.json `lab_attn_only`) have neither the MLP nor its norm.
    if (c.lab_attn_only === true) continue;
    const m = rmsNorm(x, T, C, get(`${p}.post_attention_layernorm.weight`), eps);
    const gate = matmul(m, T, get(`${p}.mlp.gate_proj.weight`), 'out_in');
    const up = matmul(m, T, get(`${p}.mlp.up_proj.weight`), 'out_in');
    const act = gate.map((g, i) => silu(g) * up[i]);
    x = add(x, matmul(act, T, get(`${p}.mlp.down_proj.weight`), 'out_in'));
  }
  x = rmsNorm(x, T, C, get('model.norm.weight'), eps);
  return head(x, T, c.tie_word_embeddings === true ? emb : get('lm_head.weight'));
}

/**
 * The final norm and unembedding of a residual stream x [T, C] (float64): the logit lens of that stream,
 * for a GPT-2 or Llama config.
 */
export function refUnembed(
  c: Record<string, unknown>,
  W: Weights,
  x: ArrayLike<number>,
  T: number,
): Float64Array {
  const get = (name: string): HfTensor => {
    const t = W.get(name);
    if (!t) throw new Error(`reference: no ${name}`);
    return t;
  };
  const h = Float64Array.from(x);
  if (c.model_type === 'gpt2') {
    const C = c.n_embd as number;
    const eps = (c.layer_norm_epsilon as number) ?? 1e-5;
    const n = layerNorm(h, T, C, get('transformer.ln_f.weight'), get('transformer.ln_f.bias'), eps);
    return head(n, T, get(c.tie_word_embeddings === false ? 'lm_head.weight' : 'transformer.wte.weight'));
  }
  const n = rmsNorm(h, T, c.hidden_size as number, get('model.norm.weight'), c.rms_norm_eps as number);
  return head(n, T, get(c.tie_word_embeddings === true ? 'model.embed_tokens.weight' : 'lm_head.weight'));
}

/** Qwen2-style: biases on q/k/v (not o_proj), the window off via use_sliding_window. */
export const qwen2Config = {
  architectures: ['Qwen2ForCausalLM'],
  attention_dropout: 0.0,
  bos_token_id: 0,
  eos_token_id: 0,
  hidden_act: 'silu',
  hidden_size: 32,
  initializer_range: 0.02,
  intermediate_size: 40,
  max_position_embeddings: 64,
  max_window_layers: 2,
  model_type: 'qwen2',
  num_attention_heads: 4,
  num_hidden_layers: 2,
  num_key_value_heads: 2,
  rms_norm_eps: 1e-6,
  rope_scaling: null,
  rope_theta: 1000000.0,
  sliding_window: 8,
  tie_word_embeddings: false,
  torch_dtype: 'bfloat16',
  transformers_version: '4.44.0',
  use_cache: true,
  use_sliding_window: false,
  vocab_size: 44,
};

// loadModelFolder on broken or unsupported folders: each error names the file or tensor and says what was
// expected; the memory check happens from headers, before any data is read. Plus lab checkpoints through
// the same loader.
import {
  closeSync,
  ftruncateSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  unlinkSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadCheckpoint, saveCheckpoint } from '../src/checkpoint/checkpoint.ts';
import { inspectModelFolder, loadModelFolder } from '../src/checkpoint/hf-folder.ts';
import { gpt2Config, llamaConfig, preset } from '../src/models/config.ts';
import { paramLayout } from '../src/models/model.ts';
import { llamaWeights, type Weights, writeHfFolder, writeSafetensorsFile } from './hf-fixtures.ts';

const root = mkdtempSync(join(tmpdir(), 'hf-err-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const base = {
  architectures: ['LlamaForCausalLM'],
  attention_bias: false,
  hidden_act: 'silu',
  hidden_size: 16,
  intermediate_size: 24,
  max_position_embeddings: 32,
  model_type: 'llama',
  num_attention_heads: 4,
  num_hidden_layers: 2,
  num_key_value_heads: 2,
  rms_norm_eps: 1e-5,
  rope_scaling: null,
  rope_theta: 10000.0,
  tie_word_embeddings: false,
  torch_dtype: 'float32',
  vocab_size: 20,
};

let n = 0;
/** A small Llama folder, with config keys and tensors changed as a test needs. */
function folder(
  config: Record<string, unknown> = {},
  edit: (w: Weights) => void = () => {},
  opts: { shards?: number; tokenizer?: boolean } = {},
): string {
  const dir = join(root, `f${n++}`);
  const cfg = { ...base, ...config };
  const w = llamaWeights(cfg, n, false);
  edit(w);
  writeHfFolder(dir, cfg, w, { dtype: 'F32', ...opts });
  return dir;
}

describe('unsupported configs', () => {
  it('an unknown architecture, listing the supported ones', () => {
    const dir = folder({ architectures: ['FalconForCausalLM'], model_type: 'falcon' });
    expect(() => loadModelFolder(dir)).toThrow(
      /config\.json: unsupported architecture 'FalconForCausalLM'; supported architectures: GPT2LMHeadModel, LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM/,
    );
  });

  it('no architectures and an unknown model_type', () => {
    const dir = folder({ architectures: undefined, model_type: 'mamba' });
    expect(() => loadModelFolder(dir)).toThrow(
      /model_type "mamba" is not one the engine knows; supported architectures:/,
    );
  });

  it('a config.json that is not JSON, naming it', () => {
    const dir = folder();
    writeFileSync(join(dir, 'config.json'), '{"architectures": [');
    expect(() => loadModelFolder(dir)).toThrow(`${join(dir, 'config.json')}: not valid JSON`);
  });

  it.each([
    [
      { head_dim: 8 },
      /head_dim 8 \(the engine's heads are hidden_size \/ num_attention_heads = 4\) is not supported/,
    ],
    [
      { rope_scaling: { factor: 8.0, low_freq_factor: 1.0, high_freq_factor: 4.0, rope_type: 'llama3' } },
      /rope_scaling \{"factor":8,.*"rope_type":"llama3"\} \(only unscaled RoPE is implemented.*\) is not supported/,
    ],
    [{ rope_scaling: { type: 'linear', factor: 2.0 } }, /rope_scaling .*"linear".* is not supported/],
    [{ rope_parameters: { rope_type: 'yarn', factor: 4 } }, /"yarn".* is not supported/],
    [
      { attention_bias: true },
      /attention_bias: true \(a bias on o_proj\) is not supported by the engine's LlamaForCausalLM/,
    ],
    [{ mlp_bias: true }, /mlp_bias: true is not supported/],
    [{ hidden_act: 'gelu' }, /hidden_act 'gelu' \(only 'silu', i\.e\. SwiGLU\) is not supported/],
    [{ rope_interleaved: true }, /rope_interleaved: true/],
    [{ num_key_value_heads: 3 }, /num_attention_heads 4 is not a multiple of num_key_value_heads 3/],
    [{ hidden_size: undefined }, /missing number 'hidden_size'/],
  ])('refuses %j by name', (config, message) => {
    expect(() => loadModelFolder(folder(config))).toThrow(message);
  });

  it('GPT-2 options the engine does not compute', () => {
    const gpt2 = {
      architectures: ['GPT2LMHeadModel'],
      model_type: 'gpt2',
      n_embd: 16,
      n_head: 4,
      n_layer: 1,
      n_positions: 8,
      vocab_size: 10,
    };
    const dir = join(root, 'gpt2-opts');
    mkdirSync(dir);
    for (const [extra, message] of [
      [{ scale_attn_by_inverse_layer_idx: true }, /scale_attn_by_inverse_layer_idx: true is not supported/],
      [
        { activation_function: 'swish' },
        /activation_function 'swish' \(supported: gelu_new, gelu_pytorch_tanh, gelu, relu\)/,
      ],
    ] as const) {
      writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...gpt2, ...extra }));
      expect(() => loadModelFolder(dir)).toThrow(message);
    }
  });

  it('accepts transformers v5 rope_parameters with the default type, and the theta in it', () => {
    const dir = folder({ rope_theta: undefined, rope_parameters: { rope_type: 'default', rope_theta: 5e5 } });
    expect(inspectModelFolder(dir).cfg.ropeTheta).toBe(5e5);
  });

  it('caps the context to a sliding window only where the architecture applies it', () => {
    const qwen = { architectures: ['Qwen2ForCausalLM'], model_type: 'qwen2', sliding_window: 8 };
    const on = inspectModelFolder(folder({ ...qwen, use_sliding_window: true }, (w) => addQkvBias(w)));
    expect(on.cfg.blockSize).toBe(8);
    expect(on.notes[0]).toMatch(/sliding_window 8/);
    const off = inspectModelFolder(folder({ ...qwen, use_sliding_window: false }, (w) => addQkvBias(w)));
    expect(off.cfg.blockSize).toBe(32);
    expect(off.notes).toEqual([]);
    const mistral = { architectures: ['MistralForCausalLM'], model_type: 'mistral' };
    expect(inspectModelFolder(folder({ ...mistral, sliding_window: 64 })).cfg.blockSize).toBe(32);
    expect(inspectModelFolder(folder({ ...mistral, sliding_window: null })).cfg.blockSize).toBe(32);
    // Omitted, MistralConfig's default window (4096) applies.
    expect(inspectModelFolder(folder({ ...mistral, max_position_embeddings: 8192 })).cfg.blockSize).toBe(
      4096,
    );
  });
});

function addQkvBias(w: Weights): void {
  for (let l = 0; l < 2; l++)
    for (const [p, size] of [
      ['q', 16],
      ['k', 8],
      ['v', 8],
    ] as const)
      w.set(`model.layers.${l}.self_attn.${p}_proj.bias`, {
        shape: [size],
        data: new Float32Array(size).fill(0.1),
      });
}

describe('tensors', () => {
  it('a missing tensor: its name and expected shape', () => {
    const dir = folder({}, (w) => w.delete('model.layers.1.mlp.up_proj.weight'));
    expect(() => loadModelFolder(dir)).toThrow(
      /1 tensor\(s\) missing from model\.safetensors for LlamaForCausalLM: 'model\.layers\.1\.mlp\.up_proj\.weight' \(expected shape \[24, 16\]\)/,
    );
  });

  it('a missing lm_head with untied embeddings says why it is needed', () => {
    const dir = folder({}, (w) => w.delete('lm_head.weight'));
    expect(() => loadModelFolder(dir)).toThrow(
      /'lm_head\.weight' \(expected shape \[20, 16\]\).*tie_word_embeddings is false/,
    );
  });

  it('a shape mismatch: name, actual and expected shape', () => {
    const dir = folder({}, (w) =>
      w.set('model.layers.0.self_attn.k_proj.weight', { shape: [16, 16], data: new Float32Array(256) }),
    );
    expect(() => loadModelFolder(dir)).toThrow(
      /model\.safetensors: 'model\.layers\.0\.self_attn\.k_proj\.weight' has shape \[16, 16\], expected \[8, 16\]/,
    );
  });

  it('unexpected tensors are named; known buffers and a tied lm_head are not', () => {
    const extra = folder({}, (w) => {
      w.set('model.layers.0.self_attn.o_proj.bias', { shape: [16], data: new Float32Array(16) });
      w.set('model.layers.1.self_attn.rotary_emb.inv_freq', { shape: [2], data: new Float32Array(2) });
    });
    expect(() => loadModelFolder(extra)).toThrow(
      /unexpected tensor\(s\) in model\.safetensors, which .*config\.json \(LlamaForCausalLM\) has no place for: 'model\.layers\.0\.self_attn\.o_proj\.bias'$/,
    );
    const buffers = folder({}, (w) =>
      w.set('model.layers.1.self_attn.rotary_emb.inv_freq', { shape: [2], data: new Float32Array(2) }),
    );
    expect(loadModelFolder(buffers).params.length).toBe(paramLayout(loadModelFolder(buffers).cfg).total);
    // Tied: transformers ties lm_head to the embedding on load, so a stored copy is ignored.
    const tied = folder({ tie_word_embeddings: true }, (w) =>
      w.set('lm_head.weight', { shape: [20, 16], data: new Float32Array(320).fill(9) }),
    );
    const m = loadModelFolder(tied);
    expect(m.cfg.tieEmbeddings).toBe(true);
    expect(m.layout.byName.has('lm_head.weight')).toBe(false);
    expect(m.params.includes(9)).toBe(false);
  });

  it('a parameter stored in a non-float dtype', () => {
    const dir = folder();
    const w = llamaWeights(base, 1, false);
    writeSafetensorsFile(join(dir, 'model.safetensors'), w, 'F32');
    // Re-type one tensor as I32 (same byte count), as a quantised or corrupt export might.
    const path = join(dir, 'model.safetensors');
    const buf = readFileSync(path);
    const text = buf
      .toString('latin1')
      .replace('"model.norm.weight":{"dtype":"F32"', '"model.norm.weight":{"dtype":"I32"');
    writeFileSync(path, Buffer.from(text, 'latin1'));
    expect(() => loadModelFolder(dir)).toThrow(
      /model\.safetensors: 'model\.norm\.weight' has dtype I32 \(only F32, F16 and BF16 load\)/,
    );
  });
});

describe('files', () => {
  it('a missing tokenizer, unless asked not to need one', () => {
    const dir = folder({}, undefined, { tokenizer: false });
    writeFileSync(join(dir, 'tokenizer.model'), 'sentencepiece');
    expect(() => loadModelFolder(dir)).toThrow(
      `${dir}: no tokenizer.json, which a Hugging Face model folder needs for its tokenizer (found tokenizer.model; only tokenizer.json is read)`,
    );
    const m = loadModelFolder(dir, { requireTokenizer: false });
    expect(m.tokenizerJson).toBeUndefined();
    expect(m.chatTemplate).toBeUndefined();
  });

  it('a tokenizer.json that is not JSON', () => {
    const dir = folder();
    writeFileSync(join(dir, 'tokenizer.json'), 'version https://git-lfs.github.com/spec/v1');
    expect(() => loadModelFolder(dir)).toThrow(`${join(dir, 'tokenizer.json')}: not valid JSON`);
  });

  it('a model.safetensors that is not safetensors (a Git LFS pointer), naming the file', () => {
    const dir = folder();
    writeFileSync(
      join(dir, 'model.safetensors'),
      'version https://git-lfs.github.com/spec/v1\noid sha256:0\nsize 1\n',
    );
    expect(() => loadModelFolder(dir)).toThrow(
      `${join(dir, 'model.safetensors')}: not a valid safetensors file`,
    );
  });

  it('no weights, or only a PyTorch pickle', () => {
    const dir = folder();
    unlinkSync(join(dir, 'model.safetensors'));
    expect(() => loadModelFolder(dir)).toThrow(
      /no model\.safetensors or model\.safetensors\.index\.json \(found: /,
    );
    writeFileSync(join(dir, 'pytorch_model.bin'), 'PK');
    expect(() => loadModelFolder(dir)).toThrow(
      /found pytorch_model\.bin: PyTorch pickle checkpoints are not read/,
    );
    expect(() => loadModelFolder(join(root, 'nope'))).toThrow(/no config\.json \(no such directory\)/);
  });

  it('shards: a missing shard, a weight_map that disagrees with the files, a duplicate, a path outside', () => {
    const dir = folder({}, undefined, { shards: 2 });
    const indexPath = join(dir, 'model.safetensors.index.json');
    const index = JSON.parse(readFileSync(indexPath, 'utf8'));
    const write = (weightMap: Record<string, string>) =>
      writeFileSync(indexPath, JSON.stringify({ ...index, weight_map: weightMap }));
    expect(loadModelFolder(dir).files.length).toBe(2);

    write({ ...index.weight_map, 'model.norm.weight': 'model-00003-of-00003.safetensors' });
    expect(() => loadModelFolder(dir)).toThrow(
      /shard model-00003-of-00003\.safetensors \(holding 'model\.norm\.weight'\) is missing/,
    );
    const first = index.weight_map['model.embed_tokens.weight'];
    const other =
      first === 'model-00001-of-00002.safetensors'
        ? 'model-00002-of-00002.safetensors'
        : 'model-00001-of-00002.safetensors';
    write({ ...index.weight_map, 'model.embed_tokens.weight': other });
    expect(() => loadModelFolder(dir)).toThrow(
      new RegExp(
        `weight_map puts 'model\\.embed_tokens\\.weight' in ${other}, but ${other} has no such tensor`,
      ),
    );
    write({ ...index.weight_map, 'model.norm.weight': '../elsewhere.safetensors' });
    expect(() => loadModelFolder(dir)).toThrow(/not a \.safetensors file name/);

    // The same tensor in two shards.
    write(index.weight_map);
    const w = llamaWeights(base, 5, false);
    writeSafetensorsFile(
      join(dir, 'model-00003-of-00003.safetensors'),
      new Map([['model.norm.weight', w.get('model.norm.weight')!]]),
      'F32',
    );
    write({ ...index.weight_map, 'model.extra': 'model-00003-of-00003.safetensors' });
    expect(() => loadModelFolder(dir)).toThrow(/weight_map puts 'model\.extra'/);
    write({ ...index.weight_map, 'model.norm.weight': 'model-00003-of-00003.safetensors' });
    expect(() => loadModelFolder(dir)).toThrow(
      /tensor 'model\.norm\.weight' is in both model-0000\d-of-0000\d\.safetensors and model-0000\d-of-0000\d\.safetensors/,
    );
  });
});

describe('memory limit', () => {
  it('refuses a GPT-2-small-sized model over maxBytes from its headers, without reading the data', () => {
    // Headers of a real gpt2 (124M) checkpoint over a sparse file: 500 MB of data that was never written.
    const cfg = preset('gpt2-small');
    const layout = paramLayout(cfg);
    const header: Record<string, unknown> = {};
    let offset = 0;
    for (const e of layout.entries) {
      header[e.name.replace(/^transformer\./, '')] = {
        dtype: 'F32',
        shape: e.shape,
        data_offsets: [offset, offset + 4 * e.size],
      };
      offset += 4 * e.size;
    }
    const json = Buffer.from(JSON.stringify(header));
    const dir = join(root, 'gpt2-small');
    mkdirSync(dir);
    const fd = openSync(join(dir, 'model.safetensors'), 'w');
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(json.length));
    writeSync(fd, len);
    writeSync(fd, json);
    ftruncateSync(fd, 8 + json.length + offset);
    closeSync(fd);
    writeFileSync(
      join(dir, 'config.json'),
      JSON.stringify({
        activation_function: 'gelu_new',
        architectures: ['GPT2LMHeadModel'],
        layer_norm_epsilon: 1e-5,
        model_type: 'gpt2',
        n_ctx: 1024,
        n_embd: 768,
        n_head: 12,
        n_layer: 12,
        n_positions: 1024,
        vocab_size: 50257,
      }),
    );
    writeFileSync(join(dir, 'tokenizer.json'), '{}');
    const t0 = performance.now();
    expect(() => loadModelFolder(dir, { maxBytes: 400e6 })).toThrow(
      `${dir}: GPT2LMHeadModel with 124,439,808 parameters needs 497.8 MB as float32, over the 400.0 MB limit (maxBytes); nothing was loaded`,
    );
    const info = inspectModelFolder(dir);
    expect(performance.now() - t0).toBeLessThan(1000);
    expect(info).toMatchObject({ bytes: 4 * 124_439_808, dtype: 'F32', architecture: 'GPT2LMHeadModel' });
    expect(info.cfg).toEqual({ ...cfg, normEps: 1e-5 });
  });
});

describe('lab checkpoints', () => {
  it('load through loadModelFolder (no tokenizer needed) and loadCheckpoint keeps the optimizer state', () => {
    for (const cfg of [
      llamaConfig({
        nLayer: 2,
        nHead: 4,
        nKvHead: 2,
        nEmbd: 16,
        ffnHidden: 24,
        blockSize: 8,
        vocabSize: 10,
        bias: true,
      }),
      gpt2Config({
        nLayer: 1,
        nHead: 2,
        nEmbd: 8,
        blockSize: 8,
        vocabSize: 11,
        bias: false,
        activation: 'swiglu',
        tieEmbeddings: false,
      }),
    ]) {
      const dir = join(root, `lab-${cfg.family}`);
      const params = paramLayout(cfg).init(3);
      saveCheckpoint(dir, { cfg, params, m: params.map((x) => 2 * x), v: params.map((x) => x * x) });
      const m = loadModelFolder(dir);
      expect(m).toMatchObject({
        lab: true,
        dtype: 'F32',
        architecture: cfg.family === 'gpt2' ? 'GPT2LMHeadModel' : 'LlamaForCausalLM',
      });
      expect(m.cfg).toEqual(cfg);
      expect(m.params).toEqual(params);
      const ck = loadCheckpoint(dir);
      expect(ck.params).toEqual(params);
      expect(ck.m).toEqual(params.map((x) => 2 * x));
      expect(ck.v).toEqual(params.map((x) => x * x));
    }
  });
});

// A lab checkpoint directory is a Hugging Face model directory: transformers.js loads it as it is (model from
// onnx/model.onnx, tokenizer from tokenizer.json + tokenizer_config.json) and generates greedily the same
// tokens as the lab's own decoder. Checked for a char model written by `lab-train pretrain --out`, for
// GPT-2-BPE models written by writeCheckpoint, and for the checkpoints of svc-train jobs (char and gpt2)
// written by their worker thread. Later tests reuse the folders earlier ones wrote.
import { createHash } from 'node:crypto';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  AutoModelForCausalLM,
  AutoTokenizer,
  env,
  pipeline,
  type Tensor,
  type TextGenerationOutput,
} from '@huggingface/transformers';
import { datasetPath } from '@lab/common';
import {
  buildInferenceGraph,
  Decoder,
  hfConfig,
  loadCheckpoint,
  type ModelConfig,
  OnnxModelProto,
  paramLayout,
  preset,
  Rng,
} from '@lab/engine';
import { SubmitJobRequest } from '@lab/proto/train';
import { getTokenizer, loadTokenizer } from '@lab/tokenizer';
import { afterAll, describe, expect, it } from 'vitest';
import { CharCodec } from '../src/commands/char-codec.ts';
import { pretrain } from '../src/commands/pretrain.ts';
import { listCheckpoints, verifyCheckpoint, writeCheckpoint } from '../src/jobs/checkpoints.ts';
import { hfTokenizerFiles, usesExternalData, writeOnnxModel } from '../src/jobs/hf-model.ts';
import { TrainRun } from '../src/jobs/runner.ts';
import { validateSubmit } from '../src/jobs/validate.ts';

// Only the folders written here: never the Hub, and no copies in transformers.js's own cache.
env.allowRemoteModels = false;
env.useFSCache = false;

const home = mkdtempSync(join(tmpdir(), 'lab-hf-ckpt-'));
afterAll(() => rmSync(home, { recursive: true, force: true }));
const SHAKESPEARE = readFileSync(datasetPath('tinyshakespeare', 'input.txt'), 'utf8');
const NEW_TOKENS = 20;

/** The lab's greedy continuation of `prompt` from a checkpoint directory. */
async function labGreedy(dir: string, prompt: number[]): Promise<number[]> {
  const ck = loadCheckpoint(dir);
  const decoder = await Decoder.create(ck.cfg, ck.params, { threads: 1 });
  try {
    return await decoder.generate(prompt, NEW_TOKENS, { temperature: 0 });
  } finally {
    await decoder.release();
  }
}

/** transformers.js on the same directory: its prompt ids, its greedy continuation, and its tokenizer. */
async function hfGreedy(dir: string, prompt: string) {
  const tokenizer = await AutoTokenizer.from_pretrained(dir, { local_files_only: true });
  const model = await AutoModelForCausalLM.from_pretrained(dir, { local_files_only: true });
  try {
    const inputs = tokenizer(prompt);
    const promptIds = (inputs.input_ids as Tensor).tolist()[0].map(Number) as number[];
    const out = (await model.generate({ ...inputs, max_new_tokens: NEW_TOKENS, do_sample: false })) as Tensor;
    const ids = (out.tolist()[0] as bigint[]).map(Number);
    return { promptIds, newIds: ids.slice(promptIds.length), tokenizer };
  } finally {
    await model.dispose();
  }
}

/** Greedy continuation stops at eos in transformers.js (generation_config.json), the lab's goes on. */
function untilEos(ids: number[], eos: number | undefined): number[] {
  const at = eos === undefined ? -1 : ids.indexOf(eos);
  return at === -1 ? ids : ids.slice(0, at + 1);
}

describe('a char model written by lab-train pretrain --out', () => {
  const data = join(home, 'input.txt');
  writeFileSync(data, SHAKESPEARE.slice(0, 50_000));
  const out = join(home, 'char-model');
  const prompt = 'ROMEO:\nWhat';

  it('is a Hugging Face model directory', async () => {
    // A few real training steps: an untrained model repeats one character, which would prove little.
    await pretrain([
      ...['--data', data, '--out', out, '--iters', '800', '--lr', '1e-2', '--warmup', '0'],
      ...['--layers', '1', '--width', '32', '--heads', '2', '--context', '32', '--batch', '8'],
      ...['--eval-interval', '800', '--eval-iters', '1', '--log-interval', '1000', '--threads', '1'],
    ]);
    for (const f of [
      'config.json',
      'model.safetensors',
      'tokenizer.json',
      'tokenizer_config.json',
      'generation_config.json',
      'onnx/model.onnx',
    ])
      expect(existsSync(join(out, f)), f).toBe(true);
    const read = (f: string) => JSON.parse(readFileSync(join(out, f), 'utf8'));
    expect(read('config.json')).toMatchObject({
      model_type: 'gpt2',
      'transformers.js_config': { dtype: 'fp32' },
      lab_config: { nEmbd: 32, blockSize: 32 },
    });
    expect(read('tokenizer_config.json')).toEqual({
      tokenizer_class: 'PreTrainedTokenizerFast',
      clean_up_tokenization_spaces: false,
      model_max_length: 32,
    });
    expect(read('generation_config.json')).toEqual({ max_length: 32, do_sample: false });
    expect(read('tokenizer.json').model).toMatchObject({ type: 'BPE', merges: [] });
    // Every reader of the lab takes the new tokenizer.json with the ids it trained with.
    const codec = CharCodec.fromText(SHAKESPEARE.slice(0, 50_000));
    expect(CharCodec.load(join(out, 'tokenizer.json')).chars).toEqual(codec.chars);
    const older = join(home, 'older-tokenizer.json');
    writeFileSync(older, JSON.stringify({ type: 'char', chars: codec.chars.join('') }));
    expect(CharCodec.load(older).chars).toEqual(codec.chars);
    expect(loadTokenizer(out).encode(prompt)).toEqual([...codec.encode(prompt)]);
  });

  it('generates in transformers.js the same greedy tokens as the lab', async () => {
    const codec = CharCodec.load(join(out, 'tokenizer.json'));
    const ids = [...codec.encode(prompt)];
    const lab = await labGreedy(out, ids);
    expect(new Set(lab).size).toBeGreaterThan(3);
    const hf = await hfGreedy(out, prompt);
    expect(hf.promptIds).toEqual(ids);
    expect(hf.newIds).toEqual(lab);
    expect(hf.tokenizer.decode(lab)).toBe(codec.decode(lab));

    const generate = await pipeline('text-generation', out, { local_files_only: true });
    try {
      const [r] = (await generate(prompt, { max_new_tokens: NEW_TOKENS })) as TextGenerationOutput;
      expect(r.generated_text).toBe(prompt + codec.decode(lab));
    } finally {
      await generate.dispose();
    }
  });
});

/**
 * Weights from the engine's init, scaled up: at the init's scale every position predicts about the same
 * token, which would not show a cache or position mismatch; training a 50k vocabulary long enough is slow.
 */
function weights(cfg: ModelConfig) {
  const params = paramLayout(cfg)
    .init(3)
    .map((x) => x * 10);
  return { params, m: new Float32Array(params.length), v: new Float32Array(params.length) };
}

describe('a GPT-2-BPE model written by writeCheckpoint (svc-train jobs)', () => {
  const gpt2 = getTokenizer('gpt2');
  const prompt = 'ROMEO:\nWhat say you';

  for (const family of ['gpt2', 'llama'] as const) {
    it(`${family} family: complete checkpoint, same greedy tokens in transformers.js`, async () => {
      const base = family === 'gpt2' ? 'nanogpt-cpu' : 'llama-small';
      const cfg = preset(base, {
        vocabSize: gpt2.vocabSize,
        blockSize: 48,
        nLayer: 1,
        nEmbd: 32,
        nHead: 4,
        nKvHead: family === 'gpt2' ? 4 : 2,
        ffnHidden: 64,
        dropout: 0,
      });
      const root = join(home, `job-${family}`);
      const { dir } = writeCheckpoint(
        root,
        8,
        { cfg, ...weights(cfg), state: { step: 8, rng: new Rng(1).state() } },
        { files: hfTokenizerFiles(gpt2, cfg.blockSize), onnx: true },
      );
      const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'));
      expect(Object.keys(manifest.files)).toEqual([
        'config.json',
        'generation_config.json',
        'model.safetensors',
        'onnx/model.onnx',
        'optimizer.safetensors',
        'tokenizer.json',
        'tokenizer_config.json',
        'trainer_state.json',
      ]);
      expect(verifyCheckpoint(dir)).toBeUndefined();
      const read = (f: string) => JSON.parse(readFileSync(join(dir, f), 'utf8'));
      expect(read('tokenizer_config.json')).toMatchObject({
        tokenizer_class: 'PreTrainedTokenizerFast',
        clean_up_tokenization_spaces: false,
        model_max_length: 48,
        bos_token: '<|endoftext|>',
        eos_token: '<|endoftext|>',
        pad_token: '<|endoftext|>',
      });
      expect(read('generation_config.json')).toEqual({
        max_length: 48,
        do_sample: false,
        bos_token_id: 50256,
        eos_token_id: 50256,
        pad_token_id: 50256,
      });

      const ids = gpt2.encode(prompt);
      const lab = await labGreedy(dir, ids);
      expect(new Set(lab).size).toBeGreaterThan(2);
      const hf = await hfGreedy(dir, prompt);
      expect(hf.promptIds).toEqual(ids);
      expect(hf.newIds).toEqual(untilEos(lab, 50256));
      expect(hf.tokenizer.decode(hf.newIds)).toBe(gpt2.decode(hf.newIds));

      // The manifest covers the ONNX graph like every other file.
      const onnx = join(dir, 'onnx', 'model.onnx');
      writeFileSync(onnx, Buffer.concat([readFileSync(onnx), Buffer.from([0])]));
      expect(verifyCheckpoint(dir)).toMatch(/onnx\/model\.onnx has \d+ bytes/);
    });
  }
});

describe('the checkpoints of a svc-train job (its worker thread)', () => {
  const dataPath = join(home, 'job-input.txt');
  writeFileSync(dataPath, SHAKESPEARE.slice(0, 30_000));

  for (const tokenizer of ['gpt2', 'char']) {
    it(`${tokenizer} tokenizer: every checkpoint is a model directory transformers.js runs`, async () => {
      const spec = validateSubmit(
        SubmitJobRequest.fromPartial({
          name: `hf-${tokenizer}`,
          dataPath,
          tokenizer,
          config: {
            modelJson: JSON.stringify({ nLayer: 1, nHead: 2, nEmbd: 32, ffnHidden: 64 }),
            ...{ context: 48, batchSize: 2, iters: 4, evalInterval: 2, evalIters: 1, sampleOff: true },
            threads: 1,
          },
        }),
      );
      const dir = join(home, `job-worker-${tokenizer}`);
      mkdirSync(dir);
      const run = new TrainRun({ jobId: spec.name, spec, dir, home, resumeLimit: Number.MAX_SAFE_INTEGER });
      const messages = [];
      for await (const batch of run.batches()) messages.push(...batch);
      expect(messages.at(-1)).toMatchObject({ type: 'done' });
      const kept = listCheckpoints(dir);
      expect(kept.map((c) => c.step)).toEqual([2, 4]);
      for (const { dir: ck } of kept) {
        expect(verifyCheckpoint(ck)).toBeUndefined();
        for (const f of [
          'tokenizer.json',
          'tokenizer_config.json',
          'generation_config.json',
          'onnx/model.onnx',
        ])
          expect(existsSync(join(ck, f)), f).toBe(true);
      }
      const last = kept.at(-1)!.dir;
      const tok = loadTokenizer(last);
      const prompt = 'First Citizen:\nWe';
      const ids = tok.encode(prompt);
      const hf = await hfGreedy(last, prompt);
      expect(hf.promptIds).toEqual(ids);
      expect(hf.newIds).toEqual(untilEos(await labGreedy(last, ids), tok.specialTokens.get('<|endoftext|>')));
    });
  }
});

describe('onnx/model.onnx', () => {
  it('is the model Graph.toBytes() encodes, its weights streamed to the file', () => {
    const cfg = preset('llama-small', { vocabSize: 300, nLayer: 2, blockSize: 32 });
    const { params } = weights(cfg);
    const dir = join(home, 'onnx-equal');
    expect(writeOnnxModel(dir, cfg, params)).toEqual(['onnx/model.onnx']);
    const ours = OnnxModelProto.decode(readFileSync(join(dir, 'onnx', 'model.onnx')));
    const want = OnnxModelProto.decode(buildInferenceGraph(cfg, params).toBytes());
    // Small constants stay in the graph's first part and weights follow, so only the order differs.
    const tensors = (m: typeof ours) =>
      m
        .graph!.initializer.map((t) => ({
          ...t,
          rawData: createHash('sha256').update(t.rawData!).digest('hex'),
        }))
        .sort((a, b) => (a.name! < b.name! ? -1 : 1));
    expect(tensors(ours)).toEqual(tensors(want));
    expect(tensors(ours).length).toBeGreaterThan(20);
    const rest = (m: typeof ours) => ({ ...m, graph: { ...m.graph!, initializer: [] } });
    expect(rest(ours)).toEqual(rest(want));
  });
});

describe('ONNX external data (models over 2 GiB)', () => {
  it('is what config.json asks for from the size where a protobuf cannot hold the graph', () => {
    expect(hfConfig(preset('nanogpt-cpu'))['transformers.js_config']).toEqual({ dtype: 'fp32' });
    expect(usesExternalData(preset('gpt2-medium'))).toBe(false); // 355M parameters, 1.4 GB
    expect(usesExternalData(preset('gpt2-large'))).toBe(true); // 774M parameters, 3.1 GB
    expect(hfConfig(preset('gpt2-large'))['transformers.js_config']).toEqual({
      dtype: 'fp32',
      use_external_data_format: true,
    });
  });

  it('loads in transformers.js with the same greedy tokens as the lab', async () => {
    // A small model written the way a big one is: weights in onnx/model.onnx_data.
    const dir = join(home, 'gpt2-external');
    cpSync(listCheckpoints(join(home, 'job-gpt2'))[0]!.dir, dir, { recursive: true });
    const ck = loadCheckpoint(dir);
    expect(writeOnnxModel(dir, ck.cfg, ck.params, { externalData: true })).toEqual([
      'onnx/model.onnx',
      'onnx/model.onnx_data',
    ]);
    const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
    config['transformers.js_config'].use_external_data_format = true;
    writeFileSync(join(dir, 'config.json'), JSON.stringify(config));
    const size = (f: string) => statSync(join(dir, 'onnx', f)).size;
    expect(size('model.onnx')).toBeLessThan(64 * 1024);
    expect(size('model.onnx_data')).toBeGreaterThanOrEqual(ck.params.length * 4);

    const prompt = 'JULIET:\nO Romeo';
    const ids = getTokenizer('gpt2').encode(prompt);
    const lab = await labGreedy(dir, ids);
    expect(new Set(lab).size).toBeGreaterThan(2);
    expect((await hfGreedy(dir, prompt)).newIds).toEqual(untilEos(lab, 50256));
  });
});

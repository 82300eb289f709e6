// The Fine-tune page's checks before a run, on real model folders (lab checkpoints with the tokenizer files a
// Hugging Face folder has) and real ONNX Runtime trainers: the preview renders examples through the job's own
// path (loss on the answers, truncation at the context), the end-of-turn check reads the folder's
// generation_config/tokenizer_config as svc-infer does, and the estimate's sizes equal what the Trainer and
// frozenNf4 allocate.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  estimateFinetune,
  frozenFp32,
  frozenNf4,
  gpt2Config,
  llamaConfig,
  type ModelConfig,
  paramLayout,
  saveCheckpoint,
  Trainer,
} from '@lab/engine';
import { FinetuneConfig, SubmitJobRequest, TrainConfig } from '@lab/proto/train';
import { parseTokenizerJson } from '@lab/tokenizer';
import { describe, expect, it } from 'vitest';
import { CharCodec } from '../src/commands/char-codec.ts';
import { estimateFinetuneJob } from '../src/finetune/estimate.ts';
import { previewFinetune } from '../src/finetune/preview.ts';
import { hfTokenizerFiles } from '../src/jobs/hf-model.ts';
import { charTokenizerWithSpecials } from './special-tokens.ts';

const records = [
  { instruction: 'Say hi.', input: '', output: 'Hi there.' },
  { instruction: 'Add 2 and 3.', input: '', output: 'The sum is 5.' },
  {
    instruction: 'Describe the sea in one long sentence.',
    input: '',
    output: 'The sea is wide and grey and it goes on and on past where anyone can see.',
  },
  { instruction: 'Name a colour.', input: '', output: 'Blue.' },
];
const ALL = records.map((r) => `${r.instruction}${r.output}`).join('');
const CHATML =
  '{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}';
const SPECIALS = ['<|im_start|>', '<|im_end|>', '<|endoftext|>'];

const dataDir = mkdtempSync(join(tmpdir(), 'lab-ft-preview-'));
const dataPath = join(dataDir, 'examples.json');
writeFileSync(dataPath, JSON.stringify(records));
const pairsPath = join(dataDir, 'pairs.jsonl');
writeFileSync(
  pairsPath,
  [
    { prompt: 'Say hi.', chosen: 'Hi there.', rejected: 'No.' },
    { prompt: 'Name a colour.', chosen: 'Blue.', rejected: 'Sea.' },
  ]
    .map((r) => JSON.stringify(r))
    .join('\n'),
);

/**
 * A small char-level GPT-2 folder. With `chat`, its tokenizer gains ChatML's markers and <|endoftext|> as
 * added tokens, and tokenizer_config/generation_config say which is the eos and which ids stop generation.
 */
function baseFolder(chat?: { eos?: string; stop?: string[] }): string {
  const dir = mkdtempSync(join(tmpdir(), 'lab-ft-preview-base-'));
  const codec = CharCodec.fromText(`User: Assistant: system user assistant\n${ALL}`);
  const files = hfTokenizerFiles(codec.toTokenizer(), 256);
  let vocab = codec.vocabSize;
  if (chat) {
    vocab += SPECIALS.length;
    files['tokenizer.json'] = charTokenizerWithSpecials(codec, SPECIALS);
    const tok = parseTokenizerJson(files['tokenizer.json'], 'test');
    files['tokenizer_config.json'] = JSON.stringify({
      chat_template: CHATML,
      ...(chat.eos ? { eos_token: chat.eos } : {}),
    });
    files['generation_config.json'] = JSON.stringify({
      eos_token_id: (chat.stop ?? []).map((t) => tok.specialTokens.get(t)),
    });
  }
  const cfg = gpt2Config({ nLayer: 1, nHead: 2, nEmbd: 32, ffnHidden: 64, blockSize: 256, vocabSize: vocab });
  const layout = paramLayout(cfg);
  saveCheckpoint(dir, { cfg, layout, params: layout.init(1) });
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

const preview = (dir: string, over: { context?: number; method?: 'sft' | 'dpo'; path?: string } = {}) =>
  previewFinetune(
    {
      job: SubmitJobRequest.fromPartial({
        dataPath: over.path ?? dataPath,
        config: { context: over.context ?? 0 },
        finetune: { baseModel: 'base', method: over.method ?? 'sft', adapter: 'lora' },
      }),
      examples: 3,
    },
    { resolveModel: async () => dir },
  );

const text = (tokens: { text: string }[]) => tokens.map((t) => t.text).join('');

describe('preview of a fine-tune', () => {
  const charBase = baseFolder();

  it('renders the char model’s examples with loss on the answers only, and says what ends an answer', async () => {
    const p = await preview(charBase);
    expect(p.totalExamples).toBe(4);
    expect(p.template).toBe('default');
    expect(p.examples).toHaveLength(3);
    const first = p.examples[0]!.sequence!;
    expect(text(first.tokens)).toBe('User: Say hi.\n\nAssistant: Hi there.\n\n');
    expect(text(first.tokens.filter((t) => t.loss))).toBe(' Hi there.\n\n');
    expect(first.lossTokens).toBe(' Hi there.\n\n'.length);
    // No EOS in a char vocabulary: the default template's next turn is what stops generation.
    expect(p.eos!.status).toBe('info');
    expect(p.eos!.stopIds).toEqual([]);
    expect(p.eos!.answerEnd).toBe('\n\nUser:');
    expect(p.eos!.message).toMatch(/no EOS token/);
  });

  it('counts truncation over every example at the context the job trains with', async () => {
    const context = 40;
    const p = await preview(charBase, { context });
    const lengths = records.map((r) => `User: ${r.instruction}\n\nAssistant: ${r.output}\n\n`.length);
    // A row holds context + 1 tokens (inputs and the last target).
    const cut = lengths.filter((n) => n > context + 1);
    expect(p.context).toBe(context);
    expect(p.truncatedExamples).toBe(cut.length);
    expect(p.truncatedTokens).toBe(cut.reduce((s, n) => s + n - (context + 1), 0));
    const third = p.examples[2]!.sequence!;
    expect(third.truncatedTokens).toBe(lengths[2]! - (context + 1));
    expect(third.tokens.filter((t) => t.truncated)).toHaveLength(lengths[2]! - (context + 1));
    expect(third.tokens.findIndex((t) => t.truncated)).toBe(context + 1);
    // Loss tokens past the context do not count.
    expect(third.lossTokens).toBe(third.tokens.filter((t) => t.loss && !t.truncated).length);
    // The base's own context caps a larger request.
    expect((await preview(charBase, { context: 4096 })).context).toBe(256);
  });

  it('passes when the template’s end-of-turn token is the one generation stops on', async () => {
    const dir = baseFolder({ eos: '<|im_end|>', stop: ['<|im_end|>'] });
    const p = await preview(dir);
    expect(p.template).toBe('model');
    const first = p.examples[0]!.sequence!;
    expect(text(first.tokens.filter((t) => t.loss))).toBe('Hi there.<|im_end|>\n');
    expect(first.endsWithEos).toBe(true);
    expect(p.eos).toMatchObject({ status: 'pass', endToken: '<|im_end|>', endTokenStops: true });
    expect(p.eos!.stopTokens).toEqual(['<|im_end|>']);
  });

  it('warns when answers end with a token generation does not stop on', async () => {
    // The template closes turns with <|im_end|>, but only <|endoftext|> stops generation and the tokenizer
    // names no eos to append: the fine-tuned model writes <|im_end|> and goes on.
    const dir = baseFolder({ stop: ['<|endoftext|>'] });
    const p = await preview(dir);
    expect(p.examples[0]!.sequence!.endsWithEos).toBe(false);
    expect(p.eos).toMatchObject({ status: 'warn', endToken: '<|im_end|>', endTokenStops: false });
    expect(p.eos!.message).toMatch(/keep going/);
    // With the tokenizer's eos set, the job appends it to each answer, and the check passes.
    const fixed = await preview(baseFolder({ eos: '<|endoftext|>', stop: ['<|endoftext|>'] }));
    expect(text(fixed.examples[0]!.sequence!.tokens.filter((t) => t.loss))).toBe(
      'Hi there.<|im_end|>\n<|endoftext|>',
    );
    expect(fixed.eos!.status).toBe('pass');
  });

  it('warns when truncation cuts an answer’s end token off', async () => {
    const dir = baseFolder({ eos: '<|im_end|>', stop: ['<|im_end|>'] });
    // In ChatML the first and last examples take 37 and 40 tokens; the other two are longer than 41 (context + 1).
    const p = await preview(dir, { context: 40 });
    expect(p.eos!.status).toBe('warn');
    expect(p.eos!.message).toMatch(/^2 example\(s\) lose their answer’s end token to truncation/);
    expect((await preview(dir, { context: 256 })).eos!.status).toBe('pass');
  });

  it('shows both answers of a DPO pair after the shared prompt', async () => {
    const p = await preview(charBase, { method: 'dpo', path: pairsPath });
    expect(p.method).toBe('dpo');
    expect(p.totalExamples).toBe(2);
    const e = p.examples[0]!;
    expect(e.chosenText).toBe('Hi there.');
    expect(e.rejectedText).toBe('No.');
    expect(text(e.sequence!.tokens.filter((t) => t.loss))).toBe(' Hi there.\n\n');
    expect(text(e.rejected!.tokens.filter((t) => t.loss))).toBe(' No.\n\n');
    expect(text(e.rejected!.tokens.filter((t) => !t.loss))).toBe('User: Say hi.\n\nAssistant:');
  });

  it('names the field of bad input', async () => {
    await expect(preview(charBase, { path: pairsPath })).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
      field: 'dataPath',
    });
    await expect(
      previewFinetune(
        { job: SubmitJobRequest.fromPartial({ dataPath, finetune: { baseModel: 'nope' } }), examples: 0 },
        {
          resolveModel: async () => {
            throw Object.assign(new Error('no model nope'), { code: 5 });
          },
        },
      ),
    ).rejects.toMatchObject({ field: 'finetune.baseModel' });
  });
});

describe('estimate of a fine-tune', () => {
  const gpt2 = gpt2Config({ nLayer: 2, nHead: 4, nEmbd: 64, ffnHidden: 256, blockSize: 64, vocabSize: 70 });
  const llama = llamaConfig({
    nLayer: 2,
    nHead: 4,
    nKvHead: 2,
    nEmbd: 64,
    ffnHidden: 160,
    blockSize: 64,
    vocabSize: 70,
  });

  it.each([
    ['gpt2 LoRA', gpt2, 'lora', ['c_attn', 'c_fc']],
    ['llama QLoRA', llama, 'qlora', ['q_proj', 'v_proj', 'down_proj']],
  ] as const)(
    '%s: trainable parameters and weights are what the Trainer and the frozen base hold',
    async (_, cfg, adapter, targets) => {
      const lora = { rank: 4, alpha: 8, dropout: 0, targets };
      const e = estimateFinetune(cfg, { adapter, lora, rows: 2, seq: 32 });
      const layout = paramLayout(cfg);
      const params = layout.init(1);
      const frozen = adapter === 'qlora' ? frozenNf4(layout, params) : frozenFp32(layout, params);
      expect(e.memory.weights).toBe(frozen.bytes);
      const tr = await Trainer.create({
        cfg: { ...cfg, dropout: 0 },
        batch: 2,
        seq: 32,
        seed: 1,
        lora,
        frozen,
      });
      try {
        expect(e.trainable).toBe(tr.layout.total);
        expect(e.memory.adapter).toBe(4 * tr.layout.total);
        expect(e.memory.optimizer).toBe(8 * tr.layout.total);
      } finally {
        await tr.release();
      }
      expect(e.baseParams).toBe(layout.total);
    },
  );

  it('full fine-tuning trains every parameter', async () => {
    const e = estimateFinetune(gpt2, { adapter: 'full', rows: 2, seq: 32 });
    const tr = await Trainer.create({ cfg: { ...gpt2, dropout: 0 }, batch: 2, seq: 32, seed: 1 });
    try {
      expect(e.trainable).toBe(tr.layout.total);
    } finally {
      await tr.release();
    }
    expect(e.memory.weights).toBe(4 * e.trainable);
    expect(e.memory.adapter).toBe(0);
  });

  const job = (cfg: ModelConfig, ft: Partial<FinetuneConfig>, config: Partial<TrainConfig> = {}) =>
    estimateFinetuneJob(
      {
        finetune: FinetuneConfig.fromPartial({ baseModel: 'b', ...ft }),
        config: TrainConfig.fromPartial(config),
      },
      cfg,
      { memoryBytes: 2 ** 30, availableMemoryBytes: 2 ** 30, cpus: 2 },
    );

  it('follows rank, targets, method and adapter as the form changes them', () => {
    const r8 = job(llama, { loraRank: 8 });
    const r16 = job(llama, { loraRank: 16 });
    expect(r16.trainableParameters).toBe(2 * r8.trainableParameters);
    expect(
      job(llama, { loraRank: 8, loraTargets: ['q_proj', 'k_proj', 'v_proj'] }).trainableParameters,
    ).toBeGreaterThan(r8.trainableParameters);
    const q = job(llama, { loraRank: 8, adapter: 'qlora' });
    expect(q.weightsFormat).toBe('nf4');
    expect(q.weightsBytes).toBeLessThan(r8.weightsBytes);
    // DPO runs chosen and rejected rows: twice the tokens and activations per step.
    const dpo = job(llama, { loraRank: 8, method: 'dpo' }, { batchSize: 4 });
    const sft = job(llama, { loraRank: 8 }, { batchSize: 4 });
    expect(dpo.tokensPerStep).toBe(2 * sft.tokensPerStep);
    expect(dpo.activationsBytes).toBeGreaterThan(sft.activationsBytes);
    expect(dpo.secondsPerStep).toBeCloseTo(2 * sft.secondsPerStep, 10);
    // The job's context: 256 by default, capped by the base's 64.
    expect(sft.context).toBe(64);
  });

  it('fits against this machine and a 16 GB GPU, with a warning naming what to change', () => {
    const big = llamaConfig({
      nLayer: 24,
      nHead: 16,
      nKvHead: 16,
      nEmbd: 2048,
      ffnHidden: 5632,
      blockSize: 2048,
      vocabSize: 32000,
    });
    const full = job(big, { adapter: 'full' }, { batchSize: 1, context: 512 });
    expect(full.fits.map((f) => [f.device, f.fits])).toEqual([
      ['this machine', false],
      ['a 16 GB GPU', false],
    ]);
    expect(full.warnings[0]).toMatchObject({ kind: 'memory', field: 'finetune.adapter' });
    expect(full.warnings[0]!.message).toMatch(/LoRA or QLoRA/);
    const q = job(big, { adapter: 'qlora', loraRank: 8 }, { batchSize: 1, context: 512 });
    expect(q.fits[1]).toMatchObject({ device: 'a 16 GB GPU', fits: true });
    expect(q.totalBytes).toBe(
      q.weightsBytes +
        q.adapterBytes +
        q.gradientsBytes +
        q.optimizerBytes +
        q.activationsBytes +
        q.dequantizedBytes,
    );
  });

  it('names the field of bad input', () => {
    expect(() => job(gpt2, { loraTargets: ['q_proj'] })).toThrow(
      expect.objectContaining({ field: 'finetune.loraTargets' }),
    );
    expect(() => job(gpt2, { loraRank: 2000 })).toThrow(
      expect.objectContaining({ field: 'finetune.loraRank' }),
    );
    expect(() => job(gpt2, {}, { batchSize: 5000 })).toThrow(
      expect.objectContaining({ field: 'config.batchSize' }),
    );
  });
});

// Fine-tuning on the real stack (services as processes, gRPC over loopback, nats-server, the gateway over
// HTTP): a small character-level GPT-2 is pre-trained here on Alpaca's text, registered in svc-infer as a
// base model, then fine-tuned with LoRA through POST /api/train/jobs on Alpaca examples, and chatted with.
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { datasetPath } from '@lab/common';
import {
  BatchSampler,
  gpt2Config,
  paramLayout,
  Rng,
  readPeftAdapter,
  saveCheckpoint,
  Trainer,
} from '@lab/engine';
import { type Stack, startStack } from '@lab/supervisor';
import { DEFAULT_CHAT_TEMPLATE, renderChat } from '@lab/svc-infer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CharCodec } from '../src/commands/char-codec.ts';
import { conversationOf, preferenceOf } from '../src/finetune/examples.ts';
import { packRows, tokenizeConversation, toRow } from '../src/finetune/render.ts';
import { hfTokenizerFiles } from '../src/jobs/hf-model.ts';

type Rec = { instruction: string; input: string; output: string };
const read = (file: string) => JSON.parse(readFileSync(datasetPath('alpaca', file), 'utf8')) as Rec[];
// The base reads Alpaca as plain prose; the fine-tune teaches it a chat format and GSM8K's answers.
const prose = read('alpaca_data_first335.json')
  .map((r) => `${r.instruction}\n${r.input}\n${r.output}\n\n`)
  .join('');
const records = read('gsm8k_train_alpaca.json')
  .filter((r) => r.instruction.length + r.output.length < 220)
  .slice(0, 240);
const chats = records.map((r) => conversationOf(r)!);
const corpus = chats.map((c) => renderChat(c.messages, undefined, {}, false)).join('');
const codec = CharCodec.fromText(`${prose}${corpus}${DEFAULT_CHAT_TEMPLATE}`);
const fmt = { encode: (t: string) => [...codec.encode(t)] };

let stack: Stack;
let baseDir: string;
let dataPath: string;

async function api<T>(path: string, init?: RequestInit): Promise<{ status: number; body: T }> {
  const res = await fetch(`${stack.url}${path}`, {
    ...init,
    headers: { 'content-type': 'application/json' },
  });
  return { status: res.status, body: (await res.json()) as T };
}
const post = <T>(path: string, body: unknown) => api<T>(path, { method: 'POST', body: JSON.stringify(body) });

interface JobJson {
  id: string;
  state: string;
  error: string;
  step: number;
  valLoss: number;
  checkpoints: string[];
}

async function finished(id: string): Promise<JobJson> {
  for (let i = 0; i < 1200; i++) {
    const j = (await api<JobJson>(`/api/train/jobs/${id}`)).body;
    if (['completed', 'failed', 'cancelled'].includes(j.state)) return j;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`job ${id} did not finish`);
}

beforeAll(async () => {
  baseDir = mkdtempSync(join(tmpdir(), 'lab-ft-base-'));
  const cfg = gpt2Config({
    nLayer: 2,
    nHead: 4,
    nEmbd: 64,
    ffnHidden: 256,
    blockSize: 192,
    vocabSize: codec.vocabSize,
  });
  // A base that has read the corpus as plain text (as pre-training would leave it), so the fine-tune starts
  // from a model that spells.
  const tokens = Int32Array.from(codec.encode(prose));
  const tr = await Trainer.create({ cfg, batch: 16, seq: 128, seed: 1 });
  const sampler = new BatchSampler(tokens, 16, 128);
  const rng = new Rng(2);
  for (let i = 0; i < 150; i++) await tr.step([sampler.next(rng)], 3e-3);
  saveCheckpoint(baseDir, { cfg, layout: paramLayout(cfg), params: tr.params.slice() });
  await tr.release();
  writeFileSync(
    join(baseDir, 'tokenizer.json'),
    hfTokenizerFiles(codec.toTokenizer(), 192)['tokenizer.json']!,
  );
  dataPath = join(mkdtempSync(join(tmpdir(), 'lab-ft-data-')), 'alpaca.json');
  writeFileSync(dataPath, JSON.stringify(records));
  stack = await startStack({ ports: 'free', output: 'buffer' });
  const reg = await post('/api/infer/models', { name: 'char-base', path: baseDir });
  expect(reg.status).toBe(201);
}, 300_000);

afterAll(async () => {
  await stack?.stop();
});

describe('rendering examples', () => {
  it('puts loss on the answer tokens only', () => {
    const conv = {
      messages: [
        { role: 'user' as const, content: 'Say hi.' },
        { role: 'assistant' as const, content: 'Hi there.' },
      ],
    };
    const t = tokenizeConversation(conv, fmt);
    const text = codec.decode(t.ids);
    expect(text).toBe('User: Say hi.\n\nAssistant: Hi there.\n\n');
    const answer = codec.decode(t.ids.filter((_, i) => t.loss[i]));
    // The default template's answer: what follows "Assistant:", to the end of the turn.
    expect(answer).toBe(' Hi there.\n\n');
    const row = toRow(t, 64);
    const first = text.indexOf(' Hi there.');
    row.targets.forEach((target, i) => {
      if (i + 1 < first || i + 1 >= t.ids.length) expect(target).toBe(-100);
      else expect(target).toBe(t.ids[i + 1]);
    });
    expect(row.targetCount).toBe(' Hi there.\n\n'.length);
    const cut = toRow(t, 20);
    expect(cut.truncated).toBe(t.ids.length - 21);
  });
});

describe('packing examples', () => {
  it('places whole examples in order, restarting positions, with their own targets', () => {
    const rows = chats.slice(0, 6).map((c) => toRow(tokenizeConversation(c, fmt), 1024));
    const packed = packRows(rows, 1024);
    expect(packed.length).toBeLessThan(rows.length);
    expect(packed.reduce((n, r) => n + r.targetCount, 0)).toBe(rows.reduce((n, r) => n + r.targetCount, 0));
    let k = 0;
    for (const p of packed) {
      let at = 0;
      for (let seg = 0; at < p.length; seg++, k++) {
        const r = rows[k]!;
        expect(p.idx.slice(at, at + r.length)).toEqual(r.idx.slice(0, r.length));
        expect(p.targets.slice(at, at + r.length)).toEqual(r.targets.slice(0, r.length));
        expect(p.positions!.slice(at, at + r.length)).toEqual([...Array(r.length).keys()]);
        expect(new Set(p.segments!.slice(at, at + r.length))).toEqual(new Set([seg]));
        at += r.length;
      }
      expect(p.segments!.slice(p.length).every((s) => s === -1)).toBe(true);
    }
    expect(k).toBe(rows.length);
  });
});

describe('LoRA fine-tuning job', () => {
  it('lowers held-out answer loss, writes a PEFT adapter, and the result chats', async () => {
    const sub = await post<{ id: string }>('/api/train/jobs', {
      name: 'ft-lora',
      dataPath,
      finetune: { baseModel: 'char-base', loraRank: 8, loraTargets: ['c_attn', 'c_fc'] },
      config: {
        iters: 60,
        batchSize: 8,
        learningRate: 3e-3,
        evalInterval: 10,
        context: 192,
        sampleTokens: 24,
      },
    });
    expect(sub.status, JSON.stringify(sub.body)).toBe(201);
    const job = await finished(sub.body.id);
    expect(job.error).toBe('');
    expect(job.state).toBe('completed');
    const events = await fetch(`${stack.url}/api/train/jobs/${job.id}/events`);
    const text = await readUntilEnd(events);
    const evals = text
      .split('\n')
      .filter((l) => l.startsWith('data:'))
      .map((l) => JSON.parse(l.slice(5)) as { kind: string; valLoss?: number; step: number })
      .filter((e) => e.kind === 'eval');
    console.log(
      JSON.stringify(evals.map((e) => [e.step, e.valLoss, (e as { trainLoss?: number }).trainLoss])),
    );
    expect(evals.map((e) => e.step)).toEqual([10, 20, 30, 40, 50, 60]);
    expect(evals.at(-1)!.valLoss!).toBeLessThan(evals[0]!.valLoss! - 0.05);

    const last = job.checkpoints.at(-1)!;
    const adapter = readPeftAdapter(
      join(last, 'adapter'),
      JSON.parse(readFileSync(join(last, 'config.json'), 'utf8')).lab_config,
    );
    expect(adapter.lora).toMatchObject({ rank: 8, alpha: 16, targets: ['c_attn', 'c_fc'] });
    expect(adapter.baseModel).toBe('char-base');
    expect(existsSync(join(last, 'adapter', 'adapter_optimizer.safetensors'))).toBe(true);

    const chat = await post<{ choices: { message: { content: string } }[] }>('/v1/chat/completions', {
      model: `ft-lora@60`,
      messages: [{ role: 'user', content: 'Name a color.' }],
      max_tokens: 12,
      temperature: 0,
    });
    expect(chat.status, JSON.stringify(chat.body)).toBe(200);
    expect(chat.body.choices[0]!.message.content.length).toBeGreaterThan(0);
  }, 600_000);

  it('runs QLoRA on packed rows', async () => {
    const sub = await post<{ id: string }>('/api/train/jobs', {
      name: 'ft-qlora-packed',
      dataPath,
      finetune: { baseModel: 'char-base', adapter: 'qlora', packing: true, loraTargets: ['c_attn'] },
      config: { iters: 6, batchSize: 2, learningRate: 3e-3, evalInterval: 3, context: 192, sampleTokens: 0 },
    });
    expect(sub.status, JSON.stringify(sub.body)).toBe(201);
    const job = await finished(sub.body.id);
    expect(job.error).toBe('');
    expect(job.state).toBe('completed');
    expect(Number.isFinite(job.valLoss) && job.valLoss > 0).toBe(true);
  }, 300_000);

  it('refuses bad requests with the field named', async () => {
    const base = { dataPath, config: { iters: 5 } };
    const cases: [unknown, string, number][] = [
      [
        { ...base, finetune: { baseModel: 'char-base', loraTargets: ['q_proj'] } },
        'finetune.loraTargets',
        400,
      ],
      [{ ...base, finetune: { baseModel: 'char-base', loraRank: 0 } }, 'finetune.loraRank', 400],
      [{ ...base, finetune: { baseModel: 'no-such-model' } }, 'finetune.baseModel', 400],
    ];
    for (const [body, field, status] of cases) {
      const r = await post<{ error: string; field?: string }>('/api/train/jobs', body);
      expect(r.status, JSON.stringify(r.body)).toBe(status);
      expect(JSON.stringify(r.body)).toContain(field);
    }
    const plain = join(mkdtempSync(join(tmpdir(), 'lab-ft-bad-')), 'plain.jsonl');
    writeFileSync(plain, '{"text": "just some prose"}\n{"title": "x"}\n');
    const r = await post<{ error: string; field?: string }>('/api/train/jobs', {
      dataPath: plain,
      finetune: { baseModel: 'char-base' },
      config: { iters: 5 },
    });
    expect(r.status).toBe(400);
    console.log(JSON.stringify(r.body));
    expect(JSON.stringify(r.body)).toMatch(/Example 1 is not an instruction example/);
  });
});

describe('DPO job', () => {
  it('parses Anthropic HH pairs into a shared prompt and two answers', () => {
    const line = gunzipSync(readFileSync(datasetPath('preference-hh-rlhf', 'harmless-base_test.jsonl.gz')))
      .toString('utf8')
      .split('\n')[0]!;
    const rec = JSON.parse(line) as { chosen: string; rejected: string };
    const p = preferenceOf(rec)!;
    expect(p.prompt[0]!.role).toBe('user');
    expect(p.prompt.at(-1)!.role).toBe('user');
    expect(rec.chosen.endsWith(p.chosen)).toBe(true);
    expect(rec.rejected.endsWith(p.rejected)).toBe(true);
    expect(p.chosen).not.toBe(p.rejected);
  });

  it('streams rewards, margin and accuracy, and learns the preference', async () => {
    // Chosen: the record's own answer; rejected: another record's (a preference the base cannot know).
    const pairs = records.slice(0, 120).map((r, i) => ({
      prompt: r.instruction,
      chosen: r.output,
      rejected: records[(i + 7) % records.length]!.output,
    }));
    const file = join(mkdtempSync(join(tmpdir(), 'lab-dpo-')), 'pairs.jsonl');
    writeFileSync(file, pairs.map((p) => JSON.stringify(p)).join('\n'));
    const sub = await post<{ id: string }>('/api/train/jobs', {
      name: 'dpo-lora',
      dataPath: file,
      finetune: {
        method: 'dpo',
        baseModel: 'char-base',
        loraRank: 8,
        loraTargets: ['c_attn', 'c_fc'],
        beta: 0.1,
      },
      config: {
        iters: 30,
        batchSize: 4,
        learningRate: 3e-3,
        evalInterval: 10,
        context: 192,
        sampleTokens: 0,
      },
    });
    expect(sub.status, JSON.stringify(sub.body)).toBe(201);
    const job = await finished(sub.body.id);
    expect(job.error).toBe('');
    const events = (await readUntilEnd(await fetch(`${stack.url}/api/train/jobs/${job.id}/events`)))
      .split('\n')
      .filter((l) => l.startsWith('data:'))
      .map(
        (l) =>
          JSON.parse(l.slice(5)) as {
            kind: string;
            preference?: { chosenReward: number; rejectedReward: number; margin: number; accuracy: number };
          },
      );
    const steps = events.filter((e) => e.kind === 'step');
    const evals = events.filter((e) => e.kind === 'eval');
    expect(steps.length).toBe(30);
    for (const e of [...steps, ...evals]) {
      const p = e.preference!;
      expect(p.margin).toBeCloseTo(p.chosenReward - p.rejectedReward, 5);
      expect(p.accuracy).toBeGreaterThanOrEqual(0);
      expect(p.accuracy).toBeLessThanOrEqual(1);
    }
    // The first step starts from the reference itself: both rewards are 0.
    expect(steps[0]!.preference!.chosenReward).toBe(0);
    expect(steps[0]!.preference!.rejectedReward).toBe(0);
    const late = steps.slice(-10);
    expect(late.reduce((a, e) => a + e.preference!.margin, 0) / 10).toBeGreaterThan(0);
    expect(late.reduce((a, e) => a + e.preference!.accuracy, 0) / 10).toBeGreaterThan(0.6);
  }, 600_000);
});

describe('reward model job', () => {
  it('trains a scalar head beside a LoRA on pairs and keeps both in its checkpoint', async () => {
    const pairs = records.slice(0, 80).map((r, i) => ({
      prompt: r.instruction,
      chosen: r.output,
      rejected: records[(i + 7) % records.length]!.output,
    }));
    const file = join(mkdtempSync(join(tmpdir(), 'lab-rm-')), 'pairs.jsonl');
    writeFileSync(file, pairs.map((p) => JSON.stringify(p)).join('\n'));
    const full = await post<{ error: { field: string } }>('/api/train/jobs', {
      dataPath: file,
      finetune: { method: 'reward', adapter: 'full', baseModel: 'char-base' },
      config: { iters: 5 },
    });
    expect(full.status).toBe(400);
    expect(full.body.error.field).toBe('finetune.adapter');
    const sub = await post<{ id: string }>('/api/train/jobs', {
      name: 'rm-lora',
      dataPath: file,
      finetune: { method: 'reward', baseModel: 'char-base', loraRank: 8, loraTargets: ['c_attn'] },
      config: {
        iters: 20,
        batchSize: 4,
        learningRate: 3e-3,
        evalInterval: 10,
        context: 192,
        sampleTokens: 0,
      },
    });
    expect(sub.status, JSON.stringify(sub.body)).toBe(201);
    const job = await finished(sub.body.id);
    expect(job.error).toBe('');
    const events = (await readUntilEnd(await fetch(`${stack.url}/api/train/jobs/${job.id}/events`)))
      .split('\n')
      .filter((l) => l.startsWith('data:'))
      .map(
        (l) => JSON.parse(l.slice(5)) as { kind: string; preference?: { accuracy: number; margin: number } },
      );
    const evals = events.filter((e) => e.kind === 'eval');
    expect(evals.length).toBe(2);
    expect(evals.every((e) => e.preference && e.preference.accuracy >= 0 && e.preference.accuracy <= 1)).toBe(
      true,
    );
    const last = job.checkpoints.at(-1)!;
    expect(existsSync(join(last, 'adapter', 'reward_head.safetensors'))).toBe(true);
    expect(existsSync(join(last, 'adapter', 'adapter_model.safetensors'))).toBe(true);
  }, 600_000);
});

async function readUntilEnd(res: Response): Promise<string> {
  const reader = res.body!.getReader();
  let out = '';
  const dec = new TextDecoder();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return out;
    out += dec.decode(value);
    if (/"state":"completed"/.test(out) && /event: (state|end)/.test(out) && out.includes('completed')) {
      await reader.cancel();
      return out;
    }
  }
}

// The end-of-turn check after a fine-tune, on the real stack (services as processes, gRPC over loopback,
// nats-server, the gateway over HTTP): a small char-level GPT-2 with ChatML's markers as added tokens, whose
// tokenizer_config and generation_config name "<|im_end|>" as the end of turn, is fine-tuned with LoRA for
// two steps. Its merged checkpoint and svc-infer's export of it keep the end of turn (the check passes, and
// greedy generation with the token forced ends at once); an export that drops generation_config.json or
// changes the eos turns the check red, naming what was lost. A second base whose template ends turns with
// "<|im_end|>" but whose tokenizer_config names no eos and whose generation_config stops on "<|endoftext|>"
// never stopped on the trained end of turn in the first place: its fine-tune's check warns and blames the
// base, not the merge or the export.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gpt2Config, paramLayout, saveCheckpoint } from '@lab/engine';
import { type Stack, startStack } from '@lab/supervisor';
import { parseTokenizerJson } from '@lab/tokenizer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CharCodec } from '../src/commands/char-codec.ts';
import { hfTokenizerFiles } from '../src/jobs/hf-model.ts';
import { charTokenizerWithSpecials } from './special-tokens.ts';

const records = [
  { instruction: 'Say hi.', input: '', output: 'Hi there.' },
  { instruction: 'Add 2 and 3.', input: '', output: 'The sum is 5.' },
  { instruction: 'Name a colour.', input: '', output: 'Blue.' },
  { instruction: 'Name a fruit.', input: '', output: 'A pear.' },
];
const CHATML =
  '{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}';
const SPECIALS = ['<|im_start|>', '<|im_end|>', '<|endoftext|>'];

interface Item {
  name: string;
  status: string;
  detail: string;
}
interface Folder {
  kind: string;
  path: string;
  status: string;
  items: Item[];
  stopIds: number[];
}
interface Survival {
  status: string;
  message: string;
  endToken: string;
  endId: number;
  step: number;
  model: string;
  folders: Folder[];
}

let stack: Stack;
let dir: string;
let jobId = '';
let ids: Record<string, number>;

async function api<T>(path: string, body?: unknown): Promise<{ status: number; body: T }> {
  const res = await fetch(`${stack.url}${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, body: (await res.json()) as T };
}

/**
 * A char GPT-2 whose tokenizer has ChatML's markers, whose template ends turns with <|im_end|>, and whose
 * tokenizer_config's eos_token (none when undefined) and generation_config's eos_token_id are `eos`'s.
 */
function chatmlBase(
  name = 'base',
  eos: { token?: string; id: string } = { token: '<|im_end|>', id: '<|im_end|>' },
): string {
  const base = join(dir, name);
  const all = records.map((r) => `${r.instruction}${r.output}`).join('');
  const codec = CharCodec.fromText(`system user assistant\n${all}`);
  const files = hfTokenizerFiles(codec.toTokenizer(), 128);
  files['tokenizer.json'] = charTokenizerWithSpecials(codec, SPECIALS);
  const tok = parseTokenizerJson(files['tokenizer.json'], 'test');
  ids = Object.fromEntries(SPECIALS.map((s) => [s, tok.specialTokens.get(s)!]));
  files['tokenizer_config.json'] = JSON.stringify({ chat_template: CHATML, eos_token: eos.token });
  files['generation_config.json'] = JSON.stringify({ eos_token_id: [ids[eos.id]] });
  const cfg = gpt2Config({
    nLayer: 1,
    nHead: 2,
    nEmbd: 32,
    ffnHidden: 64,
    blockSize: 128,
    vocabSize: codec.vocabSize + SPECIALS.length,
  });
  const layout = paramLayout(cfg);
  saveCheckpoint(base, { cfg, layout, params: layout.init(1) });
  for (const [name, text] of Object.entries(files)) writeFileSync(join(base, name), text);
  return base;
}

async function finished(id: string): Promise<{ state: string; error: string }> {
  // 180 s, inside the 240 s of the test that waits: a job that hangs fails here, with its id, not as a timeout.
  for (let i = 0; i < 720; i++) {
    const j = (await api<{ state: string; error: string }>(`/api/train/jobs/${id}`)).body;
    if (['completed', 'failed', 'cancelled'].includes(j.state)) return j;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`job ${id} did not finish in 180 s`);
}

/** Register the base folder as `model`, LoRA-tune it for two steps on the records, and wait for the job. */
async function fineTune(model: string, path: string): Promise<string> {
  expect((await api('/api/infer/models', { name: model, path })).status).toBe(201);
  const sub = await api<{ id: string }>('/api/train/jobs', {
    name: `eos-lora-${model}`,
    dataPath: join(dir, 'examples.json'),
    finetune: { baseModel: model, loraRank: 4 },
    config: { iters: 2, batchSize: 2, learningRate: 1e-2, evalInterval: 2, context: 96, sampleTokens: 0 },
  });
  expect(sub.status, JSON.stringify(sub.body)).toBe(201);
  const job = await finished(sub.body.id);
  expect(job.error).toBe('');
  expect(job.state).toBe('completed');
  return sub.body.id;
}

/** svc-infer's export of the job's checkpoint into a fresh folder under `dir`. */
async function exportCheckpoint(name: string): Promise<string> {
  const dest = join(dir, name);
  const r = await api<{ files: string[] }>(`/api/infer/models/${encodeURIComponent(`${jobId}@2`)}/export`, {
    path: dest,
  });
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  expect(r.body.files).toEqual(expect.arrayContaining(['generation_config.json', 'tokenizer_config.json']));
  return dest;
}

const itemsOf = (s: Survival, kind: string) =>
  Object.fromEntries(s.folders.find((f) => f.kind === kind)!.items.map((i) => [i.name, i.status]));

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'lab-eos-survival-'));
  const base = chatmlBase();
  writeFileSync(join(dir, 'examples.json'), JSON.stringify(records));
  stack = await startStack({ ports: 'free', output: 'buffer' });
  jobId = await fineTune('chatml-base', base);
}, 240_000);

afterAll(async () => {
  await stack?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('end of turn after a fine-tune', () => {
  it('passes when the merged checkpoint and svc-infer’s export keep <|im_end|>, and generation stops on it', async () => {
    // No body: the newest checkpoint, exported by svc-infer to a scratch folder.
    const res = await fetch(`${stack.url}/api/train/jobs/${jobId}/eos-check`, { method: 'POST' });
    const r = (await res.json()) as Survival;
    expect(res.status, JSON.stringify(r)).toBe(200);
    expect(r).toMatchObject({
      endToken: '<|im_end|>',
      endId: ids['<|im_end|>'],
      step: 2,
      model: `${jobId}@2`,
    });
    expect(r.folders.map((f) => f.kind)).toEqual(['base', 'checkpoint', 'export']);
    // The scratch export is removed after the check, so it names no folder.
    expect(r.folders[2]!.path).toBe('');
    for (const f of r.folders) {
      expect(
        f.items.filter((i) => i.status !== 'pass'),
        f.kind,
      ).toEqual([]);
      expect(f.stopIds).toEqual([ids['<|im_end|>']]);
    }
    expect(r.folders[1]!.items.map((i) => i.name)).toEqual([
      'generation_config',
      'tokenizer_config',
      'chat_template',
      'stop_set',
      'generation',
    ]);
    expect(r.status).toBe('pass');
    expect(r.message).toMatch(/still stops generation/);
  }, 60_000);

  it('fails when an export drops generation_config.json', async () => {
    const dest = await exportCheckpoint('export-dropped');
    rmSync(join(dest, 'generation_config.json'));
    const r = await api<Survival>(`/api/train/jobs/${jobId}/eos-check`, { exportPath: dest });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body.status).toBe('fail');
    expect(r.body.folders[2]!.path).toBe(dest);
    expect(itemsOf(r.body, 'export')).toMatchObject({ generation_config: 'fail', stop_set: 'pass' });
    expect(itemsOf(r.body, 'checkpoint').generation_config).toBe('pass');
    expect(r.body.message).toMatch(/the exported model: generation_config\.json’s eos_token_id/);
  }, 60_000);

  it('fails when an export changes the eos to another token', async () => {
    const dest = await exportCheckpoint('export-changed');
    writeFileSync(
      join(dest, 'generation_config.json'),
      JSON.stringify({ eos_token_id: ids['<|endoftext|>'] }),
    );
    const tc = JSON.parse(readFileSync(join(dest, 'tokenizer_config.json'), 'utf8'));
    writeFileSync(join(dest, 'tokenizer_config.json'), JSON.stringify({ ...tc, eos_token: '<|endoftext|>' }));
    const r = await api<Survival>(`/api/train/jobs/${jobId}/eos-check`, { exportPath: dest, step: 2 });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body.status).toBe('fail');
    expect(itemsOf(r.body, 'export')).toMatchObject({
      generation_config: 'fail',
      tokenizer_config: 'fail',
      stop_set: 'fail',
    });
    expect(r.body.folders[2]!.stopIds).toEqual([ids['<|endoftext|>']]);
    expect(r.body.message).toMatch(/the exported model: the stop set/);
  }, 60_000);

  it('warns, blaming the base, when the base never stopped on the end of turn training used', async () => {
    // No eos_token for training to append, so answers end with the template's <|im_end|>; but generation
    // stops only on <|endoftext|>, as a base whose generation_config was never fixed for its template.
    const wrongJob = await fineTune(
      'chatml-eos-elsewhere',
      chatmlBase('base-eos-elsewhere', { id: '<|endoftext|>' }),
    );
    const r = await api<Survival>(`/api/train/jobs/${wrongJob}/eos-check`, {});
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body).toMatchObject({
      endToken: '<|im_end|>',
      endId: ids['<|im_end|>'],
      model: `${wrongJob}@2`,
    });
    expect(r.body.folders.map((f) => f.kind)).toEqual(['base', 'checkpoint', 'export']);
    // Each folder is as the base was: the template ends answers with <|im_end|>, and no file names it.
    for (const f of r.body.folders) {
      expect(itemsOf(r.body, f.kind), f.kind).toMatchObject({
        generation_config: 'fail',
        tokenizer_config: 'fail',
        chat_template: 'pass',
        stop_set: 'fail',
      });
      expect(f.stopIds, f.kind).toEqual([ids['<|endoftext|>']]);
    }
    // Forcing <|im_end|> does not end generation, since nothing stops on it: that is the base's doing too.
    expect(itemsOf(r.body, 'checkpoint').generation).toBe('fail');
    expect(r.body.status, JSON.stringify(r.body)).toBe('warn');
    expect(r.body.message).toMatch(
      /^"<\|im_end\|>" ends every trained answer, but the base does not stop on it/,
    );
    expect(r.body.message).toMatch(/generation_config\.json/);
  }, 240_000);

  it('names the field of a bad request', async () => {
    const step = await api<{ error: { field: string; message: string } }>(
      `/api/train/jobs/${jobId}/eos-check`,
      {
        step: 7,
      },
    );
    expect(step.status).toBe(400);
    expect(step.body.error.field).toBe('step');
    expect(step.body.error.message).toMatch(/no checkpoint at step 7 \(kept: 2\)/);
    const missing = await api<{ error: { field: string } }>(`/api/train/jobs/${jobId}/eos-check`, {
      exportPath: join(dir, 'nowhere'),
    });
    expect(missing.status).toBe(400);
    expect(missing.body.error.field).toBe('exportPath');
    expect((await api(`/api/train/jobs/no-such-job/eos-check`, {})).status).toBe(404);
  }, 60_000);
});

// A model folder with its own chat template: Phi-3-mini's real tokenizer.json and tokenizer_config.json
// (../shared/datasets/hf-tokenizer-phi3-mini) beside small random Llama weights. The template is rendered
// with @huggingface/jinja, its special tokens become single ids, and its end token ends the answer.
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { datasetPath } from '@lab/common';
import { llamaConfig, paramLayout, saveCheckpoint } from '@lab/engine';
import type { DoneEvent, ModelInfo, PreflightInfo, TokenEvent } from '@lab/proto/infer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type InferFixture, postJson, postSse, startInfer } from './fixture.ts';

let fx: InferFixture;
const END = 32007;

beforeAll(async () => {
  fx = await startInfer();
  const dir = join(fx.home, 'phi-tiny');
  mkdirSync(dir, { recursive: true });
  const cfg = llamaConfig({
    nLayer: 1,
    nHead: 2,
    nKvHead: 1,
    nEmbd: 16,
    ffnHidden: 32,
    blockSize: 128,
    vocabSize: 32064,
  });
  const params = paramLayout(cfg).init(3);
  // Make <|end|> the likeliest next token everywhere, so the answer ends on the model's own end token: the
  // layers add nothing to the residual, every embedding has a large positive first component, and the
  // head reads only that component into <|end|>'s logit.
  const layout = paramLayout(cfg);
  layout.view(params, 'model.layers.0.self_attn.o_proj.weight').fill(0);
  layout.view(params, 'model.layers.0.mlp.down_proj.weight').fill(0);
  const embed = layout.view(params, 'model.embed_tokens.weight');
  for (let t = 0; t < cfg.vocabSize; t++) embed[t * cfg.nEmbd] = 10;
  const head = layout.view(params, 'lm_head.weight');
  const norm = layout.view(params, 'model.norm.weight');
  norm.fill(0);
  norm[0] = 1;
  head.fill(0);
  head[END * cfg.nEmbd] = 50;
  saveCheckpoint(dir, { cfg, params });
  for (const f of ['tokenizer.json', 'tokenizer_config.json'])
    copyFileSync(datasetPath('hf-tokenizer-phi3-mini', f), join(dir, f));
  writeFileSync(join(dir, 'generation_config.json'), JSON.stringify({ eos_token_id: [32000, END] }));
  expect((await postJson(`${fx.url}/api/infer/models`, { name: 'phi-tiny', path: dir })).status).toBe(201);
}, 60_000);

afterAll(async () => {
  await fx?.close();
});

describe("a model's own chat template", () => {
  const messages = [
    { role: 'system', content: 'Be brief.' },
    { role: 'user', content: 'Hello there' },
  ];

  it('is rendered exactly, with its special tokens as single ids', async () => {
    const info = (await (await fetch(`${fx.url}/api/infer/models/phi-tiny`)).json()) as ModelInfo;
    expect(info.hasChatTemplate).toBe(true);
    const pre = await postJson<PreflightInfo>(`${fx.url}/api/infer/preflight`, {
      model: 'phi-tiny',
      messages,
    });
    expect(pre.status).toBe(200);
    expect(pre.body.template).toBe('model');
    expect(pre.body.rendered).toBe(
      '<|system|>\nBe brief.<|end|>\n<|user|>\nHello there<|end|>\n<|assistant|>\n',
    );
    const specials = pre.body.tokens.filter((t) => t.special);
    expect(specials.map((t) => [t.id, t.text])).toEqual([
      [32006, '<|system|>'],
      [END, '<|end|>'],
      [32010, '<|user|>'],
      [END, '<|end|>'],
      [32001, '<|assistant|>'],
    ]);
  });

  it("ends the answer at the model's end token, which is not part of the text", async () => {
    const r = await postSse(`${fx.url}/api/infer/chat`, {
      model: 'phi-tiny',
      messages,
      params: { maxTokens: 10, temperature: 0 },
      ephemeral: true,
    });
    const d = r.events.find((e) => e.event === 'done')!.data as DoneEvent;
    expect(d).toMatchObject({ finishReason: 'stop', completionTokens: 0, text: '', conversationId: '' });
    const more = await postSse(`${fx.url}/api/infer/chat`, {
      model: 'phi-tiny',
      messages,
      params: { maxTokens: 3, temperature: 0, stopAtEos: false },
      ephemeral: true,
    });
    const toks = more.events.filter((e) => e.event === 'token').map((e) => e.data as TokenEvent);
    expect(toks.map((t) => t.id)).toEqual([END, END, END]);
    expect(toks[0]!.token).toBe('<|end|>');
  });
});

// The OpenAI-compatible API driven by the official `openai` client: a streamed chat, a greedy completion
// with log-probabilities, seeded n = 2, the model list and OpenAI's error shape.
import { join } from 'node:path';
import { Decoder } from '@lab/engine';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type InferFixture, postJson, startInfer, writeCharModel } from './fixture.ts';

let fx: InferFixture;
let model: ReturnType<typeof writeCharModel>;
let client: OpenAI;

beforeAll(async () => {
  fx = await startInfer();
  model = writeCharModel(join(fx.home, 'models', 'bard'));
  expect((await postJson(`${fx.url}/api/infer/models`, { name: 'bard', path: model.dir })).status).toBe(201);
  client = new OpenAI({ baseURL: `${fx.url}/v1`, apiKey: 'unused', maxRetries: 0 });
}, 60_000);

afterAll(async () => {
  await fx?.close();
});

describe('OpenAI client', () => {
  it('lists the models', async () => {
    const list = await client.models.list();
    expect(list.data.map((m) => m.id)).toContain('bard');
  });

  it('a greedy completion with logprobs equals the model computed in the test', async () => {
    const prompt = 'ROMEO:';
    const r = await client.completions.create({
      model: 'bard',
      prompt,
      max_tokens: 8,
      temperature: 0,
      logprobs: 3,
    });
    const dec = await Decoder.create(model.cfg, model.params);
    const ids = model.tokenizer.encode(prompt);
    const V = model.cfg.vocabSize;
    const want: number[] = [];
    const wantLp: number[] = [];
    for (let i = 0; i < 8; i++) {
      dec.reset();
      const { logits, seq } = await dec.feed([...ids, ...want]);
      const row = Array.from(logits.subarray((seq - 1) * V, seq * V));
      const max = Math.max(...row);
      const lse = max + Math.log(row.reduce((a, v) => a + Math.exp(v - max), 0));
      const best = row.indexOf(max);
      want.push(best);
      wantLp.push(row[best]! - lse);
    }
    await dec.release();
    const choice = r.choices[0]!;
    expect(choice.text).toBe(model.tokenizer.decode(want));
    expect(choice.finish_reason).toBe('length');
    expect(choice.logprobs!.tokens).toEqual(want.map((id) => model.tokenizer.decode([id])));
    choice.logprobs!.token_logprobs!.forEach((lp, i) => {
      expect(lp).toBeCloseTo(wantLp[i]!, 4);
    });
    expect(Object.keys(choice.logprobs!.top_logprobs![0]!)).toHaveLength(3);
    expect(r.usage).toEqual({
      prompt_tokens: ids.length,
      completion_tokens: 8,
      total_tokens: ids.length + 8,
    });
  });

  it('a streamed chat delivers the same text as the same request unstreamed', async () => {
    const messages = [{ role: 'user' as const, content: 'Speak, friend.' }];
    const whole = await client.chat.completions.create({ model: 'bard', messages, max_tokens: 12, seed: 5 });
    const stream = await client.chat.completions.create({
      model: 'bard',
      messages,
      max_tokens: 12,
      seed: 5,
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = '';
    let chunks = 0;
    let finish: string | null = null;
    let usage: OpenAI.CompletionUsage | undefined | null;
    for await (const chunk of stream) {
      if (chunk.usage) usage = chunk.usage;
      const c = chunk.choices[0];
      if (!c) continue;
      text += c.delta.content ?? '';
      if (c.delta.content) chunks++;
      finish = c.finish_reason ?? finish;
    }
    expect(text).toBe(whole.choices[0]!.message.content);
    expect(chunks).toBeGreaterThan(1);
    expect(finish).toBe(whole.choices[0]!.finish_reason);
    expect(usage?.completion_tokens).toBe(whole.usage?.completion_tokens);
  });

  it('a streamed completion delivers the same text, finish reason and usage as unstreamed', async () => {
    const ask = { model: 'bard', prompt: 'KING:', max_tokens: 10, seed: 7, temperature: 1 } as const;
    const whole = await client.completions.create(ask);
    const stream = await client.completions.create({
      ...ask,
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = '';
    let finish: string | null = null;
    let usage: OpenAI.CompletionUsage | undefined;
    for await (const chunk of stream) {
      if (chunk.usage) usage = chunk.usage;
      for (const c of chunk.choices) {
        text += c.text;
        finish = c.finish_reason ?? finish;
      }
    }
    expect(text).toBe(whole.choices[0]!.text);
    expect(finish).toBe(whole.choices[0]!.finish_reason);
    expect(usage).toEqual(whole.usage);
  });

  it('seeded n = 2 gives two different samples, the same two every time', async () => {
    const ask = () =>
      client.completions.create({
        model: 'bard',
        prompt: 'KING:',
        max_tokens: 16,
        n: 2,
        seed: 9,
        temperature: 1,
      });
    const a = await ask();
    const b = await ask();
    expect(a.choices.map((c) => c.index)).toEqual([0, 1]);
    expect(a.choices.map((c) => c.text)).toEqual(b.choices.map((c) => c.text));
    expect(a.choices[0]!.text).not.toBe(a.choices[1]!.text);
  });

  it('answers in OpenAI error shapes: unknown model 404, bad value 400 naming the param', async () => {
    const missing = await client.chat.completions
      .create({ model: 'nobody', messages: [{ role: 'user', content: 'hi' }] })
      .catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(OpenAI.NotFoundError);
    expect((missing as InstanceType<typeof OpenAI.NotFoundError>).code).toBe('model_not_found');
    const bad = await client.completions
      .create({ model: 'bard', prompt: 'x', temperature: 3 })
      .catch((e: unknown) => e);
    expect(bad).toBeInstanceOf(OpenAI.BadRequestError);
    expect((bad as InstanceType<typeof OpenAI.BadRequestError>).param).toBe('temperature');
    const raw = await fetch(`${fx.url}/v1/chat/completions`, { method: 'POST', body: '{' });
    expect(raw.status).toBe(400);
    expect(Object.keys(((await raw.json()) as { error: object }).error).sort()).toEqual([
      'code',
      'message',
      'param',
      'type',
    ]);
  });
});

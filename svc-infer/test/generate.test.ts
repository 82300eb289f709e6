// svc-infer end to end: the gateway over real HTTP in front of the service over gRPC, a real nats-server,
// real ONNX Runtime sessions of a small char-level GPT written by the engine.
import { join } from 'node:path';
import { localCallContext } from '@lab/common';
import { Decoder } from '@lab/engine';
import {
  type DoneEvent,
  type ModelInfo,
  type PreflightInfo,
  SamplingParams,
  type TokenEvent,
} from '@lab/proto/infer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GENERATION_SUBJECT } from '../src/service.ts';
import {
  type InferFixture,
  postJson,
  postSse,
  type SseMessage,
  startInfer,
  writeCharModel,
} from './fixture.ts';

let fx: InferFixture;
let model: ReturnType<typeof writeCharModel>;
let reference: Decoder;

const tokens = (events: SseMessage[], sample = 0) =>
  events
    .filter((e) => e.event === 'token')
    .map((e) => e.data as TokenEvent)
    .filter((t) => t.sample === sample);
const done = (events: SseMessage[], sample = 0) =>
  events
    .filter((e) => e.event === 'done')
    .map((e) => e.data as DoneEvent)
    .find((d) => d.sample === sample);

function logSoftmax(row: Float32Array): number[] {
  const max = Math.max(...row);
  const lse = max + Math.log(row.reduce((a, v) => a + Math.exp(v - max), 0));
  return Array.from(row, (v) => v - lse);
}

/** Greedy continuation and each chosen token's log-probability, recomputing the whole sequence each step. */
async function referenceGreedy(prompt: number[], n: number): Promise<{ ids: number[]; logprobs: number[] }> {
  const seq = [...prompt];
  const ids: number[] = [];
  const logprobs: number[] = [];
  const V = model.cfg.vocabSize;
  for (let i = 0; i < n; i++) {
    reference.reset();
    const { logits, seq: T } = await reference.feed(seq);
    const lp = logSoftmax(logits.subarray((T - 1) * V, T * V));
    let best = 0;
    for (let v = 1; v < V; v++) if (lp[v]! > lp[best]!) best = v;
    ids.push(best);
    logprobs.push(lp[best]!);
    seq.push(best);
  }
  return { ids, logprobs };
}

beforeAll(async () => {
  fx = await startInfer();
  model = writeCharModel(join(fx.home, 'models', 'bard'));
  reference = await Decoder.create(model.cfg, model.params);
  const r = await postJson<ModelInfo>(`${fx.url}/api/infer/models`, { name: 'bard', path: model.dir });
  expect(r.status).toBe(201);
}, 60_000);

afterAll(async () => {
  await reference?.release();
  await fx?.close();
});

describe('registry', () => {
  it('lists, describes, refuses duplicates and bad folders, and deletes', async () => {
    const list = (await (await fetch(`${fx.url}/api/infer/models`)).json()) as { models: ModelInfo[] };
    const bard = list.models.find((m) => m.name === 'bard')!;
    expect(bard).toMatchObject({
      source: 'registered',
      family: 'gpt2',
      architecture: 'GPT2LMHeadModel',
      context: 64,
      vocabSize: model.cfg.vocabSize,
      hasChatTemplate: false,
    });
    expect(bard.parameters).toBe(model.params.length);

    const dup = await postJson(`${fx.url}/api/infer/models`, { name: 'bard', path: model.dir });
    expect(dup.status).toBe(409);
    const missing = await postJson(`${fx.url}/api/infer/models`, { name: 'x', path: join(fx.home, 'nope') });
    expect(missing.status).toBe(400);
    expect(missing.body.error.field).toBe('path');
    const notModel = await postJson(`${fx.url}/api/infer/models`, { name: 'y', path: fx.home });
    expect(notModel.status).toBe(400);
    expect(notModel.body.error.message).toMatch(/config\.json/);
    const badName = await postJson(`${fx.url}/api/infer/models`, { name: 'a@1', path: model.dir });
    expect(badName.status).toBe(400);
    expect(badName.body.error.field).toBe('name');

    const other = writeCharModel(join(fx.home, 'models', 'tmp'), {}, 3);
    expect((await postJson(`${fx.url}/api/infer/models`, { name: 'tmp', path: other.dir })).status).toBe(201);
    const del = await fetch(`${fx.url}/api/infer/models/tmp`, { method: 'DELETE' });
    expect(del.status).toBe(200);
    expect((await fetch(`${fx.url}/api/infer/models/tmp`)).status).toBe(404);
  });

  it('serves the checkpoints of training jobs as <job>@<step> without registering', async () => {
    const ck = writeCharModel(join(fx.home, 'jobs', 'j1', 'checkpoints', 'step-000000200'), {}, 11);
    fx.jobs.push({
      id: 'j1',
      name: 'bard-run',
      state: 'completed',
      step: 200,
      iters: 200,
      error: '',
      request: undefined,
      checkpoints: [ck.dir],
      checkpointInfo: [],
      retention: '',
      createdAt: '2026-01-01T00:00:00Z',
      updatedAt: '2026-01-01T00:10:00Z',
      lastSeq: 0,
      pendingAction: '',
      worker: '',
      attempts: 1,
      loss: 1.5,
      valLoss: 1.7,
      vocabSize: ck.cfg.vocabSize,
      parameters: ck.params.length,
    });
    const info = (await (await fetch(`${fx.url}/api/infer/models/bard-run@200`)).json()) as ModelInfo;
    expect(info).toMatchObject({ source: 'checkpoint', jobId: 'j1', step: 200, valLoss: 1.7 });
    const r = await postSse(`${fx.url}/api/infer/generate`, {
      model: 'bard-run@200',
      prompt: 'ROMEO:',
      params: { maxTokens: 5, temperature: 0 },
    });
    expect(done(r.events)?.completionTokens).toBe(5);
  });
});

describe('generation', () => {
  it('greedy tokens and their log-probabilities equal a forward pass computed in the test', async () => {
    const prompt = 'First Citizen:';
    const ids = model.tokenizer.encode(prompt);
    const want = await referenceGreedy(ids, 12);
    const r = await postSse(`${fx.url}/api/infer/generate`, {
      model: 'bard',
      prompt,
      params: { maxTokens: 12, temperature: 0, topLogprobs: 5, echo: true },
    });
    const pre = r.events[0]!;
    expect(pre.event).toBe('preflight');
    const toks = tokens(r.events);
    expect(toks.map((t) => t.id)).toEqual(want.ids);
    toks.forEach((t, i) => {
      expect(t.logprob).toBeCloseTo(want.logprobs[i]!, 4);
      expect(t.top).toHaveLength(5);
      expect(t.top[0]!.id).toBe(t.id);
      expect(t.top[0]!.logprob).toBeCloseTo(t.logprob, 6);
    });
    const d = done(r.events)!;
    expect(d.text).toBe(model.tokenizer.decode(want.ids));
    expect(toks.map((t) => t.text).join('')).toBe(d.text);
    expect(d).toMatchObject({ finishReason: 'length', promptTokens: ids.length, completionTokens: 12 });

    // echo: log p(prompt[i] | prompt[<i]) from the same model.
    const p = pre.data as PreflightInfo;
    reference.reset();
    const full = await reference.feed(ids);
    const V = model.cfg.vocabSize;
    expect(p.tokens.map((t) => t.id)).toEqual(ids);
    for (let i = 1; i < ids.length; i++) {
      const lp = logSoftmax(full.logits.subarray((i - 1) * V, i * V));
      expect(p.tokens[i]!.logprob).toBeCloseTo(lp[ids[i]!]!, 4);
    }
  });

  it('same seed and settings give the same text; another seed another text; n samples differ', async () => {
    const body = (seed: number, n = 1) => ({
      model: 'bard',
      prompt: 'KING:',
      params: { maxTokens: 24, temperature: 1, topK: 20, topP: 0.95, seed, n },
    });
    const a = await postSse(`${fx.url}/api/infer/generate`, body(42));
    const b = await postSse(`${fx.url}/api/infer/generate`, body(42));
    const c = await postSse(`${fx.url}/api/infer/generate`, body(43));
    expect(done(a.events)!.text).toBe(done(b.events)!.text);
    expect(done(a.events)!.text).not.toBe(done(c.events)!.text);
    const two = await postSse(`${fx.url}/api/infer/generate`, body(42, 2));
    expect(done(two.events, 0)!.text).toBe(done(a.events)!.text);
    expect(done(two.events, 1)!.text).not.toBe(done(two.events, 0)!.text);
  });

  it('a stop string split across tokens is never streamed and ends the sample', async () => {
    const greedy = await postSse(`${fx.url}/api/infer/generate`, {
      model: 'bard',
      prompt: 'To be',
      params: { maxTokens: 30, temperature: 0 },
    });
    const text = done(greedy.events)!.text;
    // A char model: a 3-character stop string spans three tokens.
    const stop = text.slice(10, 13);
    const cut = text.indexOf(stop);
    const r = await postSse(`${fx.url}/api/infer/generate`, {
      model: 'bard',
      prompt: 'To be',
      params: { maxTokens: 30, temperature: 0, stop: [stop] },
    });
    const streamed = tokens(r.events)
      .map((t) => t.text)
      .join('');
    expect(streamed).toBe(text.slice(0, cut));
    expect(streamed).not.toContain(stop);
    expect(done(r.events)).toMatchObject({ finishReason: 'stop', stop, text: text.slice(0, cut) });
  });

  it('a client that disconnects stops the generation within a token', async () => {
    let resolveEnded!: (m: { finishReason: string; completionTokens: number }) => void;
    const ended = new Promise<{ finishReason: string; completionTokens: number }>((r) => {
      resolveEnded = r;
    });
    const sub = await fx.bus.subscribe(GENERATION_SUBJECT, (ev) => {
      const m = ev.data as { finishReason: string; completionTokens: number };
      if (m.finishReason === 'cancelled') resolveEnded(m);
    });
    // Wide enough that a token takes milliseconds, as with real models, so the service can't run far ahead
    // of what the client has read.
    const wide = writeCharModel(join(fx.home, 'models', 'wide'), {
      nLayer: 4,
      nHead: 8,
      nEmbd: 512,
      ffnHidden: 2048,
      blockSize: 256,
    });
    expect((await postJson(`${fx.url}/api/infer/models`, { name: 'wide', path: wide.dir })).status).toBe(201);
    let seen = 0;
    await postSse(
      `${fx.url}/api/infer/generate`,
      { model: 'wide', prompt: 'A', params: { maxTokens: 250, temperature: 1, seed: 1, stopAtEos: false } },
      (e) => {
        if (e.event === 'token') seen++;
        return seen === 3;
      },
    );
    const m = await ended;
    await sub.unsubscribe();
    // Here the client, the gateway and the service share one event loop, so the disconnect takes a few
    // forward passes to arrive; the next test pins down what happens once it has.
    expect(m.completionTokens).toBeGreaterThanOrEqual(3);
    expect(m.completionTokens).toBeLessThan(20);
  });

  it('once the service sees the cancel, no further token is computed', async () => {
    const controller = new AbortController();
    let received = 0;
    let final: string | undefined;
    const events = fx.impl.impl.generate!(
      {
        model: 'bard',
        prompt: 'A',
        messages: [],
        params: { ...SamplingParams.fromPartial({ maxTokens: 60, seed: 2 }), stopAtEos: false },
      },
      localCallContext(controller.signal),
    );
    const sub = await fx.bus.subscribe(GENERATION_SUBJECT, (ev) => {
      final = JSON.stringify(ev.data);
    });
    for await (const e of events) {
      if (e.event?.$case === 'token' && ++received === 4) controller.abort();
    }
    await new Promise((r) => setTimeout(r, 100));
    await sub.unsubscribe();
    expect(JSON.parse(final!)).toMatchObject({ finishReason: 'cancelled', completionTokens: 4 });
  });

  it('serves 8 concurrent streams on one model without mixing their outputs', async () => {
    const body = (seed: number) => ({
      model: 'bard',
      prompt: 'Citizen:',
      params: { maxTokens: 20, temperature: 1, seed },
    });
    const solo: string[] = [];
    for (let s = 0; s < 8; s++)
      solo.push(done((await postSse(`${fx.url}/api/infer/generate`, body(s))).events)!.text);
    const together = await Promise.all(
      Array.from({ length: 8 }, (_, s) => postSse(`${fx.url}/api/infer/generate`, body(s))),
    );
    together.forEach((r, s) => {
      expect(done(r.events)!.text).toBe(solo[s]);
      expect(
        tokens(r.events)
          .map((t) => t.text)
          .join(''),
      ).toBe(solo[s]);
    });
    expect(new Set(solo).size).toBeGreaterThan(1);
  });

  it('keeps sampling past the context, restarting the cache on the last half of the text', async () => {
    const prompt = 'O Romeo, Romeo! wherefore art thou Romeo?';
    const r = await postSse(`${fx.url}/api/infer/generate`, {
      model: 'bard',
      prompt,
      params: { maxTokens: 80, temperature: 0, stopAtEos: false },
    });
    const d = done(r.events)!;
    expect(d).toMatchObject({ finishReason: 'length', completionTokens: 80 });
    // Up to the context the tokens are the plain greedy ones; after it, greedy on the cropped text.
    const ids = model.tokenizer.encode(prompt);
    // The last token that fits is computed with all 64 positions filled: 65 - prompt tokens fit.
    const fit = 65 - ids.length;
    const within = await referenceGreedy(ids, fit);
    const got = tokens(r.events).map((t) => t.id);
    expect(got.slice(0, fit)).toEqual(within.ids);
    const after = await referenceGreedy([...ids, ...got.slice(0, fit)].slice(-32), 1);
    expect(got[fit]).toBe(after.ids[0]);
  });

  it('beam search returns the n-best with scores and a consistent tree', async () => {
    const r = await postSse(`${fx.url}/api/infer/generate`, {
      model: 'bard',
      prompt: 'ROMEO:',
      params: { maxTokens: 6, numBeams: 3, earlyStopping: 'never', lengthPenalty: 1 },
    });
    const d = done(r.events)!;
    expect(d.beams).toHaveLength(3);
    for (const b of d.beams) {
      expect(b.ids).toHaveLength(6);
      expect(b.score).toBeCloseTo(b.logprob / 6, 5);
      expect(b.text).toBe(model.tokenizer.decode(b.ids));
    }
    expect(d.beams[0]!.score).toBeGreaterThanOrEqual(d.beams[1]!.score);
    const ids = new Set(d.tree.map((n) => n.id));
    for (const n of d.tree) if (n.parent >= 0) expect(ids.has(n.parent)).toBe(true);
    // The greedy path's score can't beat the best beam's.
    const g = await referenceGreedy(model.tokenizer.encode('ROMEO:'), 6);
    expect(d.beams[0]!.logprob).toBeGreaterThanOrEqual(g.logprobs.reduce((a, b) => a + b, 0) - 1e-4);
  });
});

describe('bad input', () => {
  const gen = (body: unknown) => postSse(`${fx.url}/api/infer/generate`, body);
  it('answers 400 naming the field, 404 for an unknown model', async () => {
    const cases: [unknown, number, string][] = [
      [{ model: 'bard', prompt: '' }, 400, 'prompt'],
      [{ model: 'bard', prompt: 'hi', params: { temperature: -1 } }, 400, 'params.temperature'],
      [{ model: 'bard', prompt: 'hi', params: { topP: 1.5 } }, 400, 'params.topP'],
      [{ model: 'bard', prompt: 'hi', params: { topLogprobs: 21 } }, 400, 'params.topLogprobs'],
      [{ model: 'bard', prompt: 'hi', params: { maxTokens: 100_000 } }, 400, 'params.maxTokens'],
      [{ model: 'bard', prompt: 'hi', params: { logitBias: { '99999': 5 } } }, 400, 'params.logitBias'],
      [{ model: 'bard', prompt: '\u{1F600}' }, 400, 'prompt'],
      [{ model: 'bard', prompt: 'x'.repeat(100) }, 400, 'prompt'],
      [{ model: 'nobody', prompt: 'hi' }, 404, 'model'],
    ];
    for (const [body, status, field] of cases) {
      const r = await gen(body);
      expect({ body, status: r.status }).toEqual({ body, status });
      expect((r.error as { error: { field: string } }).error.field).toBe(field);
    }
  });

  it('a prompt longer than the context is cut only when asked, and the answer says what was cut', async () => {
    const long = 'All the world is a stage. '.repeat(4);
    const pre = await postJson<PreflightInfo>(`${fx.url}/api/infer/preflight`, {
      model: 'bard',
      prompt: long,
      params: { maxTokens: 8 },
    });
    expect(pre.body.problem).toMatch(/context is 64/);
    const cut = await postJson<PreflightInfo>(`${fx.url}/api/infer/preflight`, {
      model: 'bard',
      prompt: long,
      params: { maxTokens: 8, truncate: true },
    });
    expect(cut.body).toMatchObject({ promptTokens: 56, truncatedTokens: long.length - 56, problem: '' });
    expect(cut.body.truncatedText + cut.body.tokens.map((t) => t.text).join('')).toBe(long);
  });
});

describe('chat', () => {
  it('renders the default template, stores the conversation, renames and deletes it', async () => {
    const messages = [
      { role: 'system', content: 'You speak in verse.' },
      { role: 'user', content: 'Who goes there?' },
    ];
    const pre = await postJson<PreflightInfo>(`${fx.url}/api/infer/preflight`, { model: 'bard', messages });
    expect(pre.body.rendered).toBe('System: You speak in verse.\n\nUser: Who goes there?\n\nAssistant:');
    expect(pre.body.template).toBe('default');
    const r = await postSse(`${fx.url}/api/infer/chat`, {
      model: 'bard',
      messages,
      params: { maxTokens: 10, seed: 3 },
    });
    const d = done(r.events)!;
    expect(d.conversationId).not.toBe('');
    const conv = (await (await fetch(`${fx.url}/api/infer/conversations/${d.conversationId}`)).json()) as {
      messages: { role: string; content: string }[];
      title: string;
    };
    expect(conv.messages).toEqual([...messages, { role: 'assistant', content: d.text }]);
    expect(conv.title).toBe('Who goes there?');
    const renamed = await postJson<{ title: string }>(
      `${fx.url}/api/infer/conversations/${d.conversationId}`,
      { title: 'Night watch' },
      'PATCH',
    );
    expect(renamed.body.title).toBe('Night watch');
    expect(
      (await fetch(`${fx.url}/api/infer/conversations/${d.conversationId}`, { method: 'DELETE' })).status,
    ).toBe(200);
    expect((await fetch(`${fx.url}/api/infer/conversations/${d.conversationId}`)).status).toBe(404);
  });

  it('stores a stopped answer with the text it had', async () => {
    const messages = [{ role: 'user', content: 'Speak on.' }];
    let seen = 0;
    await postSse(
      `${fx.url}/api/infer/chat`,
      { model: 'wide', messages, params: { maxTokens: 200, seed: 4, stopAtEos: false } },
      (e) => (e.event === 'token' ? ++seen === 3 : false),
    );
    let stored: { messages: { role: string; content: string }[] } | undefined;
    for (let i = 0; i < 50 && !stored; i++) {
      const list = (await (await fetch(`${fx.url}/api/infer/conversations`)).json()) as {
        conversations: { id: string; title: string }[];
      };
      const hit = list.conversations.find((c) => c.title === 'Speak on.');
      if (hit)
        stored = (await (await fetch(`${fx.url}/api/infer/conversations/${hit.id}`)).json()) as typeof stored;
      else await new Promise((res) => setTimeout(res, 100));
    }
    expect(stored!.messages[0]).toEqual(messages[0]);
    expect(stored!.messages[1]!.role).toBe('assistant');
    expect(stored!.messages[1]!.content.length).toBeGreaterThan(0);
  });

  it('keeps a prompt library', async () => {
    const saved = await postJson<{ name: string }>(
      `${fx.url}/api/infer/prompts/verse`,
      { kind: 'system', text: 'You speak in verse.' },
      'PUT',
    );
    expect(saved.status).toBe(200);
    const list = (await (await fetch(`${fx.url}/api/infer/prompts`)).json()) as {
      prompts: { name: string }[];
    };
    expect(list.prompts.map((p) => p.name)).toContain('verse');
    expect((await fetch(`${fx.url}/api/infer/prompts/verse`, { method: 'DELETE' })).status).toBe(200);
  });
});

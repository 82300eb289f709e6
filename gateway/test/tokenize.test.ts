import { datasetPath } from '@lab/common';
import { getTokenizer } from '@lab/tokenizer';
import { describe, expect, it } from 'vitest';
import { useStack } from '../../supervisor/test/fixture.ts';
import { openSse } from '../../supervisor/test/sse.ts';

const lab = useStack();

const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(`${lab().url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });

describe('tokenizer routes of the gateway', () => {
  it('encodes with spans, and decodes back', async () => {
    const text = 'Learners start with tokens: “¿Qué tal?” 👋';
    const res = await post('/api/tokenize/encode', { tokenizer: 'o200k_base', text });
    expect(res.status).toBe(200);
    const body = (await res.json()) as {
      ids: number[];
      tokens: { text: string; start: number; end: number; bytes: string }[];
    };
    expect(body.ids).toEqual(getTokenizer('o200k_base').encode(text));
    expect(body.tokens.map((t) => text.slice(t.start, t.end))).toEqual(body.tokens.map((t) => t.text));
    const dec = (await (
      await post('/api/tokenize/decode', { tokenizer: 'o200k_base', ids: body.ids })
    ).json()) as { text: string };
    expect(dec.text).toBe(text);
  });

  it('answers malformed JSON with 400 naming the body', async () => {
    const res = await post('/api/tokenize/encode', '{"tokenizer": "gpt2", "text": ');
    expect(res.status).toBe(400);
    const { error } = (await res.json()) as { error: { code: string; field: string; message: string } };
    expect(error.code).toBe('INVALID_ARGUMENT');
    expect(error.field).toBe('body');
    expect(error.message).toMatch(/not valid JSON/);
  });

  it('answers a missing or mistyped field with 400 naming it', async () => {
    const missing = await post('/api/tokenize/encode', { tokenizer: 'gpt2' });
    expect(missing.status).toBe(400);
    expect(((await missing.json()) as { error: { field: string } }).error.field).toBe('text');
    const typed = await post('/api/tokenize/compare', { tokenizers: 'gpt2', text: 'x' });
    expect(typed.status).toBe(400);
    expect(((await typed.json()) as { error: { field: string } }).error.field).toBe('tokenizers');
  });

  it('answers an unknown tokenizer with 404 naming the field', async () => {
    const res = await post('/api/tokenize/encode', { tokenizer: 'nope', text: 'x' });
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ error: { code: 'NOT_FOUND', field: 'tokenizer' } });
  });

  it('trains a tokenizer with SSE progress, and the job events on the bus carry the caller trace id', async () => {
    const traceId = '0af7651916cd43dd8448eb211c80319c';
    const bus = await openSse(`${lab().url}/api/events?subject=lab.job.*.state`);
    try {
      const res = await post(
        '/api/tokenize/train',
        { name: 'bard-400', vocabSize: 400, path: datasetPath('tinyshakespeare', 'input.txt') },
        { traceparent: `00-${traceId}-b7ad6b7169203331-01` },
      );
      expect(res.status).toBe(202);
      const { jobId } = (await res.json()) as { jobId: string };
      const progress = await openSse(`${lab().url}/api/tokenize/train/${jobId}/events`);
      const events = await progress.waitFor(
        (evs) => evs.some((e) => JSON.parse(e.data).state !== 'running'),
        60_000,
      );
      progress.close();
      const last = JSON.parse(events.at(-1)!.data);
      expect(last.state).toBe('done');
      expect(last.tokenizer).toMatchObject({ name: 'bard-400', vocabSize: 400 });
      expect(last).toMatchObject({ merges: 144, total: 144, stopReason: 'vocab_size' });
      expect(events.filter((e) => JSON.parse(e.data).state === 'running').length).toBeGreaterThan(0);

      const busEvents = await bus.waitFor((evs) => evs.some((e) => JSON.parse(e.data).data.state === 'done'));
      const mine = busEvents
        .map((e) => JSON.parse(e.data))
        .filter((e) => e.subject === 'lab.job.tokenize-bard-400.state');
      expect(mine.length).toBeGreaterThan(1);
      for (const e of mine) expect(e.traceId).toBe(traceId);

      // A replay of the finished run from the start gives the same events.
      const replay = await openSse(`${lab().url}/api/tokenize/train/${jobId}/events`, {
        'last-event-id': '0',
      });
      const again = await replay.waitFor((evs) => evs.length === events.length);
      replay.close();
      expect(again.map((e) => e.data)).toEqual(events.map((e) => e.data));

      const list = (await (await fetch(`${lab().url}/api/tokenize/tokenizers`)).json()) as {
        tokenizers: { name: string }[];
      };
      expect(list.tokenizers.map((t) => t.name)).toContain('bard-400');
    } finally {
      bus.close();
    }
  });

  it('rejects a training request that is bad before starting anything', async () => {
    const small = await post('/api/tokenize/train', { name: 'tiny', vocabSize: 100, text: 'abc' });
    expect(small.status).toBe(400);
    expect(await small.json()).toMatchObject({ error: { field: 'vocabSize' } });
    const two = await post('/api/tokenize/train', { name: 'two', vocabSize: 300, text: 'abc', path: '/x' });
    expect(two.status).toBe(400);
    expect(await two.json()).toMatchObject({ error: { field: 'text' } });
    const unknownJob = await fetch(`${lab().url}/api/tokenize/train/nope/events`);
    expect(unknownJob.status).toBe(404);
  });

  it('pages the vocabulary with the merges behind each id', async () => {
    const res = await fetch(`${lab().url}/api/tokenize/tokenizers/gpt2/vocab?offset=256&limit=3`);
    const body = (await res.json()) as {
      total: number;
      entries: { id: number; text: string; merge?: [string, string] }[];
      merges: [string, string][];
    };
    expect(body.total).toBe(50257);
    expect(body.entries.map((e) => e.id)).toEqual([256, 257, 258]);
    expect(body.merges.map(([a, b]) => a + b)).toEqual(body.entries.map((e) => e.text));
    expect(body.entries.map((e) => e.merge)).toEqual(body.merges);
    const bad = await fetch(`${lab().url}/api/tokenize/tokenizers/gpt2/vocab?limit=5000`);
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ error: { field: 'limit' } });
    const past = await fetch(`${lab().url}/api/tokenize/tokenizers/gpt2/vocab?offset=50257`);
    expect(past.status).toBe(400);
    expect(await past.json()).toMatchObject({ error: { field: 'offset' } });
  });

  it('describes every route in the OpenAPI document', async () => {
    const doc = (await (await fetch(`${lab().url}/api/openapi.json`)).json()) as {
      paths: Record<string, unknown>;
    };
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining([
        '/api/tokenize/tokenizers',
        '/api/tokenize/encode',
        '/api/tokenize/decode',
        '/api/tokenize/compare',
        '/api/tokenize/tokenizers/{name}/vocab',
        '/api/tokenize/cost',
        '/api/tokenize/train',
        '/api/tokenize/train/{jobId}/events',
      ]),
    );
  });
});

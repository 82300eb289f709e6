// Tracing end to end: the gateway over real HTTP, svc-infer over gRPC, real ORT sessions of a char model.
import { join } from 'node:path';
import { localCallContext } from '@lab/common';
import { scoreLayer } from '@lab/engine';
import { type ModelInfo, type TraceEvent, TraceRequest, type TraceSummary } from '@lab/proto/infer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type InferFixture, postJson, startInfer, writeCharModel } from './fixture.ts';

interface TraceJson {
  summary: {
    tokens: { id: number; text: string; logprob: number }[];
    loss: number[];
    meanLoss: number;
    layers: number;
    heads: number;
    streams: {
      layer: number;
      residNorm: number[];
      attnNorm: number[];
      lens: { ids: number[]; probs: number[]; targetProb: number }[];
    }[];
    scores: {
      layer: number;
      head: number;
      previous: number;
      first: number;
      duplicate: number;
      induction: number;
    }[];
    duplicateRows: number;
    inductionRows: number;
  };
  attention: { layer: number; heads: number; tokens: number; weights: number[] }[];
}

let fx: InferFixture;
let model: ReturnType<typeof writeCharModel>;
const TEXT = 'To be, or not to be';

beforeAll(async () => {
  fx = await startInfer();
  model = writeCharModel(join(fx.home, 'models', 'bard'));
  const r = await postJson<ModelInfo>(`${fx.url}/api/infer/models`, { name: 'bard', path: model.dir });
  expect(r.status).toBe(201);
}, 60_000);

afterAll(async () => {
  await fx?.close();
});

describe('POST /api/infer/trace', () => {
  it('returns every layer and head, with losses and lens equal to the decoding model’s', async () => {
    const r = await postJson<TraceJson>(`${fx.url}/api/infer/trace`, { model: 'bard', text: TEXT, topK: 3 });
    expect(r.status).toBe(200);
    const { summary, attention } = r.body;
    const ids = model.tokenizer.encode(TEXT);
    const T = ids.length;
    expect(summary.tokens.map((t) => t.id)).toEqual(ids);
    expect(summary.tokens.map((t) => t.text).join('')).toBe(TEXT);
    expect(summary.layers).toBe(2);
    expect(summary.heads).toBe(2);
    expect(summary.streams.length).toBe(3);
    expect(summary.scores.length).toBe(4);
    expect(attention.map((a) => a.layer)).toEqual([0, 1]);

    // The pool's decoding model gives the same next-token distribution as the lens of the last stream.
    const lm = await fx.impl.pool.use(await fx.impl.catalog.resolve('bard'), async (m) =>
      m.lm.forward(ids, true),
    );
    const V = model.cfg.vocabSize;
    for (let t = 0; t + 1 < T; t++) {
      const row = lm.subarray(t * V, (t + 1) * V);
      const max = Math.max(...row);
      const lse = max + Math.log(row.reduce((a, v) => a + Math.exp(v - max), 0));
      expect(Math.abs(summary.loss[t]! - (lse - row[ids[t + 1]!]!))).toBeLessThan(1e-4);
      expect(
        Math.abs(summary.streams[2]!.lens[t]!.targetProb - Math.exp(row[ids[t + 1]!]! - lse)),
      ).toBeLessThan(1e-5);
      expect(Math.abs(summary.tokens[t + 1]!.logprob + summary.loss[t]!)).toBeLessThan(1e-5);
    }
    expect(summary.loss.length).toBe(T - 1);

    for (const a of attention) {
      expect(a.weights.length).toBe(2 * T * T);
      for (let h = 0; h < 2; h++)
        for (let i = 0; i < T; i++) {
          const row = a.weights.slice((h * T + i) * T, (h * T + i + 1) * T);
          expect(Math.abs(row.reduce((x, y) => x + y, 0) - 1)).toBeLessThan(1e-5);
          expect(row.slice(i + 1).every((x) => x === 0)).toBe(true);
        }
      // The scores are those of the attention sent.
      const want = scoreLayer(Float32Array.from(a.weights), 2, ids);
      for (let h = 0; h < 2; h++) {
        const got = summary.scores.find((s) => s.layer === a.layer && s.head === h)!;
        expect(got.previous).toBeCloseTo(want[h]!.previous, 5);
        expect(got.first).toBeCloseTo(want[h]!.first, 5);
      }
    }
  });

  it('fetches chosen layers only, or none; runs the induction test on repeated random tokens', async () => {
    const one = await postJson<TraceJson>(`${fx.url}/api/infer/trace`, {
      model: 'bard',
      text: TEXT,
      layers: [1],
    });
    expect(one.body.attention.map((a) => a.layer)).toEqual([1]);
    const none = await postJson<TraceJson>(`${fx.url}/api/infer/trace`, {
      model: 'bard',
      text: TEXT,
      attention: false,
    });
    expect(none.body.attention).toEqual([]);
    const rep = await postJson<TraceJson>(`${fx.url}/api/infer/trace`, {
      model: 'bard',
      randomRepeat: 10,
      seed: 4,
    });
    expect(rep.status).toBe(200);
    const ids = rep.body.summary.tokens.map((t) => t.id);
    expect(ids.slice(10)).toEqual(ids.slice(0, 10));
    expect(new Set(ids.slice(0, 10)).size).toBe(10);
    expect(rep.body.summary.inductionRows).toBe(10);
  });

  it('refuses bad input naming the field', async () => {
    const cases: [unknown, number, string][] = [
      [{ model: 'nobody', text: 'hi' }, 404, 'model'],
      [{ model: 'bard', text: '' }, 400, 'text'],
      [{ model: 'bard' }, 400, 'text'],
      [{ model: 'bard', text: 'x'.repeat(65) }, 400, 'text'],
      [{ model: 'bard', text: 'hi', tokens: [1] }, 400, 'text'],
      [{ model: 'bard', tokens: [1, 9999] }, 400, 'tokens'],
      [{ model: 'bard', randomRepeat: 33 }, 400, 'random_repeat'],
      [{ model: 'bard', text: 'hi', layers: [2] }, 400, 'attention_layers'],
      [{ model: 'bard', text: 'hi', topK: 51 }, 400, 'topK'],
    ];
    for (const [body, status, field] of cases) {
      const r = await postJson(`${fx.url}/api/infer/trace`, body);
      expect([JSON.stringify(body), r.status]).toEqual([JSON.stringify(body), status]);
      expect(r.body.error.field).toBe(field);
    }
    const long = await postJson(`${fx.url}/api/infer/trace`, { model: 'bard', text: 'x'.repeat(65) });
    expect(long.body.error.message).toMatch(/65 tokens.*context of 64/);
  });
});

describe('Trace over gRPC', () => {
  /** The summary and the attention layers sent for `req`. */
  async function grpcTrace(req: Partial<TraceRequest>): Promise<{ summary: TraceSummary; layers: number[] }> {
    const events: TraceEvent[] = [];
    for await (const e of fx.services.infer.trace!(
      TraceRequest.fromPartial({ model: 'bard', text: TEXT, topK: 3, ...req }),
      localCallContext(),
    ))
      events.push(e);
    const first = events[0]?.event;
    if (first?.$case !== 'summary') throw new Error('no summary first');
    return {
      summary: first.value,
      layers: events.flatMap((e) => (e.event?.$case === 'attention' ? [e.event.value.layer] : [])),
    };
  }

  it('skip_lens leaves the earlier streams’ lens empty, and the loss, norms, last lens and attention as they were', async () => {
    const full = await grpcTrace({});
    const bare = await grpcTrace({ skipLens: true });
    const T = model.tokenizer.encode(TEXT).length;
    expect(full.summary.streams.map((s) => s.lens.length)).toEqual([T, T, T]);
    expect(bare.summary.streams.map((s) => s.lens.length)).toEqual([0, 0, T]);
    expect(bare.summary.streams[2]!.lens).toEqual(full.summary.streams[2]!.lens);
    expect(bare.summary.loss).toEqual(full.summary.loss);
    expect(bare.summary.tokens).toEqual(full.summary.tokens);
    expect(bare.summary.scores).toEqual(full.summary.scores);
    expect(bare.summary.streams.map((s) => [s.residNorm, s.attnNorm, s.mlpNorm])).toEqual(
      full.summary.streams.map((s) => [s.residNorm, s.attnNorm, s.mlpNorm]),
    );
    expect(bare.layers).toEqual([0, 1]);
  });
});

describe('activations and ablation', () => {
  it('exports the activations as safetensors', async () => {
    const res = await fetch(`${fx.url}/api/infer/trace/activations`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'bard', text: TEXT }),
    });
    expect(res.status).toBe(200);
    const bytes = new Uint8Array(await res.arrayBuffer());
    const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    const header = JSON.parse(Buffer.from(bytes.subarray(8, 8 + n)).toString()) as Record<
      string,
      { shape: number[]; data_offsets: [number, number] }
    >;
    const T = model.tokenizer.encode(TEXT).length;
    expect(header['resid.2']!.shape).toEqual([T, 32]);
    expect(header['attn.1']!.shape).toEqual([2, T, T]);
    const trace = await postJson<TraceJson>(`${fx.url}/api/infer/trace`, { model: 'bard', text: TEXT });
    const e = header['attn.0']!;
    const data = new Float32Array(bytes.slice(8 + n + e.data_offsets[0], 8 + n + e.data_offsets[1]).buffer);
    expect(Array.from(data)).toEqual(trace.body.attention[0]!.weights);
  });

  it('ablates heads and MLPs, and refuses components the model does not have', async () => {
    const r = await postJson<{
      baseLoss: number[];
      ablatedLoss: number[];
      delta: number[];
      baseMean: number;
    }>(`${fx.url}/api/infer/ablate`, {
      model: 'bard',
      text: TEXT,
      components: [
        { layer: 0, head: 1 },
        { layer: 1, mlp: true },
      ],
      mode: 'mean',
    });
    expect(r.status).toBe(200);
    const T = model.tokenizer.encode(TEXT).length;
    expect(r.body.baseLoss.length).toBe(T - 1);
    expect(r.body.delta.some((d) => Math.abs(d) > 1e-3)).toBe(true);
    for (const [i, d] of r.body.delta.entries())
      expect(d).toBeCloseTo(r.body.ablatedLoss[i]! - r.body.baseLoss[i]!, 5);
    const bad = await postJson(`${fx.url}/api/infer/ablate`, {
      model: 'bard',
      text: TEXT,
      components: [{ layer: 5 }],
      mode: 'zero',
    });
    expect(bad.status).toBe(400);
    expect(bad.body.error.field).toBe('components');
    expect(bad.body.error.message).toMatch(/components\[0\]\.layer/);
  });

  it('releases the trace session with the model', async () => {
    expect(fx.impl.tracers.isOpen('bard')).toBe(true);
    const r = await postJson(`${fx.url}/api/infer/models/bard/unload`, {});
    expect(r.status).toBe(200);
    expect(fx.impl.tracers.isOpen('bard')).toBe(false);
    // And comes back on the next trace.
    expect((await postJson(`${fx.url}/api/infer/trace`, { model: 'bard', text: 'a' })).status).toBe(200);
    expect(fx.impl.tracers.isOpen('bard')).toBe(true);
  });
});

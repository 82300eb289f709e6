// What the Attention page asks of a trace, over the gateway's real HTTP and svc-infer's gRPC: the attention
// as float32 bytes in base64 (the same values as the JSON numbers), and no logit lens of earlier streams.
import { join } from 'node:path';
import type { ModelInfo } from '@lab/proto/infer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type InferFixture, postJson, startInfer, writeCharModel } from './fixture.ts';

interface Layer {
  layer: number;
  heads: number;
  tokens: number;
  weights?: number[];
  weightsBase64?: string;
}

let fx: InferFixture;

beforeAll(async () => {
  fx = await startInfer();
  const model = writeCharModel(join(fx.home, 'models', 'bard'));
  const r = await postJson<ModelInfo>(`${fx.url}/api/infer/models`, { name: 'bard', path: model.dir });
  expect(r.status).toBe(201);
}, 60_000);

afterAll(async () => {
  await fx?.close();
});

interface Summary {
  loss: number[];
  streams: { layer: number; lens: { ids: number[]; targetProb: number }[] }[];
}

const trace = (extra: Record<string, unknown>) =>
  postJson<{ summary: Summary; attention: Layer[] }>(`${fx.url}/api/infer/trace`, {
    model: 'bard',
    text: 'To be, or not to be',
    ...extra,
  });

describe('POST /api/infer/trace encoding', () => {
  it('sends the same weights as base64 float32 bytes, in weightsBase64 only', async () => {
    const numbers = await trace({});
    const packed = await trace({ encoding: 'base64' });
    expect(packed.status).toBe(200);
    expect(packed.body.attention.map((a) => a.layer)).toEqual([0, 1]);
    for (const [i, a] of packed.body.attention.entries()) {
      expect(a.weights).toBeUndefined();
      const bytes = Buffer.from(a.weightsBase64!, 'base64');
      const floats = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
      const want = numbers.body.attention[i]!.weights!;
      expect(floats.length).toBe(a.heads * a.tokens * a.tokens);
      // Bit for bit: a float32 read back as a number is exactly the JSON number.
      expect(Array.from(floats)).toEqual(want);
      expect(want.some((w) => w > 0 && w < 1)).toBe(true);
    }
    const float = await trace({ encoding: 'float' });
    expect(float.body.attention[0]!.weightsBase64).toBeUndefined();
    expect(float.body.attention[0]!.weights).toEqual(numbers.body.attention[0]!.weights);
  });

  it('lens: false leaves out the earlier streams’ lens only', async () => {
    const full = await trace({ attention: false });
    const lean = await trace({ attention: false, lens: false });
    expect(lean.status).toBe(200);
    const T = full.body.summary.loss.length + 1;
    expect(full.body.summary.streams.map((s) => s.lens.length)).toEqual([T, T, T]);
    expect(lean.body.summary.streams.map((s) => s.lens.length)).toEqual([0, 0, T]);
    expect(lean.body.summary.loss).toEqual(full.body.summary.loss);
    expect(lean.body.summary.streams[2]!.lens).toEqual(full.body.summary.streams[2]!.lens);
  });

  it('refuses an unknown encoding, naming the field', async () => {
    const r = await trace({ encoding: 'hex' });
    expect(r.status).toBe(400);
    expect((r.body as unknown as { error: { field: string } }).error.field).toBe('encoding');
  });
});

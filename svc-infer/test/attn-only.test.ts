// An attention-only checkpoint (the induction-head recipe's model) through svc-infer: registered over HTTP,
// loaded by the pool, its decoding logits equal the MLP-less float64 reference, and the Attention page's
// trace (with the induction test) runs on it.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { paramLayout } from '@lab/engine';
import type { ModelInfo } from '@lab/proto/infer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { refGpt2, type Weights } from '../../engine/test/hf-fixtures.ts';
import { type InferFixture, postJson, startInfer, writeCharModel } from './fixture.ts';

let fx: InferFixture;
let model: ReturnType<typeof writeCharModel>;

beforeAll(async () => {
  fx = await startInfer();
  // Biases on, so the reference's GPT-2 layout applies as transformers' modelling code has it.
  model = writeCharModel(join(fx.home, 'models', 'copycat'), { attnOnly: true, bias: true });
  const r = await postJson<ModelInfo>(`${fx.url}/api/infer/models`, { name: 'copycat', path: model.dir });
  expect(r.status).toBe(201);
}, 60_000);

afterAll(async () => {
  await fx?.close();
});

describe('an attention-only checkpoint in svc-infer', () => {
  it('decodes as the MLP-less reference does, and traces with the induction test', async () => {
    const hf = JSON.parse(readFileSync(join(model.dir, 'config.json'), 'utf8')) as Record<string, unknown>;
    expect(hf.lab_attn_only).toBe(true);
    const layout = paramLayout(model.cfg);
    expect(layout.entries.some((e) => e.name.includes('mlp'))).toBe(false);
    const weights: Weights = new Map(
      layout.entries.map((e) => [e.name, { shape: [...e.shape], data: layout.view(model.params, e.name) }]),
    );
    const ids = model.tokenizer.encode('To be, or not to be');
    const ref = refGpt2(hf, weights, ids);
    const lm = await fx.impl.pool.use(await fx.impl.catalog.resolve('copycat'), async (m) =>
      m.lm.forward(ids, true),
    );
    let worst = 0;
    for (let i = 0; i < ref.length; i++) worst = Math.max(worst, Math.abs(lm[i]! - ref[i]!));
    expect(worst).toBeLessThan(5e-4);

    const rep = await postJson<{
      summary: { layers: number; heads: number; inductionRows: number; scores: { induction: number }[] };
    }>(`${fx.url}/api/infer/trace`, { model: 'copycat', randomRepeat: 12, seed: 1 });
    expect(rep.status).toBe(200);
    expect(rep.body.summary.layers).toBe(2);
    expect(rep.body.summary.inductionRows).toBe(12);
    expect(rep.body.summary.scores.length).toBe(4);
    for (const s of rep.body.summary.scores) expect(Number.isFinite(s.induction)).toBe(true);
  });
});

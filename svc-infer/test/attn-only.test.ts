// An attention-only checkpoint (the induction-head recipe's model) through svc-infer, in both families:
// registered over HTTP, loaded by the pool, its decoding logits equal the MLP-less float64 reference, and
// the Attention page's trace (with the induction test) runs on it.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type ModelConfig, paramLayout } from '@lab/engine';
import type { ModelInfo } from '@lab/proto/infer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { refGpt2, refLlama, type Weights } from '../../engine/test/hf-fixtures.ts';
import { type InferFixture, postJson, startInfer, writeCharModel } from './fixture.ts';

const families: { name: string; over: Partial<ModelConfig>; ref: typeof refGpt2 }[] = [
  // Biases on, so the reference's GPT-2 layout applies as transformers' modelling code has it.
  { name: 'copycat', over: { attnOnly: true, bias: true }, ref: refGpt2 },
  {
    name: 'copycat-llama',
    // writeCharModel starts from GPT-2's settings: these make it a Llama (RMSNorm, RoPE, untied head, and
    // grouped-query attention with one key/value head for the two query heads).
    over: {
      attnOnly: true,
      family: 'llama',
      norm: 'rmsnorm',
      positions: 'rope',
      activation: 'swiglu',
      tieEmbeddings: false,
      nKvHead: 1,
    },
    ref: refLlama,
  },
];

let fx: InferFixture;
const models = new Map<string, ReturnType<typeof writeCharModel>>();

beforeAll(async () => {
  fx = await startInfer();
  for (const f of families) {
    const model = writeCharModel(join(fx.home, 'models', f.name), f.over);
    models.set(f.name, model);
    const r = await postJson<ModelInfo>(`${fx.url}/api/infer/models`, { name: f.name, path: model.dir });
    expect(r.status).toBe(201);
  }
}, 60_000);

afterAll(async () => {
  await fx?.close();
});

describe.each(families)('an attention-only checkpoint in svc-infer ($name)', ({ name, over, ref }) => {
  it('decodes as the MLP-less reference does, and traces with the induction test', async () => {
    const model = models.get(name)!;
    const hf = JSON.parse(readFileSync(join(model.dir, 'config.json'), 'utf8')) as Record<string, unknown>;
    expect(hf.lab_attn_only).toBe(true);
    expect(hf.model_type).toBe(over.family ?? 'gpt2');
    const layout = paramLayout(model.cfg);
    expect(layout.entries.some((e) => /mlp|ln_2|post_attention_layernorm/.test(e.name))).toBe(false);
    const weights: Weights = new Map(
      layout.entries.map((e) => [e.name, { shape: [...e.shape], data: layout.view(model.params, e.name) }]),
    );
    const ids = model.tokenizer.encode('To be, or not to be');
    const want = ref(hf, weights, ids);
    const lm = await fx.impl.pool.use(await fx.impl.catalog.resolve(name), async (m) =>
      m.lm.forward(ids, true),
    );
    expect(lm.length).toBe(want.length);
    let worst = 0;
    for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(lm[i]! - want[i]!));
    expect(worst).toBeLessThan(5e-4);

    const rep = await postJson<{
      summary: { layers: number; heads: number; inductionRows: number; scores: { induction: number }[] };
    }>(`${fx.url}/api/infer/trace`, { model: name, randomRepeat: 12, seed: 1 });
    expect(rep.status).toBe(200);
    expect(rep.body.summary.layers).toBe(2);
    expect(rep.body.summary.inductionRows).toBe(12);
    expect(rep.body.summary.scores.length).toBe(4);
    for (const s of rep.body.summary.scores) expect(Number.isFinite(s.induction)).toBe(true);
  });
});

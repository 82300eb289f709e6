import { describe, expect, it } from 'vitest';
import { gradCheck } from '../src/graph/gradcheck.ts';
import * as op from '../src/graph/ops.ts';
import { gpt2Config, llamaConfig, type ModelConfig, preset } from '../src/models/config.ts';
import { forward, PARAM, paramLayout, paramLookup, staticCtx } from '../src/models/model.ts';
import { Rng } from '../src/rng.ts';

describe('parameter counts', () => {
  it('GPT-2 small with tied embeddings has 124,439,808 parameters', () => {
    expect(paramLayout(preset('gpt2-small')).total).toBe(124_439_808);
  });
  it('GPT-2 medium has 354,823,168 parameters', () => {
    expect(paramLayout(preset('gpt2-medium')).total).toBe(354_823_168);
  });
  it('uses Hugging Face names and layouts', () => {
    const gpt = paramLayout(preset('gpt2-small'));
    expect(gpt.get('transformer.h.3.attn.c_attn.weight').shape).toEqual([768, 2304]);
    expect(gpt.get('transformer.h.3.mlp.c_proj.weight').shape).toEqual([3072, 768]);
    const llama = paramLayout(preset('llama-small'));
    expect(llama.get('model.layers.1.self_attn.q_proj.weight').shape).toEqual([256, 256]);
    expect(llama.get('model.layers.1.self_attn.k_proj.weight').shape).toEqual([64, 256]);
    expect(llama.get('model.layers.1.mlp.gate_proj.weight').shape).toEqual([688, 256]);
  });
});

async function modelGradCheck(cfg: ModelConfig, batch: number, seq: number): Promise<void> {
  const layout = paramLayout(cfg);
  const params = layout.init(5);
  // Larger weights than GPT-2 init so gradients stand well above float32 finite-difference noise.
  const rng = new Rng(9);
  for (const e of layout.entries) {
    const v = layout.view(params, e.name);
    for (let i = 0; i < v.length; i++)
      v[i] = e.init.kind === 'normal' ? v[i] * 12 : v[i] + 0.2 * rng.normal();
  }
  const tokens = Array.from({ length: batch * seq }, () => rng.int(cfg.vocabSize));
  const targets = tokens.map((t, i) => (i === 3 ? -100 : (t + 1) % cfg.vocabSize));
  const perTensor = 8;
  const r = await gradCheck(
    [
      { name: 'idx', shape: [batch, seq], data: BigInt64Array.from(tokens.map(BigInt)) },
      { name: 'targets', shape: [batch, seq], data: BigInt64Array.from(targets.map(BigInt)) },
      // Every parameter tensor is its own input (as in the training graphs), so each one is checked.
      ...layout.entries.map((e) => ({
        name: `${PARAM}${e.name}`,
        shape: [...e.shape],
        data: layout.view(params, e.name),
        dtype: 'float32' as const,
      })),
    ],
    (g, [idx, tg, ...ps]) => {
      const named = new Map(layout.entries.map((e, i) => [e.name, ps[i]]));
      const ctx = staticCtx(g, cfg, paramLookup(named), batch, seq, false);
      const logits = forward(ctx, idx);
      return op.crossEntropy(
        g,
        op.reshape(g, logits, [batch * seq, cfg.vocabSize]),
        op.reshape(g, tg, [batch * seq]),
        -100,
      );
    },
    { dtype: 'float32', eps: 5e-3, atol: 3e-3, rtol: 3e-2, maxPerInput: perTensor, seed: 3 },
  );
  expect(r.checked).toBe(layout.entries.reduce((n, e) => n + Math.min(perTensor, e.size), 0));
  expect(r.worst, r.detail).toBeLessThanOrEqual(1);
}

describe('whole-model gradient check (float32, central differences)', () => {
  it('tiny gpt2: learned positions, LayerNorm with bias, GELU-tanh, tied embeddings', async () => {
    await modelGradCheck(
      gpt2Config({ nLayer: 2, nHead: 2, nEmbd: 8, ffnHidden: 16, blockSize: 6, vocabSize: 7 }),
      2,
      5,
    );
  });
  it('tiny llama: RoPE, RMSNorm, SwiGLU, GQA, untied head', async () => {
    await modelGradCheck(
      llamaConfig({ nLayer: 2, nHead: 4, nKvHead: 2, nEmbd: 16, ffnHidden: 12, blockSize: 6, vocabSize: 7 }),
      2,
      5,
    );
  });
  it('tiny gpt2 variant: no bias, sinusoidal positions, ReLU, RMSNorm, untied', async () => {
    await modelGradCheck(
      gpt2Config({
        nLayer: 1,
        nHead: 2,
        nEmbd: 8,
        ffnHidden: 16,
        blockSize: 6,
        vocabSize: 7,
        bias: false,
        positions: 'sinusoidal',
        activation: 'relu',
        norm: 'rmsnorm',
        tieEmbeddings: false,
      }),
      1,
      6,
    );
  });
});

import { describe, expect, it } from 'vitest';
import { buildInferenceGraph } from '../src/infer/export.ts';
import { Decoder, sampleToken } from '../src/infer/generate.ts';
import { gpt2Config, llamaConfig, type ModelConfig, preset } from '../src/models/config.ts';
import { paramLayout } from '../src/models/model.ts';
import { Rng } from '../src/rng.ts';
import { createSession, ort } from '../src/runtime/session.ts';

async function kvEquivalence(cfg: ModelConfig): Promise<void> {
  const params = paramLayout(cfg).init(21);
  const dec = await Decoder.create(cfg, params);
  const toks = [3, 1, 4, 1, 5, 9, 2, 6, 5, 3];
  const full = await dec.feed(toks);
  dec.reset();
  // Prefill 4 tokens, then decode one at a time.
  const pre = await dec.feed(toks.slice(0, 4));
  const V = cfg.vocabSize;
  let maxDiff = 0;
  for (let i = 0; i < 4 * V; i++) maxDiff = Math.max(maxDiff, Math.abs(pre.logits[i] - full.logits[i]));
  for (let i = 4; i < toks.length; i++) {
    const s = await dec.feed([toks[i]]);
    for (let v = 0; v < V; v++) maxDiff = Math.max(maxDiff, Math.abs(s.logits[v] - full.logits[i * V + v]));
  }
  expect(maxDiff).toBeLessThan(1e-4);
  await dec.release();
}

describe('inference export', () => {
  it('gpt2: KV-cached decoding logits equal the full forward within 1e-4', async () => {
    await kvEquivalence(preset('nanogpt-cpu', { vocabSize: 17 }));
  });
  it('llama (GQA, RoPE): KV-cached decoding logits equal the full forward within 1e-4', async () => {
    await kvEquivalence(
      llamaConfig({
        nLayer: 2,
        nHead: 4,
        nKvHead: 2,
        nEmbd: 32,
        ffnHidden: 48,
        blockSize: 32,
        vocabSize: 19,
      }),
    );
  });

  it('uses Hugging Face input/output names and exposes attention probabilities and residuals', async () => {
    const cfg = gpt2Config({ nLayer: 2, nHead: 2, nEmbd: 16, ffnHidden: 32, blockSize: 8, vocabSize: 9 });
    const g = buildInferenceGraph(cfg, paramLayout(cfg).init(1), { attentionProbs: true, residuals: true });
    const s = await createSession(g);
    expect(s.inputNames).toEqual([
      'input_ids',
      'attention_mask',
      'position_ids',
      'past_key_values.0.key',
      'past_key_values.0.value',
      'past_key_values.1.key',
      'past_key_values.1.value',
    ]);
    expect(s.outputNames).toEqual([
      'logits',
      'present.0.key',
      'present.0.value',
      'present.1.key',
      'present.1.value',
      'attn_probs.0',
      'attn_probs.1',
      'residual.0',
      'residual.1',
      'residual.2',
      'residual.3',
      'residual.4',
    ]);
    const empty = () => new ort.Tensor('float32', new Float32Array(0), [1, 2, 0, 8]);
    const out = await s.run({
      input_ids: new ort.Tensor('int64', BigInt64Array.of(1n, 2n, 3n), [1, 3]),
      attention_mask: new ort.Tensor('int64', BigInt64Array.of(1n, 1n, 1n), [1, 3]),
      position_ids: new ort.Tensor('int64', BigInt64Array.of(0n, 1n, 2n), [1, 3]),
      'past_key_values.0.key': empty(),
      'past_key_values.0.value': empty(),
      'past_key_values.1.key': empty(),
      'past_key_values.1.value': empty(),
    });
    expect(out.logits.dims).toEqual([1, 3, 9]);
    expect(out['present.1.key'].dims).toEqual([1, 2, 3, 8]);
    const probs = out['attn_probs.0'].data as Float32Array;
    expect(out['attn_probs.0'].dims).toEqual([1, 2, 3, 3]);
    // causal: row 0 attends only to itself; each row sums to 1
    expect(probs[0]).toBeCloseTo(1, 6);
    expect(probs[1]).toBeCloseTo(0, 6);
    expect(probs[3] + probs[4] + probs[5]).toBeCloseTo(1, 6);
    expect(out['residual.4'].dims).toEqual([1, 3, 16]);
  });

  it('sampler: greedy picks the argmax, top-k never leaves the top k, seeds reproduce', () => {
    const logits = Float32Array.of(0.1, 2, -1, 1.9, 0.5);
    expect(sampleToken(logits, { temperature: 0 }, new Rng(1))).toBe(1);
    const rng = new Rng(5);
    const seen = new Set<number>();
    for (let i = 0; i < 200; i++) seen.add(sampleToken(logits, { temperature: 1, topK: 2 }, rng));
    expect([...seen].sort()).toEqual([1, 3]);
    const draw = (seed: number) => {
      const r = new Rng(seed);
      return Array.from({ length: 20 }, () => sampleToken(logits, { temperature: 1.5 }, r));
    };
    expect(draw(9)).toEqual(draw(9));
  });

  it('generate: deterministic with a seed and continues past the context window', async () => {
    const cfg = gpt2Config({ nLayer: 1, nHead: 2, nEmbd: 16, ffnHidden: 32, blockSize: 8, vocabSize: 9 });
    const dec = await Decoder.create(cfg, paramLayout(cfg).init(2));
    const a = await dec.generate([1, 2, 3], 20, { temperature: 0.9, topK: 4, seed: 3 });
    const b = await dec.generate([1, 2, 3], 20, { temperature: 0.9, topK: 4, seed: 3 });
    expect(a).toHaveLength(20);
    expect(a).toEqual(b);
    expect(a.every((t) => t >= 0 && t < 9)).toBe(true);
    await dec.release();
  });
});

// Attention-only models (ModelConfig.attnOnly): no MLP in the parameters, the estimate or the checkpoint; the
// training, trace and decoding graphs all equal a float64 reference without the MLP block (hf-fixtures'
// refGpt2 and refLlama, which follow transformers' GPT-2 and Llama and skip the block, and Llama's
// post-attention norm, for `lab_attn_only`); config.json says so. Both families: GPT-2 (LayerNorm, learned
// positions, biases) and Llama (RMSNorm, RoPE, grouped-query attention, the SwiGLU MLP left out).
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { saveCheckpoint } from '../src/checkpoint/checkpoint.ts';
import { modelConfigFromHf } from '../src/checkpoint/hf-config.ts';
import { loadModelFolder } from '../src/checkpoint/hf-folder.ts';
import { countParameters, estimateModel } from '../src/estimate.ts';
import { Decoder } from '../src/infer/generate.ts';
import { TraceModel } from '../src/inspect/trace.ts';
import { gpt2Config, llamaConfig, type ModelConfig } from '../src/models/config.ts';
import { paramLayout } from '../src/models/model.ts';
import { Rng } from '../src/rng.ts';
import { halfTargets, RepeatedTokensSampler } from '../src/train/repeated-tokens.ts';
import { Trainer } from '../src/train/trainer.ts';
import { refGpt2, refLlama, type Weights } from './hf-fixtures.ts';

const root = mkdtempSync(join(tmpdir(), 'attn-only-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const size = { nLayer: 2, nHead: 2, nEmbd: 16, blockSize: 16, vocabSize: 23, attnOnly: true };
const families: {
  family: string;
  cfg: ModelConfig;
  ref: typeof refGpt2;
  /** The names of an MLP block and its norm. */
  mlpNames: RegExp;
  /** The parameters a full model has beyond the attention-only one. */
  mlpParams: (c: ModelConfig) => number;
}[] = [
  {
    family: 'gpt2',
    cfg: gpt2Config({ ...size, ffnHidden: 64 }),
    ref: refGpt2,
    mlpNames: /mlp|ln_2/,
    // Per layer: c_fc and c_proj with biases, ln_2's weight and bias.
    mlpParams: (c) => c.nLayer * (c.nEmbd * c.ffnHidden + c.ffnHidden + c.ffnHidden * c.nEmbd + 3 * c.nEmbd),
  },
  {
    family: 'llama',
    // Two query heads on one key/value head: grouped-query attention as well.
    cfg: llamaConfig({ ...size, nKvHead: 1, ffnHidden: 40 }),
    ref: refLlama,
    mlpNames: /mlp|post_attention_layernorm/,
    // Per layer: gate, up and down projections (no biases), post_attention_layernorm's weight.
    mlpParams: (c) => c.nLayer * (3 * c.nEmbd * c.ffnHidden + c.nEmbd),
  },
];
const tokens = [3, 17, 5, 5, 22, 0, 9, 3, 17, 12];

describe.each(families)(
  'attention-only models ($family)',
  ({ family, cfg, ref: reference, mlpNames, mlpParams }) => {
    const layout = paramLayout(cfg);
    const params = layout.init(11);
    // Larger weights than the init, so attention is far from uniform and a wrong layer shows.
    for (let i = 0; i < params.length; i++) params[i] *= 8;
    const dir = join(root, family);
    saveCheckpoint(dir, { cfg, params });
    const hf = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;
    const weights: Weights = new Map(
      layout.entries.map((e) => [e.name, { shape: [...e.shape], data: layout.view(params, e.name) }]),
    );
    const ref = (seq: number[]) => reference(hf, weights, seq);

    it('have no MLP parameters, and the estimate counts what the trainer allocates', () => {
      expect(layout.entries.some((e) => mlpNames.test(e.name))).toBe(false);
      const full = { ...cfg, attnOnly: false };
      // The pattern does name the full model's MLP (a wrong pattern would pass the check above vacuously).
      expect(paramLayout(full).entries.some((e) => mlpNames.test(e.name))).toBe(true);
      const p = countParameters(cfg);
      expect(p.mlp).toBe(0);
      expect(p.total).toBe(layout.total);
      // Exactly the MLP and its norm fewer.
      expect(paramLayout(full).total - layout.total).toBe(mlpParams(cfg));
      const e = estimateModel(cfg, 4, 16);
      const ef = estimateModel(full, 4, 16);
      expect(e.flopsPerToken.forward).toBeLessThan(ef.flopsPerToken.forward);
      expect(e.memory.activations).toBeLessThan(ef.memory.activations);
    });

    it('say so in config.json, which the lab reads back and a bare Hugging Face config cannot claim', () => {
      expect(hf.lab_attn_only).toBe(true);
      expect(hf.model_type).toBe(family);
      expect(modelConfigFromHf(hf).cfg.attnOnly).toBe(true);
      const { lab_config: _lab, ...bare } = hf;
      expect(() => modelConfigFromHf(bare)).toThrow(/lab_attn_only.*lab_config/);
      const folder = loadModelFolder(dir);
      expect(folder.cfg.attnOnly).toBe(true);
      expect(folder.params).toEqual(params);
    });

    it('trace logits equal the MLP-less float64 reference', async () => {
      const want = ref(tokens);
      const trace = await TraceModel.load(dir, { threads: 1 });
      try {
        const run = await trace.run(tokens);
        let worst = 0;
        for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(run.logits![i] - want[i]));
        expect(worst).toBeLessThan(2e-4);
        // The absent MLP writes nothing: its trace output is zero and the stream after it is the one before.
        for (const m of run.mlpOut) expect(m.every((v) => v === 0)).toBe(true);
      } finally {
        await trace.release();
      }
    });

    it('the training graph’s loss and the decoding graph’s logits (with a KV cache) and greedy tokens follow the reference too', async () => {
      const logits = ref(tokens);
      const V = cfg.vocabSize;
      const T = tokens.length - 1;
      let nll = 0;
      for (let t = 0; t < T; t++) {
        const row = logits.subarray(t * V, (t + 1) * V);
        const max = Math.max(...row);
        const lse = max + Math.log(row.reduce((a, v) => a + Math.exp(v - max), 0));
        nll += lse - row[tokens[t + 1]];
      }
      const trainer = await Trainer.create({ cfg, batch: 1, seq: T, params, session: { threads: 1 } });
      try {
        const loss = await trainer.evaluate({
          idx: BigInt64Array.from(tokens.slice(0, T), BigInt),
          targets: BigInt64Array.from(tokens.slice(1), BigInt),
        });
        expect(Math.abs(loss - nll / T)).toBeLessThan(1e-4);
      } finally {
        await trainer.release();
      }
      const decoder = await Decoder.create(cfg, params, { threads: 1 });
      try {
        const prompt = tokens.slice(0, 4);
        const got = await decoder.generate(prompt, 5, { temperature: 0 });
        const want: number[] = [];
        const seq = [...prompt];
        for (let k = 0; k < 5; k++) {
          const last = ref(seq).subarray((seq.length - 1) * V, seq.length * V);
          const next = last.indexOf(Math.max(...last));
          want.push(next);
          seq.push(next);
        }
        expect(got).toEqual(want);
        // Greedy tokens can survive a wrong stream; logits cannot. Prefill, then the rest against the cache.
        decoder.reset();
        const head = await decoder.feed(tokens.slice(0, 4));
        const rest = await decoder.feed(tokens.slice(4));
        const all = [...head.logits, ...rest.logits];
        expect(all.length).toBe(logits.length);
        let worst = 0;
        for (let i = 0; i < all.length; i++) worst = Math.max(worst, Math.abs(all[i] - logits[i]));
        expect(worst).toBeLessThan(2e-4);
      } finally {
        await decoder.release();
      }
    });
  },
);

describe('repeated random tokens', () => {
  const sampler = new RepeatedTokensSampler({ vocab: 40, half: 8 }, 64);

  it('are a run of distinct ids and the same run again, of 4 to 8 ids, targets the next id', () => {
    const b = sampler.next(new Rng(5));
    const seen = new Set<number>();
    for (let r = 0; r < 64; r++) {
      const idx = Array.from(b.idx.subarray(r * 16, r * 16 + 16), Number);
      const tg = Array.from(b.targets.subarray(r * 16, r * 16 + 16), Number);
      const h = tg.indexOf(-100) === -1 ? 8 : (tg.indexOf(-100) + 1) / 2;
      seen.add(h);
      expect(h).toBeGreaterThanOrEqual(4);
      expect(h).toBeLessThanOrEqual(8);
      expect(new Set(idx.slice(0, h)).size).toBe(h);
      expect(idx.slice(h, 2 * h)).toEqual(idx.slice(0, h));
      for (let t = 0; t + 1 < 2 * h; t++) expect(tg[t]).toBe(idx[t + 1]);
      expect(tg.slice(2 * h - 1).every((v) => v === -100)).toBe(true);
    }
    // Every length occurs: a fixed one lets a head copy by position, not by induction.
    expect(seen.size).toBe(5);
  });

  it('continue exactly from a saved generator state, and the held-out set is fixed', () => {
    const rng = new Rng(3);
    sampler.next(rng);
    const saved = rng.state();
    const a = sampler.next(rng);
    expect(sampler.next(new Rng(saved)).idx).toEqual(a.idx);
    expect(sampler.heldOut(3, 2)[1].idx).toEqual(sampler.heldOut(3, 2)[1].idx);
    expect(sampler.heldOut(3, 1)[0].idx).not.toEqual(sampler.heldOut(4, 1)[0].idx);
  });

  it('split into halves: the first run’s predictable-never targets and the repeat’s copyable ones', () => {
    const b = sampler.next(new Rng(8));
    const first = halfTargets(b, 8, 'first');
    const second = halfTargets(b, 8, 'second');
    for (let r = 0; r < 64; r++) {
      const tg = Array.from(b.targets.subarray(r * 16, r * 16 + 16), Number);
      const h = tg.indexOf(-100) === -1 ? 8 : (tg.indexOf(-100) + 1) / 2;
      for (let t = 0; t < 16; t++) {
        const f = Number(first.targets[r * 16 + t]);
        const s = Number(second.targets[r * 16 + t]);
        expect(f).toBe(t < h - 1 ? tg[t] : -100);
        expect(s).toBe(t >= h && t < 2 * h - 1 ? tg[t] : -100);
      }
    }
  });

  it('refuse a vocabulary or run length that cannot make them', () => {
    expect(() => new RepeatedTokensSampler({ vocab: 1, half: 8 }, 1)).toThrow(/vocab 1/);
    expect(() => new RepeatedTokensSampler({ vocab: 8, half: 1 }, 1)).toThrow(/half 1/);
  });
});

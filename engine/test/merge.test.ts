// Adapter merging (linear, TIES, DARE as PEFT's merge_utils define them) and the merge-fidelity report.
import { describe, expect, it } from 'vitest';
import { fidelityWindows, mergeFidelity, onTheFlyLogits } from '../src/finetune/fidelity.ts';
import { type LoraConfig, loraLayout, loraModules, mergeLora } from '../src/finetune/lora.ts';
import {
  concatAdapters,
  linearAdapterMerge,
  loraDelta,
  magnitudePrune,
  mergeAdapters,
  mergeTasks,
  randomPrune,
  type WeightedAdapter,
} from '../src/finetune/merge.ts';
import { InferenceModel } from '../src/infer/model.ts';
import { gpt2Config, llamaConfig, type ModelConfig } from '../src/models/config.ts';
import { paramLayout } from '../src/models/model.ts';
import { Rng } from '../src/rng.ts';

const t = (...xs: number[]) => Float64Array.from(xs);
// Three task tensors and weights, small enough to follow TIES by hand (no magnitude ties within a tensor).
const tasks = [t(1, -2, 3, -4), t(-1, 3, -0.5, 2), t(0.5, -1.5, 2, 1)];
const weights = [1, 0.5, 2];

describe('task merges as PEFT merge_utils', () => {
  it('linear is the weighted sum', () => {
    expect([...mergeTasks(tasks, weights, { method: 'linear' })]).toEqual([1.5, -3.5, 6.75, -1]);
  });

  it('magnitude pruning keeps the ⌊density·n⌋ largest |x|', () => {
    expect([...magnitudePrune(t(1, -2, 3, -4), 0.5)]).toEqual([0, 0, 3, -4]);
    expect([...magnitudePrune(t(1, -2, 3, -4), 0.49)]).toEqual([0, 0, 0, -4]);
    expect([...magnitudePrune(t(1, -2, 3, -4), 1)]).toEqual([1, -2, 3, -4]);
  });

  it('TIES: trim to density 0.5, elect the sign of the trimmed sum, average the weighted agreeing entries', () => {
    // Trimmed: [0,0,3,-4], [0,3,0,2], [0,-1.5,2,0]; sums [0,1.5,5,-2] elect [+,+,+,-] (0 counts as +);
    // weighted agreeing entries: idx1 1.5 (t2·0.5) alone, idx2 3 and 4 → 3.5, idx3 -4 alone.
    expect([...mergeTasks(tasks, weights, { method: 'ties', density: 0.5 })]).toEqual([0, 1.5, 3.5, -4]);
    // Untrimmed: sums [0.5,-0.5,4.5,-1] elect [+,-,+,-]; t2 disagrees everywhere and drops out.
    expect([...mergeTasks(tasks, weights, { method: 'ties', density: 1 })]).toEqual([1, -2.5, 3.5, -4]);
  });

  it('DARE keeps each entry with probability density, rescaled by 1/density, and is unbiased', () => {
    const n = 20_000;
    const big = Float64Array.from({ length: n }, (_, i) => 1 + (i % 7));
    const out = randomPrune(big, 0.3, new Rng(5));
    let kept = 0;
    for (let i = 0; i < n; i++) {
      if (out[i] !== 0) {
        kept++;
        expect(out[i]).toBeCloseTo(big[i] / 0.3, 12);
      }
    }
    // Binomial(20000, 0.3): σ ≈ 65.
    expect(Math.abs(kept - 0.3 * n)).toBeLessThan(4 * 65);
    // Same seed, same draws; another seed, others.
    expect(randomPrune(big, 0.3, new Rng(5))).toEqual(out);
    expect(randomPrune(big, 0.3, new Rng(6))).not.toEqual(out);
    // The rescale makes dare_linear's mean over seeds the linear merge.
    const mean = new Float64Array(4);
    const seeds = 4000;
    for (let s = 0; s < seeds; s++) {
      const m = mergeTasks(tasks, weights, { method: 'dare_linear', density: 0.5, rng: new Rng(s) });
      for (let i = 0; i < 4; i++) mean[i] += m[i] / seeds;
    }
    const linear = mergeTasks(tasks, weights, { method: 'linear' });
    for (let i = 0; i < 4; i++) expect(Math.abs(mean[i] - linear[i])).toBeLessThan(0.2);
  });

  it('DARE at density 1 is its untrimmed counterpart (linear, TIES)', () => {
    expect(mergeTasks(tasks, weights, { method: 'dare_linear', density: 1 })).toEqual(
      mergeTasks(tasks, weights, { method: 'linear' }),
    );
    expect([...mergeTasks(tasks, weights, { method: 'dare_ties', density: 1 })]).toEqual([1, -2.5, 3.5, -4]);
  });
});

const gpt2 = gpt2Config({ nLayer: 2, nHead: 2, nEmbd: 16, ffnHidden: 32, blockSize: 32, vocabSize: 29 });
const llama = llamaConfig({
  nLayer: 2,
  nHead: 4,
  nKvHead: 2,
  nEmbd: 16,
  ffnHidden: 24,
  blockSize: 32,
  vocabSize: 29,
});

/** A trained-looking adapter: A at init, B random (init's zero B would merge to nothing). */
function adapter(cfg: ModelConfig, lora: LoraConfig, seed: number, weight = 1, scale = 0.5): WeightedAdapter {
  const layout = loraLayout(cfg, lora);
  const params = layout.init(seed);
  const rng = new Rng(seed + 100);
  for (let i = 0; i < params.length; i++) if (params[i] === 0) params[i] = scale * rng.normal();
  return { lora, params, weight };
}

const ids = Array.from({ length: 4 * 32 }, (_, i) => (i * 5 + ((i * i) % 13)) % 29);

describe.each([
  ['gpt2', gpt2, ['c_attn', 'c_fc'], ['c_proj']],
  ['llama', llama, ['q_proj', 'v_proj'], ['v_proj', 'down_proj']],
] as const)('merging adapters of a %s base', (_, cfg, targetsA, targetsB) => {
  const baseLayout = paramLayout(cfg);
  const base = baseLayout.init(3).map((x) => x * 3);
  const a = adapter(cfg, { rank: 4, alpha: 8, dropout: 0, targets: [...targetsA] }, 1);
  const b = adapter(cfg, { rank: 2, alpha: 2, dropout: 0, targets: [...targetsB] }, 2, 0.7);
  const windows = fidelityWindows(ids, 32, 4);
  const served = async (params: Float32Array) => {
    const lm = await InferenceModel.create(cfg, params, { threads: 1 });
    return {
      logits: async (w: readonly number[]) => (await lm.run(w, undefined, { allPositions: true })).logits,
      release: () => lm.release(),
    };
  };

  it('one adapter at weight 1: merged logits equal base + adapter on the fly within 1e-4; KL ~0, top-1 1.0', async () => {
    const merged = mergeAdapters(cfg, baseLayout, base, [a], { method: 'linear' });
    const folded = mergeLora(cfg, baseLayout, base, a.lora, a.params);
    for (let i = 0; i < merged.length; i++) expect(Math.abs(merged[i] - folded[i])).toBeLessThan(1e-6);
    const lm = await served(merged);
    const report = await mergeFidelity(cfg, baseLayout, base, [a], windows, lm.logits);
    await lm.release();
    expect(report.positions).toBe(128);
    expect(report.maxLogitDiff).toBeLessThan(1e-4);
    expect(report.klMean).toBeLessThan(1e-8);
    expect(report.top1Agreement).toBe(1);
    // The adapter moved the model: the base differs from base + adapter.
    const plain = await served(base);
    const off = await mergeFidelity(cfg, baseLayout, base, [a], windows, plain.logits);
    await plain.release();
    expect(off.klMean).toBeGreaterThan(1e-3);
  });

  it('two adapters: linear merge equals both on the fly; DARE at low density and TIES are worse', async () => {
    const exact = mergeAdapters(cfg, baseLayout, base, [a, b], { method: 'linear' });
    const lm = await served(exact);
    const linear = await mergeFidelity(cfg, baseLayout, base, [a, b], windows, lm.logits);
    await lm.release();
    expect(linear.maxLogitDiff).toBeLessThan(1e-4);
    expect(linear.top1Agreement).toBe(1);
    const dareModel = mergeAdapters(cfg, baseLayout, base, [a, b], {
      method: 'dare_linear',
      density: 0.1,
      seed: 1,
    });
    const dm = await served(dareModel);
    const dare = await mergeFidelity(cfg, baseLayout, base, [a, b], windows, dm.logits);
    await dm.release();
    expect(dare.klMean).toBeGreaterThan(100 * Math.max(linear.klMean, 1e-7));
    expect(dare.top1Agreement).toBeLessThan(1);
    // Seeded: the same seed gives the same model.
    expect(
      mergeAdapters(cfg, baseLayout, base, [a, b], { method: 'dare_linear', density: 0.1, seed: 1 }),
    ).toEqual(dareModel);
    const ties = mergeAdapters(cfg, baseLayout, base, [a, b], { method: 'ties', density: 0.2 });
    const tm = await served(ties);
    const tiesReport = await mergeFidelity(cfg, baseLayout, base, [a, b], windows, tm.logits);
    await tm.release();
    expect(tiesReport.klMean).toBeGreaterThan(linear.klMean);
  });

  it('TIES on full deltas equals the hand rule applied module by module', () => {
    const merged = mergeAdapters(cfg, baseLayout, base, [a, b], { method: 'ties', density: 0.3 });
    for (const m of loraModules(cfg, { ...a.lora, targets: [...new Set([...targetsA, ...targetsB])] })) {
      const zeros = new Float64Array(m.in * m.out);
      const da = loraDelta(cfg, a, m.name) ?? zeros;
      const db = loraDelta(cfg, b, m.name) ?? zeros;
      const want = mergeTasks([da, db], [a.weight, b.weight], { method: 'ties', density: 0.3 });
      const w = baseLayout.view(merged, `${m.name}.weight`);
      const w0 = baseLayout.view(base, `${m.name}.weight`);
      for (const [o, i] of [
        [0, 0],
        [m.out - 1, m.in - 1],
        [1, 2],
      ]) {
        const at = cfg.family === 'gpt2' ? i * m.out + o : o * m.in + i;
        expect(w[at] - w0[at]).toBeCloseTo(want[o * m.in + i], 5);
      }
    }
  });

  it("PEFT's linear adapter merge: exact for one adapter, cross terms for two", async () => {
    const one = linearAdapterMerge(cfg, [a]);
    expect(one.lora.alpha).toBe(one.lora.rank);
    const mod = loraModules(cfg, a.lora)[0].name;
    const d1 = loraDelta(cfg, { ...one, weight: 1 }, mod)!;
    const d0 = loraDelta(cfg, a, mod)!;
    for (let i = 0; i < d0.length; i++) expect(d1[i]).toBeCloseTo(d0[i], 5);
    const a2 = adapter(cfg, { ...a.lora }, 9, 1);
    const two = linearAdapterMerge(cfg, [a, a2]);
    const got = loraDelta(cfg, { ...two, weight: 1 }, mod)!;
    const sum = mergeTasks([d0, loraDelta(cfg, a2, mod)!], [1, 1], { method: 'linear' });
    let diff = 0;
    for (let i = 0; i < sum.length; i++) diff = Math.max(diff, Math.abs(got[i] - sum[i]));
    expect(diff).toBeGreaterThan(1e-3);
    expect(() => linearAdapterMerge(cfg, [a, b])).toThrow(/equal ranks/);
  });

  it('the concatenated adapter runs the weighted sum of the adapters on the fly', async () => {
    const cat = concatAdapters(cfg, [a, b]);
    expect(cat.lora.rank).toBe(6);
    const viaCat = await onTheFlyLogits(cfg, baseLayout, base, [{ ...cat, weight: 1 }], windows.slice(0, 1));
    const exact = mergeAdapters(cfg, baseLayout, base, [a, b], { method: 'linear' });
    const lm = await served(exact);
    const folded = await lm.logits(windows[0]);
    await lm.release();
    let worst = 0;
    for (let i = 0; i < folded.length; i++) worst = Math.max(worst, Math.abs(folded[i] - viaCat[i]));
    expect(worst).toBeLessThan(1e-4);
  });
});

describe('merge settings', () => {
  it('names a bad method, density and weight', () => {
    const layout = paramLayout(gpt2);
    const base = layout.init(1);
    const a = adapter(gpt2, { rank: 2, alpha: 2, dropout: 0, targets: ['c_attn'] }, 1);
    expect(() => mergeAdapters(gpt2, layout, base, [a], { method: 'svd' as 'linear' })).toThrow(
      /method must be one of linear, ties, dare_linear, dare_ties/,
    );
    expect(() => mergeAdapters(gpt2, layout, base, [a], { method: 'ties', density: 0 })).toThrow(
      /density must be in \(0, 1\]/,
    );
    expect(() =>
      mergeAdapters(gpt2, layout, base, [{ ...a, weight: Number.NaN }], { method: 'linear' }),
    ).toThrow(/adapters\[0\]\.weight/);
    expect(() => mergeAdapters(gpt2, layout, base, [], { method: 'linear' })).toThrow(/at least one adapter/);
  });
});

// Activation patching and linear probes on real ORT trace sessions: hand-made GPT-2 and Llama weights for
// patching (where exact answers follow from causality), a char model trained here for the probes.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configFromHf } from '../src/checkpoint/checkpoint.ts';
import { type PatchResult, patchSweep, restored } from '../src/inspect/patch.ts';
import {
  accuracy,
  collectResiduals,
  fitLogistic,
  predictLogistic,
  probeStreams,
  splitRows,
} from '../src/inspect/probe.ts';
import { TraceModel } from '../src/inspect/trace.ts';
import { gpt2Config, type ModelConfig } from '../src/models/config.ts';
import { paramLayout } from '../src/models/model.ts';
import { Rng } from '../src/rng.ts';
import { DEFAULT_OPTIM } from '../src/train/graphs.ts';
import { pretrain } from '../src/train/pretrain.ts';
import { gpt2Weights, llamaWeights, type Weights } from './hf-fixtures.ts';

const gpt2Hf = {
  architectures: ['GPT2LMHeadModel'],
  activation_function: 'gelu_new',
  layer_norm_epsilon: 1e-5,
  model_type: 'gpt2',
  n_ctx: 16,
  n_embd: 16,
  n_head: 4,
  n_inner: null,
  n_layer: 2,
  n_positions: 16,
  vocab_size: 40,
};
const llamaHf = {
  architectures: ['LlamaForCausalLM'],
  hidden_act: 'silu',
  hidden_size: 32,
  intermediate_size: 48,
  max_position_embeddings: 64,
  model_type: 'llama',
  num_attention_heads: 4,
  num_hidden_layers: 3,
  num_key_value_heads: 2,
  rms_norm_eps: 1e-5,
  rope_theta: 10000.0,
  tie_word_embeddings: false,
  vocab_size: 48,
};

function flat(cfg: ModelConfig, w: Weights): Float32Array {
  const layout = paramLayout(cfg);
  const out = new Float32Array(layout.total);
  for (const e of layout.entries) out.set(w.get(e.name)!.data, e.offset);
  return out;
}

const CLEAN = [3, 17, 5, 9, 17, 29, 1, 8, 3, 17, 11, 2];
/** Differs from CLEAN at position 3 only. */
const DIFF_AT = 3;
const CORRUPT = CLEAN.map((t, i) => (i === DIFF_AT ? 21 : t));
const [TARGET, FOIL] = [9, 21];

describe.each([
  { name: 'gpt2', hf: gpt2Hf, w: () => gpt2Weights(gpt2Hf, 11) },
  { name: 'llama', hf: llamaHf, w: () => llamaWeights(llamaHf, 12, false) },
])('activation patching ($name)', ({ hf, w }) => {
  const cfg = configFromHf(hf);
  const L = cfg.nLayer;
  const T = CLEAN.length;
  let model: TraceModel;
  let sweep: PatchResult;
  const at = (r: PatchResult, s: number, p: number) =>
    r.patched[r.streams.indexOf(s) * r.positions.length + p];

  beforeAll(async () => {
    model = await TraceModel.create(cfg, flat(cfg, w()));
    sweep = await patchSweep(model, CLEAN, CORRUPT, { target: TARGET, foil: FOIL });
  });
  afterAll(() => model?.release());

  it('reports the logit differences of the clean and corrupted runs', async () => {
    const clean = await model.run(CLEAN);
    const V = cfg.vocabSize;
    const last = (T - 1) * V;
    expect(sweep.clean).toBeCloseTo(clean.logits![last + TARGET] - clean.logits![last + FOIL], 5);
    expect(Math.abs(sweep.clean - sweep.corrupted)).toBeGreaterThan(1e-3);
    expect(sweep.streams).toEqual(Array.from({ length: L + 1 }, (_, i) => i));
    expect(sweep.patched.length).toBe((L + 1) * T);
  });

  it('patching the last stream at the last position restores the clean difference', () => {
    expect(Math.abs(at(sweep, L, T - 1) - sweep.clean)).toBeLessThan(1e-4);
    expect(restored(sweep)[L * T + T - 1]).toBeCloseTo(1, 4);
    // The other positions of the last stream feed no later layer: the corrupted difference stays.
    for (let p = 0; p < T - 1; p++) expect(Math.abs(at(sweep, L, p) - sweep.corrupted)).toBeLessThan(1e-5);
  });

  it('patching the embeddings at the differing token makes the corrupted run the clean one', () => {
    expect(Math.abs(at(sweep, 0, DIFF_AT) - sweep.clean)).toBeLessThan(1e-4);
    // Elsewhere the embeddings of the two prompts are the same vectors: nothing changes.
    for (let p = 0; p < T; p++)
      if (p !== DIFF_AT) expect(Math.abs(at(sweep, 0, p) - sweep.corrupted)).toBeLessThan(1e-5);
  });

  it('positions before the differing token carry nothing in any layer (causality)', () => {
    for (let s = 0; s <= L; s++)
      for (let p = 0; p < DIFF_AT; p++)
        expect(Math.abs(at(sweep, s, p) - sweep.corrupted)).toBeLessThan(1e-5);
    // While a middle layer at a later position does carry something.
    let moved = 0;
    for (let s = 1; s < L; s++)
      for (let p = DIFF_AT; p < T; p++) moved = Math.max(moved, Math.abs(at(sweep, s, p) - sweep.corrupted));
    expect(moved).toBeGreaterThan(1e-3);
  });

  it('patching a run with itself changes nothing', async () => {
    const self = await patchSweep(model, CLEAN, CLEAN, { target: TARGET, foil: FOIL, streams: [0, 1, L] });
    expect(self.corrupted).toBe(self.clean);
    for (const x of self.patched) expect(x).toBe(self.clean);
  });

  it('sweeps only the streams and positions asked for, and reads the difference where asked', async () => {
    const r = await patchSweep(model, CLEAN, CORRUPT, {
      target: TARGET,
      foil: FOIL,
      streams: [L],
      positions: [5],
      at: 5,
    });
    expect(r.patched.length).toBe(1);
    expect(Math.abs(r.patched[0] - r.clean)).toBeLessThan(1e-4);
    expect(Math.abs(r.clean - r.corrupted)).toBeGreaterThan(1e-4);
  });

  it('refuses what does not fit, naming the field', async () => {
    const go = (c: number[], d: number[], o: Partial<Parameters<typeof patchSweep>[3]> = {}) =>
      patchSweep(model, c, d, { target: TARGET, foil: FOIL, ...o });
    await expect(go(CLEAN, CORRUPT.slice(1))).rejects.toThrow(/^corrupted: 11 tokens.*12/);
    await expect(go(CLEAN, CORRUPT, { target: cfg.vocabSize })).rejects.toThrow(/^target: /);
    await expect(go(CLEAN, CORRUPT, { streams: [L + 1] })).rejects.toThrow(/^streams\[0\]/);
    await expect(go(CLEAN, CORRUPT, { positions: [0, T] })).rejects.toThrow(/^positions\[1\]/);
    await expect(go(CLEAN, CORRUPT, { at: T })).rejects.toThrow(/^at: /);
    await expect(go([], [])).rejects.toThrow(/^clean: empty/);
  });
});

describe('logistic regression', () => {
  /** n points in `dim` dimensions, label = which of `classes` random directions scores highest. */
  function blobs(n: number, dim: number, classes: number, seed: number) {
    const rng = new Rng(seed);
    const dirs = Array.from({ length: classes }, () => Array.from({ length: dim }, () => rng.normal()));
    const x = new Float32Array(n * dim);
    const y = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      // Features on very different scales: standardisation must handle them.
      for (let j = 0; j < dim; j++) x[i * dim + j] = rng.normal() * (j % 3 === 0 ? 100 : 1) + 5;
      let best = 0;
      let bestScore = -Infinity;
      dirs.forEach((d, k) => {
        let s = 0;
        for (let j = 0; j < dim; j++) s += (d[j] * (x[i * dim + j] - 5)) / (j % 3 === 0 ? 100 : 1);
        if (s > bestScore) [best, bestScore] = [k, s];
      });
      y[i] = best;
    }
    return { x, y };
  }

  it('separates a linearly separable set, binary and three-class, on held-out points', () => {
    for (const classes of [2, 3]) {
      const dim = 12;
      const { x, y } = blobs(1200, dim, classes, 4 + classes);
      const { train, test } = splitRows(1200, 0.75, 1);
      const m = fitLogistic(x, dim, y, train, classes);
      const acc = accuracy(predictLogistic(m, x, test), y, test);
      expect(acc).toBeGreaterThan(0.95);
      // Shuffled labels carry nothing a linear map can find: near chance.
      const shuffled = Int32Array.from(y);
      const rng = new Rng(3);
      for (let i = shuffled.length - 1; i > 0; i--) {
        const j = rng.int(i + 1);
        [shuffled[i], shuffled[j]] = [shuffled[j], shuffled[i]];
      }
      const c = fitLogistic(x, dim, shuffled, train, classes);
      expect(accuracy(predictLogistic(c, x, test), shuffled, test)).toBeLessThan(1 / classes + 0.1);
    }
  });

  it('is deterministic, and the split is seeded and disjoint', () => {
    const { x, y } = blobs(200, 5, 2, 9);
    const { train } = splitRows(200, 0.5, 7);
    expect(Array.from(fitLogistic(x, 5, y, train, 2).w)).toEqual(
      Array.from(fitLogistic(x, 5, y, train, 2).w),
    );
    const a = splitRows(10, 0.8, 7);
    expect(a).toEqual(splitRows(10, 0.8, 7));
    expect(a.train.length).toBe(8);
    expect([...a.train, ...a.test].sort((p, q) => p - q)).toEqual(Array.from({ length: 10 }, (_, i) => i));
    expect(splitRows(10, 0.8, 8)).not.toEqual(a);
    // Both sides non-empty even at the extremes.
    expect(splitRows(2, 1, 0).test.length).toBe(1);
    expect(splitRows(2, 0, 0).train.length).toBe(1);
  });
});

describe('probes on a trained char model', () => {
  const text = readFileSync(
    join(import.meta.dirname, '../../../shared/datasets/tinyshakespeare/input.txt'),
    'utf8',
  ).slice(0, 120_000);
  const chars = [...new Set(text)].sort();
  const tokens = Int32Array.from(text, (c) => chars.indexOf(c));
  const cfg = gpt2Config({
    nLayer: 2,
    nHead: 4,
    nEmbd: 48,
    ffnHidden: 192,
    blockSize: 32,
    vocabSize: chars.length,
    bias: false,
    activation: 'gelu',
  });
  const vowel = (c: string | undefined) => (c && 'aeiouAEIOU'.includes(c) ? 1 : 0);
  // Held-out text (after the training slice).
  const probeText = readFileSync(
    join(import.meta.dirname, '../../../shared/datasets/tinyshakespeare/input.txt'),
    'utf8',
  ).slice(200_000, 203_200);
  const ids = Array.from(probeText, (c) => chars.indexOf(c));
  let model: TraceModel;
  let acts: Float32Array[];

  beforeAll(async () => {
    const r = await pretrain({
      cfg,
      tokens,
      valFraction: 0.1,
      iters: 400,
      batch: 8,
      seq: cfg.blockSize,
      accumulate: 1,
      schedule: { lr: 3e-3, minLr: 3e-4, warmup: 20, decayIters: 400 },
      optim: DEFAULT_OPTIM,
      evalInterval: 400,
      evalIters: 1,
      logInterval: 50,
      seed: 11,
    });
    model = await TraceModel.create(cfg, r.params);
    acts = await collectResiduals(model, ids);
  }, 300_000);
  afterAll(() => model?.release());

  it('collects every stream in context-sized windows, each as its own run', async () => {
    expect(acts.length).toBe(cfg.nLayer + 1);
    const C = cfg.nEmbd;
    for (const a of acts) expect(a.length).toBe(ids.length * C);
    const second = await model.run(ids.slice(32, 64));
    for (let s = 0; s <= cfg.nLayer; s++)
      expect(Array.from(acts[s].subarray(32 * C, 64 * C))).toEqual(Array.from(second.resid[s]));
  });

  it('reads “the next character is a vowel” better after the layers than from the embeddings, and the control stays at chance', async () => {
    const labels = Int32Array.from(ids, (_, t) => (t + 1 < ids.length ? vowel(probeText[t + 1]) : -1));
    const r = await probeStreams(acts, cfg.nEmbd, labels, { seed: 3, control: true });
    expect(r.accuracy.length).toBe(cfg.nLayer + 1);
    expect(r.control.length).toBe(cfg.nLayer + 1);
    expect(r.train + r.test).toBe(ids.length - 1);
    expect(r.train).toBe(Math.round(0.8 * (ids.length - 1)));
    const last = r.accuracy[cfg.nLayer];
    expect(last).toBeGreaterThan(r.baseline + 0.05);
    expect(last).toBeGreaterThan(r.accuracy[0]);
    for (const c of r.control) expect(c).toBeLessThan(r.baseline + 0.05);
  });

  it('reads “this character is a vowel” almost perfectly from the embeddings', async () => {
    const labels = Int32Array.from(ids, (_, t) => vowel(probeText[t]));
    const r = await probeStreams(acts.slice(0, 1), cfg.nEmbd, labels, { seed: 3 });
    expect(r.accuracy[0]).toBeGreaterThan(0.97);
  });
});

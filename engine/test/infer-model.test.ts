import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { saveCheckpoint } from '../src/checkpoint/checkpoint.ts';
import { measureReadBandwidth, weightBytesPerToken } from '../src/infer/bandwidth.ts';
import { kthLargest, type SampleOptions, sampleToken } from '../src/infer/generate.ts';
import { capacityFor, kvBytesPerToken } from '../src/infer/kv-cache.ts';
import { loadInferenceModel } from '../src/infer/load.ts';
import { InferenceModel, type InferenceOptions } from '../src/infer/model.ts';
import { gpt2Config, llamaConfig, type ModelConfig } from '../src/models/config.ts';
import { paramLayout } from '../src/models/model.ts';
import { Rng } from '../src/rng.ts';
import { exportLogits } from './export-reference.ts';

function maxDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

const gpt2 = gpt2Config({ nLayer: 2, nHead: 2, nEmbd: 32, ffnHidden: 64, blockSize: 160, vocabSize: 23 });
const llama = llamaConfig({
  nLayer: 2,
  nHead: 4,
  nKvHead: 2,
  nEmbd: 64,
  ffnHidden: 48,
  blockSize: 160,
  vocabSize: 19,
});
/** Head size 4: GroupQueryAttention takes multiples of 8 only, so attention falls back to standard ops. */
const oddHeads = gpt2Config({ nLayer: 2, nHead: 4, nEmbd: 16, ffnHidden: 32, blockSize: 160, vocabSize: 9 });

const cases: [string, ModelConfig, InferenceOptions][] = [
  ['gpt2, KV appended in place', gpt2, {}],
  ['gpt2, KV copied per run', gpt2, { inPlace: false }],
  ['gpt2, weights as stored (no copies)', gpt2, { fastLayouts: false }],
  ['gpt2, standard-op attention', gpt2, { attention: 'plain' }],
  ['llama (GQA, RoPE), KV appended in place', llama, {}],
  ['llama, standard-op attention', llama, { attention: 'plain' }],
  ['llama, weights as stored (no copies)', llama, { fastLayouts: false }],
  ['gpt2 with head size 4', oddHeads, {}],
];

describe('InferenceModel', () => {
  for (const [name, cfg, opts] of cases) {
    it(`${name}: chunked prefill, 128 decoded tokens and branches equal the export`, async () => {
      const params = paramLayout(cfg).init(7);
      const tokens = Array.from({ length: 140 }, (_, i) => (i * 7 + 3) % cfg.vocabSize);
      const full = await exportLogits(cfg, params, tokens);
      const V = cfg.vocabSize;
      const row = (i: number) => full.subarray(i * V, (i + 1) * V);
      const m = await InferenceModel.create(cfg, params, { maxChunk: 5, ...opts });
      let diff = 0;
      // 12 prompt tokens in chunks of 5, every position's logits
      const pre = await m.run(tokens.slice(0, 12), undefined, { allPositions: true });
      diff = Math.max(diff, maxDiff(pre.logits, full.subarray(0, 12 * V)));
      expect(pre.cache.length).toBe(12);
      // one token at a time past 64 and 128 positions (the in-place buffer grows twice)
      let r = pre;
      for (let i = 12; i < 140; i++) {
        r = await m.run([tokens[i]], r.cache);
        diff = Math.max(diff, maxDiff(r.logits, row(i)));
      }
      expect(r.cache.length).toBe(140);
      // the 12-token snapshot is intact: continue it twice, and at once
      const [a, b] = await Promise.all([
        m.run(tokens.slice(12, 15), pre.cache),
        m.run(tokens.slice(12, 14), pre.cache),
      ]);
      diff = Math.max(diff, maxDiff(a.logits, row(14)), maxDiff(b.logits, row(13)));
      const c = await m.run([tokens[14]], b.cache);
      diff = Math.max(diff, maxDiff(c.logits, row(14)));
      const d = await m.run([tokens[15]], a.cache);
      diff = Math.max(diff, maxDiff(d.logits, row(15)));
      // without a cache
      diff = Math.max(diff, maxDiff(await m.forward(tokens.slice(0, 30)), row(29)));
      expect(diff).toBeLessThan(1e-4);
      await m.release();
    });
  }

  it('switches to the weights in fast layouts after load, caches and logits carrying over', async () => {
    const params = paramLayout(gpt2).init(9);
    const tokens = Array.from({ length: 20 }, (_, i) => (i * 3 + 2) % gpt2.vocabSize);
    const full = await exportLogits(gpt2, params, tokens);
    const V = gpt2.vocabSize;
    const m = await InferenceModel.create(gpt2, params);
    const before = await m.run(tokens.slice(0, 10));
    await m.ready();
    expect(m.fast).toBe(true);
    // GPT-2's four linear layers per block and the tied head, transposed
    const perLayer = 32 * 96 + 32 * 32 + 2 * 32 * 64;
    expect(m.memory.copies).toBe(4 * (gpt2.nLayer * perLayer + V * 32));
    const after = await m.run(tokens.slice(10), before.cache, { allPositions: true });
    expect(maxDiff(before.logits, full.subarray(9 * V, 10 * V))).toBeLessThan(1e-4);
    expect(maxDiff(after.logits, full.subarray(10 * V))).toBeLessThan(1e-4);
    await m.release();
  });

  it('grows a KV store past its first capacity (4,096 positions where pages are mapped)', async () => {
    const cfg = gpt2Config({ nLayer: 1, nHead: 2, nEmbd: 16, ffnHidden: 32, blockSize: 4608, vocabSize: 11 });
    const m = await InferenceModel.create(cfg, paramLayout(cfg).init(2), { maxChunk: 1024 });
    const tokens = Array.from({ length: 4160 }, (_, i) => (i * 5 + 1) % cfg.vocabSize);
    let r = await m.run(tokens.slice(0, 4090));
    for (const t of tokens.slice(4090, 4100)) r = await m.run([t], r.cache);
    r = await m.run(tokens.slice(4100), r.cache);
    expect(maxDiff(r.logits, await m.forward(tokens))).toBeLessThan(1e-4);
    await m.release();
  });

  it('sizes new KV stores', () => {
    expect(capacityFor(16, 1024, false)).toBe(64);
    expect(capacityFor(65, 1024, false)).toBe(128);
    expect(capacityFor(1000, 1024, false)).toBe(1024);
    expect(capacityFor(16, 1024, true)).toBe(1024);
    expect(capacityFor(5000, 100_000, true)).toBe(8192);
  });

  it('streams logits chunk by chunk, and refuses contexts past the block and caches of other models', async () => {
    const params = paramLayout(gpt2).init(3);
    const m = await InferenceModel.create(gpt2, params, { maxChunk: 4 });
    // Compared bitwise below: both runs on the same sessions.
    await m.ready();
    const tokens = Array.from({ length: 11 }, (_, i) => i % gpt2.vocabSize);
    const all = await m.run(tokens, undefined, { allPositions: true });
    const got = new Float32Array(all.logits.length);
    const starts: number[] = [];
    const streamed = await m.run(tokens, undefined, {
      onLogits: (rows, first) => {
        starts.push(first);
        got.set(rows, first * gpt2.vocabSize);
      },
    });
    expect(starts).toEqual([0, 4, 8]);
    expect(got).toEqual(all.logits);
    expect(streamed.logits).toEqual(all.logits.subarray(10 * gpt2.vocabSize));
    await expect(m.run(new Array(161).fill(1))).rejects.toThrow(RangeError);
    const other = await InferenceModel.create(gpt2, params);
    await expect(other.run([1], all.cache)).rejects.toThrow(/another model/);
    await other.release();
    await m.release();
    await expect(m.run([1])).rejects.toThrow(/released/);
  });

  for (const [name, opts] of [
    ['KV appended in place', {}],
    ['KV copied per run', { inPlace: false }],
  ] as const)
    it(`writes the last logits into the caller's array when given one (${name})`, async () => {
      const params = paramLayout(gpt2).init(4);
      const m = await InferenceModel.create(gpt2, params, { maxChunk: 4, ...opts });
      await m.ready();
      const tokens = Array.from({ length: 9 }, (_, i) => (i * 2 + 1) % gpt2.vocabSize);
      const into = new Float32Array(gpt2.vocabSize).fill(Number.NaN);
      // a prompt in three chunks, then one token, both into the same array
      const plain = await m.run(tokens);
      const a = await m.run(tokens, undefined, { into });
      expect(a.logits).toBe(into);
      expect(into).toEqual(plain.logits);
      const plainNext = await m.run([3], plain.cache);
      const b = await m.run([3], a.cache, { into });
      expect(b.logits).toBe(into);
      expect(into).toEqual(plainNext.logits);
      await expect(m.run([1], undefined, { into: new Float32Array(5) })).rejects.toThrow(/'into' takes/);
      await expect(m.run([1, 2], undefined, { into, allPositions: true })).rejects.toThrow(/'into' takes/);
      await m.release();
    });

  it('loads a checkpoint folder with its weights mapped, and estimates its memory', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'infer-load-'));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));
    const params = paramLayout(llama).init(5);
    saveCheckpoint(dir, { cfg: llama, params });
    const loaded = await loadInferenceModel(dir);
    expect(loaded.mapped).toBe(true);
    const made = await InferenceModel.create(llama, params);
    const tokens = [1, 5, 2, 8, 3];
    // Not bitwise: either may have switched to its fast layouts, which sum in another order.
    expect(maxDiff((await loaded.run(tokens)).logits, (await made.run(tokens)).logits)).toBeLessThan(1e-5);
    // the parameters, and the head copied transposed
    expect(loaded.memory.parameters).toBe(params.byteLength);
    expect(loaded.memory.copies).toBe(4 * llama.vocabSize * llama.nEmbd);
    expect(loaded.memory.kvPerToken).toBe(kvBytesPerToken(llama));
    expect(kvBytesPerToken(llama)).toBe(2 * 2 * 2 * 16 * 4);
    expect(loaded.memory.total).toBeGreaterThan(params.byteLength + loaded.memory.copies);
    await loaded.release();
    await made.release();
  });

  it('counts the weights a decoded token reads: not the gathered-only tables', () => {
    const p = (cfg: ModelConfig) => paramLayout(cfg).total * 4;
    // tied GPT-2: everything but the position table
    expect(weightBytesPerToken(gpt2)).toBe(p(gpt2) - 4 * gpt2.blockSize * gpt2.nEmbd);
    // untied Llama: everything but the input embedding
    expect(weightBytesPerToken(llama)).toBe(p(llama) - 4 * llama.vocabSize * llama.nEmbd);
  });

  it('measures a read bandwidth', async () => {
    const bw = await measureReadBandwidth({ bytes: 8 * 1024 * 1024, repeats: 1, threads: 2 });
    expect(bw).toBeGreaterThan(1e8);
  });
});

/** The sampler as it was, sorting the vocabulary: sampleToken must draw exactly the same tokens. */
function sortedSample(logits: Float32Array, opts: SampleOptions, rng: Rng): number {
  const scaled = Array.from(logits, (l) => l / (opts.temperature ?? 1));
  const k = opts.topK ?? 0;
  const cutoff = k > 0 && k < scaled.length ? [...scaled].sort((a, b) => b - a)[k - 1] : -Infinity;
  const mx = Math.max(...scaled);
  const probs = scaled.map((l) => (l < cutoff ? 0 : Math.exp(l - mx)));
  let u = rng.uniform() * probs.reduce((a, b) => a + b, 0);
  for (let i = 0; i < probs.length; i++) {
    u -= probs[i];
    if (u <= 0 && probs[i] > 0) return i;
  }
  return probs.findLastIndex((p) => p > 0);
}

describe('sampleToken', () => {
  it('selects the k-th largest like a sort, ties included', () => {
    const rng = new Rng(4);
    for (let trial = 0; trial < 50; trial++) {
      const n = 1 + Math.floor(rng.uniform() * 300);
      const v = Float64Array.from({ length: n }, () => Math.round(rng.normal() * 4) / 2);
      const sorted = [...v].sort((a, b) => b - a);
      // === rather than toBe: the rounding makes both +0 and −0, which compare equal.
      for (const k of [1, 2, Math.ceil(n / 2), n]) expect(kthLargest(v, k) === sorted[k - 1]).toBe(true);
    }
  });

  it('draws the same tokens as the sorting sampler', () => {
    const rng = new Rng(8);
    const logits = Float32Array.from({ length: 997 }, () => rng.normal() * 3);
    for (const opts of [{ temperature: 0.7, topK: 40 }, { temperature: 1.3 }, { temperature: 1, topK: 1 }]) {
      const a = new Rng(11);
      const b = new Rng(11);
      for (let i = 0; i < 50; i++) expect(sampleToken(logits, opts, a)).toBe(sortedSample(logits, opts, b));
    }
  });
});

import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadCheckpoint } from '../src/checkpoint/checkpoint.ts';
import { gpt2Config, llamaConfig, type ModelConfig } from '../src/models/config.ts';
import { DEFAULT_OPTIM } from '../src/train/graphs.ts';
import { type PretrainOptions, pretrain } from '../src/train/pretrain.ts';
import { Trainer } from '../src/train/trainer.ts';

const text = readFileSync(
  join(import.meta.dirname, '../../../shared/datasets/tinyshakespeare/input.txt'),
  'utf8',
).slice(0, 200_000);
const chars = [...new Set(text)].sort();
const tokens = Int32Array.from(text, (c) => chars.indexOf(c));
const dirs: string[] = [];
const tmp = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'engine-train-'));
  dirs.push(d);
  return d;
};
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function opts(cfg: ModelConfig, over: Partial<PretrainOptions>): PretrainOptions {
  return {
    cfg,
    tokens,
    valFraction: 0.1,
    iters: 20,
    batch: 4,
    seq: cfg.blockSize,
    accumulate: 1,
    schedule: { lr: 2e-3, minLr: 2e-4, warmup: 5, decayIters: 20 },
    optim: DEFAULT_OPTIM,
    evalInterval: 10,
    evalIters: 2,
    logInterval: 1,
    seed: 11,
    ...over,
  };
}

describe('training', () => {
  it('loss falls on tiny Shakespeare (char-level gpt2, 200 steps)', async () => {
    const cfg = gpt2Config({
      nLayer: 2,
      nHead: 4,
      nEmbd: 64,
      ffnHidden: 256,
      blockSize: 32,
      vocabSize: chars.length,
      bias: false,
      activation: 'gelu',
    });
    const r = await pretrain(
      opts(cfg, {
        iters: 200,
        batch: 8,
        evalInterval: 200,
        evalIters: 4,
        schedule: { lr: 3e-3, minLr: 3e-4, warmup: 20, decayIters: 200 },
      }),
    );
    expect(r.losses[0]).toBeGreaterThan(3.9);
    expect(r.valLoss).toBeLessThan(2.75);
    expect(r.trainLoss).toBeLessThan(2.7);
  });

  it('resuming from a checkpoint reproduces the straight-through loss curve (with dropout)', async () => {
    const cfg = gpt2Config({
      nLayer: 1,
      nHead: 2,
      nEmbd: 32,
      ffnHidden: 64,
      blockSize: 16,
      vocabSize: chars.length,
      dropout: 0.1,
    });
    const a = tmp();
    const b = tmp();
    const straight = await pretrain(opts(cfg, { out: a }));
    const first = await pretrain(opts(cfg, { out: b, stopAfter: 7 }));
    expect(loadCheckpoint(b).state?.step).toBe(7);
    const resumed = await pretrain(opts(cfg, { out: b, resume: true }));
    expect(first.losses).toHaveLength(7);
    expect([...first.losses, ...resumed.losses]).toEqual(straight.losses);
    expect(resumed.valLoss).toBe(straight.valLoss);
    expect(resumed.params).toEqual(straight.params);
    const ck = loadCheckpoint(a);
    expect(ck.state?.step).toBe(20);
    expect(ck.params).toEqual(straight.params);
  });

  it('gradient accumulation over 2 micro-batches equals one step on the concatenated batch', async () => {
    const cfg = llamaConfig({
      nLayer: 1,
      nHead: 2,
      nKvHead: 1,
      nEmbd: 16,
      ffnHidden: 32,
      blockSize: 8,
      vocabSize: 11,
    });
    const big = await Trainer.create({ cfg, batch: 4, seed: 3, optim: { weightDecay: 0.1 } });
    const acc = await Trainer.create({
      cfg,
      batch: 2,
      seed: 3,
      accumulate: 2,
      optim: { weightDecay: 0.1 },
      plan: { rowsPerRun: 2 },
    });
    expect(acc.plan.runs).toBe(2);
    const ids = BigInt64Array.from({ length: 32 }, (_, i) => BigInt((i * 7) % 11));
    const tg = BigInt64Array.from({ length: 32 }, (_, i) => BigInt((i * 5 + 1) % 11));
    for (let s = 0; s < 3; s++) {
      const r1 = await big.step([{ idx: ids, targets: tg }], 1e-2);
      const r2 = await acc.step(
        [
          { idx: ids.slice(0, 16), targets: tg.slice(0, 16) },
          { idx: ids.slice(16), targets: tg.slice(16) },
        ],
        1e-2,
      );
      expect(r2.loss).toBeCloseTo(r1.loss, 5);
      expect(r2.gradNorm).toBeCloseTo(r1.gradNorm, 4);
    }
    let maxDiff = 0;
    big.params.forEach((p, i) => {
      maxDiff = Math.max(maxDiff, Math.abs(p - acc.params[i]));
    });
    expect(maxDiff).toBeLessThan(1e-5);
    await big.release();
    await acc.release();
  });

  it('AdamW step matches a reference implementation (decay on matrices only, clipping)', async () => {
    const cfg = gpt2Config({ nLayer: 1, nHead: 2, nEmbd: 8, ffnHidden: 16, blockSize: 4, vocabSize: 5 });
    const clip = 0.05;
    const tr = await Trainer.create({ cfg, batch: 1, seed: 1, optim: { clip, weightDecay: 0.5 } });
    const p0 = tr.params.slice();
    const batch = { idx: BigInt64Array.of(1n, 2n, 3n, 4n), targets: BigInt64Array.of(2n, 3n, 4n, 0n) };
    const lr = 0.1;
    const r = await tr.step([batch], lr);
    expect(r.gradNorm).toBeGreaterThan(clip);
    // First step from zero moments: m = (1−β1)g', v = (1−β2)g'², bias-corrected m̂/√v̂ = sign(g').
    // So p1 = p0(1 − lr·wd·decay) − lr·g'/(|g'| + eps).
    const mask = tr.layout.decayMask();
    const m = tr.m;
    for (let i = 0; i < p0.length; i += 97) {
      const g = m[i] / (1 - DEFAULT_OPTIM.beta1);
      const ag = Math.abs(g);
      const upd = g / (ag + DEFAULT_OPTIM.eps);
      const expected = p0[i] * (1 - lr * 0.5 * mask[i]) - lr * upd;
      expect(tr.params[i]).toBeCloseTo(expected, 5);
    }
    // Clipped gradient norm = clip.
    let sq = 0;
    for (let i = 0; i < m.length; i++) sq += (m[i] / (1 - DEFAULT_OPTIM.beta1)) ** 2;
    expect(Math.sqrt(sq)).toBeCloseTo(clip, 4);
    expect(mask[tr.layout.get('transformer.wte.weight').offset]).toBe(0);
    expect(mask[tr.layout.get('transformer.h.0.ln_1.weight').offset]).toBe(0);
    expect(mask[tr.layout.get('transformer.h.0.attn.c_attn.bias').offset]).toBe(0);
    expect(mask[tr.layout.get('transformer.h.0.attn.c_attn.weight').offset]).toBe(1);
    await tr.release();
  });

  it('adaptive threading switches sessions without changing the numbers', async () => {
    const cfg = gpt2Config({
      nLayer: 1,
      nHead: 2,
      nEmbd: 32,
      ffnHidden: 64,
      blockSize: 16,
      vocabSize: chars.length,
    });
    const run = async (adaptive: boolean) => {
      const tr = await Trainer.create({
        cfg,
        batch: 4,
        seed: 2,
        adaptive,
        session: adaptive ? undefined : { threads: 1 },
      });
      const ids = BigInt64Array.from({ length: 64 }, (_, i) => BigInt(tokens[i]));
      const tg = BigInt64Array.from({ length: 64 }, (_, i) => BigInt(tokens[i + 1]));
      const losses: number[] = [];
      for (let i = 0; i < 24; i++) losses.push((await tr.step([{ idx: ids, targets: tg }], 1e-3)).loss);
      const p = tr.params.slice();
      await tr.release();
      return { losses, p };
    };
    const a = await run(true);
    const b = await run(false);
    expect(a.losses).toEqual(b.losses);
    expect(a.p).toEqual(b.p);
  });

  it('dropout is seeded: two runs with the same seed give the same losses', async () => {
    const cfg = gpt2Config({
      nLayer: 1,
      nHead: 2,
      nEmbd: 16,
      ffnHidden: 32,
      blockSize: 8,
      vocabSize: chars.length,
      dropout: 0.2,
    });
    const run = async () => (await pretrain(opts(cfg, { iters: 5, evalInterval: 5 }))).losses;
    const [x, y] = [await run(), await run()];
    expect(x).toEqual(y);
    const noDrop = (await pretrain(opts({ ...cfg, dropout: 0 }, { iters: 5, evalInterval: 5 }))).losses;
    expect(noDrop[0]).not.toBe(x[0]);
  });
});

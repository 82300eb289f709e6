// Execution plans (rows per run, gradient workers) change float rounding only: the same step on one
// session, on several accumulating runs and on two worker threads gives the same losses and weights,
// dropout included, because masks are drawn per row of the step.
import { describe, expect, it } from 'vitest';
import { gpt2Config, preset } from '../src/models/config.ts';
import { paramLayout } from '../src/models/model.ts';
import { Rng } from '../src/rng.ts';
import { DropoutMasks } from '../src/train/feeds.ts';
import { buildStepGraph, DEFAULT_OPTIM } from '../src/train/graphs.ts';
import { PARALLEL_PARAMS, planExecution, TOKENS_PER_RUN } from '../src/train/plan.ts';
import { type Batch, Trainer } from '../src/train/trainer.ts';

describe('execution plan', () => {
  it('keeps small steps whole and splits large ones into runs for parallel workers', () => {
    expect(planExecution(preset('nanogpt-cpu', { vocabSize: 65 }), 12, 64, { cores: 2 })).toEqual({
      rowsPerRun: 12,
      runs: 1,
      workers: 1,
    });
    const big = preset('nanogpt-shakespeare', { vocabSize: 65 });
    expect(paramLayout(big).total).toBeGreaterThan(PARALLEL_PARAMS);
    const plan = planExecution(big, 64, 256, { cores: 2 });
    expect(plan.rowsPerRun * 256).toBeLessThanOrEqual(TOKENS_PER_RUN);
    expect(plan).toEqual({ rowsPerRun: 4, runs: 16, workers: 2 });
    // Never more workers than runs; an explicit split must divide the step.
    expect(planExecution(big, 1, 256, { cores: 8 }).workers).toBe(1);
    expect(() => planExecution(big, 64, 256, { rowsPerRun: 5 })).toThrow(/does not divide/);
  });
});

describe('dropout masks', () => {
  const cfg = gpt2Config({
    nLayer: 1,
    nHead: 2,
    nEmbd: 16,
    ffnHidden: 32,
    blockSize: 8,
    vocabSize: 11,
    dropout: 0.25,
  });
  const masks = (rows: number) =>
    new DropoutMasks(
      buildStepGraph({
        cfg,
        layout: paramLayout(cfg),
        batch: rows,
        seq: 8,
        optim: DEFAULT_OPTIM,
        ignoreIndex: -100,
        mode: 'step',
        accumulateIn: false,
        gradScale: 1,
      }),
      cfg.dropout,
    );

  it('hold 0 or 1/(1−p), keep the right share, and depend only on (seed, step, row)', () => {
    const whole = masks(4);
    const halves = masks(2);
    expect(whole.count).toBe(4); // embeddings, attention, two residual branches
    const a = whole.fill(7, 3, 0);
    let kept = 0;
    let total = 0;
    for (const [name, t] of Object.entries(a)) {
      const w = t.data as Float32Array;
      for (const x of w) expect(x === 0 || Math.abs(x - 4 / 3) < 1e-6).toBe(true);
      kept += w.filter((x) => x > 0).length;
      total += w.length;
      const first = Float32Array.from(halves.fill(7, 3, 0)[name].data as Float32Array);
      const second = Float32Array.from(halves.fill(7, 3, 2)[name].data as Float32Array);
      expect(Array.from(w)).toEqual([...first, ...second]);
    }
    expect(kept / total).toBeGreaterThan(0.7);
    expect(kept / total).toBeLessThan(0.8);
    const step3 = Array.from(whole.fill(7, 3, 0)['dropout_mask.1'].data as Float32Array);
    const step4 = Array.from(whole.fill(7, 4, 0)['dropout_mask.1'].data as Float32Array);
    expect(step4).not.toEqual(step3);
  });

  it('fillMask draws the keep probability exactly to 2⁻¹⁶ over many elements', () => {
    const out = new Float32Array(1_000_001);
    Rng.derive(1, 2, 3).fillMask(out, 0.8, 1.25);
    const mean = out.reduce((s, x) => s + x, 0) / out.length;
    expect(mean).toBeCloseTo(1, 2);
    expect(new Set(out).size).toBe(2);
    expect(() => new Rng(1).fillMask(out, 1.5, 1)).toThrow(/keep must be in \[0, 1\]/);
  });
});

describe('data-parallel gradients', () => {
  it('one session, accumulating runs and two worker threads take the same steps', async () => {
    const cfg = gpt2Config({
      nLayer: 2,
      nHead: 2,
      nEmbd: 32,
      ffnHidden: 64,
      blockSize: 16,
      vocabSize: 23,
      bias: false,
      dropout: 0.1,
    });
    const batch = 4;
    const make = (plan: { rowsPerRun: number; workers: number }) =>
      Trainer.create({ cfg, batch, accumulate: 2, seed: 5, plan, optim: { weightDecay: 0.1 } });
    const trainers = [
      await make({ rowsPerRun: 8, workers: 1 }),
      await make({ rowsPerRun: 2, workers: 1 }),
      await make({ rowsPerRun: 2, workers: 2 }),
    ];
    try {
      expect(trainers.map((t) => t.plan.runs)).toEqual([1, 4, 4]);
      expect(trainers[2].threading).toBe('2 gradient workers');
      const rng = new Rng(9);
      const rows = (): Batch => {
        const idx = BigInt64Array.from({ length: batch * 16 }, () => BigInt(rng.int(23)));
        return { idx, targets: idx.map((t) => (t + 1n) % 23n) };
      };
      for (let s = 0; s < 4; s++) {
        const micro = [rows(), rows()];
        const [a, b, c] = await Promise.all(trainers.map((t) => t.step(micro, 3e-3)));
        for (const r of [b, c]) {
          expect(r.loss).toBeCloseTo(a.loss, 5);
          expect(r.gradNorm).toBeCloseTo(a.gradNorm, 4);
        }
      }
      for (const t of trainers.slice(1)) {
        let worst = 0;
        t.params.forEach((p, i) => {
          worst = Math.max(worst, Math.abs(p - trainers[0].params[i]));
        });
        expect(worst).toBeLessThan(1e-5);
      }
      expect(await trainers[2].evaluate(rows())).toBeGreaterThan(0);
    } finally {
      await Promise.all(trainers.map((t) => t.release()));
    }
  });

  it('rejects a step of the wrong shape', async () => {
    const cfg = gpt2Config({ nLayer: 1, nHead: 2, nEmbd: 8, ffnHidden: 16, blockSize: 4, vocabSize: 5 });
    const t = await Trainer.create({ cfg, batch: 2, plan: { rowsPerRun: 1, workers: 2 } });
    try {
      await expect(
        t.step([{ idx: new BigInt64Array(3), targets: new BigInt64Array(3) }], 1e-3),
      ).rejects.toThrow(/each micro-batch needs 2×4 ids and targets/);
    } finally {
      await t.release();
    }
  });
});

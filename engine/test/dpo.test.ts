import { describe, expect, it } from 'vitest';
import { dpoMetrics } from '../src/finetune/dpo.ts';
import { frozenFp32 } from '../src/finetune/frozen.ts';
import { type LoraConfig, loraLayout } from '../src/finetune/lora.ts';
import { Graph } from '../src/graph/graph.ts';
import { gpt2Config } from '../src/models/config.ts';
import { forward, PARAM, paramInputs, paramLayout } from '../src/models/model.ts';
import { Rng } from '../src/rng.ts';
import { createSession, i64 } from '../src/runtime/session.ts';
import type { Batch } from '../src/train/data.ts';
import { tensorViews } from '../src/train/feeds.ts';
import { modelCtx } from '../src/train/graphs.ts';
import { Trainer } from '../src/train/trainer.ts';

const cfg = gpt2Config({ nLayer: 2, nHead: 2, nEmbd: 16, ffnHidden: 32, blockSize: 12, vocabSize: 11 });
const base = paramLayout(cfg);
const baseParams = base.init(3).map((x) => x * 5);
const lora: LoraConfig = { rank: 4, alpha: 8, dropout: 0, targets: ['c_attn', 'c_fc'] };
const seq = 12;

/** Pairs as rows: a shared random prompt of 5 tokens, then the chosen or the rejected answer; loss on answers. */
function pairs(n: number, rng: Rng, chosen: (i: number) => number, rejected: (i: number) => number): Batch {
  const idx = new BigInt64Array(2 * n * seq);
  const targets = new BigInt64Array(2 * n * seq).fill(-100n);
  for (let p = 0; p < n; p++) {
    const prompt = Array.from({ length: 5 }, () => 6 + rng.int(5));
    for (const [row, answer] of [
      [p, chosen],
      [n + p, rejected],
    ] as const) {
      const ids = [...prompt, ...Array.from({ length: seq + 1 - 5 }, (_, i) => answer(i))];
      for (let t = 0; t < seq; t++) {
        idx[row * seq + t] = BigInt(ids[t]);
        if (t + 1 >= 5) targets[row * seq + t] = BigInt(ids[t + 1]);
      }
    }
  }
  return { idx, targets };
}

/** Σ log-softmax(logits)[target] per row, computed here from the model's logits. */
async function handLogp(params: Float32Array, b: Batch, rows: number): Promise<number[]> {
  const g = new Graph('logits');
  const layout = loraLayout(cfg, lora);
  const ctx = modelCtx(g, cfg, paramInputs(g, layout), rows, seq, false, {
    frozen: frozenFp32(base, baseParams),
    lora,
  });
  g.output(forward(ctx, g.input('idx', 'int64', [rows, seq])), 'logits');
  const s = await createSession(g);
  const out = await s.run({
    ...frozenFp32(base, baseParams).feeds,
    ...tensorViews(layout, params, PARAM),
    idx: i64(b.idx, [rows, seq]),
  });
  await s.release();
  const logits = out.logits.data as Float32Array;
  const V = cfg.vocabSize;
  return Array.from({ length: rows }, (_, r) => {
    let sum = 0;
    for (let t = 0; t < seq; t++) {
      const target = Number(b.targets[r * seq + t]);
      if (target < 0) continue;
      const row = logits.subarray((r * seq + t) * V, (r * seq + t + 1) * V);
      const max = Math.max(...row);
      const lse = max + Math.log(row.reduce((a, x) => a + Math.exp(x - max), 0));
      sum += row[target] - lse;
    }
    return sum;
  });
}

describe('DPO', () => {
  it('loss and rewards equal a hand computation on two pairs', async () => {
    const beta = 0.3;
    const tr = await Trainer.create({
      cfg,
      batch: 4,
      seq,
      seed: 1,
      lora,
      frozen: frozenFp32(base, baseParams),
      objective: { kind: 'dpo', beta },
    });
    // A non-zero adapter, so the policy differs from any reference.
    const rng = new Rng(5);
    for (let i = 0; i < tr.params.length; i++) tr.params[i] = 0.3 * rng.normal();
    const b = pairs(
      2,
      rng,
      (i) => 1 + (i % 3),
      (i) => 5 - (i % 2),
    );
    const hand = await handLogp(tr.params, b, 4);
    const logp = await tr.rowLogProbs(b);
    hand.forEach((v, i) => {
      expect(logp[i]).toBeCloseTo(v, 3);
    });
    const ref = Float32Array.of(-9, -11.5, -14, -7.25);
    const r = beta * (hand[0] - ref[0]);
    const r1 = beta * (hand[1] - ref[1]);
    const j = beta * (hand[2] - ref[2]);
    const j1 = beta * (hand[3] - ref[3]);
    const softplus = (x: number) => Math.log1p(Math.exp(x));
    const expected = (softplus(-(r - j)) + softplus(-(r1 - j1))) / 2;
    const before = tr.params.slice();
    const out = await tr.step([{ ...b, refLogp: ref }], 0);
    expect(out.loss).toBeCloseTo(expected, 4);
    expect([...out.rewards!.chosen]).toEqual([expect.closeTo(r, 4), expect.closeTo(r1, 4)]);
    expect([...out.rewards!.rejected]).toEqual([expect.closeTo(j, 4), expect.closeTo(j1, 4)]);
    expect(dpoMetrics(Float32Array.from(hand), ref, beta).loss).toBeCloseTo(expected, 5);
    expect(tr.params).toEqual(before); // lr 0
    await tr.release();
  });

  it('a LoRA DPO run raises preference accuracy on its training pairs above 0.9', async () => {
    const beta = 0.1;
    const tr = await Trainer.create({
      cfg,
      batch: 16,
      seq,
      seed: 2,
      lora,
      frozen: frozenFp32(base, baseParams),
      objective: { kind: 'dpo', beta },
      optim: { weightDecay: 0 },
    });
    const rng = new Rng(7);
    // Chosen answers count up, rejected ones repeat a token: a preference the base does not have.
    const data = Array.from({ length: 4 }, () =>
      pairs(
        8,
        rng,
        (i) => 1 + (i % 4),
        () => 5,
      ),
    );
    const refs = await Promise.all(data.map((b) => tr.rowLogProbs(b)));
    const accuracy = async () => {
      let sum = 0;
      for (const [k, b] of data.entries()) sum += dpoMetrics(await tr.rowLogProbs(b), refs[k], beta).accuracy;
      return sum / data.length;
    };
    expect(await accuracy()).toBeLessThan(0.9);
    for (let s = 0; s < 40; s++) {
      const k = s % data.length;
      await tr.step([{ ...data[k], refLogp: refs[k] }], 1e-2);
    }
    expect(await accuracy()).toBeGreaterThan(0.9);
    await tr.release();
  });
});

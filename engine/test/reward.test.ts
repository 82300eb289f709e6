import { describe, expect, it } from 'vitest';
import { frozenFp32 } from '../src/finetune/frozen.ts';
import type { LoraConfig } from '../src/finetune/lora.ts';
import { gpt2Config, llamaConfig, type ModelConfig } from '../src/models/config.ts';
import { paramLayout } from '../src/models/model.ts';
import { Rng } from '../src/rng.ts';
import type { Batch } from '../src/train/data.ts';
import { Trainer } from '../src/train/trainer.ts';

const seq = 10;

/** Pairs of rows (chosen then rejected) of random lengths; lastIndex points at each row's last real token. */
function pairs(n: number, rng: Rng, good: (i: number) => number, bad: (i: number) => number): Batch {
  const idx = new BigInt64Array(2 * n * seq);
  const lastIndex = new BigInt64Array(2 * n);
  for (let p = 0; p < n; p++) {
    const len = 5 + rng.int(seq - 4);
    for (const [row, f] of [
      [p, good],
      [n + p, bad],
    ] as const) {
      for (let t = 0; t < seq; t++)
        idx[row * seq + t] = t < 3 ? BigInt(7 + rng.int(3)) : BigInt(t < len ? f(t) : 0);
      lastIndex[row] = BigInt(row * seq + len - 1);
    }
  }
  return { idx, targets: new BigInt64Array(2 * n * seq).fill(-100n), lastIndex };
}

describe.each([
  ['gpt2', gpt2Config({ nLayer: 2, nHead: 2, nEmbd: 16, ffnHidden: 32, blockSize: seq, vocabSize: 11 })],
  [
    'llama',
    llamaConfig({ nLayer: 2, nHead: 4, nKvHead: 2, nEmbd: 16, ffnHidden: 24, blockSize: seq, vocabSize: 11 }),
  ],
] as const)('reward model on %s', (_, cfg: ModelConfig) => {
  const base = paramLayout(cfg);
  const baseParams = base.init(3).map((x) => x * 5);
  const lora: LoraConfig = {
    rank: 4,
    alpha: 8,
    dropout: 0,
    targets: cfg.family === 'gpt2' ? ['c_attn'] : ['q_proj', 'v_proj'],
  };

  it('scores a row at its last token only, and the Bradley–Terry loss is −log σ(s_c − s_r) of those scores', async () => {
    const tr = await Trainer.create({
      cfg,
      batch: 4,
      seq,
      seed: 1,
      lora,
      frozen: frozenFp32(base, baseParams),
      objective: { kind: 'reward' },
    });
    const rng = new Rng(2);
    const b = pairs(
      2,
      rng,
      (t) => 1 + (t % 3),
      () => 5,
    );
    const s = await tr.rowScores(b);
    // Tokens after a row's last one change nothing; the last one does.
    const after = { ...b, idx: b.idx.slice() };
    for (let r = 0; r < 4; r++) {
      const last = Number(b.lastIndex![r]);
      for (let i = last + 1; i < (r + 1) * seq; i++) after.idx[i] = 3n;
    }
    expect(await tr.rowScores(after)).toEqual(s);
    const changed = { ...b, idx: b.idx.slice() };
    changed.idx[Number(b.lastIndex![0])] = 10n;
    expect((await tr.rowScores(changed))[0]).not.toBe(s[0]);
    const sp = (x: number) => Math.log1p(Math.exp(x));
    const expected = (sp(-(s[0] - s[2])) + sp(-(s[1] - s[3]))) / 2;
    const out = await tr.step([b], 0);
    expect(out.loss).toBeCloseTo(expected, 5);
    expect([...out.rewards!.chosen]).toEqual([expect.closeTo(s[0], 5), expect.closeTo(s[1], 5)]);
    expect([...out.rewards!.rejected]).toEqual([expect.closeTo(s[2], 5), expect.closeTo(s[3], 5)]);
    expect(tr.layout.get('score.weight').shape).toEqual([1, cfg.nEmbd]);
    await tr.release();
  });

  it('training on pairs raises pairwise accuracy above 0.9', async () => {
    const tr = await Trainer.create({
      cfg,
      batch: 16,
      seq,
      seed: 1,
      lora,
      frozen: frozenFp32(base, baseParams),
      objective: { kind: 'reward' },
      optim: { weightDecay: 0 },
    });
    const rng = new Rng(5);
    const data = Array.from({ length: 4 }, () =>
      pairs(
        8,
        rng,
        (t) => 1 + (t % 4),
        () => 5,
      ),
    );
    const accuracy = async () => {
      let right = 0;
      for (const b of data) {
        const s = await tr.rowScores(b);
        for (let i = 0; i < 8; i++) if (s[i] > s[8 + i]) right++;
      }
      return right / 32;
    };
    expect(await accuracy()).toBeLessThan(0.9);
    for (let i = 0; i < 40; i++) await tr.step([data[i % 4]], 1e-2);
    expect(await accuracy()).toBeGreaterThan(0.9);
    await tr.release();
  });
});

import { describe, expect, it } from 'vitest';
import { gpt2Config } from '../src/models/config.ts';
import { paramLayout } from '../src/models/model.ts';
import { Rng } from '../src/rng.ts';
import { createSession, i64 } from '../src/runtime/session.ts';
import { type Batch, BatchSampler } from '../src/train/data.ts';
import { tensorViews } from '../src/train/feeds.ts';
import { buildEvalGraph, STATE } from '../src/train/graphs.ts';
import { Trainer } from '../src/train/trainer.ts';

describe('evaluation', () => {
  const cfg = gpt2Config({ nLayer: 1, nHead: 2, nEmbd: 32, ffnHidden: 64, blockSize: 32, vocabSize: 50 });
  const tokens = Int32Array.from({ length: 5000 }, (_, i) => (i * 7 + ((i * i) % 13)) % 50);

  it('gives each batch its own mean loss, whole groups and a short last one alike', async () => {
    const [batch, seq] = [16, 32];
    const tr = await Trainer.create({ cfg, batch, seq, seed: 5 });
    const sampler = new BatchSampler(tokens, batch, seq);
    const rng = new Rng(9);
    // 512 tokens per batch, so 8 batches per run (EVAL_TOKENS_PER_RUN): 11 are a whole group and a short one.
    const batches: Batch[] = Array.from({ length: 11 }, () => sampler.next(rng));
    batches[3].targets.fill(-100n, 0, 200); // ignored targets count in no batch's mean
    const ours = await tr.evaluateAll(batches);

    const ref = await createSession(buildEvalGraph(cfg, paramLayout(cfg), batch, seq));
    const params = tensorViews(tr.layout, tr.params, STATE.param);
    for (const [i, b] of batches.entries()) {
      const out = await ref.run({
        ...params,
        idx: i64(b.idx, [batch, seq]),
        targets: i64(b.targets, [batch, seq]),
      });
      expect(ours[i]).toBeCloseTo((out.loss.data as Float32Array)[0], 5);
    }
    expect(await tr.evaluate(batches[3])).toBeCloseTo(ours[3], 5);
    await ref.release();
    await tr.release();
  });

  it('names the expected shape of a wrong batch', async () => {
    const tr = await Trainer.create({ cfg, batch: 4, seq: 32, seed: 5 });
    const bad = { idx: new BigInt64Array(10), targets: new BigInt64Array(10) };
    await expect(tr.evaluateAll([bad])).rejects.toThrow(/4×32 ids and targets/);
    await tr.release();
  });
});

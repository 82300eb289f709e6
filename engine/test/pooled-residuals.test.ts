// One residual vector per sequence (a document probe's features), checked against the trace session's own
// per-position streams of each sequence run alone.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pooledResiduals } from '../src/inspect/probe.ts';
import { TraceModel } from '../src/inspect/trace.ts';
import { gpt2Config } from '../src/models/config.ts';
import { paramLayout } from '../src/models/model.ts';

const cfg = gpt2Config({
  nLayer: 2,
  nHead: 2,
  nEmbd: 16,
  ffnHidden: 32,
  blockSize: 16,
  vocabSize: 30,
  bias: true,
  activation: 'gelu',
});
const SEQS = [[3, 1, 4, 1, 5, 9, 2, 6], [7], [2, 7, 1, 8, 2, 8, 1, 8, 2, 8, 4, 5, 9, 0, 4, 5]];
let model: TraceModel;

beforeAll(async () => {
  model = await TraceModel.create(cfg, paramLayout(cfg).init(3));
});
afterAll(() => model?.release());

describe('pooledResiduals', () => {
  it('takes each sequence’s last position, or the mean over its positions, in every stream', async () => {
    const C = cfg.nEmbd;
    const seen: number[] = [];
    const last = await pooledResiduals(model, SEQS, 'last', (i) => {
      seen.push(i);
    });
    const mean = await pooledResiduals(model, SEQS, 'mean');
    expect(seen).toEqual([0, 1, 2]);
    expect(last.length).toBe(cfg.nLayer + 1);
    for (const [i, seq] of SEQS.entries()) {
      const T = seq.length;
      const alone = await model.run(seq, { topK: 1 });
      for (let s = 0; s <= cfg.nLayer; s++) {
        const r = alone.resid[s]!;
        expect(Array.from(last[s]!.subarray(i * C, (i + 1) * C))).toEqual(
          Array.from(r.subarray((T - 1) * C, T * C)),
        );
        const avg = Array.from({ length: C }, (_, j) => {
          let sum = 0;
          for (let t = 0; t < T; t++) sum += r[t * C + j]!;
          return sum / T;
        });
        const got = Array.from(mean[s]!.subarray(i * C, (i + 1) * C));
        for (const [j, v] of got.entries()) expect(v).toBeCloseTo(avg[j]!, 5);
      }
    }
    // A one-token sequence: its mean is its only position.
    expect(Array.from(mean[1]!.subarray(C, 2 * C))).toEqual(Array.from(last[1]!.subarray(C, 2 * C)));
  });
});

import { describe, expect, it } from 'vitest';
import { gpt2Config, llamaConfig } from '../src/models/config.ts';
import { paramLayout } from '../src/models/model.ts';
import type { Batch } from '../src/train/data.ts';
import { Trainer } from '../src/train/trainer.ts';

const seq = 12;
const A = [3, 1, 4, 1, 5, 9, 2];
const B = [6, 5, 3, 5, 8];

/** An example's inputs and next-token targets, written into a row at `at`. */
function put(row: { idx: bigint[]; targets: bigint[] }, ex: number[], at: number): void {
  ex.forEach((t, i) => {
    row.idx[at + i] = BigInt(t);
    row.targets[at + i] = i + 1 < ex.length ? BigInt(ex[i + 1]) : -100n;
  });
}

function packed(): Batch {
  const row = { idx: new Array<bigint>(seq).fill(0n), targets: new Array<bigint>(seq).fill(-100n) };
  put(row, A, 0);
  put(row, B, A.length);
  return {
    idx: BigInt64Array.from(row.idx),
    targets: BigInt64Array.from(row.targets),
    positions: BigInt64Array.from([...A.keys(), ...B.keys()].map(BigInt)),
    segments: Int32Array.from([...A.map(() => 0), ...B.map(() => 1)]),
  };
}

function unpacked(): Batch {
  const rows = [A, B].map((ex) => {
    const row = { idx: new Array<bigint>(seq).fill(0n), targets: new Array<bigint>(seq).fill(-100n) };
    put(row, ex, 0);
    return row;
  });
  return {
    idx: BigInt64Array.from(rows.flatMap((r) => r.idx)),
    targets: BigInt64Array.from(rows.flatMap((r) => r.targets)),
  };
}

describe.each([
  [
    'gpt2 (learned positions)',
    gpt2Config({ nLayer: 2, nHead: 2, nEmbd: 16, ffnHidden: 32, blockSize: seq, vocabSize: 10 }),
  ],
  [
    'llama (RoPE)',
    llamaConfig({ nLayer: 2, nHead: 4, nKvHead: 2, nEmbd: 16, ffnHidden: 24, blockSize: seq, vocabSize: 10 }),
  ],
] as const)('packing on %s', (_, cfg) => {
  const params = paramLayout(cfg)
    .init(3)
    .map((x) => x * 5);

  it('a packed row trains exactly as its examples unpacked: same loss, same update', async () => {
    const p = await Trainer.create({ cfg, batch: 1, seq, params: params.slice(), packed: true, seed: 1 });
    const u = await Trainer.create({ cfg, batch: 2, seq, params: params.slice(), seed: 1 });
    const lp = await p.evaluate(packed());
    const lu = await u.evaluate(unpacked());
    expect(Math.abs(lp - lu)).toBeLessThan(1e-5);
    await p.step([packed()], 1e-2);
    await u.step([unpacked()], 1e-2);
    let worst = 0;
    for (let i = 0; i < p.params.length; i++) worst = Math.max(worst, Math.abs(p.params[i] - u.params[i]));
    expect(worst).toBeLessThan(1e-5);
    expect(p.params).not.toEqual(params);
    await p.release();
    await u.release();
  });

  it('without the block-diagonal mask and restarted positions the second example sees the first', async () => {
    const plain = await Trainer.create({ cfg, batch: 1, seq, params: params.slice(), seed: 1 });
    const u = await Trainer.create({ cfg, batch: 2, seq, params: params.slice(), seed: 1 });
    const { positions: _, segments: __, ...row } = packed();
    expect(Math.abs((await plain.evaluate(row)) - (await u.evaluate(unpacked())))).toBeGreaterThan(1e-3);
    await plain.release();
    await u.release();
  });
});

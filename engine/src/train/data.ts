// Random contiguous windows from a token stream, as nanoGPT's get_batch.
import type { Rng } from '../rng.ts';

export interface Batch {
  /** Token ids [batch, seq], row-major. */
  idx: BigInt64Array;
  /** Next-token targets [batch, seq]; `ignoreIndex` entries don't count. */
  targets: BigInt64Array;
  /** DPO: the reference model's log-probability of each row ([batch]). */
  refLogp?: Float32Array;
  /** Reward model: each row's last token as a flat index into [batch · seq] ([batch]). */
  lastIndex?: BigInt64Array;
  /** Packed rows: each token's position within its own example ([batch, seq]). */
  positions?: BigInt64Array;
  /** Packed rows: which example of its row each token belongs to ([batch, seq]); tokens attend within one. */
  segments?: Int32Array;
}

/** The rows of equally sized batches one after another (the batch itself when there is one). */
export function joinRows(batches: readonly Batch[], key: 'idx' | 'targets' | 'positions'): BigInt64Array {
  if (batches.length === 1 && batches[0][key]) return batches[0][key];
  const width = batches[0].idx.length;
  const all = new BigInt64Array(batches.length * width);
  batches.forEach((b, i) => {
    const v = b[key];
    if (!v) throw new Error(`batch ${i} has no ${key}`);
    all.set(v, i * width);
  });
  return all;
}

export class BatchSampler {
  constructor(
    private readonly tokens: Int32Array | Uint16Array,
    readonly batch: number,
    readonly seq: number,
  ) {
    if (tokens.length <= seq + 1)
      throw new Error(`data has ${tokens.length} tokens; need more than ${seq + 1}`);
  }

  next(rng: Rng): Batch {
    const { batch, seq, tokens } = this;
    const idx = new BigInt64Array(batch * seq);
    const targets = new BigInt64Array(batch * seq);
    for (let b = 0; b < batch; b++) {
      const start = rng.int(tokens.length - seq);
      for (let t = 0; t < seq; t++) {
        idx[b * seq + t] = BigInt(tokens[start + t]);
        targets[b * seq + t] = BigInt(tokens[start + t + 1]);
      }
    }
    return { idx, targets };
  }
}

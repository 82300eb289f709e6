import { rankMerge } from './bpe.ts';
import { isAscii } from './bytes.ts';
import type { PieceEncoder } from './tokenizer.ts';

/** Bounded piece cache: cleared wholesale when full, which is cheaper than LRU bookkeeping per lookup. */
const CACHE_LIMIT = 200_000;

/** tiktoken-style encoder: ranks over byte strings, id = rank. */
export class RankEncoder implements PieceEncoder {
  private cache = new Map<string, number | number[]>();
  constructor(readonly ranks: Map<string, number>) {}

  encode(piece: string, out: number[]): void {
    const hit = this.cache.get(piece);
    if (hit !== undefined) {
      if (typeof hit === 'number') out.push(hit);
      else for (let i = 0; i < hit.length; i++) out.push(hit[i]);
      return;
    }
    const bytes = isAscii(piece) ? piece : Buffer.from(piece, 'utf8').toString('latin1');
    const whole = this.ranks.get(bytes);
    if (this.cache.size >= CACHE_LIMIT) this.cache.clear();
    if (whole !== undefined) {
      this.cache.set(piece, whole);
      out.push(whole);
      return;
    }
    const ids: number[] = [];
    rankMerge(bytes, this.ranks, ids);
    // huge pieces would just evict useful entries
    if (piece.length <= 256) this.cache.set(piece, ids);
    for (let i = 0; i < ids.length; i++) out.push(ids[i]);
  }
}

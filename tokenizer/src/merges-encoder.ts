import { pairMerge } from './bpe.ts';
import { isAscii } from './bytes.ts';
import type { PieceEncoder } from './tokenizer.ts';

const CACHE_LIMIT = 100_000;

export interface MergesEncoderInit {
  /** vocab string -> id, in the model's own alphabet (byte-level chars, or text with ▁). */
  vocab: Map<string, number>;
  /** (left*2^21+right) -> rank*2^21+mergedId. */
  pairs: Map<number, number>;
  /** Byte-level models map each UTF-8 byte to an initial id; otherwise symbols are code points. */
  byteIds?: Int32Array;
  /** SentencePiece byte fallback: ids of `<0xNN>` for chars missing from the vocab. */
  byteFallbackIds?: Int32Array;
  unkId?: number;
  fuseUnk?: boolean;
  /** Llama-3 style: a pre-token that is itself in the vocab is emitted without merging. */
  ignoreMerges?: boolean;
  /** byte-level models: vocab keyed by latin1 byte strings, for ignoreMerges lookups. */
  byteVocab?: Map<string, number>;
}

/** Hugging Face BPE semantics: initial symbols, then only the listed merges, lowest rank first. */
export class MergesEncoder implements PieceEncoder {
  private cache = new Map<string, number[]>();
  constructor(private readonly m: MergesEncoderInit) {}

  encode(piece: string, out: number[]): void {
    let ids = this.cache.get(piece);
    if (ids === undefined) {
      ids = this.encodeUncached(piece);
      if (this.cache.size >= CACHE_LIMIT) this.cache.clear();
      if (piece.length <= 256) this.cache.set(piece, ids);
    }
    for (let i = 0; i < ids.length; i++) out.push(ids[i]);
  }

  private encodeUncached(piece: string): number[] {
    const m = this.m;
    const syms: number[] = [];
    if (m.byteIds) {
      const bytes = isAscii(piece) ? piece : Buffer.from(piece, 'utf8').toString('latin1');
      if (m.ignoreMerges && m.byteVocab) {
        const whole = m.byteVocab.get(bytes);
        if (whole !== undefined) return [whole];
      }
      for (let i = 0; i < bytes.length; i++) syms.push(m.byteIds[bytes.charCodeAt(i)]);
    } else {
      if (m.ignoreMerges) {
        const whole = m.vocab.get(piece);
        if (whole !== undefined) return [whole];
      }
      let lastUnk = false;
      for (const ch of piece) {
        const id = m.vocab.get(ch);
        if (id !== undefined) {
          syms.push(id);
          lastUnk = false;
          continue;
        }
        if (m.byteFallbackIds) {
          const bytes = Buffer.from(ch, 'utf8');
          for (const b of bytes) syms.push(m.byteFallbackIds[b]);
          lastUnk = false;
          continue;
        }
        if (m.unkId === undefined) continue; // HF drops chars it cannot represent when there is no unk
        if (!(m.fuseUnk && lastUnk)) syms.push(m.unkId);
        lastUnk = true;
      }
    }
    return pairMerge(syms, m.pairs);
  }
}

import { rankMerge } from './bpe.ts';
import { byteLevelToByteString, byteStringToUtf8, toHex } from './bytes.ts';
import { HfTokenizer } from './hf.ts';
import { RankTokenizer } from './rank-tokenizer.ts';
import type { Tokenizer } from './tokenizer.ts';

/** One id of a vocabulary as a browser shows it. */
export interface VocabRow {
  id: number;
  /** The token's bytes as UTF-8 (U+FFFD for a partial character); a special token's name. */
  text: string;
  /** Raw bytes, lowercase hex. */
  bytesHex: string;
  special: boolean;
  /** The two tokens merged into this one, printable; absent for single bytes, specials and non-BPE kinds. */
  merge?: [string, string];
}

/** A merge side a learner can read: byte-level symbols (Ġ for a space) turned back into characters. */
function readable(piece: string): string {
  const bytes = byteLevelToByteString(piece);
  return bytes === undefined ? piece : byteStringToUtf8(bytes);
}

/**
 * For tokenizer.json models: the merge that made each id, as an index into model.merges (-1: none). Built once
 * per tokenizer, because finding an id's merge otherwise means scanning every merge (200,000 for o200k).
 */
const hfMergeIndex = new WeakMap<HfTokenizer, { byId: Int32Array; pairs: [string, string][] }>();

function hfIndex(tok: HfTokenizer) {
  let index = hfMergeIndex.get(tok);
  if (index) return index;
  const vocab = tok.json.model.vocab;
  const byId = new Int32Array(tok.vocabSize).fill(-1);
  const pairs = (tok.json.model.merges ?? []).map((m) =>
    typeof m === 'string' ? (m.split(' ', 2) as [string, string]) : (m as [string, string]),
  );
  pairs.forEach(([left, right], i) => {
    const id = Object.hasOwn(vocab, left + right) ? vocab[left + right] : undefined;
    // The first merge that makes a token is the one encoding uses; later duplicates never fire.
    if (typeof id === 'number' && id >= 0 && id < byId.length && byId[id] === -1) byId[id] = i;
  });
  index = { byId, pairs };
  hfMergeIndex.set(tok, index);
  return index;
}

const parts: number[] = [];

/** The pair merged into `id`, printable, or undefined when no merge made it. */
function mergeOf(tok: Tokenizer, id: number, bytes: string): [string, string] | undefined {
  if (tok instanceof RankTokenizer) {
    // tiktoken ranks keep no merge list: the pair is the last step of encoding the token's own bytes with
    // the ranks below it, which costs a few microseconds per id instead of deriving all merges up front.
    if (bytes.length < 2) return undefined;
    parts.length = 0;
    rankMerge(bytes, tok.ranks, parts, id);
    if (parts.length !== 2 || parts[0]! < 0 || parts[1]! < 0) return undefined;
    return [byteStringToUtf8(tok.byteStringOf(parts[0]!)), byteStringToUtf8(tok.byteStringOf(parts[1]!))];
  }
  if (tok instanceof HfTokenizer) {
    const { byId, pairs } = hfIndex(tok);
    const i = id < byId.length ? byId[id]! : -1;
    if (i < 0) return undefined;
    const [left, right] = pairs[i]!;
    return [readable(left), readable(right)];
  }
  return undefined;
}

/** An id's bytes, or undefined for ids the vocabulary skips (cl100k_base has holes below its specials). */
export function byteStringOrHole(tok: Tokenizer, id: number): string | undefined {
  if (!Number.isInteger(id) || id < 0 || id >= tok.vocabSize) return undefined;
  try {
    return tok.byteStringOf(id);
  } catch {
    return undefined;
  }
}

/** The ids offset … offset + limit - 1 of a vocabulary that exist, each with the merge that made it. */
export function vocabPage(tok: Tokenizer, offset: number, limit: number): VocabRow[] {
  const rows: VocabRow[] = [];
  for (let id = offset; id < Math.min(tok.vocabSize, offset + limit); id++) {
    const bytes = byteStringOrHole(tok, id);
    if (bytes === undefined) continue;
    const special = tok.isSpecial(id);
    const merge = special ? undefined : mergeOf(tok, id, bytes);
    rows.push({
      id,
      text: special ? tok.tokenName(id) : byteStringToUtf8(bytes),
      bytesHex: toHex(bytes),
      special,
      ...(merge ? { merge } : {}),
    });
  }
  return rows;
}

import { PAIR_SHIFT, rankMerge } from './bpe.ts';
import { BYTE_TO_UNICODE, byteLevelToByteString, byteStringToByteLevel } from './bytes.ts';
import { TokenizerError } from './errors.ts';
import { MergesEncoder } from './merges-encoder.ts';
import { GPT2_PATTERN } from './patterns.ts';
import type { RankTokenizer } from './rank-tokenizer.ts';
import { type MetaspaceOptions, Tokenizer } from './tokenizer.ts';

/** The parts of a Hugging Face tokenizer.json we read or write. */
export interface HfTokenizerJson {
  version?: string;
  added_tokens?: HfAddedToken[];
  normalizer?: HfComponent | null;
  pre_tokenizer?: HfComponent | null;
  post_processor?: HfComponent | null;
  decoder?: HfComponent | null;
  model: HfBpeModel;
  [key: string]: unknown;
}

export interface HfAddedToken {
  id: number;
  content: string;
  special?: boolean;
  single_word?: boolean;
  lstrip?: boolean;
  rstrip?: boolean;
  normalized?: boolean;
}

export interface HfComponent {
  type: string;
  [key: string]: unknown;
}

export interface HfBpeModel {
  type: string;
  vocab: Record<string, number>;
  merges: (string | [string, string])[];
  unk_token?: string | null;
  byte_fallback?: boolean;
  fuse_unk?: boolean;
  ignore_merges?: boolean;
  [key: string]: unknown;
}

/** A tokenizer imported from tokenizer.json; keeps the source so saving writes it back unchanged. */
export class HfTokenizer extends Tokenizer {
  readonly json: HfTokenizerJson;
  constructor(init: ConstructorParameters<typeof Tokenizer>[0], json: HfTokenizerJson) {
    super(init);
    this.json = json;
  }
}

function components(c: HfComponent | null | undefined, listKey: string): HfComponent[] {
  if (!c) return [];
  if (c.type === 'Sequence') return (c[listKey] as HfComponent[] | undefined) ?? [];
  return [c];
}

function regexOf(pattern: unknown, field: string): string {
  const p = pattern as { Regex?: string; String?: string } | undefined;
  if (p?.Regex !== undefined) return p.Regex;
  if (p?.String !== undefined) return p.String.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  throw new TokenizerError(field, `${field}: unsupported pattern ${JSON.stringify(pattern)}`);
}

const BYTE_TOKEN = /^<0x([0-9A-Fa-f]{2})>$/;

/**
 * Imports a Hugging Face tokenizer.json with a BPE model: byte-level (GPT-2 / Llama-3 / Qwen2: ByteLevel
 * pre-tokenizer, optional Split regex) or SentencePiece-style (Llama-2 / Phi-3: Metaspace ▁, byte_fallback).
 * Post-processors (BOS/EOS templates) are not applied: ids are those of the text alone.
 */
export function importHfTokenizer(input: unknown, name = 'hf-tokenizer'): HfTokenizer {
  const json = input as HfTokenizerJson;
  if (typeof json !== 'object' || json === null || typeof json.model !== 'object') {
    throw new TokenizerError('tokenizer.json', 'tokenizer.json: not a tokenizer object (missing "model")');
  }
  const model = json.model;
  if (model.type !== 'BPE' && !(model.type === undefined && model.merges)) {
    throw new TokenizerError('model.type', `model.type '${model.type}' is not supported (only BPE)`);
  }
  const vocab = new Map(Object.entries(model.vocab));
  const pres = components(json.pre_tokenizer, 'pretokenizers');
  const norms = components(json.normalizer, 'normalizers');
  const decs = components(json.decoder, 'decoders');

  let pattern: string | null = null;
  let byteLevel = false;
  let metaspace: MetaspaceOptions | undefined;
  for (const p of pres) {
    if (p.type === 'ByteLevel') {
      byteLevel = true;
      if (p.use_regex !== false) {
        if (pattern !== null) throw new TokenizerError('pre_tokenizer', 'pre_tokenizer: two regex splits');
        pattern = GPT2_PATTERN;
      }
      if (p.add_prefix_space === true) {
        throw new TokenizerError(
          'pre_tokenizer',
          'pre_tokenizer: ByteLevel add_prefix_space=true is not supported',
        );
      }
    } else if (p.type === 'Split') {
      if (pattern !== null) throw new TokenizerError('pre_tokenizer', 'pre_tokenizer: two regex splits');
      if (p.invert === true || (p.behavior !== 'Isolated' && p.behavior !== undefined)) {
        throw new TokenizerError(
          'pre_tokenizer',
          `pre_tokenizer: Split behavior '${p.behavior}' is not supported`,
        );
      }
      pattern = regexOf(p.pattern, 'pre_tokenizer.pattern');
    } else if (p.type === 'Metaspace') {
      const scheme =
        (p.prepend_scheme as string | undefined) ?? (p.add_prefix_space === false ? 'never' : 'always');
      metaspace = {
        prepend: scheme as MetaspaceOptions['prepend'],
        split: p.split !== false,
        prependAlways: false,
      };
    } else throw new TokenizerError('pre_tokenizer', `pre_tokenizer type '${p.type}' is not supported`);
  }
  let sawPrepend = false;
  for (const n of norms) {
    if (n.type === 'Prepend' && n.prepend === '\u2581') sawPrepend = true;
    else if (
      n.type === 'Replace' &&
      regexOf(n.pattern, 'normalizer.pattern') === ' ' &&
      n.content === '\u2581'
    ) {
      metaspace ??= { prepend: 'never', split: false, prependAlways: false };
    } else throw new TokenizerError('normalizer', `normalizer type '${n.type}' is not supported`);
  }
  if (sawPrepend) metaspace = { prepend: 'always', split: metaspace?.split ?? false, prependAlways: true };
  if (!byteLevel && decs.some((d) => d.type === 'ByteLevel')) byteLevel = true;
  if (byteLevel && metaspace) throw new TokenizerError('tokenizer.json', 'mixed ByteLevel and Metaspace');

  // token bytes (for decoding) per id
  const tokenBytes: (string | undefined)[] = [];
  const tokenNames: (string | undefined)[] = [];
  const byteFallback = new Int32Array(256).fill(-1);
  const byteFallbackIds = new Set<number>();
  for (const [tok, id] of vocab) {
    tokenNames[id] = tok;
    if (byteLevel) {
      tokenBytes[id] = byteLevelToByteString(tok) ?? Buffer.from(tok, 'utf8').toString('latin1');
      continue;
    }
    const bm = model.byte_fallback ? BYTE_TOKEN.exec(tok) : null;
    if (bm) {
      const b = Number.parseInt(bm[1], 16);
      byteFallback[b] = id;
      byteFallbackIds.add(id);
      tokenBytes[id] = String.fromCharCode(b);
    } else
      tokenBytes[id] = Buffer.from(metaspace ? tok.replaceAll('\u2581', ' ') : tok, 'utf8').toString(
        'latin1',
      );
  }

  const pairs = new Map<number, number>();
  model.merges.forEach((m, rank) => {
    let a: string;
    let b: string;
    if (typeof m === 'string') {
      const sp = m.indexOf(' ', 1);
      a = m.slice(0, sp);
      b = m.slice(sp + 1);
    } else [a, b] = m;
    const ia = vocab.get(a);
    const ib = vocab.get(b);
    const ic = vocab.get(a + b);
    if (ia === undefined || ib === undefined || ic === undefined) {
      throw new TokenizerError(
        'model.merges',
        `model.merges[${rank}] '${a} ${b}' uses tokens missing from vocab`,
      );
    }
    const key = ia * PAIR_SHIFT + ib;
    if (!pairs.has(key)) pairs.set(key, rank * PAIR_SHIFT + ic);
  });

  const specialTokens = new Map<string, number>();
  const specialStrip = new Map<string, { lstrip: boolean; rstrip: boolean }>();
  for (const t of json.added_tokens ?? []) {
    specialTokens.set(t.content, t.id);
    if (t.lstrip || t.rstrip)
      specialStrip.set(t.content, { lstrip: t.lstrip === true, rstrip: t.rstrip === true });
  }

  let encoder: MergesEncoder;
  if (byteLevel) {
    const byteIds = new Int32Array(256);
    const byteVocab = new Map<string, number>();
    for (let b = 0; b < 256; b++) {
      const id = vocab.get(BYTE_TO_UNICODE[b]);
      if (id === undefined)
        throw new TokenizerError('model.vocab', `model.vocab lacks the byte-level token for ${b}`);
      byteIds[b] = id;
    }
    if (model.ignore_merges) for (const [tok, id] of vocab) byteVocab.set(tokenBytes[id] ?? tok, id);
    encoder = new MergesEncoder({
      vocab,
      pairs,
      byteIds,
      ignoreMerges: model.ignore_merges === true,
      byteVocab,
    });
  } else {
    const unk = model.unk_token ?? undefined;
    encoder = new MergesEncoder({
      vocab,
      pairs,
      byteFallbackIds: model.byte_fallback ? byteFallback : undefined,
      unkId: unk === undefined ? undefined : vocab.get(unk),
      fuseUnk: model.fuse_unk === true,
      ignoreMerges: model.ignore_merges === true,
    });
  }
  return new HfTokenizer(
    {
      name,
      kind: byteLevel ? 'hf-bpe' : 'sentencepiece-bpe',
      pattern,
      encoder,
      tokenBytes,
      tokenNames,
      specialTokens,
      specialStrip,
      metaspace,
      byteFallbackIds,
    },
    json,
  );
}

/**
 * A character-level vocabulary as a Hugging Face tokenizer.json that keeps the lab's ids: a BPE model whose
 * vocabulary is the characters (id = index) and which has no merges, so every character stays one token.
 * There is no normalizer or pre-tokenizer (each could change the characters the model sees) and the Fuse
 * decoder joins tokens back unchanged. There is no unk token either: it would need an id the model was never
 * trained with, or would make a real character stand for every unknown one. So a character outside the
 * vocabulary is an error in the lab's readers, and Hugging Face's tokenizers (and importHfTokenizer, which
 * follows them) drop it.
 */
export function exportHfCharTokenizer(chars: readonly string[]): HfTokenizerJson {
  const vocab: Record<string, number> = {};
  chars.forEach((c, i) => {
    vocab[c] = i;
  });
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [],
    normalizer: null,
    pre_tokenizer: null,
    post_processor: null,
    decoder: { type: 'Fuse' },
    model: bpeModel(vocab, []),
  };
}

/**
 * The characters of a tokenizer.json in exportHfCharTokenizer's form (ordered by id), or undefined when the
 * file is anything else: only then is every id exactly one character with no other processing.
 */
export function hfCharVocabulary(input: unknown): string[] | undefined {
  const json = input as Partial<HfTokenizerJson> | null;
  const model = json?.model;
  if (typeof json !== 'object' || json === null || typeof model !== 'object' || model === null) return;
  if (model.type !== 'BPE' || !Array.isArray(model.merges) || model.merges.length > 0) return;
  if (model.unk_token || model.byte_fallback || model.continuing_subword_prefix || model.end_of_word_suffix)
    return;
  if (json.normalizer || json.pre_tokenizer || json.post_processor || (json.added_tokens ?? []).length > 0)
    return;
  if (json.decoder?.type !== 'Fuse') return;
  const entries = Object.entries(model.vocab ?? {});
  const chars: string[] = new Array(entries.length);
  for (const [c, id] of entries) {
    if ([...c].length !== 1 || !Number.isInteger(id) || id < 0 || id >= entries.length) return;
    if (chars[id] !== undefined) return;
    chars[id] = c;
  }
  return chars;
}

/** The `model` section of a BPE tokenizer.json, as Hugging Face tokenizers writes it (no unknown token). */
function bpeModel(vocab: Record<string, number>, merges: HfBpeModel['merges']): HfBpeModel {
  return {
    type: 'BPE',
    dropout: null,
    unk_token: null,
    continuing_subword_prefix: null,
    end_of_word_suffix: null,
    fuse_unk: false,
    byte_fallback: false,
    ignore_merges: false,
    vocab,
    merges,
  };
}

/**
 * Exports a rank (tiktoken-style) tokenizer as a tokenizer.json that Hugging Face `tokenizers` loads as is.
 * Merges are recovered the way tiktoken's own converters do: the merge producing token t is the split that
 * BPE reaches on t's bytes using only ranks below rank(t).
 */
export function exportHfTokenizer(tok: RankTokenizer): HfTokenizerJson {
  const byRank: [string, number][] = [...tok.ranks].sort((x, y) => x[1] - y[1]);
  const vocab: Record<string, number> = {};
  const merges: string[] = [];
  const tokenOfRank = new Map<number, string>();
  for (const [bytes, rank] of byRank) tokenOfRank.set(rank, bytes);
  for (const [bytes, rank] of byRank) {
    vocab[byteStringToByteLevel(bytes)] = rank;
    if (bytes.length < 2) continue;
    const parts: number[] = [];
    rankMerge(bytes, tok.ranks, parts, rank);
    if (parts.length !== 2) continue; // unreachable token: kept in vocab, no merge produces it
    merges.push(
      `${byteStringToByteLevel(tokenOfRank.get(parts[0])!)} ${byteStringToByteLevel(tokenOfRank.get(parts[1])!)}`,
    );
  }
  const added_tokens: HfAddedToken[] = [...tok.specialTokens]
    .sort((x, y) => x[1] - y[1])
    .map(([content, id]) => ({
      id,
      content,
      single_word: false,
      lstrip: false,
      rstrip: false,
      normalized: false,
      special: true,
    }));
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens,
    normalizer: null,
    pre_tokenizer: {
      type: 'Sequence',
      pretokenizers: [
        { type: 'Split', pattern: { Regex: tok.pattern }, behavior: 'Isolated', invert: false },
        { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false },
      ],
    },
    post_processor: null,
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: bpeModel(vocab, merges),
  };
}

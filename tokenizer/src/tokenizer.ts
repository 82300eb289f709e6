import { byteStringToBytes, decodeUtf8Strict } from './bytes.ts';
import { TokenizerError } from './errors.ts';
import { compilePattern } from './patterns.ts';

export type SpecialSelection = 'all' | readonly string[] | ReadonlySet<string>;

export interface EncodeOptions {
  /** Specials that are encoded as their single id when they appear in the text. Default: none. */
  allowedSpecial?: SpecialSelection;
  /** Specials that make encode() throw when they appear in the text. Default: 'all' (minus allowed). */
  disallowedSpecial?: SpecialSelection;
}

export interface TokenSpan {
  id: number;
  /** UTF-16 code unit offsets into the input string; a token that splits a character gets that char's span. */
  start: number;
  end: number;
}

export type TokenizerKind = 'bpe' | 'hf-bpe' | 'sentencepiece-bpe' | 'char';

/** Turns one pre-token (or a whole segment when there is no pre-tokeniser) into ids. */
export interface PieceEncoder {
  encode(piece: string, out: number[]): void;
}

export interface MetaspaceOptions {
  /** 'always': prepend ▁ to every text segment; 'first': only to the first; 'never'. */
  prepend: 'always' | 'first' | 'never';
  /** Split into words before each ▁ (HF Metaspace pre-tokenizer with split=true). */
  split: boolean;
  /** HF `Prepend` normaliser prepends unconditionally; the Metaspace pre-tokenizer only when missing. */
  prependAlways: boolean;
}

export interface TokenizerInit {
  name: string;
  kind: TokenizerKind;
  /** Pre-tokenisation regex in tiktoken/HF syntax, or null when the model sees whole segments. */
  pattern: string | null;
  encoder: PieceEncoder;
  /** Decoded bytes of each id as a latin1 byte string; undefined marks holes in the id space. */
  tokenBytes: readonly (string | undefined)[];
  specialTokens: ReadonlyMap<string, number>;
  /** HF added-token flags: absorb whitespace left (lstrip) / right (rstrip) of the special into it. */
  specialStrip?: ReadonlyMap<string, { lstrip: boolean; rstrip: boolean }>;
  metaspace?: MetaspaceOptions;
  /** Ids that stand for a single raw byte produced by byte fallback (SentencePiece `<0xNN>`). */
  byteFallbackIds?: ReadonlySet<number>;
  /** Display form of ids (vocab strings) where it differs from the decoded bytes. */
  tokenNames?: readonly (string | undefined)[];
}

function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

function toSet(sel: SpecialSelection, all: ReadonlyMap<string, number>, field: string): Set<string> {
  if (sel === 'all') return new Set(all.keys());
  const set = new Set<string>(sel);
  for (const s of set) {
    if (!all.has(s))
      throw new TokenizerError(field, `${field}: '${s}' is not a special token of this tokenizer`);
  }
  return set;
}

export class Tokenizer {
  readonly name: string;
  readonly kind: TokenizerKind;
  readonly pattern: string | null;
  readonly specialTokens: ReadonlyMap<string, number>;
  readonly metaspace: MetaspaceOptions | undefined;
  readonly byteFallbackIds: ReadonlySet<number>;
  /** Number of ids (max id + 1), specials included. */
  readonly vocabSize: number;
  private readonly encoder: PieceEncoder;
  private readonly regex: RegExp | null;
  private readonly tokenBytes: readonly (string | undefined)[];
  private readonly tokenNames: readonly (string | undefined)[] | undefined;
  private readonly specialsById = new Map<number, string>();
  private readonly specialRegexCache = new Map<string, RegExp>();
  private readonly maxSpecialLength: number;
  private readonly specialStrip: ReadonlyMap<string, { lstrip: boolean; rstrip: boolean }>;

  constructor(init: TokenizerInit) {
    this.name = init.name;
    this.kind = init.kind;
    this.pattern = init.pattern;
    this.encoder = init.encoder;
    this.regex = init.pattern === null ? null : compilePattern(init.pattern);
    this.specialTokens = init.specialTokens;
    this.metaspace = init.metaspace;
    this.byteFallbackIds = init.byteFallbackIds ?? new Set();
    this.tokenNames = init.tokenNames;
    this.specialStrip = init.specialStrip ?? new Map();
    let maxId = init.tokenBytes.length - 1;
    let maxLen = 0;
    for (const [s, id] of init.specialTokens) {
      this.specialsById.set(id, s);
      if (id > maxId) maxId = id;
      if (s.length > maxLen) maxLen = s.length;
    }
    this.maxSpecialLength = maxLen;
    const bytes = init.tokenBytes.slice();
    for (const [s, id] of init.specialTokens) bytes[id] = Buffer.from(s, 'utf8').toString('latin1');
    this.tokenBytes = bytes;
    this.vocabSize = maxId + 1;
  }

  /** Encodes text; special tokens follow tiktoken's allowed/disallowed rules (see EncodeOptions). */
  encode(text: string, options: EncodeOptions = {}): number[] {
    const out: number[] = [];
    this.forEachSegment(
      text,
      options,
      (seg, _start, first) => this.encodeSegment(seg, first, out),
      (id) => {
        out.push(id);
      },
    );
    return out;
  }

  /** Encodes text treating special-token strings as plain text. */
  encodeOrdinary(text: string): number[] {
    const out: number[] = [];
    this.encodeSegment(text, true, out);
    return out;
  }

  encodeBatch(texts: readonly string[], options: EncodeOptions = {}): number[][] {
    return texts.map((t) => this.encode(t, options));
  }

  /** Encodes UTF-8 bytes; invalid UTF-8 is rejected with a TokenizerError (field 'bytes'). */
  encodeBytes(bytes: Uint8Array, options: EncodeOptions = {}): number[] {
    return this.encode(decodeUtf8Strict(bytes, 'bytes'), options);
  }

  /** Like encode, with each token's character span in `text` (for inspectors). */
  encodeWithOffsets(text: string, options: EncodeOptions = {}): TokenSpan[] {
    const spans: TokenSpan[] = [];
    this.forEachSegment(
      text,
      options,
      (seg, start, first) => {
        const ids: number[] = [];
        const prefixBytes = this.encodeSegment(seg, first, ids);
        this.segmentSpans(seg, start, ids, prefixBytes, spans);
      },
      (id, start, end) => {
        spans.push({ id, start, end });
      },
    );
    return spans;
  }

  decode(ids: ArrayLike<number>): string {
    const text = Buffer.from(this.decodeByteString(ids), 'latin1').toString('utf8');
    return this.stripDecodedPrefix(text);
  }

  decodeBytes(ids: ArrayLike<number>): Uint8Array {
    return byteStringToBytes(this.decodeByteString(ids));
  }

  /** The raw bytes id stands for (a special token's UTF-8 text for specials). */
  tokenToBytes(id: number): Uint8Array {
    return byteStringToBytes(this.byteStringOf(id));
  }

  /** @internal latin1 byte string of an id (hot path for decoders and inspectors). */
  byteStringOf(id: number): string {
    const b = Number.isInteger(id) ? this.tokenBytes[id] : undefined;
    if (b === undefined) throw new TokenizerError('ids', `ids: ${id} is not a token id of ${this.name}`);
    return b;
  }

  /** Human-readable vocab string (HF vocab key, or the decoded text with invalid bytes escaped). */
  tokenName(id: number): string {
    const name = this.tokenNames?.[id];
    if (name !== undefined) return name;
    return this.specialsById.get(id) ?? Buffer.from(this.byteStringOf(id), 'latin1').toString('utf8');
  }

  isSpecial(id: number): boolean {
    return this.specialsById.has(id);
  }

  /** Drops the space that decoding the ▁ prepended by SentencePiece-style normalisers produces. */
  stripDecodedPrefix(text: string): string {
    if (this.metaspace && this.metaspace.prepend !== 'never' && text.startsWith(' ')) return text.slice(1);
    return text;
  }

  /**
   * Encodes a large input chunk by chunk with bounded memory: the tail that could still change once more
   * text arrives (the last pre-token, a possible partial special token) is carried into the next chunk, so
   * the concatenated output equals encode(wholeText).
   */
  async *encodeStream(
    source: AsyncIterable<string | Uint8Array> | Iterable<string | Uint8Array>,
    options: EncodeOptions = {},
  ): AsyncGenerator<number[]> {
    const decoder = new TextDecoder('utf-8', { fatal: true });
    const hold = Math.max(32, this.maxSpecialLength + 8);
    const minBatch = 64 * 1024;
    let carry = '';
    const decodeChunk = (chunk: Uint8Array | undefined): string => {
      try {
        return chunk === undefined ? decoder.decode() : decoder.decode(chunk, { stream: true });
      } catch {
        throw new TokenizerError('bytes', 'bytes: input stream is not valid UTF-8');
      }
    };
    // after a failed cut (one huge pre-token), wait for the carry to double so rescans stay linear overall
    let attemptAt = minBatch + hold;
    for await (const chunk of source) {
      carry += typeof chunk === 'string' ? chunk : decodeChunk(chunk);
      if (carry.length < attemptAt) continue;
      if (this.regex === null && this.kind !== 'char') continue; // whole-segment models cannot be cut safely
      const cut = this.safeCut(carry, carry.length - hold, options);
      if (cut <= 0) {
        attemptAt = carry.length * 2;
        continue;
      }
      const ids = this.encode(carry.slice(0, cut), options);
      carry = carry.slice(cut);
      attemptAt = minBatch + hold;
      if (ids.length > 0) yield ids;
    }
    carry += decodeChunk(undefined);
    if (carry.length > 0) yield this.encode(carry, options);
  }

  private safeCut(text: string, limit: number, options: EncodeOptions): number {
    // never cut through any special token occurrence
    for (const s of this.specialTokens.keys()) {
      const from = Math.max(0, limit - s.length + 1);
      const at = text.indexOf(s, from);
      if (at !== -1 && at < limit) limit = at;
    }
    if (this.regex === null) {
      const c = text.charCodeAt(limit - 1);
      return c >= 0xd800 && c <= 0xdbff ? limit - 1 : limit;
    }
    // pre-token boundaries are only meaningful from the last allowed special before the cut
    const allowed = this.allowedSet(options);
    let segStart = 0;
    for (const s of allowed) {
      const at = text.lastIndexOf(s, limit - s.length);
      if (at !== -1 && at + s.length > segStart) segStart = at + s.length;
    }
    const re = this.regex;
    re.lastIndex = segStart;
    let cut = segStart;
    for (;;) {
      const m = re.exec(text);
      if (m === null || m.index > limit) break;
      // A whitespace run before the cut is split by lookahead (`\s+(?!\S)`) depending on the character that
      // follows it: a cut right after whitespace would change that pre-token, so only cut after non-space.
      if (m.index === segStart || !/\s/.test(text[m.index - 1]!)) cut = m.index;
      if (m[0].length === 0) re.lastIndex++;
    }
    return cut;
  }

  private allowedSet(options: EncodeOptions): Set<string> {
    return options.allowedSpecial
      ? toSet(options.allowedSpecial, this.specialTokens, 'allowedSpecial')
      : new Set();
  }

  private specialRegex(tokens: Set<string>): RegExp {
    const key = [...tokens].sort().join('\u0000');
    let re = this.specialRegexCache.get(key);
    if (!re) {
      const alts = [...tokens].sort((a, b) => b.length - a.length).map(escapeRegex);
      re = new RegExp(alts.join('|'), 'g');
      this.specialRegexCache.set(key, re);
    }
    return re;
  }

  private forEachSegment(
    text: string,
    options: EncodeOptions,
    onText: (segment: string, start: number, first: boolean) => void,
    onSpecial: (id: number, start: number, end: number) => void,
  ): void {
    if (typeof text !== 'string') throw new TokenizerError('text', 'text must be a string');
    if (text.length === 0) return;
    if (this.specialTokens.size === 0) {
      onText(text, 0, true);
      return;
    }
    const allowed = this.allowedSet(options);
    const disallowedSel = options.disallowedSpecial ?? 'all';
    const disallowed = toSet(disallowedSel, this.specialTokens, 'disallowedSpecial');
    if (disallowedSel === 'all') for (const s of allowed) disallowed.delete(s);
    for (const s of disallowed) {
      if (text.includes(s)) {
        throw new TokenizerError(
          'text',
          `Encountered text corresponding to disallowed special token '${s}'. Pass it in allowedSpecial to ` +
            `encode it as a special token, or exclude it from disallowedSpecial (e.g. disallowedSpecial: []) to ` +
            `encode it as plain text`,
        );
      }
    }
    if (allowed.size === 0) {
      onText(text, 0, true);
      return;
    }
    const re = this.specialRegex(allowed);
    re.lastIndex = 0;
    let pos = 0;
    let first = true;
    for (let m = re.exec(text); m !== null; m = re.exec(text)) {
      let start = m.index;
      let end = m.index + m[0].length;
      const strip = this.specialStrip.get(m[0]);
      if (strip?.lstrip) while (start > pos && /\s/u.test(text[start - 1])) start--;
      if (strip?.rstrip) {
        while (end < text.length && /\s/u.test(text[end])) end++;
        re.lastIndex = end;
      }
      if (start > pos) {
        onText(text.slice(pos, start), pos, first);
        first = false;
      }
      onSpecial(this.specialTokens.get(m[0])!, start, end);
      pos = end;
    }
    if (pos < text.length) onText(text.slice(pos), pos, first);
  }

  /** Returns the number of prefix bytes the normaliser added (for offset mapping). */
  private encodeSegment(seg: string, first: boolean, out: number[]): number {
    const ms = this.metaspace;
    if (ms) {
      const prepend = ms.prepend === 'always' || (ms.prepend === 'first' && first);
      let norm = seg.replaceAll(' ', '\u2581');
      if (prepend && (ms.prependAlways || !norm.startsWith('\u2581'))) norm = `\u2581${norm}`;
      const prefix = norm.length - seg.length;
      if (ms.split) {
        let start = 0;
        for (let i = 1; i < norm.length; i++) {
          if (norm.charCodeAt(i) === 0x2581 && norm.charCodeAt(i - 1) !== 0x2581) {
            this.encoder.encode(norm.slice(start, i), out);
            start = i;
          }
        }
        this.encoder.encode(norm.slice(start), out);
      } else this.encoder.encode(norm, out);
      return prefix;
    }
    const re = this.regex;
    if (re === null) {
      this.encoder.encode(seg, out);
      return 0;
    }
    const enc = this.encoder;
    re.lastIndex = 0;
    let pos = 0;
    for (let m = re.exec(seg); m !== null; m = re.exec(seg)) {
      const piece = m[0];
      if (piece.length === 0) {
        re.lastIndex++;
        continue;
      }
      // text the pattern does not cover becomes its own piece (HF Split 'Isolated'), so nothing is dropped
      if (m.index > pos) enc.encode(seg.slice(pos, m.index), out);
      enc.encode(piece, out);
      pos = m.index + piece.length;
    }
    if (pos < seg.length) enc.encode(seg.slice(pos), out);
    return 0;
  }

  private segmentSpans(
    seg: string,
    segStart: number,
    ids: number[],
    prefixBytes: number,
    spans: TokenSpan[],
  ): void {
    // byte offset -> index of the char (UTF-16 start) containing it, and each char's end
    const utf8 = Buffer.from(seg, 'utf8');
    const charStart = new Int32Array(utf8.length + 1);
    const charEnd = new Int32Array(utf8.length + 1);
    let b = 0;
    for (let i = 0; i < seg.length; ) {
      const cp = seg.codePointAt(i)!;
      const units = cp > 0xffff ? 2 : 1;
      const len = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
      for (let k = 0; k < len; k++) {
        charStart[b + k] = i;
        charEnd[b + k] = i + units;
      }
      b += len;
      i += units;
    }
    const total = utf8.length;
    let pos = -prefixBytes;
    for (const id of ids) {
      const len = this.byteStringOf(id).length;
      const s = Math.max(0, Math.min(total, pos));
      const e = Math.max(0, Math.min(total, pos + len));
      pos += len;
      if (e <= s) {
        const at = s >= total ? seg.length : charStart[s];
        spans.push({ id, start: segStart + at, end: segStart + at });
      } else spans.push({ id, start: segStart + charStart[s], end: segStart + charEnd[e - 1] });
    }
  }

  private decodeByteString(ids: ArrayLike<number>): string {
    const parts: string[] = new Array(ids.length);
    for (let i = 0; i < ids.length; i++) parts[i] = this.byteStringOf(ids[i]);
    return parts.join('');
  }
}

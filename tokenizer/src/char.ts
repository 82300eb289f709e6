import { TokenizerError } from './errors.ts';
import { type PieceEncoder, Tokenizer } from './tokenizer.ts';

class CharEncoder implements PieceEncoder {
  constructor(private readonly ids: Map<string, number>) {}
  encode(piece: string, out: number[]): void {
    for (const ch of piece) {
      const id = this.ids.get(ch);
      if (id === undefined) {
        const cp = ch.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0');
        throw new TokenizerError(
          'text',
          `text contains '${ch}' (U+${cp}), which is not in the character vocabulary`,
        );
      }
      out.push(id);
    }
  }
}

/**
 * Character-level tokenizer (nanoGPT shakespeare_char style): one id per code point, vocab = sorted chars.
 * Saved as a Hugging Face tokenizer.json that keeps these ids (see exportHfCharTokenizer).
 */
export class CharTokenizer extends Tokenizer {
  readonly chars: readonly string[];
  constructor(chars: readonly string[], name = 'char') {
    const ids = new Map<string, number>();
    chars.forEach((c, i) => {
      if ([...c].length !== 1) throw new TokenizerError('chars', `chars[${i}] must be a single character`);
      if (ids.has(c)) throw new TokenizerError('chars', `chars[${i}] '${c}' is duplicated`);
      ids.set(c, i);
    });
    super({
      name,
      kind: 'char',
      pattern: null,
      encoder: new CharEncoder(ids),
      tokenBytes: chars.map((c) => Buffer.from(c, 'utf8').toString('latin1')),
      specialTokens: new Map(),
    });
    this.chars = chars;
  }

  /** Vocabulary = the distinct code points of `text`, sorted by code point (like Python's sorted(set(text))). */
  static fromText(text: string, name = 'char'): CharTokenizer {
    if (text.length === 0)
      throw new TokenizerError('text', 'text must be non-empty to build a character vocabulary');
    const set = [...new Set(text)];
    set.sort((a, b) => a.codePointAt(0)! - b.codePointAt(0)!);
    return new CharTokenizer(set, name);
  }
}

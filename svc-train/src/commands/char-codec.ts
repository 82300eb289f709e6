// The character-level codec of `lab-train` and char jobs: the sorted distinct characters of the training
// text (in UTF-16 order, as it always was: the ids of existing checkpoints depend on it). Saved as a Hugging
// Face tokenizer.json through @lab/tokenizer (a BPE of the characters, see exportHfCharTokenizer), so a
// checkpoint's tokenizer loads in transformers.js; files in the older {"type":"char","chars":"..."} form
// still load.
import { readFileSync, writeFileSync } from 'node:fs';
import { CharTokenizer, parseTokenizerJson, serializeTokenizer } from '@lab/tokenizer';

export class CharCodec {
  private readonly index = new Map<string, number>();

  constructor(readonly chars: string[]) {
    chars.forEach((c, i) => {
      this.index.set(c, i);
    });
  }

  static fromText(text: string): CharCodec {
    return new CharCodec([...new Set(text)].sort());
  }

  static load(path: string): CharCodec {
    let tok: unknown;
    try {
      tok = parseTokenizerJson(readFileSync(path, 'utf8'), 'char');
    } catch (err) {
      throw new Error(`${path}: not a char tokenizer (${(err as Error).message})`);
    }
    if (!(tok instanceof CharTokenizer)) throw new Error(`${path}: not a char tokenizer`);
    return new CharCodec([...tok.chars]);
  }

  save(path: string): void {
    writeFileSync(path, `${JSON.stringify(serializeTokenizer(this.toTokenizer()))}\n`);
  }

  /** The same vocabulary as a @lab/tokenizer Tokenizer (ids unchanged), for exporting it. */
  toTokenizer(): CharTokenizer {
    return new CharTokenizer(this.chars, 'char');
  }

  get vocabSize(): number {
    return this.chars.length;
  }

  encode(text: string): Int32Array {
    const out = new Int32Array([...text].length);
    let i = 0;
    for (const c of text) {
      const id = this.index.get(c);
      if (id === undefined)
        throw new Error(`character ${JSON.stringify(c)} is not in the tokenizer's vocabulary`);
      out[i++] = id;
    }
    return out;
  }

  decode(ids: ArrayLike<number>): string {
    return Array.from(ids, (i) => this.chars[i] ?? '').join('');
  }
}

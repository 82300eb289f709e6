// A tiny character-level codec (sorted distinct characters of the training text), kept local to the
// commands so they don't depend on @lab/tokenizer. Saved as tokenizer.json {"type":"char","chars":"..."}.
import { readFileSync, writeFileSync } from 'node:fs';

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
    const json = JSON.parse(readFileSync(path, 'utf8')) as { type?: string; chars?: string };
    if (json.type !== 'char' || typeof json.chars !== 'string')
      throw new Error(`${path}: not a char tokenizer`);
    return new CharCodec([...json.chars]);
  }

  save(path: string): void {
    writeFileSync(path, `${JSON.stringify({ type: 'char', chars: this.chars.join('') })}\n`);
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

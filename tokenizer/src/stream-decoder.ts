import type { Tokenizer } from './tokenizer.ts';

/**
 * Decodes ids one at a time (e.g. while sampling) and only ever emits complete UTF-8 characters: bytes of a
 * character split across tokens are held back until it is complete; flush() emits what remains (invalid
 * leftovers as U+FFFD).
 */
export class StreamingDecoder {
  private readonly decoder = new TextDecoder('utf-8');
  private started = false;

  constructor(private readonly tokenizer: Tokenizer) {}

  /** Returns the newly completed text (possibly ''). */
  push(id: number): string {
    const bytes = this.tokenizer.tokenToBytes(id);
    return this.emit(this.decoder.decode(bytes, { stream: true }));
  }

  pushMany(ids: ArrayLike<number>): string {
    let out = '';
    for (let i = 0; i < ids.length; i++) out += this.push(ids[i]);
    return out;
  }

  flush(): string {
    const text = this.emit(this.decoder.decode());
    this.started = false;
    return text;
  }

  private emit(text: string): string {
    if (text.length === 0 || this.started) return text;
    this.started = true;
    return this.tokenizer.stripDecodedPrefix(text);
  }
}

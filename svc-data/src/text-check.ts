// Refusing files that are not text before they become documents: a binary file renamed .txt otherwise decodes
// into documents of NUL and U+FFFD characters that look like data to every later step. Text here means UTF-8
// without NUL bytes; a few invalid bytes (a stray Latin-1 character) are let through with a warning.
import { isUtf8 } from 'node:buffer';
import { Transform } from 'node:stream';
import { LabError } from '@lab/common';

/** Above this fraction of invalid UTF-8 bytes a file is refused. */
export const MAX_INVALID_FRACTION = 0.01;
/** The fraction is judged once this much has been read (or at the end), so one early bad byte is not fatal. */
const JUDGE_AFTER_BYTES = 64 * 1024;

/** Bytes a UTF-8 sequence starting with `b` has, or 0 when `b` cannot start one. */
function sequenceLength(b: number): number {
  if (b < 0x80) return 1;
  if (b >= 0xc2 && b <= 0xdf) return 2;
  if (b >= 0xe0 && b <= 0xef) return 3;
  if (b >= 0xf0 && b <= 0xf4) return 4;
  return 0;
}

/** Whether the bytes after a lead byte `b` are a valid continuation (RFC 3629: no overlongs, no surrogates). */
function validAt(buf: Buffer, i: number, n: number): boolean {
  const b = buf[i]!;
  for (let k = 1; k < n; k++) {
    const c = buf[i + k]!;
    let lo = 0x80;
    let hi = 0xbf;
    if (k === 1) {
      if (b === 0xe0) lo = 0xa0;
      else if (b === 0xed) hi = 0x9f;
      else if (b === 0xf0) lo = 0x90;
      else if (b === 0xf4) hi = 0x8f;
    }
    if (c < lo || c > hi) return false;
  }
  return true;
}

/** Counts what is wrong with a stream of bytes, chunk by chunk; a sequence cut between chunks is carried. */
export class TextChecker {
  /** Bytes of the stream before `carry`. */
  private offset = 0;
  private carry: Buffer = Buffer.alloc(0);
  invalid = 0;
  firstInvalid = -1;

  constructor(
    private readonly field: string,
    /** Said after an offset, e.g. " of the gunzipped data". */
    private readonly of = '',
  ) {}

  get bytes(): number {
    return this.offset + this.carry.length;
  }

  push(chunk: Buffer): void {
    const buf = this.carry.length ? Buffer.concat([this.carry, chunk]) : chunk;
    const nul = buf.indexOf(0);
    if (nul >= 0) {
      throw new LabError(
        'INVALID_ARGUMENT',
        `${this.field}: not a text file: NUL byte at byte offset ${this.offset + nul}${this.of} (binary files, and UTF-16 text, contain NUL bytes; text must be UTF-8)`,
        this.field,
      );
    }
    let end = buf.length;
    // A sequence cut at the end of the chunk waits for the next one.
    for (let j = buf.length - 1; j >= Math.max(0, buf.length - 3); j--) {
      if (buf[j]! < 0x80) break;
      if (buf[j]! >= 0xc0) {
        if (sequenceLength(buf[j]!) > buf.length - j) end = j;
        break;
      }
    }
    if (!isUtf8(buf.subarray(0, end))) this.scan(buf, end);
    this.offset += end;
    this.carry = Buffer.from(buf.subarray(end));
    if (this.offset >= JUDGE_AFTER_BYTES) this.judge();
  }

  /** Call at the end of the stream: a cut-off last sequence counts as invalid. */
  end(): void {
    if (this.carry.length) {
      this.count(this.offset);
      this.offset += this.carry.length;
      this.carry = Buffer.alloc(0);
    }
    this.judge();
  }

  /** A warning for a file let through with a few invalid bytes, or undefined. */
  warning(): string | undefined {
    if (!this.invalid) return undefined;
    return `${this.invalid} byte(s) are not valid UTF-8 (the first at byte offset ${this.firstInvalid}${this.of}) and were read as U+FFFD`;
  }

  private count(at: number): void {
    this.invalid++;
    if (this.firstInvalid < 0) this.firstInvalid = at;
  }

  private scan(buf: Buffer, end: number): void {
    for (let i = 0; i < end; ) {
      const b = buf[i]!;
      if (b < 0x80) {
        i++;
        continue;
      }
      const n = sequenceLength(b);
      if (n && i + n <= end && validAt(buf, i, n)) i += n;
      else {
        this.count(this.offset + i);
        i++;
      }
    }
  }

  private judge(): void {
    const bytes = this.bytes;
    if (!bytes || this.invalid / bytes <= MAX_INVALID_FRACTION) return;
    throw new LabError(
      'INVALID_ARGUMENT',
      `${this.field}: not UTF-8 text: ${this.invalid} of the first ${bytes} bytes are not valid UTF-8, the first at byte offset ${this.firstInvalid}${this.of} (convert it to UTF-8, e.g. iconv -f latin1 -t utf-8)`,
      this.field,
    );
  }
}

/** A pass-through stream that refuses non-text bytes (see TextChecker); `onWarning` hears of a few bad bytes. */
export function textOnly(field: string, of: string, onWarning: (message: string) => void): Transform {
  const check = new TextChecker(field, of);
  return new Transform({
    transform(chunk: Buffer, _enc, cb) {
      try {
        check.push(chunk);
        cb(null, chunk);
      } catch (err) {
        cb(err as Error);
      }
    },
    flush(cb) {
      try {
        check.end();
        const w = check.warning();
        if (w) onWarning(w);
        cb();
      } catch (err) {
        cb(err as Error);
      }
    },
  });
}

import { TokenizerError } from './errors.ts';

// Byte strings are held as "latin1" JS strings (one char per byte, code 0..255): they are hashable Map keys,
// cheap to slice, and for ASCII text the JS string already *is* its byte string.

export function isAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return false;
  return true;
}

export function utf8ByteString(s: string): string {
  return isAscii(s) ? s : Buffer.from(s, 'utf8').toString('latin1');
}

export function byteStringToBytes(s: string): Uint8Array {
  return new Uint8Array(Buffer.from(s, 'latin1'));
}

export function bytesToByteString(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('latin1');
}

export function byteStringToUtf8(s: string): string {
  return Buffer.from(s, 'latin1').toString('utf8');
}

const strictDecoder = new TextDecoder('utf-8', { fatal: true });

/** Decodes UTF-8, rejecting invalid sequences instead of silently substituting U+FFFD. */
export function decodeUtf8Strict(bytes: Uint8Array, field = 'bytes'): string {
  try {
    return strictDecoder.decode(bytes);
  } catch {
    throw new TokenizerError(field, `${field} is not valid UTF-8`);
  }
}

export function toHex(s: string): string {
  let out = '';
  for (let i = 0; i < s.length; i++) out += s.charCodeAt(i).toString(16).padStart(2, '0');
  return out;
}

/**
 * GPT-2's reversible byte -> printable unicode char mapping, used by Hugging Face byte-level BPE files
 * (e.g. space -> 'Ġ', newline -> 'Ċ').
 */
function buildByteToUnicode(): string[] {
  const bs: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) bs.push(b);
  for (let b = 0xa1; b <= 0xac; b++) bs.push(b);
  for (let b = 0xae; b <= 0xff; b++) bs.push(b);
  const cs = bs.slice();
  let n = 0;
  for (let b = 0; b < 256; b++) {
    if (!bs.includes(b)) {
      bs.push(b);
      cs.push(256 + n);
      n++;
    }
  }
  const table = new Array<string>(256);
  for (let i = 0; i < bs.length; i++) table[bs[i]] = String.fromCharCode(cs[i]);
  return table;
}

export const BYTE_TO_UNICODE: readonly string[] = buildByteToUnicode();
export const UNICODE_TO_BYTE: ReadonlyMap<string, number> = new Map(BYTE_TO_UNICODE.map((c, b) => [c, b]));

export function byteStringToByteLevel(s: string): string {
  let out = '';
  for (let i = 0; i < s.length; i++) out += BYTE_TO_UNICODE[s.charCodeAt(i)];
  return out;
}

/** Returns undefined when a char is outside the byte-level alphabet (e.g. an added token's plain text). */
export function byteLevelToByteString(s: string): string | undefined {
  let out = '';
  for (const ch of s) {
    const b = UNICODE_TO_BYTE.get(ch);
    if (b === undefined) return undefined;
    out += String.fromCharCode(b);
  }
  return out;
}

// The reference metrics are Python programs: their `str.split()`, `str.rstrip()` and `len()` decide what a
// token and a character are. JavaScript's `\s` is a different set (it has U+FEFF, lacks U+001C-U+001F and
// U+0085) and its string length counts UTF-16 units, so the metrics use these instead.

/** The characters Python's `str.isspace()` accepts (what `split()`/`strip()` cut on). */
const PY_SPACE =
  '\\t\\n\\v\\f\\r\\x1c-\\x1f \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';
const SPACE_RUN = new RegExp(`[${PY_SPACE}]+`, 'u');
const TRAILING_SPACE = new RegExp(`[${PY_SPACE}]+$`, 'u');

/** Python `s.split()`: runs of whitespace separate, no empty tokens. */
export function pySplit(s: string): string[] {
  return s.split(SPACE_RUN).filter((t) => t !== '');
}

/** Python `s.rstrip()`. */
export function pyRstrip(s: string): string {
  return s.replace(TRAILING_SPACE, '');
}

/** Python `''.join(s.split())`: the text without any whitespace. */
export function pyRemoveSpaces(s: string): string {
  return pySplit(s).join('');
}

/** Code points, as Python indexes a string (an emoji is one character, not two). */
export function codePoints(s: string): string[] {
  return Array.from(s);
}

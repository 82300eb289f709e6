import { TokenizerError } from './errors.ts';

/**
 * Pre-tokenisation patterns exactly as published by tiktoken (Rust `fancy-regex` syntax). They are what we
 * export into tokenizer.json; `compilePattern` translates them to an equivalent JS RegExp.
 */
export const GPT2_PATTERN =
  "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

export const CL100K_PATTERN =
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

export const O200K_PATTERN = [
  "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?",
  "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]+[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?",
  '\\p{N}{1,3}',
  ' ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*',
  '\\s*[\\r\\n]+',
  '\\s+(?!\\S)',
  '\\s+',
].join('|');

export const BUILTIN_PATTERNS: Readonly<Record<string, string>> = {
  gpt2: GPT2_PATTERN,
  cl100k: CL100K_PATTERN,
  o200k: O200K_PATTERN,
};

// Rust/Oniguruma `\s` is Unicode White_Space; JS `\s` differs (adds U+FEFF, lacks U+0085), so spell it out.
const WS = '\\t-\\r \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';

// Simple case folding adds these beyond ASCII; Rust's (?i) honours them.
const FOLDS: Record<string, string> = { s: '\\u017f', k: '\\u212a' };

function caseClass(ch: string): string {
  const lo = ch.toLowerCase();
  const up = ch.toUpperCase();
  return `[${lo}${up}${FOLDS[lo] ?? ''}]`;
}

/**
 * Translates a tiktoken/HF regex to JS: expands `(?i:...)` (unsupported by Node 20) and pins `\s`/`\S` to
 * Unicode White_Space so that pre-token boundaries match the Rust implementations byte for byte.
 */
export function translatePattern(pattern: string): string {
  let out = '';
  let inClass = false;
  let ciDepth = -1;
  let depth = 0;
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i];
    if (ch === '\\') {
      const next = pattern[i + 1];
      if (next === 's') out += inClass ? WS : `[${WS}]`;
      else if (next === 'S') {
        if (inClass)
          throw new TokenizerError('pattern', 'pattern: \\S inside a character class is not supported');
        out += `[^${WS}]`;
      } else if (next === 'p' || next === 'P' || next === 'x' || next === 'u') {
        // copy escapes with braces/arguments verbatim
        let j = i + 2;
        if (pattern[j] === '{') j = pattern.indexOf('}', j) + 1;
        else if (next === 'x') j += 2;
        else if (next === 'u') j += 4;
        out += pattern.slice(i, j);
        i = j - 1;
        continue;
      } else out += ch + next;
      i++;
      continue;
    }
    if (inClass) {
      if (ch === ']') inClass = false;
      out += ch;
      continue;
    }
    if (ch === '[') {
      inClass = true;
      out += ch;
      if (pattern[i + 1] === '^') {
        out += '^';
        i++;
      }
      if (pattern[i + 1] === ']') {
        out += '\\]';
        i++;
      }
      continue;
    }
    if (ch === '(') {
      depth++;
      if (pattern.startsWith('(?i:', i)) {
        if (ciDepth === -1) ciDepth = depth;
        out += '(?:';
        i += 3;
        continue;
      }
      out += ch;
      continue;
    }
    if (ch === ')') {
      if (depth === ciDepth) ciDepth = -1;
      depth--;
      out += ch;
      continue;
    }
    if (ciDepth !== -1 && /[a-zA-Z]/.test(ch)) {
      out += caseClass(ch);
      continue;
    }
    out += ch;
  }
  return out;
}

export function compilePattern(pattern: string): RegExp {
  try {
    return new RegExp(translatePattern(pattern), 'gu');
  } catch (err) {
    if (err instanceof TokenizerError) throw err;
    throw new TokenizerError(
      'pattern',
      `pattern is not a valid regular expression: ${(err as Error).message}`,
    );
  }
}

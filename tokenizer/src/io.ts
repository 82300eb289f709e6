import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { BUILTIN_NAMES, getBuiltin, isBuiltinName } from './builtins.ts';
import { CharTokenizer } from './char.ts';
import { TokenizerError } from './errors.ts';
import {
  exportHfCharTokenizer,
  exportHfTokenizer,
  HfTokenizer,
  hfCharVocabulary,
  importHfTokenizer,
} from './hf.ts';
import { BUILTIN_PATTERNS } from './patterns.ts';
import { guessPatternName, parseTiktokenRanks, RankTokenizer } from './rank-tokenizer.ts';
import type { Tokenizer } from './tokenizer.ts';

export interface LoadOptions {
  /** Name given to the loaded tokenizer (default: file or dir name). */
  name?: string;
  /** For tiktoken rank files: 'gpt2' | 'cl100k' | 'o200k' or a regex; guessed from the file name otherwise. */
  pattern?: string;
  /** For tiktoken rank files, which carry no specials. */
  specialTokens?: Readonly<Record<string, number>>;
}

/**
 * Char vocabularies written before tokenizer.json was always Hugging Face's format: @lab/tokenizer's
 * {"type":"lab-char","chars":[...]} and `lab-train`'s {"type":"char","chars":"..."}. Still read.
 */
interface OldCharTokenizerJson {
  type: 'lab-char' | 'char';
  name?: string;
  chars: string[] | string;
}

/** Serialised form: a Hugging Face tokenizer.json for every kind (char-level: see exportHfCharTokenizer). */
export function serializeTokenizer(tok: Tokenizer): object {
  if (tok instanceof RankTokenizer) return exportHfTokenizer(tok);
  if (tok instanceof HfTokenizer) return tok.json;
  if (tok instanceof CharTokenizer) return exportHfCharTokenizer(tok.chars);
  throw new TokenizerError('tokenizer', `cannot serialise tokenizer '${tok.name}'`);
}

/**
 * Parses tokenizer.json text: Hugging Face's format, or an older char file. A Hugging Face file that is a
 * character vocabulary (exportHfCharTokenizer's form) comes back as a CharTokenizer.
 */
export function parseTokenizerJson(text: string, name = 'tokenizer'): Tokenizer {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new TokenizerError('tokenizer.json', `tokenizer.json is not valid JSON: ${(err as Error).message}`);
  }
  const obj = json as Partial<OldCharTokenizerJson> | null;
  if (obj && (obj.type === 'lab-char' || obj.type === 'char')) {
    const chars = typeof obj.chars === 'string' ? [...obj.chars] : obj.chars;
    if (!Array.isArray(chars)) throw new TokenizerError('chars', 'char tokenizer file lacks "chars"');
    return new CharTokenizer(chars, obj.name ?? name);
  }
  const chars = hfCharVocabulary(json);
  if (chars) return new CharTokenizer(chars, name);
  return importHfTokenizer(json, name);
}

/** Writes `dir/tokenizer.json` (creating dir) and returns its path. */
export function saveTokenizer(tok: Tokenizer, dir: string): string {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, 'tokenizer.json');
  writeFileSync(path, JSON.stringify(serializeTokenizer(tok)));
  return path;
}

/**
 * Resolves a built-in name (gpt2, cl100k_base, o200k_base), a tokenizer.json, a tiktoken rank file
 * (`<base64> <rank>` lines) or a directory containing tokenizer.json.
 */
export function loadTokenizer(pathOrName: string, options: LoadOptions = {}): Tokenizer {
  if (typeof pathOrName !== 'string' || pathOrName.length === 0) {
    throw new TokenizerError('name', 'tokenizer name or path must be a non-empty string');
  }
  if (isBuiltinName(pathOrName)) return getBuiltin(pathOrName);
  if (!existsSync(pathOrName)) {
    throw new TokenizerError(
      'name',
      `unknown tokenizer '${pathOrName}': not a file or directory; known names: ${BUILTIN_NAMES.join(', ')}`,
    );
  }
  let file = pathOrName;
  let name = options.name ?? basename(pathOrName).replace(/\.(json|tiktoken)$/, '');
  if (statSync(pathOrName).isDirectory()) {
    file = join(pathOrName, 'tokenizer.json');
    if (!existsSync(file)) throw new TokenizerError('path', `directory ${pathOrName} has no tokenizer.json`);
    name = options.name ?? basename(pathOrName);
  }
  const text = readFileSync(file, 'utf8');
  if (text.trimStart().startsWith('{')) return parseTokenizerJson(text, name);
  const patternOpt = options.pattern ?? guessPatternName(file);
  const pattern = BUILTIN_PATTERNS[patternOpt] ?? patternOpt;
  return new RankTokenizer({
    name,
    ranks: parseTiktokenRanks(text),
    specialTokens: options.specialTokens,
    pattern,
  });
}

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { TokenizerError } from './errors.ts';
import { CL100K_PATTERN, GPT2_PATTERN, O200K_PATTERN } from './patterns.ts';
import { RankTokenizer } from './rank-tokenizer.ts';

export const BUILTIN_NAMES = ['gpt2', 'cl100k_base', 'o200k_base'] as const;
export type BuiltinName = (typeof BUILTIN_NAMES)[number];

const PATTERNS: Record<BuiltinName, string> = {
  gpt2: GPT2_PATTERN,
  cl100k_base: CL100K_PATTERN,
  o200k_base: O200K_PATTERN,
};

interface TiktokenEncoderJson {
  special_tokens: Record<string, number>;
  bpe_ranks: string;
}

/**
 * Rank data comes from the `tiktoken` npm package's `encoders/<name>.json`: plain JSON (no JS module to
 * evaluate, exported in its package.json) holding the exact OpenAI ranks and specials. js-tiktoken ships the
 * same data only as 1-2 MB JS modules, and we keep our own (JS-compatible) patterns anyway.
 * The compact format is `<display> <offset> <b64> <b64> ...` per line: consecutive ranks from offset.
 */
function loadEncoderJson(name: BuiltinName): TiktokenEncoderJson {
  const require = createRequire(import.meta.url);
  const path = require.resolve(`tiktoken/encoders/${name}.json`);
  return JSON.parse(readFileSync(path, 'utf8')) as TiktokenEncoderJson;
}

export function parseCompactRanks(compact: string): Map<string, number> {
  const ranks = new Map<string, number>();
  for (const line of compact.split('\n')) {
    if (line === '') continue;
    const fields = line.split(' ');
    const offset = Number.parseInt(fields[1], 10);
    for (let i = 2; i < fields.length; i++) {
      ranks.set(Buffer.from(fields[i], 'base64').toString('latin1'), offset + i - 2);
    }
  }
  return ranks;
}

const loaded = new Map<BuiltinName, RankTokenizer>();

export function isBuiltinName(name: string): name is BuiltinName {
  return (BUILTIN_NAMES as readonly string[]).includes(name);
}

/** Returns a built-in tokenizer, loading its ranks on first use only. */
export function getBuiltin(name: string): RankTokenizer {
  if (!isBuiltinName(name)) {
    throw new TokenizerError('name', `unknown tokenizer '${name}'; known names: ${BUILTIN_NAMES.join(', ')}`);
  }
  let tok = loaded.get(name);
  if (!tok) {
    const json = loadEncoderJson(name);
    tok = new RankTokenizer({
      name,
      ranks: parseCompactRanks(json.bpe_ranks),
      specialTokens: json.special_tokens,
      pattern: PATTERNS[name],
    });
    loaded.set(name, tok);
  }
  return tok;
}

/** Built-ins whose rank data has been loaded so far (they load on first use, not on import). */
export function loadedBuiltinNames(): BuiltinName[] {
  return [...loaded.keys()];
}

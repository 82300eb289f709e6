import { readFileSync } from 'node:fs';
import { TokenizerError } from './errors.ts';
import { RankEncoder } from './rank-encoder.ts';
import { Tokenizer } from './tokenizer.ts';

export interface RankTokenizerInit {
  name: string;
  /** byte string (latin1) -> rank; the rank is the token id. */
  ranks: Map<string, number>;
  specialTokens?: ReadonlyMap<string, number> | Readonly<Record<string, number>>;
  /** tiktoken/HF-syntax pre-tokenisation regex. */
  pattern: string;
}

/** A tiktoken-style tokenizer (the form of the built-ins, trained and rank-file tokenizers). */
export class RankTokenizer extends Tokenizer {
  readonly ranks: Map<string, number>;
  constructor(init: RankTokenizerInit) {
    const tokenBytes: string[] = [];
    for (const [bytes, rank] of init.ranks) tokenBytes[rank] = bytes;
    const specials =
      init.specialTokens instanceof Map
        ? new Map(init.specialTokens)
        : new Map(Object.entries(init.specialTokens ?? {}));
    for (const [s, id] of specials) {
      if (tokenBytes[id] !== undefined) {
        throw new TokenizerError(
          'specialTokens',
          `specialTokens: id ${id} of '${s}' collides with a regular token`,
        );
      }
    }
    super({
      name: init.name,
      kind: 'bpe',
      pattern: init.pattern,
      encoder: new RankEncoder(init.ranks),
      tokenBytes,
      specialTokens: specials,
    });
    this.ranks = init.ranks;
  }
}

/** Parses a tiktoken rank file (`<base64 token> <rank>` per line). */
export function parseTiktokenRanks(text: string): Map<string, number> {
  const ranks = new Map<string, number>();
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (line === '') continue;
    const sp = line.indexOf(' ');
    const rank = Number(line.slice(sp + 1));
    if (sp <= 0 || !Number.isInteger(rank) || rank < 0) {
      throw new TokenizerError('path', `tiktoken rank file: line ${i + 1} is not '<base64> <rank>'`);
    }
    ranks.set(Buffer.from(line.slice(0, sp), 'base64').toString('latin1'), rank);
  }
  if (ranks.size === 0) throw new TokenizerError('path', 'tiktoken rank file has no ranks');
  return ranks;
}

export function formatTiktokenRanks(ranks: Map<string, number>): string {
  const entries = [...ranks].sort((a, b) => a[1] - b[1]);
  return (
    entries.map(([bytes, rank]) => `${Buffer.from(bytes, 'latin1').toString('base64')} ${rank}`).join('\n') +
    '\n'
  );
}

/** Picks the pattern a rank file was published with, from its name; cl100k's when unknown. */
export function guessPatternName(path: string): 'gpt2' | 'cl100k' | 'o200k' {
  const base = path.toLowerCase();
  if (base.includes('o200k')) return 'o200k';
  if (/r50k|p50k|gpt2|gpt-2/.test(base)) return 'gpt2';
  return 'cl100k';
}

export function readTiktokenFile(path: string): Map<string, number> {
  return parseTiktokenRanks(readFileSync(path, 'utf8'));
}

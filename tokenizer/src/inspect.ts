import { toHex } from './bytes.ts';
import { TokenizerError } from './errors.ts';
import type { EncodeOptions, Tokenizer } from './tokenizer.ts';

export interface InspectedToken {
  id: number;
  /** Character span in the input (see Tokenizer.encodeWithOffsets). */
  start: number;
  end: number;
  /** Vocab display string of the id. */
  text: string;
  /** Raw bytes of the token as lowercase hex, e.g. 'e697a5'. */
  bytesHex: string;
  special: boolean;
}

/** Per-token spans for coloured rendering. */
export function inspectTokens(tok: Tokenizer, text: string, options: EncodeOptions = {}): InspectedToken[] {
  return tok.encodeWithOffsets(text, options).map(({ id, start, end }) => ({
    id,
    start,
    end,
    text: tok.tokenName(id),
    bytesHex: toHex(tok.byteStringOf(id)),
    special: tok.isSpecial(id),
  }));
}

export interface ComparisonRow {
  name: string;
  tokens: number;
  charsPerToken: number;
  bytesPerToken: number;
}

export function compareTokenizers(tokenizers: readonly Tokenizer[], text: string): ComparisonRow[] {
  const chars = [...text].length;
  const bytes = Buffer.byteLength(text, 'utf8');
  return tokenizers.map((t) => {
    const tokens = t.encode(text, { disallowedSpecial: [] }).length;
    return {
      name: t.name,
      tokens,
      charsPerToken: tokens === 0 ? 0 : chars / tokens,
      bytesPerToken: tokens === 0 ? 0 : bytes / tokens,
    };
  });
}

export interface CoverageReport {
  totalTokens: number;
  distinctTokens: number;
  /** Regular (non-special) ids never produced by the corpus. */
  unusedTokens: number;
  /** Share of tokens that are byte-fallback `<0xNN>` tokens (SentencePiece-style models; 0 otherwise). */
  byteFallbackRate: number;
  topTokens: { id: number; text: string; count: number }[];
}

/** Vocabulary usage over a corpus of texts. */
export function vocabularyCoverage(tok: Tokenizer, corpus: Iterable<string>, topN = 20): CoverageReport {
  const counts = new Map<number, number>();
  let total = 0;
  let fallback = 0;
  for (const text of corpus) {
    for (const id of tok.encode(text, { disallowedSpecial: [] })) {
      counts.set(id, (counts.get(id) ?? 0) + 1);
      total++;
      if (tok.byteFallbackIds.has(id)) fallback++;
    }
  }
  let regular = 0;
  let usedRegular = 0;
  for (let id = 0; id < tok.vocabSize; id++) {
    if (tok.isSpecial(id)) continue;
    try {
      tok.byteStringOf(id);
    } catch {
      continue; // hole in the id space
    }
    regular++;
    if (counts.has(id)) usedRegular++;
  }
  const topTokens = [...counts]
    .sort((a, b) => b[1] - a[1] || a[0] - b[0])
    .slice(0, topN)
    .map(([id, count]) => ({ id, text: tok.tokenName(id), count }));
  return {
    totalTokens: total,
    distinctTokens: counts.size,
    unusedTokens: regular - usedRegular,
    byteFallbackRate: total === 0 ? 0 : fallback / total,
    topTokens,
  };
}

export interface CostEstimate {
  tokens: number;
  pricePer1kTokens: number;
  cost: number;
}

export function estimateCost(tok: Tokenizer, text: string, pricePer1kTokens: number): CostEstimate {
  if (!Number.isFinite(pricePer1kTokens) || pricePer1kTokens < 0) {
    throw new TokenizerError('pricePer1kTokens', 'pricePer1kTokens must be a finite number >= 0');
  }
  const tokens = tok.encode(text, { disallowedSpecial: [] }).length;
  return { tokens, pricePer1kTokens, cost: (tokens / 1000) * pricePer1kTokens };
}

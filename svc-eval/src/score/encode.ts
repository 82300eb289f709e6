// How lm-evaluation-harness turns a (context, continuation) request into tokens, so that a continuation's
// log-likelihood here is the one it computes: trailing spaces of the context move to the continuation, the
// whole text is encoded at once and the continuation's tokens are what follows the context's own encoding
// (a merge across the boundary then belongs to the continuation), and an empty context becomes the
// end-of-text token.
import type { Tokenizer } from '@lab/tokenizer';

export interface EncodedPair {
  context: number[];
  continuation: number[];
}

const encode = (tok: Tokenizer, text: string): number[] => tok.encode(text, { allowedSpecial: 'all' });

export function encodePair(
  tok: Tokenizer,
  context: string,
  continuation: string,
  emptyContextToken: number,
): EncodedPair {
  if (context === '') return { context: [emptyContextToken], continuation: encode(tok, continuation) };
  const trimmed = context.replace(/\s+$/u, '');
  const moved = context.length - trimmed.length;
  const ctx = moved ? trimmed : context;
  const cont = moved ? context.slice(trimmed.length) + continuation : continuation;
  const whole = encode(tok, ctx + cont);
  const contextIds = encode(tok, ctx);
  return { context: contextIds, continuation: whole.slice(contextIds.length) };
}

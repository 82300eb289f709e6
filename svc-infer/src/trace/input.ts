// The tokens a trace or an ablation runs on, from text, ids or the induction test's random tokens, checked
// against the model with errors that name the field.
import { LabError } from '@lab/common';
import { repeatedRandomTokens } from '@lab/engine';
import type { PromptToken } from '@lab/proto/infer';
import { tokenText } from '../generate/prepare.ts';
import type { LoadedModel } from '../models/pool.ts';

export interface TokenSource {
  text: string;
  tokens: number[];
  /** Distinct random tokens, then the same again (0: not this source). */
  randomRepeat?: number;
  seed?: number;
}

const bad = (field: string, message: string) =>
  new LabError('INVALID_ARGUMENT', `${field}: ${message}`, field);

/** Checks what does not need the model (before loading it). */
export function checkSource(req: TokenSource): void {
  const given = [req.text !== '', req.tokens.length > 0, (req.randomRepeat ?? 0) > 0].filter(Boolean).length;
  if (given > 1) throw bad('text', 'give one of text, tokens or random_repeat');
  if (given === 0) throw bad('text', 'empty: give a text to trace (or tokens, or random_repeat)');
}

export function resolveTokens(model: LoadedModel, req: TokenSource): number[] {
  const { blockSize: context, vocabSize } = model.info.cfg;
  const n = req.randomRepeat ?? 0;
  if (n > 0) {
    if (2 * n > context)
      throw bad('random_repeat', `${n} tokens twice is ${2 * n}, the context holds ${context}`);
    // Specials (end of text, chat markers) would be no random text: draw from the tokenizer's ordinary ids.
    const vocab = Math.min(vocabSize, model.tokenizer.vocabSize);
    return repeatedRandomTokens(vocab, n, req.seed ?? 0).map((id) => {
      let x = id;
      while (model.tokenizer.isSpecial(x)) x = (x + 1) % vocab;
      return x;
    });
  }
  if (req.tokens.length) {
    const at = req.tokens.findIndex((id) => id >= vocabSize);
    if (at >= 0)
      throw bad(
        'tokens',
        `tokens[${at}] = ${req.tokens[at]} is not an id of this model (0 to ${vocabSize - 1})`,
      );
    if (req.tokens.length > context)
      throw bad('tokens', `${req.tokens.length} tokens, longer than the model's context of ${context}`);
    return req.tokens;
  }
  let ids: number[];
  try {
    ids = model.tokenizer.encode(req.text, { allowedSpecial: 'all' });
  } catch (err) {
    throw bad('text', (err as Error).message);
  }
  if (!ids.length) throw bad('text', 'no tokens');
  if (ids.length > context)
    throw bad('text', `${ids.length} tokens, longer than the model's context of ${context}; shorten it`);
  return ids;
}

/** The tokens as PromptTokens, with each one's log-probability given those before it. */
export function promptTokens(model: LoadedModel, ids: readonly number[], logp?: Float32Array): PromptToken[] {
  return ids.map((id, t) => ({
    id,
    text: tokenText(model, id),
    special: id < model.tokenizer.vocabSize && model.tokenizer.isSpecial(id),
    logprob: t > 0 && logp ? logp[t - 1] : 0,
  }));
}

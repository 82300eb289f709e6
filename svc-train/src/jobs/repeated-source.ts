// The synthetic source of the induction-head recipe: submit-time checks of SubmitJob.repeated_tokens, and
// the vocabulary its checkpoints carry so svc-infer (Trace, the Attention page) can show their tokens.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { RepeatedTokensSource } from '@lab/proto/train';
import { CharCodec } from '../commands/char-codec.ts';
import { invalid, num } from './field-error.ts';
import type { DataSource } from './types.ts';

export const MAX_REPEATED_VOCAB = 4096;
export const MAX_REPEATED_HALF = 4096;

/** The synthetic source as requested; its seed, when not given, is the job's (validateSubmit fills it in). */
export type RepeatedRequest = Omit<Extract<DataSource, { kind: 'repeated' }>, 'seed'> & { seed?: number };

/** SubmitJob.repeated_tokens checked alone, or INVALID_ARGUMENT naming the field. */
export function checkRepeatedSource(src: RepeatedTokensSource): RepeatedRequest {
  const whole = (field: string, v: number, min: number, max: number): number => {
    if (!Number.isInteger(v) || v < min || v > max)
      throw invalid(field, `must be a whole number from ${num(min)} to ${num(max)} (got ${num(v)})`);
    return v;
  };
  const vocab = whole('repeatedTokens.vocabSize', src.vocabSize, 2, MAX_REPEATED_VOCAB);
  const half = whole('repeatedTokens.halfLength', src.halfLength, 2, MAX_REPEATED_HALF);
  const seed = src.seed === undefined ? undefined : whole('repeatedTokens.seed', src.seed, 0, 2 ** 32 - 1);
  return { kind: 'repeated', vocab, half, seed };
}

/**
 * One printable character per id (ASCII `!`…`~`, then CJK ideographs, which stand alone), so a sequence of
 * ids reads as a string and the tokenizer is an ordinary char tokenizer the lab's loaders know.
 */
export function repeatedVocab(vocab: number): CharCodec {
  return new CharCodec(
    Array.from({ length: vocab }, (_, i) => String.fromCodePoint(i < 94 ? 0x21 + i : 0x4e00 + i - 94)),
  );
}

/** The job's tokenizer, saved in its folder once (checkpoints copy it). */
export function repeatedTokenizer(dir: string, vocab: number): CharCodec {
  const path = join(dir, 'tokenizer.json');
  if (existsSync(path)) return CharCodec.load(path);
  const codec = repeatedVocab(vocab);
  codec.save(path);
  return codec;
}

// The tokenizer training contract as gateway/src/routes/tokenize.ts defines it (TokenizerTrainProgress and the
// POST /api/tokenize/train body), for the training form.
import { api, type TrainProgress, type TrainTokenizerBody } from '../../api.ts';

/** Why merging ended, in a finished run's progress. */
export type StopReason = NonNullable<TrainProgress['stopReason']>;

/** Progress: phase and documents read while running; the stop reason and the tokenizer when done. */
export type TokenizerTrainProgress = TrainProgress;

export type { TrainTokenizerBody };

export const startTokenizerTraining = (body: TrainTokenizerBody) => api.trainTokenizer(body);

/**
 * The most merges a text can teach a byte-level BPE: every merge shortens the text by at least one token, and
 * each word stays at least one token, so bytes − words bounds it (whitespace-separated runs undercount the
 * pre-tokens, which only loosens the bound). Real runs stop well below it, when no pair occurs twice.
 */
export function mergeCeiling(bytes: number, words: number): number {
  return Math.max(0, bytes - words);
}

export function textMergeCeiling(text: string): { bytes: number; words: number; ceiling: number } {
  const bytes = new TextEncoder().encode(text).length;
  const words = text.match(/\S+/g)?.length ?? 0;
  return { bytes, words, ceiling: mergeCeiling(bytes, words) };
}

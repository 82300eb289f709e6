// The tokenizer training contract as gateway/src/routes/tokenize.ts defines it (TokenizerTrainProgress and the
// POST /api/tokenize/train body), for the training form.
import { postJSON, type TokenizerInfo, type TrainProgress } from '../../api.ts';

export type StopReason = 'vocab_size' | 'min_frequency' | 'no_pairs';

export interface TokenizerTrainProgress extends TrainProgress {
  /** While running: reading a dataset's documents from svc-data, or learning merges. */
  phase?: 'reading' | 'merging';
  documentsRead?: number;
  documents?: number;
  /** When done: why merging ended; `merges` is then the number learned, `message` says it as a sentence. */
  stopReason?: StopReason;
  tokenizer?: TokenizerInfo;
}

export type TrainTokenizerBody = { name: string; vocabSize: number } & (
  | { text: string }
  | { datasetId: string; datasetVersion: number }
);

export const startTokenizerTraining = (body: TrainTokenizerBody) =>
  postJSON<{ jobId: string }>('/api/tokenize/train', body);

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

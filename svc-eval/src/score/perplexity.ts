// Perplexity with a sliding window, as Hugging Face's guide to perplexity of fixed-length models computes
// it: windows of `context` tokens advance by `stride`, and each token is scored once, by the first window
// whose new part holds it, with the rest of that window before it as context. A smaller stride gives every
// token more context (a lower, fairer perplexity) at the cost of more passes. The first token is scored
// after the end-of-text token, as lm-evaluation-harness's rolling log-likelihood does, so every token and
// every byte of the text counts — which is what makes bits per byte comparable across tokenizers.
import { LabError } from '@lab/common';
import { logSumExp } from '@lab/svc-infer';
import type { ScoringModel, ScoringStats } from './loglik.ts';

export interface PerplexityOptions {
  /** Window length in tokens (default and maximum: the model's context). */
  context?: number;
  /** Tokens the window advances by (default: the window, i.e. no overlap). */
  stride?: number;
  /** Score only the first `limit` tokens (0 = all). */
  limit?: number;
  signal?: AbortSignal;
  onProgress?: (done: number, total: number) => void;
}

export interface PerplexityResult {
  perplexity: number;
  /** Mean negative log-likelihood per token, nats. */
  nll: number;
  bitsPerByte: number;
  /** Tokens scored and the UTF-8 bytes they decode to. */
  tokens: number;
  bytes: number;
  windows: number;
  context: number;
  stride: number;
  /** Whether the first token was scored (the model has an end-of-text token to put before it). */
  firstTokenScored: boolean;
  tokensRun: number;
}

export async function perplexity(
  m: ScoringModel & { hasEmptyContextToken: boolean },
  text: string,
  opts: PerplexityOptions = {},
  stats: ScoringStats = { tokensRun: 0 },
): Promise<PerplexityResult> {
  const B = m.lm.cfg.blockSize;
  const context = opts.context || B;
  if (context < 2 || context > B)
    throw new LabError(
      'INVALID_ARGUMENT',
      `context: must be 2 to ${B}, the model's context (got ${context})`,
      'context',
    );
  const stride = opts.stride || context;
  if (stride < 1 || stride > context)
    throw new LabError(
      'INVALID_ARGUMENT',
      `stride: must be 1 to context (${context}) (got ${stride})`,
      'stride',
    );
  let ids = m.tokenizer.encode(text, { allowedSpecial: 'all' });
  if (opts.limit && opts.limit > 0) ids = ids.slice(0, opts.limit);
  if (ids.length === 0)
    throw new LabError('INVALID_ARGUMENT', 'text: nothing to score (it encodes to no tokens)', 'text');
  const seq = m.hasEmptyContextToken ? [m.emptyContextToken, ...ids] : ids;
  if (seq.length < 2)
    throw new LabError('INVALID_ARGUMENT', 'text: one token, and nothing to predict it from', 'text');

  const V = m.lm.cfg.vocabSize;
  const starts: number[] = [];
  for (let begin = 0; ; begin += stride) {
    starts.push(begin);
    if (Math.min(begin + context, seq.length) === seq.length) break;
  }
  let nll = 0;
  let scored = 0;
  let prevEnd = 1;
  for (let w = 0; w < starts.length; w++) {
    if (opts.signal?.aborted) throw new LabError('CANCELLED', 'run cancelled', 'id');
    const end = Math.min(starts[w]! + context, seq.length);
    // A last window of one token would give the model nothing to read: start it a token earlier.
    const begin = Math.min(starts[w]!, end - 2);
    const input = seq.slice(begin, end - 1);
    // Row r predicts seq[begin + r + 1]; this window scores the positions from prevEnd on.
    const firstRow = Math.max(prevEnd, begin + 1) - begin - 1;
    await m.lm.run(input, undefined, {
      onLogits: (chunk, first) => {
        const rows = chunk.length / V;
        for (let i = 0; i < rows; i++) {
          const r = first + i;
          if (r < firstRow) continue;
          const row = chunk.subarray(i * V, (i + 1) * V);
          nll -= row[seq[begin + r + 1]!]! - logSumExp(row);
          scored++;
        }
      },
    });
    stats.tokensRun += input.length;
    prevEnd = end;
    opts.onProgress?.(w + 1, starts.length);
  }
  const scoredIds = m.hasEmptyContextToken ? ids : ids.slice(1);
  const bytes = m.tokenizer.decodeBytes(scoredIds).length;
  const mean = nll / scored;
  return {
    perplexity: Math.exp(mean),
    nll: mean,
    bitsPerByte: nll / Math.LN2 / bytes,
    tokens: scored,
    bytes,
    windows: starts.length,
    context,
    stride,
    firstTokenScored: m.hasEmptyContextToken,
    tokensRun: stats.tokensRun,
  };
}

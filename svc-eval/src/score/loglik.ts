// Log-likelihoods of continuations, as lm-evaluation-harness's loglikelihood requests compute them, with
// the context shared by an item's choices run once: its KV cache is continued by each choice, so a
// 4-choice HellaSwag item costs one context pass and four short continuation passes instead of four full
// passes.
import type { InferenceModel, KvCache } from '@lab/engine';
import { logSumExp } from '@lab/svc-infer';
import type { Tokenizer } from '@lab/tokenizer';
import { encodePair } from './encode.ts';

export interface ScoringModel {
  lm: InferenceModel;
  tokenizer: Tokenizer;
  /** Stands for an empty context (lm-evaluation-harness uses the end-of-text token). */
  emptyContextToken: number;
}

export interface ContinuationScore {
  /** Σ log P(token | everything before it) over the continuation's tokens. */
  loglik: number;
  /** Whether every continuation token was the model's most likely one. */
  greedy: boolean;
  tokens: number;
}

export interface ScoringStats {
  /** Tokens the model was run on. */
  tokensRun: number;
}

/** log P(token) from one row of logits, and whether it is the row's argmax. */
function pick(row: Float32Array, token: number): { lp: number; top: boolean } {
  let best = 0;
  for (let i = 1; i < row.length; i++) if (row[i]! > row[best]!) best = i;
  return { lp: row[token]! - logSumExp(row), top: row[best] === row[token] };
}

function accumulate(rows: Float32Array[], tokens: readonly number[]): ContinuationScore {
  let loglik = 0;
  let greedy = true;
  tokens.forEach((t, i) => {
    const p = pick(rows[i]!, t);
    loglik += p.lp;
    greedy &&= p.top;
  });
  return { loglik, greedy, tokens: tokens.length };
}

const rowsOf = (logits: Float32Array, vocab: number): Float32Array[] =>
  Array.from({ length: logits.length / vocab }, (_, i) => logits.subarray(i * vocab, (i + 1) * vocab));

/**
 * Scores each continuation after one shared context. Where context and continuation do not fit the
 * model's window, the input is cut from the left as lm-evaluation-harness cuts it (and that choice is run
 * on its own).
 */
export async function scoreContinuations(
  m: ScoringModel,
  context: string,
  continuations: readonly string[],
  stats: ScoringStats = { tokensRun: 0 },
): Promise<ContinuationScore[]> {
  const V = m.lm.cfg.vocabSize;
  const B = m.lm.cfg.blockSize;
  const pairs = continuations.map((c) => encodePair(m.tokenizer, context, c, m.emptyContextToken));
  let shared: { logits: Float32Array; cache: KvCache } | undefined;
  const out: ContinuationScore[] = [];
  for (const { context: ctx, continuation: cont } of pairs) {
    if (cont.length === 0) {
      out.push({ loglik: 0, greedy: true, tokens: 0 });
      continue;
    }
    if (ctx.length + cont.length - 1 <= B) {
      if (!shared) {
        shared = await m.lm.run(ctx);
        stats.tokensRun += ctx.length;
      }
      const rows = [shared.logits];
      if (cont.length > 1) {
        const res = await m.lm.run(cont.slice(0, -1), shared.cache, { allPositions: true });
        stats.tokensRun += cont.length - 1;
        rows.push(...rowsOf(res.logits, V));
      }
      out.push(accumulate(rows, cont));
      continue;
    }
    // The window's last B+1 tokens; the model reads all but the last, and the continuation's tokens are
    // scored where they fall inside it.
    const whole = [...ctx, ...cont].slice(-(B + 1));
    const scored = cont.slice(-Math.min(cont.length, B));
    const input = whole.slice(0, -1);
    const rows: Float32Array[] = [];
    const firstRow = input.length - scored.length;
    await m.lm.run(input, undefined, {
      onLogits: (chunk, first) => {
        rowsOf(chunk, V).forEach((row, i) => {
          if (first + i >= firstRow) rows.push(row.slice());
        });
      },
    });
    stats.tokensRun += input.length;
    out.push(accumulate(rows, scored));
  }
  return out;
}

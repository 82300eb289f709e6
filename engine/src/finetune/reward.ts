// A reward model (Ouyang et al. 2022): the language model's final hidden state at a sequence's last token,
// through a scalar head `score.weight` [1, C] (Hugging Face's *ForSequenceClassification name and layout),
// trained on preference pairs with the Bradley–Terry loss −log σ(s_chosen − s_rejected).
import type { Graph, Value } from '../graph/graph.ts';
import * as op from '../graph/ops.ts';
import type { ModelConfig } from '../models/config.ts';
import { type ForwardCtx, norm } from '../models/layers.ts';
import { forward } from '../models/model.ts';
import type { ParamSpec } from '../models/params.ts';
import { softplus } from './dpo.ts';

export const SCORE = 'score.weight';
/** Graph input: each row's last token as a flat index into [rows · seq] (int64 [rows]). */
export const LAST_INDEX = 'last_index';
/** Output of a score graph: [rows]. */
export const SCORES = 'scores';

/** The scalar head, initialised as Hugging Face does (normal, std 0.02), no bias. */
export function scoreSpec(cfg: ModelConfig): ParamSpec {
  return { name: SCORE, shape: [1, cfg.nEmbd], init: { kind: 'normal', std: 0.02 }, decay: true };
}

/** Each row's score: the final norm's output at its last token, times the head ([rows]). */
export function rowScores(ctx: ForwardCtx, idx: Value, lastIndex: Value, rows: number, seq: number): Value {
  const { g, cfg } = ctx;
  ctx.residuals = [];
  forward(ctx, idx); // the logits it also builds are unused and pruned
  const last = ctx.residuals[ctx.residuals.length - 1];
  const hidden = norm(ctx, last, cfg.family === 'gpt2' ? 'transformer.ln_f' : 'model.norm').value();
  const picked = op.gather(g, op.reshape(g, hidden, [rows * seq, cfg.nEmbd]), lastIndex);
  return op.reshape(g, op.matmul(g, picked, op.transpose(g, ctx.p(SCORE), [1, 0])), [rows]);
}

/** Bradley–Terry over scores of [chosen rows, rejected rows]: mean −log σ(s_c − s_r). */
export function bradleyTerry(
  g: Graph,
  scores: Value,
  pairs: number,
): { loss: Value; chosen: Value; rejected: Value } {
  const [chosen, rejected] = op.split(g, scores, [pairs, pairs], 0);
  return { loss: op.reduceMean(g, softplus(g, op.sub(g, rejected, chosen)), [0], false), chosen, rejected };
}

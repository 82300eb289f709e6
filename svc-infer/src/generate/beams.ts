// Beam search on a loaded model: each hypothesis keeps its own KV-cache snapshot, children branch from
// their parent's, and the search itself (scoring, stopping, the tree) is sampling/beam.ts.

import type { KvCache, RunResult } from '@lab/engine';
import type { BeamNode, BeamResult, SamplingParams } from '@lab/proto/infer';
import type { LoadedModel } from '../models/pool.ts';
import { beamSearch, type EarlyStopping } from '../sampling/beam.ts';
import { logSoftmax } from './logprobs.ts';
import { tokenBytes, tokenText } from './prepare.ts';

const early = (s: string): EarlyStopping => (s === 'true' ? true : s === 'never' ? 'never' : false);

export async function runBeamSearch(
  model: LoadedModel,
  params: SamplingParams,
  prefill: RunResult,
  maxTokens: number,
  stopAtEos: boolean,
  signal: AbortSignal,
): Promise<{ beams: BeamResult[]; tree: BeamNode[]; expanded: number; cancelled: boolean }> {
  const eos = stopAtEos ? [...model.eosIds] : [];
  const rootLogprobs = logSoftmax(prefill.logits);
  const r = await beamSearch<KvCache>(
    async (hyps) =>
      Promise.all(
        hyps.map(async (h) => {
          if (h.tokens.length === 0) return { logprobs: rootLogprobs, state: prefill.cache };
          const out = await model.lm.run([h.tokens[h.tokens.length - 1]!], h.parentState);
          return { logprobs: logSoftmax(out.logits), state: out.cache };
        }),
      ),
    {
      numBeams: params.numBeams,
      maxTokens,
      lengthPenalty: params.lengthPenalty ?? 1,
      earlyStopping: early(params.earlyStopping),
      eosTokenIds: eos,
      nBest: params.numBeams,
      initialState: prefill.cache,
      signal,
    },
  );
  const text = (ids: readonly number[]) => model.tokenizer.decode(ids.filter((id) => tokenBytes(model, id)));
  return {
    beams: r.best.map((b) => ({
      text: text(b.tokens),
      ids: b.tokens,
      score: b.score,
      logprob: b.sumLogprob,
      finishReason: b.finishReason,
    })),
    tree: r.tree.map((n) => ({
      id: n.id,
      parent: n.parent,
      token: n.token,
      text: tokenText(model, n.token),
      logprob: n.logprob,
      cumulative: n.cumulative,
      step: n.step,
      finished: n.finished,
      kept: n.kept,
    })),
    expanded: r.expanded,
    cancelled: r.cancelled,
  };
}

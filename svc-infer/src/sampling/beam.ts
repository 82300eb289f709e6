// Beam search over an abstract model, with Hugging Face's scoring and stopping rules (transformers'
// GenerationMixin._beam_search since the 2025 vectorised rewrite, batch of one): keep the best
// (1 + number of EOS ids, at least 2) × beams continuations each step; the first `beams` of them that
// end (EOS, or the length limit) compete for the `beams` finished slots by
// sum of logprobs / generated length ^ lengthPenalty; the best `beams` that do not end keep running.
//
// The model is reached through `expand`, one batched call per step. States are the caller's (a KV
// cache, say) and treated as immutable snapshots: a hypothesis's state is built from its parent's,
// so sibling hypotheses branch from one shared parent state.
import { TopN } from './top-n.ts';

export interface BeamRequest<S> {
  /** The hypothesis's generated tokens (the prompt is the caller's). */
  readonly tokens: readonly number[];
  /**
   * The state the expansion of its parent returned (for the root, `initialState`): feed it the last of
   * `tokens` (none for the root) to get this hypothesis's state. Never mutate it; siblings share it.
   */
  readonly parentState: S;
}

export interface BeamExpansion<S> {
  /** Log-probabilities over the vocabulary of the token after `tokens`. */
  readonly logprobs: Float32Array;
  /** This hypothesis's state; children of it are expanded from it. */
  readonly state: S;
}

/** Runs the model on every hypothesis of one step, answering in the same order. */
export type BeamExpand<S> = (hyps: readonly BeamRequest<S>[]) => Promise<readonly BeamExpansion<S>[]>;

/**
 * Hugging Face's `early_stopping`. true: stop as soon as `beams` hypotheses have finished. false: stop
 * when the best running hypothesis, scored at its current length, cannot beat the worst finished one
 * (a heuristic when lengthPenalty > 0). 'never': stop only when no running hypothesis can beat it at
 * any length up to maxTokens (exact canonical beam search, given logprobs ≤ 0).
 */
export type EarlyStopping = boolean | 'never';

export interface BeamOptions<S> {
  numBeams: number;
  /** Most generated tokens (EOS included). */
  maxTokens: number;
  /** Exponent of the generated length that divides the sum of logprobs; > 0 favours longer outputs. */
  lengthPenalty?: number;
  earlyStopping?: EarlyStopping;
  /** Tokens that end a hypothesis; they are part of its tokens, length and score, as in Hugging Face. */
  eosTokenIds?: readonly number[];
  /** How many best finished hypotheses to return (≤ numBeams). */
  nBest?: number;
  /** State before any generated token (e.g. after the prompt), handed to the root's expansion. */
  initialState: S;
  /** Checked before each step; a cancelled search returns what finished so far. */
  signal?: AbortSignal;
}

export type BeamFinishReason = 'stop' | 'length';

export interface BeamHypothesis {
  tokens: number[];
  /** sumLogprob / tokens.length ^ lengthPenalty. */
  score: number;
  sumLogprob: number;
  /** 'stop': ended with an EOS token; 'length': reached maxTokens. */
  finishReason: BeamFinishReason;
  /** Its last node in the tree. */
  node: number;
}

/** One candidate continuation a step looked at. The root (no tokens) is not a node: parent −1 is it. */
export interface BeamNode {
  id: number;
  parent: number;
  token: number;
  logprob: number;
  /** Sum of logprobs from the root through this token. */
  cumulative: number;
  /** Generated length, 1 for the root's children. */
  step: number;
  /** Ended here (EOS or the length limit). */
  finished: boolean;
  /**
   * Survived pruning: a running node continued into the next step; a finished one is among the finished
   * hypotheses at the end (it may have entered and later been pushed out by better ones).
   */
  kept: boolean;
  /** Length-penalised score, for finished nodes (also those ranked too low to compete). */
  score?: number;
}

export interface BeamSearchResult {
  /** The n best finished hypotheses, best first. */
  best: BeamHypothesis[];
  /** Every candidate each step ranked, in creation order (parents before children). */
  tree: BeamNode[];
  /** Steps run (model calls). */
  steps: number;
  /** Hypotheses expanded (model rows run). */
  expanded: number;
  cancelled: boolean;
}

interface Running<S> {
  node: number;
  tokens: number[];
  cumulative: number;
  state: S;
}

export async function beamSearch<S>(expand: BeamExpand<S>, opts: BeamOptions<S>): Promise<BeamSearchResult> {
  const { numBeams, maxTokens, initialState, signal } = opts;
  const lengthPenalty = opts.lengthPenalty ?? 1;
  const earlyStopping = opts.earlyStopping ?? false;
  const eos = new Set(opts.eosTokenIds ?? []);
  const nBest = opts.nBest ?? 1;
  checkOptions(numBeams, maxTokens, lengthPenalty, earlyStopping, nBest, opts.eosTokenIds ?? []);

  const beamsToKeep = Math.max(2, 1 + eos.size) * numBeams;
  const heap = new TopN(beamsToKeep);
  const candIds = new Float64Array(beamsToKeep);
  const candKeys = new Float64Array(beamsToKeep);
  const tree: BeamNode[] = [];
  const finished: BeamHypothesis[] = []; // best first, at most numBeams
  let running: Running<S>[] = [{ node: -1, tokens: [], cumulative: 0, state: initialState }];
  let len = 0;
  let expanded = 0;
  let cancelled = false;
  let V = 0;

  while (running.length > 0 && len < maxTokens) {
    if (signal?.aborted) {
      cancelled = true;
      break;
    }
    const out = await expand(running.map((h) => ({ tokens: h.tokens, parentState: h.state })));
    expanded += running.length;
    if (out.length !== running.length)
      throw new RangeError(`expand: returned ${out.length} expansions for ${running.length} hypotheses`);
    if (V === 0) V = out[0].logprobs.length;
    for (const e of out)
      if (e.logprobs.length !== V)
        throw new RangeError(`expand: logprobs of length ${e.logprobs.length}, not ${V}`);

    // Ranked over (beam, token) in increasing flat index, so ties go to the earlier beam, then lower id.
    heap.reset(beamsToKeep);
    for (let b = 0; b < running.length; b++) {
      const base = running[b].cumulative;
      const lp = out[b].logprobs;
      for (let t = 0; t < V; t++) {
        const key = base + lp[t];
        if (heap.wants(key)) heap.offer(key, b * V + t);
      }
    }
    const n = heap.drain(candIds, candKeys);

    const next: Running<S>[] = [];
    const lengthEnds = len + 1 >= maxTokens;
    const denominator = (len + 1) ** lengthPenalty;
    for (let r = 0; r < n; r++) {
      const b = Math.floor(candIds[r] / V);
      const token = candIds[r] - b * V;
      const parent = running[b];
      const ends = eos.has(token) || lengthEnds;
      const node: BeamNode = {
        id: tree.length,
        parent: parent.node,
        token,
        logprob: out[b].logprobs[token],
        cumulative: candKeys[r],
        step: len + 1,
        finished: ends,
        kept: false,
      };
      if (ends) node.score = node.cumulative / denominator;
      tree.push(node);
      if (!ends) {
        if (next.length < numBeams) {
          node.kept = true;
          next.push({
            node: node.id,
            tokens: [...parent.tokens, token],
            cumulative: node.cumulative,
            state: out[b].state,
          });
        }
      } else if (r < numBeams) {
        // Only candidates ranked among the first `beams` may finish: the rest exist only so that enough
        // hypotheses keep running when the best ones all end.
        admit(finished, numBeams, tree, {
          tokens: [...parent.tokens, token],
          score: node.cumulative / denominator,
          sumLogprob: node.cumulative,
          finishReason: eos.has(token) ? 'stop' : 'length',
          node: node.id,
        });
      }
    }
    running = next;
    len++;

    if (finished.length < numBeams || running.length === 0) continue;
    if (earlyStopping === true) break;
    const bestLength = earlyStopping === 'never' && lengthPenalty > 0 ? maxTokens : len;
    const bestPossible = running[0].cumulative / bestLength ** lengthPenalty;
    if (!(bestPossible > finished[finished.length - 1].score)) break;
  }

  return { best: finished.slice(0, nBest), tree, steps: len, expanded, cancelled };
}

/** Inserts into the best-first finished list, capped at `cap`; the one pushed out is marked not kept. */
function admit(finished: BeamHypothesis[], cap: number, tree: BeamNode[], h: BeamHypothesis): void {
  let i = finished.length;
  // after equals: an earlier finisher keeps its place on a tie
  while (i > 0 && finished[i - 1].score < h.score) i--;
  if (i >= cap) return;
  finished.splice(i, 0, h);
  tree[h.node].kept = true;
  if (finished.length > cap) {
    const out = finished.pop()!;
    tree[out.node].kept = false;
  }
}

function checkOptions(
  numBeams: number,
  maxTokens: number,
  lengthPenalty: number,
  earlyStopping: EarlyStopping,
  nBest: number,
  eos: readonly number[],
): void {
  const bad = (field: string, rule: string, got: unknown) => {
    const e = new RangeError(`${field}: ${rule}, got ${JSON.stringify(got)}`);
    throw Object.assign(e, { field });
  };
  if (!(Number.isSafeInteger(numBeams) && numBeams >= 1)) bad('numBeams', 'must be an integer ≥ 1', numBeams);
  if (!(Number.isSafeInteger(maxTokens) && maxTokens >= 1))
    bad('maxTokens', 'must be an integer ≥ 1', maxTokens);
  if (!Number.isFinite(lengthPenalty)) bad('lengthPenalty', 'must be a finite number', lengthPenalty);
  if (!(earlyStopping === true || earlyStopping === false || earlyStopping === 'never'))
    bad('earlyStopping', 'must be true, false or "never"', earlyStopping);
  if (!(Number.isSafeInteger(nBest) && nBest >= 1 && nBest <= numBeams))
    bad('nBest', `must be an integer in [1, numBeams = ${numBeams}]`, nBest);
  for (const id of eos)
    if (!(Number.isSafeInteger(id) && id >= 0)) bad('eosTokenIds', 'must be token ids ≥ 0', id);
}

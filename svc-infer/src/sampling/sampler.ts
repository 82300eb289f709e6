// The sampler chain for one row of logits: raw → penalties (repetition, frequency, presence, logit bias)
// → temperature → top-k → top-p → min-p → a seeded draw. Reports the chosen token's log-probability with
// the top alternatives, and on request each stage's distribution for the UI's sampler view.
//
// It runs on every token over the whole vocabulary (50,257 for GPT-2), so it works in a few linear
// passes over shared, preallocated buffers and never sorts the vocabulary: top-k selects with a bounded
// heap, top-p finds its cut-off by weighted quickselect, min-p is a threshold, and the draw walks token
// ids in order.
import { Rng } from '@lab/engine';
import { nucleusCut } from './nucleus.ts';
import { type SamplingParams, SamplingParamsError, validateSamplingParams } from './params.ts';
import { Penalties, type TokenContext } from './penalties.ts';
import { TopN } from './top-n.ts';

export type { TokenContext } from './penalties.ts';

/** The settings the sampler reads; the rest of SamplingParams belongs to the generation loop. */
export type SamplerSettings = Pick<
  SamplingParams,
  | 'temperature'
  | 'topK'
  | 'topP'
  | 'minP'
  | 'repetitionPenalty'
  | 'frequencyPenalty'
  | 'presencePenalty'
  | 'logitBias'
  | 'seed'
  | 'topLogprobs'
>;

export interface TokenLogprob {
  id: number;
  logprob: number;
}

/** Stage names as the proto's SamplerStage spells them. */
export type SamplerStageName = 'raw' | 'penalties' | 'temperature' | 'top_k' | 'top_p' | 'min_p';

export interface StageToken {
  id: number;
  /** The score the stage's softmax sees: raw logit, penalised logit, then penalised logit / temperature. */
  logit: number;
  /** Probability under the stage's distribution (renormalised over the tokens still allowed). */
  prob: number;
}

export interface SamplerStage {
  name: SamplerStageName;
  /** Whether this knob is set (a disabled stage repeats the previous distribution). */
  enabled: boolean;
  /** Tokens still allowed after this stage (banned and filtered-out ones excluded). */
  allowed: number;
  /** The most likely allowed tokens after this stage, most likely first. */
  top: StageToken[];
}

export interface SampleResult {
  id: number;
  /**
   * log p(id) under the model's raw distribution, log-softmax of the raw logits: what the OpenAI API and
   * vLLM report by default, so logprobs describe the model and not the knobs (the trace shows those).
   */
  logprob: number;
  /** The `topLogprobs` most likely tokens of that same raw distribution (the chosen one may be absent). */
  topLogprobs: TokenLogprob[];
  /** Each stage's distribution, when asked for with `trace`. */
  trace?: SamplerStage[];
}

export interface SampleOptions {
  trace?: boolean;
  /** How many tokens each traced stage lists (default 20). */
  traceTopN?: number;
}

export const DEFAULT_TRACE_TOP_N = 20;

interface Scratch {
  /** Penalised logits by token id. */
  z: Float64Array;
  /** Unnormalised probabilities exp((z − max z) / T) by token id (where the path needs them). */
  w: Float64Array;
  /** Top-k's token ids, best first. */
  ids: Int32Array;
  /** Weights handed to top-p's quickselect, which reorders them. */
  sel: Float64Array;
}

// sample() never yields, so every sampler of one vocabulary size can share one set of buffers: n
// samples cost no more memory than one.
const scratches = new Map<number, Scratch>();
function scratchFor(V: number): Scratch {
  let s = scratches.get(V);
  if (!s) {
    s = { z: new Float64Array(V), w: new Float64Array(V), ids: new Int32Array(V), sel: new Float64Array(V) };
    scratches.set(V, s);
  }
  return s;
}

/**
 * How the last draw's filters ended, for the trace: each stage's allowed count and mass (sum of w).
 * With top-k, every stage keeps a prefix of ids (best first); without, top-p keeps the tokens weighing
 * more than pCut and the first pTies (by id) weighing exactly pCut.
 */
interface Chain {
  listed: boolean;
  kCount: number;
  pCount: number;
  mCount: number;
  wK: number;
  wP: number;
  wM: number;
  pCut: number;
  pTies: number;
}

/** One sample's sampler: its settings and its own random stream. */
export class Sampler {
  private readonly rng: Rng;
  private readonly penalties: Penalties;
  private readonly heap = new TopN(DEFAULT_TRACE_TOP_N);
  private headIds = new Int32Array(DEFAULT_TRACE_TOP_N);
  private headKeys = new Float64Array(DEFAULT_TRACE_TOP_N);
  private readonly chain: Chain = {
    listed: false,
    kCount: 0,
    pCount: 0,
    mCount: 0,
    wK: 0,
    wP: 0,
    wM: 0,
    pCut: 0,
    pTies: 0,
  };

  /**
   * `sampleIndex` picks the stream for sample i of a request with `n` samples: each sample's draws follow
   * from (seed, i) alone, so sample 2 is the same text whether n is 3 or 5.
   */
  constructor(
    readonly settings: SamplerSettings,
    readonly vocabSize: number,
    readonly sampleIndex = 0,
  ) {
    if (!(Number.isSafeInteger(vocabSize) && vocabSize > 0))
      throw new RangeError(`vocabSize: must be a positive integer, got ${vocabSize}`);
    const issues = validateSamplingParams(settings, vocabSize);
    if (issues.length > 0) throw new SamplingParamsError(issues);
    this.rng = Rng.derive(settings.seed, sampleIndex);
    this.penalties = new Penalties(settings, vocabSize);
  }

  /** Picks the next token from one row of raw logits (length = vocabulary size). */
  sample(logits: Float32Array, context: TokenContext, options: SampleOptions = {}): SampleResult {
    const V = this.vocabSize;
    if (logits.length !== V) throw new RangeError(`logits: expected ${V} values, got ${logits.length}`);
    const { temperature: T, topK, topLogprobs } = this.settings;
    const traceN = options.trace
      ? Math.min(V, Math.max(1, Math.floor(options.traceTopN ?? DEFAULT_TRACE_TOP_N) || 1))
      : 0;
    const { z } = scratchFor(V);

    // raw: the log-softmax normaliser; z starts as a copy of the logits
    let rawMax = Number.NEGATIVE_INFINITY;
    for (let i = 0; i < V; i++) {
      const l = logits[i];
      z[i] = l;
      if (l > rawMax) rawMax = l;
    }
    let rawSum = 0;
    for (let i = 0; i < V; i++) rawSum += Math.exp(logits[i] - rawMax);
    const rawLse = rawMax + Math.log(rawSum);
    if (!Number.isFinite(rawLse))
      throw new RangeError('logits: must be finite numbers (got NaN or ±Infinity)');
    const rawHead = this.head(logits, Math.max(topLogprobs, traceN));
    const topLogprobsOut: TokenLogprob[] = [];
    for (let r = 0; r < Math.min(topLogprobs, rawHead); r++)
      topLogprobsOut.push({ id: this.headIds[r], logprob: this.headKeys[r] - rawLse });
    const rawTrace: StageToken[] = [];
    for (let r = 0; r < Math.min(traceN, rawHead); r++) {
      const l = this.headKeys[r];
      rawTrace.push({ id: this.headIds[r], logit: l, prob: Math.exp(l - rawLse) });
    }

    this.penalties.apply(z, context);

    let zmax = Number.NEGATIVE_INFINITY;
    let argmax = -1;
    let finite = 0;
    for (let i = 0; i < V; i++) {
      const v = z[i];
      if (v > Number.NEGATIVE_INFINITY) {
        finite++;
        if (v > zmax) {
          zmax = v;
          argmax = i;
        }
      }
    }
    if (argmax < 0)
      throw new SamplingParamsError([{ field: 'logitBias', message: 'logitBias: bans every token' }]);

    let id = argmax; // temperature 0: greedy, ties to the lowest id
    if (T > 0)
      id = topK > 0 && topK < finite ? this.drawFromTopK(zmax) : this.drawFromVocabulary(zmax, finite);

    const result: SampleResult = { id, logprob: logits[id] - rawLse, topLogprobs: topLogprobsOut };
    if (traceN > 0) {
      let rawAllowed = 0;
      for (let i = 0; i < V; i++) if (logits[i] > Number.NEGATIVE_INFINITY) rawAllowed++;
      const raw: SamplerStage = { name: 'raw', enabled: true, allowed: rawAllowed, top: rawTrace };
      result.trace = [raw, ...this.traceAfterRaw(zmax, argmax, finite, traceN)];
    }
    return result;
  }

  /** Top-k first: a heap picks the k best; top-p and min-p then keep prefixes of that short list. */
  private drawFromTopK(zmax: number): number {
    const { temperature: T, topK, topP, minP } = this.settings;
    const { z, w, ids } = scratchFor(this.vocabSize);
    const c = this.chain;
    const s = 1 / T;
    const heap = this.heap;
    heap.reset(topK);
    for (let i = 0; i < this.vocabSize; i++) {
      const v = z[i];
      if (heap.wants(v)) heap.offer(v, i);
    }
    const k = heap.drain(ids);
    let wK = 0;
    for (let r = 0; r < k; r++) {
      const wi = Math.exp((z[ids[r]] - zmax) * s);
      w[ids[r]] = wi;
      wK += wi;
    }
    let p = k;
    let wP = wK;
    if (topP < 1) {
      // the smallest prefix reaching p (all of it if rounding keeps the sum a hair short)
      const target = topP * wK;
      wP = 0;
      for (p = 0; p < k && wP < target; p++) wP += w[ids[p]];
    }
    let m = p;
    let wM = wP;
    if (minP > 0) {
      // the best token has w = 1, so p ≥ minP · pmax is w ≥ minP, and w falls along the list
      wM = 0;
      for (m = 0; m < p && w[ids[m]] >= minP; m++) wM += w[ids[m]];
    }
    Object.assign(c, { listed: true, kCount: k, pCount: p, mCount: m, wK, wP, wM });
    const u = this.rng.uniform() * wM;
    let acc = 0;
    for (let r = 0; r < m; r++) {
      acc += w[ids[r]];
      if (u < acc) return ids[r];
    }
    return ids[m - 1];
  }

  /** No top-k: weigh the whole vocabulary, cut top-p by quickselect, and walk ids in order to draw. */
  private drawFromVocabulary(zmax: number, finite: number): number {
    const { temperature: T, topP, minP } = this.settings;
    const V = this.vocabSize;
    const { z, w, sel } = scratchFor(V);
    const c = this.chain;
    const s = 1 / T;
    let wK = 0;
    for (let i = 0; i < V; i++) {
      const wi = Math.exp((z[i] - zmax) * s);
      w[i] = wi;
      wK += wi;
    }
    const nucleus = topP < 1;
    let pCut = 0;
    let pTies = Number.POSITIVE_INFINITY;
    if (nucleus) {
      let n = 0;
      for (let i = 0; i < V; i++) if (w[i] > 0) sel[n++] = w[i];
      ({ cut: pCut, ties: pTies } = nucleusCut(sel, n, topP * wK));
    }
    let pCount = finite;
    let wP = wK;
    let mCount = finite;
    let wM = wK;
    if (nucleus || minP > 0) {
      pCount = 0;
      wP = 0;
      mCount = 0;
      wM = 0;
      let tie = 0;
      for (let i = 0; i < V; i++) {
        const wi = w[i];
        if (!(z[i] > Number.NEGATIVE_INFINITY)) continue;
        if (nucleus && (wi < pCut || (wi === pCut && tie++ >= pTies))) continue;
        pCount++;
        wP += wi;
        if (wi >= minP) {
          mCount++;
          wM += wi;
        }
      }
    }
    Object.assign(c, { listed: false, kCount: finite, pCount, mCount, wK, wP, wM, pCut, pTies });
    // the same walk again, summing in the same order, so u < wM is reached
    const u = this.rng.uniform() * wM;
    let acc = 0;
    let tie = 0;
    let last = 0;
    for (let i = 0; i < V; i++) {
      const wi = w[i];
      if (!(z[i] > Number.NEGATIVE_INFINITY)) continue;
      if (nucleus && (wi < pCut || (wi === pCut && tie++ >= pTies))) continue;
      if (wi < minP) continue;
      last = i;
      acc += wi;
      if (u < acc) return i;
    }
    return last;
  }

  /** Fills headIds/headKeys with the n largest values, best first; returns how many. */
  private head(values: ArrayLike<number>, n: number): number {
    if (n === 0) return 0;
    if (n > this.headIds.length) {
      this.headIds = new Int32Array(n);
      this.headKeys = new Float64Array(n);
    }
    const heap = this.heap;
    heap.reset(n);
    for (let i = 0; i < values.length; i++) {
      const v = values[i];
      if (heap.wants(v)) heap.offer(v, i);
    }
    return heap.drain(this.headIds, this.headKeys);
  }

  /** The penalties … min-p stages of the trace, from the state the last draw left. */
  private traceAfterRaw(zmax: number, argmax: number, finite: number, n: number): SamplerStage[] {
    const V = this.vocabSize;
    const { temperature: T, topK, topP, minP } = this.settings;
    const { z, w } = scratchFor(V);
    const c = this.chain;
    const ranked = Array.from(this.headIds.subarray(0, this.head(z, n)));
    let zSum = 0;
    for (let i = 0; i < V; i++) zSum += Math.exp(z[i] - zmax);
    const penalties: SamplerStage = {
      name: 'penalties',
      enabled: this.penalties.enabled,
      allowed: finite,
      top: ranked.map((id) => ({ id, logit: z[id], prob: Math.exp(z[id] - zmax) / zSum })),
    };
    const filters = [
      ['top_k', topK > 0],
      ['top_p', topP < 1],
      ['min_p', minP > 0],
    ] as const;
    if (T === 0) {
      // the T → 0 limit: all mass on the argmax, which every later filter keeps
      const onlyArgmax = (name: SamplerStageName, enabled: boolean): SamplerStage => ({
        name,
        enabled,
        allowed: 1,
        top: [{ id: argmax, logit: z[argmax], prob: 1 }],
      });
      return [penalties, onlyArgmax('temperature', true), ...filters.map(([nm, on]) => onlyArgmax(nm, on))];
    }
    const s = 1 / T;
    let wT = 0;
    for (let i = 0; i < V; i++) wT += Math.exp((z[i] - zmax) * s);
    const stage = (
      name: SamplerStageName,
      enabled: boolean,
      allowed: number,
      mass: number,
      ids: number[],
    ) => ({
      name,
      enabled,
      allowed,
      top: ids.map((id) => ({ id, logit: z[id] * s, prob: Math.exp((z[id] - zmax) * s) / mass })),
    });
    // Which ranked tokens each filter kept: with top-k, prefixes of the ranking; without, top-p's cut.
    let inNucleus = (_id: number) => true;
    if (!c.listed && topP < 1) {
      const tieRank = (id: number) => {
        let r = 0;
        for (let j = 0; j < id; j++) if (w[j] === c.pCut && z[j] > Number.NEGATIVE_INFINITY) r++;
        return r;
      };
      inNucleus = (id) => w[id] > c.pCut || (w[id] === c.pCut && tieRank(id) < c.pTies);
    }
    const kept = c.listed
      ? [ranked.slice(0, c.kCount), ranked.slice(0, c.pCount), ranked.slice(0, c.mCount)]
      : [ranked, ranked.filter(inNucleus), ranked.filter((id) => inNucleus(id) && w[id] >= minP)];
    const counts = [c.kCount, c.pCount, c.mCount];
    const masses = [c.wK, c.wP, c.wM];
    const out: SamplerStage[] = [penalties, stage('temperature', T !== 1, finite, wT, ranked)];
    let mass = wT;
    filters.forEach(([name, on], i) => {
      if (on) mass = masses[i];
      out.push(stage(name, on, counts[i], mass, kept[i]));
    });
    return out;
  }
}

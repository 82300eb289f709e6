// The logit edits that depend on the context: the repetition penalty (CTRL, as Hugging Face's
// RepetitionPenaltyLogitsProcessor applies it), OpenAI's frequency and presence penalties, and logit bias.
import type { SamplingParams } from './params.ts';

/** What the penalties look at: repetition covers both lists, frequency and presence only `generated`. */
export interface TokenContext {
  readonly prompt: readonly number[];
  readonly generated: readonly number[];
}

export type PenaltySettings = Pick<
  SamplingParams,
  'repetitionPenalty' | 'frequencyPenalty' | 'presencePenalty' | 'logitBias'
>;

// Marks and counts by token id, cleared after each use; apply() never yields, so one pair per vocabulary
// size serves every sampler.
const marks = new Map<number, { seen: Uint8Array; counts: Uint32Array }>();

export class Penalties {
  /** Whether anything is set, i.e. whether the "penalties" stage changes the distribution. */
  readonly enabled: boolean;
  private readonly biasIds: Int32Array;
  private readonly biasValues: Float64Array;

  constructor(
    private readonly settings: PenaltySettings,
    private readonly vocabSize: number,
  ) {
    const bias = Object.entries(settings.logitBias);
    this.biasIds = Int32Array.from(bias, ([id]) => Number(id));
    this.biasValues = Float64Array.from(bias, ([, b]) => b);
    this.enabled =
      settings.repetitionPenalty !== 1 ||
      settings.frequencyPenalty !== 0 ||
      settings.presencePenalty !== 0 ||
      bias.length > 0;
  }

  /**
   * In place on logits `z`: repetition penalty, then frequency and presence, then bias. Costs
   * O(context length), not O(vocabulary).
   */
  apply(z: Float64Array, ctx: TokenContext): void {
    const { repetitionPenalty: rp, frequencyPenalty: fp, presencePenalty: pp } = this.settings;
    const V = this.vocabSize;
    let m = marks.get(V);
    if (!m) {
      m = { seen: new Uint8Array(V), counts: new Uint32Array(V) };
      marks.set(V, m);
    }
    const { seen, counts } = m;
    const usesContext = rp !== 1 || fp !== 0 || pp !== 0;
    if (usesContext)
      for (const list of [ctx.prompt, ctx.generated])
        for (const id of list)
          if (!(Number.isInteger(id) && id >= 0 && id < V))
            throw new RangeError(`context: token id ${id} is outside the vocabulary [0, ${V})`);
    if (rp !== 1) {
      for (const list of [ctx.prompt, ctx.generated])
        for (const id of list)
          if (seen[id] === 0) {
            seen[id] = 1;
            const l = z[id];
            z[id] = l > 0 ? l / rp : l * rp;
          }
      for (const list of [ctx.prompt, ctx.generated]) for (const id of list) seen[id] = 0;
    }
    if (fp !== 0 || pp !== 0) {
      for (const id of ctx.generated) counts[id]++;
      for (const id of ctx.generated) {
        const c = counts[id];
        if (c > 0) {
          z[id] -= c * fp + pp;
          counts[id] = 0;
        }
      }
    }
    for (let j = 0; j < this.biasIds.length; j++) {
      const id = this.biasIds[j];
      const b = this.biasValues[j];
      // The OpenAI API documents −100 as a ban: make it exact rather than merely very unlikely.
      z[id] = b <= -100 ? Number.NEGATIVE_INFINITY : z[id] + b;
    }
  }
}

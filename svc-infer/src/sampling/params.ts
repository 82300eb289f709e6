// Sampling parameters of one generation request, their defaults and their validation. Errors name the
// field and its allowed range so the gateway can answer 400 with a message a learner can act on.
import { randomInt } from 'node:crypto';

export interface SamplingParams {
  /** Softmax temperature; 0 = greedy (argmax, ties → lowest id). */
  temperature: number;
  /** Keep the k most likely tokens; 0 = off. */
  topK: number;
  /** Nucleus: keep the smallest set of most likely tokens whose probability reaches topP; 1 = off. */
  topP: number;
  /** Keep tokens with probability ≥ minP · (probability of the most likely token); 0 = off. */
  minP: number;
  /**
   * CTRL / Hugging Face repetition penalty over every token in the context (prompt and generated): a
   * positive logit is divided by it, a negative one multiplied; 1 = off.
   */
  repetitionPenalty: number;
  /** OpenAI: logit[t] -= count of t among generated tokens × frequencyPenalty. */
  frequencyPenalty: number;
  /** OpenAI: logit[t] -= presencePenalty if t was generated at least once. */
  presencePenalty: number;
  /** Token id (as a string key, as JSON carries it) → additive logit bias; −100 bans the token. */
  logitBias: Readonly<Record<string, number>>;
  /** Seeds the sampler: the same seed, settings and model give the same text. */
  seed: number;
  /** Maximum number of generated tokens. */
  maxTokens: number;
  /** Number of independent samples. */
  n: number;
  /** Generation stops before the first of these strings; it is not part of the output. */
  stop: readonly string[];
  /** How many most likely alternatives to report with each token's log-probability. */
  topLogprobs: number;
}

export const MAX_TOP_LOGPROBS = 20;
export const MAX_STOP_STRINGS = 16;
/** Each sample holds its own KV cache; OpenAI's limit. */
export const MAX_N = 128;
export const LOGIT_BIAS_LIMIT = 100;

export const SAMPLING_DEFAULTS: Readonly<Omit<SamplingParams, 'seed'>> = {
  temperature: 1,
  topK: 0,
  topP: 1,
  minP: 0,
  repetitionPenalty: 1,
  frequencyPenalty: 0,
  presencePenalty: 0,
  logitBias: {},
  maxTokens: 16,
  n: 1,
  stop: [],
  topLogprobs: 0,
};

export interface SamplingParamIssue {
  /** The offending field, e.g. "topP" or "logitBias.50256". */
  field: string;
  /** "<field>: must be …, got …". */
  message: string;
}

/** A bad sampling parameter; `field` lets services map it to INVALID_ARGUMENT naming the input. */
export class SamplingParamsError extends Error {
  readonly field: string;
  constructor(readonly issues: readonly SamplingParamIssue[]) {
    super(issues.map((i) => i.message).join('; '));
    this.name = 'SamplingParamsError';
    this.field = issues[0]?.field ?? '';
  }
}

type Check = (v: unknown) => boolean;

const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const isInt = (v: unknown): v is number => Number.isSafeInteger(v);

const rules: { [K in Exclude<keyof SamplingParams, 'logitBias' | 'stop'>]: [Check, string] } = {
  temperature: [(v) => isNum(v) && v >= 0, 'must be a number ≥ 0 (0 = greedy)'],
  topK: [(v) => isInt(v) && v >= 0, 'must be an integer ≥ 0 (0 = off)'],
  topP: [(v) => isNum(v) && v > 0 && v <= 1, 'must be in (0, 1]'],
  minP: [(v) => isNum(v) && v >= 0 && v < 1, 'must be in [0, 1)'],
  // Hugging Face requires a strictly positive penalty: 0 would divide positive logits by zero.
  repetitionPenalty: [(v) => isNum(v) && v > 0, 'must be a number > 0 (1 = off)'],
  frequencyPenalty: [(v) => isNum(v) && v >= -2 && v <= 2, 'must be in [-2, 2]'],
  presencePenalty: [(v) => isNum(v) && v >= -2 && v <= 2, 'must be in [-2, 2]'],
  seed: [(v) => isInt(v) && v >= 0, 'must be an integer in [0, 2^53)'],
  maxTokens: [(v) => isInt(v) && v >= 1, 'must be an integer ≥ 1'],
  n: [(v) => isInt(v) && v >= 1 && v <= MAX_N, `must be an integer in [1, ${MAX_N}]`],
  topLogprobs: [
    (v) => isInt(v) && v >= 0 && v <= MAX_TOP_LOGPROBS,
    `must be an integer in [0, ${MAX_TOP_LOGPROBS}]`,
  ],
};

const show = (v: unknown): string => (typeof v === 'string' ? JSON.stringify(v) : String(v));

/**
 * Every problem with the fields present in `p` (absent fields are not checked: defaults fill them).
 * `vocabSize`, when known, also bounds the token ids of logitBias.
 */
export function validateSamplingParams(p: Partial<SamplingParams>, vocabSize?: number): SamplingParamIssue[] {
  const issues: SamplingParamIssue[] = [];
  const bad = (field: string, rule: string, got: unknown) =>
    issues.push({ field, message: `${field}: ${rule}, got ${show(got)}` });
  for (const [field, [ok, rule]] of Object.entries(rules) as [keyof typeof rules, [Check, string]][]) {
    const v = p[field];
    if (v !== undefined && !ok(v)) bad(field, rule, v);
  }
  if (p.logitBias !== undefined) {
    if (typeof p.logitBias !== 'object' || p.logitBias === null || Array.isArray(p.logitBias))
      bad('logitBias', 'must be an object mapping token ids to biases', p.logitBias);
    else
      for (const [key, bias] of Object.entries(p.logitBias)) {
        const id = Number(key);
        const idOk = /^\d+$/.test(key) && isInt(id) && (vocabSize === undefined || id < vocabSize);
        const range = vocabSize === undefined ? '≥ 0' : `in [0, ${vocabSize})`;
        if (!idOk) bad('logitBias', `keys must be token ids ${range}`, key);
        else if (!(isNum(bias) && Math.abs(bias) <= LOGIT_BIAS_LIMIT))
          bad(`logitBias.${key}`, `must be in [-${LOGIT_BIAS_LIMIT}, ${LOGIT_BIAS_LIMIT}]`, bias);
      }
  }
  if (p.stop !== undefined) {
    if (!Array.isArray(p.stop) || p.stop.length > MAX_STOP_STRINGS)
      bad('stop', `must be a list of at most ${MAX_STOP_STRINGS} strings`, p.stop);
    else
      p.stop.forEach((s, i) => {
        if (typeof s !== 'string' || s.length === 0) bad(`stop.${i}`, 'must be a non-empty string', s);
      });
  }
  return issues;
}

/**
 * Defaults filled in and validated. Without a seed one is drawn at random and returned in the result,
 * so the service can echo it and the learner can replay the exact generation.
 */
export function resolveSamplingParams(p: Partial<SamplingParams>, vocabSize?: number): SamplingParams {
  const issues = validateSamplingParams(p, vocabSize);
  if (issues.length > 0) throw new SamplingParamsError(issues);
  const defined = Object.fromEntries(Object.entries(p).filter(([, v]) => v !== undefined));
  return {
    ...SAMPLING_DEFAULTS,
    seed: randomInt(0, 2 ** 32),
    ...defined,
  };
}

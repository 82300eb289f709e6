import type { ModelInfo, SamplingParams } from '../../api.ts';

/** The sampling form as the learner edits it; `toParams` turns it into the request's SamplingParams. */
export interface Settings {
  maxTokens: number;
  temperature: number;
  topK: number;
  topP: number;
  minP: number;
  repetitionPenalty: number;
  frequencyPenalty: number;
  presencePenalty: number;
  /** Empty: a new random seed each time. */
  seed: string;
  n: number;
  numBeams: number;
  lengthPenalty: number;
  earlyStopping: 'true' | 'false' | 'never';
  topLogprobs: number;
  /** One stop string per line; `\n` and `\t` are written as escapes so a newline can be a stop string. */
  stop: string;
  /** `id:bias` pairs separated by commas or spaces. */
  logitBias: string;
  stopAtEos: boolean;
  truncate: boolean;
  trace: boolean;
  echo: boolean;
}

export const DEFAULT_SETTINGS: Settings = {
  maxTokens: 128,
  temperature: 1,
  topK: 0,
  topP: 1,
  minP: 0,
  repetitionPenalty: 1,
  frequencyPenalty: 0,
  presencePenalty: 0,
  seed: '',
  n: 1,
  numBeams: 1,
  lengthPenalty: 1,
  earlyStopping: 'false',
  topLogprobs: 5,
  stop: '',
  logitBias: '',
  stopAtEos: true,
  // Small lab models have contexts of a few dozen tokens: a chat outgrows them by the second turn.
  truncate: true,
  trace: true,
  echo: false,
};

/** One-click starting points; each only sets the knobs it names. */
export const PRESETS: { name: string; hint: string; values: Partial<Settings> }[] = [
  {
    name: 'Greedy',
    hint: 'always the most likely token: repeatable, often repetitive',
    values: { temperature: 0, topK: 0, topP: 1, minP: 0, numBeams: 1 },
  },
  {
    name: 'Balanced',
    hint: 'a little sharper than the model, the unlikely tail cut',
    values: { temperature: 0.8, topK: 0, topP: 0.95, minP: 0, numBeams: 1 },
  },
  {
    name: 'Creative',
    hint: 'flatter distribution, more surprises and more mistakes',
    values: { temperature: 1.2, topK: 0, topP: 1, minP: 0.05, numBeams: 1 },
  },
  {
    name: 'Beam search',
    hint: 'four hypotheses kept by total log-probability, no sampling',
    values: { temperature: 0, numBeams: 4, n: 1 },
  },
];

function unescapeStop(s: string): string {
  return s.replace(/\\n/g, '\n').replace(/\\t/g, '\t').replace(/\\\\/g, '\\');
}

/** Stop strings from the one-per-line form field. */
export function parseStop(text: string): string[] {
  return text
    .split('\n')
    .map((l) => unescapeStop(l))
    .filter((l) => l.length > 0);
}

/** `198:-100, 50256:5` → {"198": -100, "50256": 5}; throws a sentence naming the bad pair. */
export function parseLogitBias(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const pair of text.split(/[\s,]+/).filter(Boolean)) {
    const m = /^(\d+):(-?\d+(?:\.\d+)?)$/.exec(pair);
    if (!m) throw new Error(`logit bias "${pair}" is not id:bias (for example 198:-100)`);
    const bias = Number(m[2]);
    if (bias < -100 || bias > 100) throw new Error(`logit bias of token ${m[1]} must be within -100..100`);
    out[m[1]!] = bias;
  }
  return out;
}

/** The request's SamplingParams; throws a readable message when a free-text field does not parse. */
export function toParams(s: Settings): SamplingParams {
  const p: SamplingParams = {
    maxTokens: s.maxTokens,
    temperature: s.temperature,
    topK: s.topK,
    topP: s.topP,
    minP: s.minP,
    repetitionPenalty: s.repetitionPenalty,
    frequencyPenalty: s.frequencyPenalty,
    presencePenalty: s.presencePenalty,
    n: s.n,
    numBeams: s.numBeams,
    topLogprobs: s.topLogprobs,
    trace: s.trace,
    echo: s.echo,
    truncate: s.truncate,
    stopAtEos: s.stopAtEos,
  };
  const stop = parseStop(s.stop);
  if (stop.length > 16) throw new Error('at most 16 stop strings');
  if (stop.some((x) => x.length > 200)) throw new Error('a stop string can be at most 200 characters');
  if (stop.length) p.stop = stop;
  const bias = parseLogitBias(s.logitBias);
  if (Object.keys(bias).length) p.logitBias = bias;
  if (s.seed.trim() !== '') {
    const seed = Number(s.seed.trim());
    if (!Number.isInteger(seed) || seed < 0) throw new Error('the seed must be a whole number ≥ 0, or empty');
    p.seed = seed;
  }
  if (s.numBeams > 1) {
    p.lengthPenalty = s.lengthPenalty;
    p.earlyStopping = s.earlyStopping;
  }
  return p;
}

/** svc-infer refuses a maxTokens above the model's context (a lab model's may be 32 tokens): ask for at most it. */
export function fitToModel(p: SamplingParams, model: ModelInfo | undefined): SamplingParams {
  if (model?.context && p.maxTokens && p.maxTokens > model.context) return { ...p, maxTokens: model.context };
  return p;
}

const STORAGE_KEY = 'lab.playground.settings';

/** Settings from the last visit (unknown or missing fields fall back to the defaults). */
export function loadSettings(): Settings {
  try {
    const raw = localStorage.getItem(STORAGE_KEY);
    if (!raw) return { ...DEFAULT_SETTINGS };
    const saved = JSON.parse(raw) as Partial<Settings>;
    const out: Settings = { ...DEFAULT_SETTINGS };
    for (const k of Object.keys(DEFAULT_SETTINGS) as (keyof Settings)[]) {
      if (typeof saved[k] === typeof DEFAULT_SETTINGS[k]) Object.assign(out, { [k]: saved[k] });
    }
    return out;
  } catch {
    return { ...DEFAULT_SETTINGS };
  }
}

export function saveSettings(s: Settings): void {
  try {
    localStorage.setItem(STORAGE_KEY, JSON.stringify(s));
  } catch {
    // storage full or disabled: settings just do not survive a reload
  }
}

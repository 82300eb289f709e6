// The Train form's model: its Advanced fields, which of them are the model's shape, where a server error about
// a request field is shown, and what a link from the Architecture page (#/train?preset=…&model=…&context=…)
// puts in the form.
import { PRESETS, readTrainLink } from '../architecture/config.ts';

/** Shown until the gateway lists its presets (and if it cannot). */
export const FALLBACK_PRESETS = [
  'nanogpt-cpu',
  'nanogpt-shakespeare',
  'llama-small',
  'gpt2-small',
  'gpt2-medium',
];

/** Advanced fields. Model fields hold the preset's values until changed; empty = the default. */
export interface Advanced {
  nLayer: string;
  nHead: string;
  nKvHead: string;
  nEmbd: string;
  ffnHidden: string;
  context: string;
  batchSize: string;
  learningRate: string;
  warmupIters: string;
  schedule: '' | 'cosine' | 'linear' | 'constant';
  evalInterval: string;
  seed: string;
  keepLast: string;
}

export const emptyAdvanced = (): Advanced => ({
  nLayer: '',
  nHead: '',
  nKvHead: '',
  nEmbd: '',
  ffnHidden: '',
  context: '',
  batchSize: '',
  learningRate: '',
  warmupIters: '',
  schedule: '',
  evalInterval: '',
  seed: '',
  keepLast: '',
});

/** Model fields of the form and where each sits in a preset. */
export const SHAPE = {
  nLayer: 'nLayer',
  nHead: 'nHead',
  nKvHead: 'nKvHead',
  nEmbd: 'nEmbd',
  ffnHidden: 'ffnHidden',
  context: 'context',
} as const;
export type ShapeField = keyof typeof SHAPE;

/** Form input (its name) showing an error about a request field (its path in the gateway's answer). */
export function inputFor(field: string): string | undefined {
  const model = /^config\.(?:model|modelJson)\.(\w+)$/.exec(field)?.[1];
  if (model) return model in SHAPE ? model : undefined;
  const direct: Record<string, string> = {
    name: 'name',
    tokenizer: 'tokenizer',
    dataPath: 'dataPath',
    datasetId: 'dataset',
    datasetVersion: 'dataset',
    'config.preset': 'preset',
    'config.modelJson': 'nLayer',
    'config.iters': 'iters',
    'config.context': 'context',
    'config.batchSize': 'batchSize',
    'config.learningRate': 'learningRate',
    'config.minLearningRate': 'learningRate',
    'config.warmupIters': 'warmupIters',
    'config.schedule': 'schedule',
    'config.evalInterval': 'evalInterval',
    'config.seed': 'seed',
    'config.keepLast': 'keepLast',
    repeatedTokens: 'repeatVocab',
    'repeatedTokens.vocabSize': 'repeatVocab',
    'repeatedTokens.halfLength': 'repeatHalf',
    'repeatedTokens.seed': 'seed',
  };
  return direct[field];
}

/** Inputs inside the Advanced section (opened when an error names one of them). */
export const ADVANCED_INPUTS = new Set<string>([
  ...Object.keys(SHAPE),
  'batchSize',
  'learningRate',
  'warmupIters',
  'schedule',
  'evalInterval',
  'seed',
  'keepLast',
]);

/** What a link from the Architecture page fills in: the preset, the shape fields, and the other model fields. */
export interface LinkPrefill {
  preset: string;
  shape: Partial<Record<ShapeField, string>>;
  /**
   * Model fields the form has no input for (family, norm, positions, activation, bias, tied embeddings) where
   * the link's value differs from the preset's: sent with the job as overrides, so the run is the one designed.
   */
  extras: Record<string, string | number | boolean>;
}

/** The prefill a `#/train?preset=…&model=…&context=…` address carries, or undefined without one. */
export function linkPrefill(hash: string): LinkPrefill | undefined {
  const link = readTrainLink(hash);
  if (!link) return undefined;
  const shape: LinkPrefill['shape'] = {};
  const extras: LinkPrefill['extras'] = {};
  const base = PRESETS[link.preset] as unknown as Record<string, unknown> | undefined;
  for (const [k, v] of Object.entries(link.model)) {
    if (k in SHAPE && k !== 'context') {
      if (typeof v === 'number' && Number.isFinite(v)) shape[k as ShapeField] = String(v);
    } else if (
      (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') &&
      (!base || base[k] !== v)
    )
      extras[k] = v;
  }
  if (Number.isInteger(link.context) && link.context > 0) shape.context = String(link.context);
  return { preset: link.preset, shape, extras };
}

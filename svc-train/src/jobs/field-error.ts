// Errors about one field of a job request, worded for the person who filled in the form: the Train page
// shows the message next to the field `field` names, so the message is a sentence with the field's name in
// words ("Batch size must be …"), not a path ("config.batchSize: …"); the path travels as LabError.field.
import { LabError } from '@lab/common';

/** Names of request fields as the Train page and `lab-train submit` call them. */
const LABELS: Record<string, string> = {
  name: 'The name',
  dataPath: 'The data file',
  datasetId: 'The dataset',
  tokenizer: 'The tokenizer',
  'config.preset': 'The preset',
  'config.modelJson': 'The model',
  'config.context': 'Context',
  'config.iters': 'The number of steps',
  'config.batchSize': 'Batch size',
  'config.gradAccum': 'Gradient accumulation',
  'config.learningRate': 'Learning rate',
  'config.minLearningRate': 'The final learning rate',
  'config.warmupIters': 'Warm-up steps',
  'config.schedule': 'Schedule',
  'config.weightDecay': 'Weight decay',
  'config.gradClip': 'The gradient clip',
  'config.evalInterval': 'Eval every',
  'config.checkpointInterval': 'The checkpoint interval',
  'config.keepLast': 'Checkpoints kept',
  'config.seed': 'Seed',
  'config.evalIters': 'Batches per evaluation',
  'config.valFraction': 'The validation fraction',
  'config.sampleTokens': 'Sample length',
  'config.threads': 'Threads',
  'repeatedTokens.vocabSize': 'The repeated tokens’ vocabulary',
  'repeatedTokens.halfLength': 'The repeated run length',
  'repeatedTokens.seed': 'The data seed',
  repeatedTokens: 'Repeated random tokens',
  attnOnly: 'Attention-only',
  nLayer: 'Layers',
  nHead: 'Heads',
  nKvHead: 'Key/value heads',
  nEmbd: 'Width',
  ffnHidden: 'FFN width',
  normEps: 'The norm epsilon',
  ropeTheta: 'RoPE theta',
  tieEmbeddings: 'Tied embeddings',
};

/** "config.modelJson.nLayer" → "Layers"; unknown names are split at capitals ("fooBar" → "Foo bar"). */
export function fieldLabel(field: string): string {
  const known = LABELS[field] ?? LABELS[field.split('.').at(-1) ?? ''];
  if (known) return known;
  const words = (field.split('.').at(-1) ?? field).replace(/([a-z0-9])([A-Z])/g, '$1 $2').toLowerCase();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

/** `predicate` continues the field's name: invalid('config.batchSize', 'must be at most 1,024'). */
export function invalid(field: string, predicate: string): LabError {
  const text = `${fieldLabel(field)} ${predicate}`;
  return new LabError('INVALID_ARGUMENT', /[.!?]$/.test(text) ? text : `${text}.`, field);
}

/** A whole sentence about `field`, for messages that do not start with the field's name. */
export const fieldError = (field: string, sentence: string): LabError =>
  new LabError('INVALID_ARGUMENT', sentence, field);

/** Numbers in messages: grouped from 10,000 up (1024, 10,000,000), as the gateway's messages write them. */
export const num = (v: number): string =>
  Number.isFinite(v) && Math.abs(v) >= 10_000 ? v.toLocaleString('en') : String(v);

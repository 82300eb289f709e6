// SubmitJob input → a JobSpec with defaults filled in, or INVALID_ARGUMENT naming the field. Nothing here
// touches the store: a rejected request leaves no trace.
import { type ModelConfig, PRESETS, preset } from '@lab/engine';
import type { SubmitJobRequest, TrainConfig } from '@lab/proto/train';
import { validateFinetune } from '../finetune/validate.ts';
import { invalid, num } from './field-error.ts';
import { checkRepeatedSource, type RepeatedRequest } from './repeated-source.ts';
import { checkSource } from './resolve-tokens.ts';
import type { DataSource, JobSpec, LrScheduleKind } from './types.ts';

function intIn(field: string, v: number, min: number, max: number): number {
  if (!Number.isInteger(v) || v < min || v > max)
    throw invalid(field, `must be a whole number from ${num(min)} to ${num(max)} (got ${num(v)})`);
  return v;
}

function numIn(field: string, v: number, min: number, max: number, openMin = false): number {
  if (!Number.isFinite(v) || v > max || (openMin ? v <= min : v < min))
    throw invalid(field, `must be a number in ${openMin ? '(' : '['}${min}, ${max}] (got ${v})`);
  return v;
}

/** Model fields a job may override, with their kind. */
const MODEL_FIELDS: Record<string, 'int' | 'number' | 'bool' | string[]> = {
  family: ['gpt2', 'llama'],
  nLayer: 'int',
  nHead: 'int',
  nKvHead: 'int',
  nEmbd: 'int',
  ffnHidden: 'int',
  norm: ['layernorm', 'rmsnorm'],
  normEps: 'number',
  positions: ['learned', 'sinusoidal', 'rope', 'none'],
  ropeTheta: 'number',
  activation: ['gelu', 'gelu_tanh', 'swiglu', 'relu'],
  bias: 'bool',
  tieEmbeddings: 'bool',
  dropout: 'number',
  attnOnly: 'bool',
};

function parseModel(json: string): Partial<ModelConfig> {
  const field = 'config.modelJson';
  if (!json.trim()) return {};
  let obj: unknown;
  try {
    obj = JSON.parse(json);
  } catch (err) {
    throw invalid(field, `overrides are not valid JSON (${(err as Error).message})`);
  }
  if (!obj || typeof obj !== 'object' || Array.isArray(obj))
    throw invalid(field, 'overrides must be a JSON object');
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(obj)) {
    const kind = MODEL_FIELDS[k];
    if (k === 'vocabSize' || k === 'blockSize')
      throw invalid(
        `${field}.${k}`,
        `cannot be overridden: ${k === 'vocabSize' ? 'the tokenizer sets it' : 'config.context sets it'}`,
      );
    if (!kind)
      throw invalid(`${field}.${k}`, `is not a model field (known: ${Object.keys(MODEL_FIELDS).join(', ')})`);
    if (Array.isArray(kind)) {
      if (!kind.includes(v as string)) throw invalid(`${field}.${k}`, `must be one of ${kind.join(', ')}`);
    } else if (kind === 'bool') {
      if (typeof v !== 'boolean') throw invalid(`${field}.${k}`, 'must be true or false');
    } else if (kind === 'int') intIn(`${field}.${k}`, v as number, 1, 65_536);
    else if (typeof v !== 'number' || !Number.isFinite(v) || v < 0)
      throw invalid(`${field}.${k}`, 'must be a number of at least 0');
    out[k] = v;
  }
  if (out.dropout !== undefined) numIn(`${field}.dropout`, out.dropout as number, 0, 0.9);
  return out as Partial<ModelConfig>;
}

/** The model a job's config describes: preset plus validated overrides, and the context length. */
export function modelOf(c: TrainConfig): {
  presetName: string;
  model: Partial<ModelConfig>;
  context: number;
  base: ModelConfig;
} {
  const presetName = c.preset || 'nanogpt-cpu';
  if (!(presetName in PRESETS))
    throw invalid(
      'config.preset',
      `"${presetName}" is an unknown preset (known: ${Object.keys(PRESETS).join(', ')})`,
    );
  const model = parseModel(c.modelJson ?? '');
  // As `lab-train pretrain --heads`: without grouped-query attention in the preset, kv heads follow heads.
  const plain = preset(presetName);
  if (model.nHead !== undefined && model.nKvHead === undefined && plain.nKvHead === plain.nHead)
    model.nKvHead = model.nHead;
  const base = preset(presetName, model);
  const context = c.context ? intIn('config.context', c.context, 1, 8192) : base.blockSize;
  // Name the field the user changed: that is the one to highlight and fix.
  if (base.nEmbd % base.nHead !== 0)
    throw model.nHead !== undefined || model.nEmbd === undefined
      ? invalid('config.modelJson.nHead', `(${base.nHead}) must divide the width ${base.nEmbd} evenly`)
      : invalid('config.modelJson.nEmbd', `(${base.nEmbd}) must be a multiple of the ${base.nHead} heads`);
  if (base.nHead % base.nKvHead !== 0)
    throw model.nKvHead !== undefined
      ? invalid('config.modelJson.nKvHead', `(${base.nKvHead}) must divide the ${base.nHead} heads evenly`)
      : invalid(
          'config.modelJson.nHead',
          `(${base.nHead}) must be a multiple of the ${base.nKvHead} key/value heads`,
        );
  return { presetName, model, context, base };
}

/**
 * The model a job trains: its preset with the overrides, its context and the vocabulary of its tokenizer
 * (the preset's when unknown). The worker builds its trainer from this and the estimate counts parameters
 * from it, so the page and the job show one number.
 */
export function jobModelConfig(
  presetName: string,
  model: Partial<ModelConfig>,
  context: number,
  vocabSize?: number,
): ModelConfig {
  return preset(presetName, { ...model, blockSize: context, ...(vocabSize ? { vocabSize } : {}) });
}

/** Validates a SubmitJob request and fills in the defaults. */
export function validateSubmit(req: SubmitJobRequest): JobSpec {
  if (req.name.length > 200) throw invalid('name', 'must be at most 200 characters long');
  const c = req.config ?? ({} as TrainConfig);
  const { presetName, model, context: presetContext } = modelOf(c);
  const repeated = req.repeatedTokens && repeatedSource(req, c);
  // A fine-tuned model keeps its own context; 256 tokens hold most instruction examples. Repeated tokens
  // fill it: two runs of at most half_length.
  const context = repeated ? 2 * repeated.half : req.finetune && !c.context ? 256 : presetContext;
  if (!c.iters) throw invalid('config.iters', 'is required (optimizer steps, 1 or more)');
  const iters = intIn('config.iters', c.iters, 1, 10_000_000);
  const batch = c.batchSize ? intIn('config.batchSize', c.batchSize, 1, 1024) : 12;
  const accumulate = c.gradAccum ? intIn('config.gradAccum', c.gradAccum, 1, 1024) : 1;
  const lr = c.learningRate ? numIn('config.learningRate', c.learningRate, 0, 1, true) : 1e-3;
  const minLr =
    c.minLearningRate !== undefined ? numIn('config.minLearningRate', c.minLearningRate, 0, lr) : lr / 10;
  const warmup = intIn('config.warmupIters', c.warmupIters ?? 0, 0, iters);
  const schedule = (c.schedule || 'cosine') as LrScheduleKind;
  if (!['cosine', 'linear', 'constant'].includes(schedule))
    throw invalid('config.schedule', `must be cosine, linear or constant (got "${c.schedule}")`);
  const weightDecay =
    c.weightDecay !== undefined ? numIn('config.weightDecay', c.weightDecay, 0, 1) : req.finetune ? 0 : 0.1;
  const clip = c.gradClip !== undefined ? numIn('config.gradClip', c.gradClip, 0, 1000) : 1.0;
  const evalInterval = c.evalInterval
    ? intIn('config.evalInterval', c.evalInterval, 1, iters)
    : Math.max(1, Math.floor(iters / 10));
  const checkpointInterval = c.checkpointInterval
    ? intIn('config.checkpointInterval', c.checkpointInterval, 1, iters)
    : evalInterval;
  const keepLast = c.keepLast ? intIn('config.keepLast', c.keepLast, 1, 1000) : 2;
  const keepBest = c.keepBest ?? true;
  const seed = c.seed !== undefined ? intIn('config.seed', c.seed, 0, 2 ** 32 - 1) : 1337;
  const evalIters = c.evalIters ? intIn('config.evalIters', c.evalIters, 1, 1000) : 10;
  const valFraction = c.valFraction ? numIn('config.valFraction', c.valFraction, 0, 0.5, true) : 0.1;
  const sampleTokens = c.sampleOff
    ? 0
    : c.sampleTokens
      ? intIn('config.sampleTokens', c.sampleTokens, 0, 1000)
      : 64;
  const threads = intIn('config.threads', c.threads ?? 0, 0, 256);
  const source: DataSource = repeated ? { ...repeated, seed: repeated.seed ?? seed } : checkSource(req);
  return {
    name: req.name,
    source,
    tokenizer: req.tokenizer || 'char',
    preset: presetName,
    model,
    batch,
    context,
    iters,
    lr,
    minLr,
    warmup,
    schedule,
    accumulate,
    weightDecay,
    clip,
    evalInterval,
    checkpointInterval,
    keepLast,
    keepBest,
    seed,
    evalIters,
    valFraction,
    sampleTokens,
    threads,
    ...(req.finetune ? { finetune: validateFinetune(req.finetune) } : {}),
  };
}

/** SubmitJob.repeated_tokens checked against the rest of the request (a pre-training job's only data). */
function repeatedSource(req: SubmitJobRequest, c: TrainConfig): RepeatedRequest {
  if (req.dataPath || req.datasetId)
    throw invalid(
      'repeatedTokens',
      'are a data source of their own: give them, a data file or a dataset version (exactly one)',
    );
  if (req.finetune) throw invalid('repeatedTokens', 'are for pre-training jobs, not fine-tuning');
  if (req.tokenizer && req.tokenizer !== 'char')
    throw invalid('tokenizer', `must be left empty with repeated random tokens (got "${req.tokenizer}")`);
  const src = checkRepeatedSource(req.repeatedTokens!);
  if (c.context && c.context !== 2 * src.half)
    throw invalid(
      'config.context',
      `must be twice the repeated run length, ${2 * src.half}, or left empty (got ${c.context})`,
    );
  return src;
}

/** The request as stored jobs show it: what was asked, with the defaults that applied. */
export function specToRequest(spec: JobSpec): SubmitJobRequest {
  return {
    name: spec.name,
    tokenizer: spec.tokenizer,
    dataPath: spec.source.kind === 'file' ? spec.source.path : '',
    datasetId: spec.source.kind === 'dataset' ? spec.source.datasetId : '',
    datasetVersion: spec.source.kind === 'dataset' ? spec.source.version : 0,
    repeatedTokens:
      spec.source.kind === 'repeated'
        ? { vocabSize: spec.source.vocab, halfLength: spec.source.half, seed: spec.source.seed }
        : undefined,
    config: {
      preset: spec.preset,
      modelJson: Object.keys(spec.model).length ? JSON.stringify(spec.model) : '',
      batchSize: spec.batch,
      context: spec.context,
      iters: spec.iters,
      learningRate: spec.lr,
      minLearningRate: spec.minLr,
      warmupIters: spec.warmup,
      schedule: spec.schedule,
      gradAccum: spec.accumulate,
      weightDecay: spec.weightDecay,
      gradClip: spec.clip,
      evalInterval: spec.evalInterval,
      checkpointInterval: spec.checkpointInterval,
      keepLast: spec.keepLast ?? 2,
      keepBest: spec.keepBest ?? false,
      seed: spec.seed,
      evalIters: spec.evalIters,
      valFraction: spec.valFraction,
      sampleTokens: spec.sampleTokens,
      sampleOff: spec.sampleTokens === 0,
      threads: spec.threads,
    },
    finetune: spec.finetune && {
      method: spec.finetune.method,
      baseModel: spec.finetune.baseModel,
      adapter: spec.finetune.adapter,
      loraRank: spec.finetune.lora?.rank ?? 0,
      loraAlpha: spec.finetune.lora?.alpha ?? 0,
      loraDropout: spec.finetune.lora?.dropout,
      loraTargets: [...(spec.finetune.lora?.targets ?? [])],
      beta: spec.finetune.beta,
      packing: spec.finetune.packing ?? false,
    },
  };
}

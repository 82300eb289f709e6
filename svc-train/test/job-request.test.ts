// A job request's validation as the Train page meets it: each field's bounds and defaults, messages that
// name the field in words, the model overrides, the stored form of a request, and the learning-rate
// schedules. Pure functions: no store, no worker (datasets are referenced by id, so no file is read).
import { LabError } from '@lab/common';
import { cosineLr, preset } from '@lab/engine';
import { type DeepPartial, SubmitJobRequest, type TrainConfig } from '@lab/proto/train';
import { describe, expect, it } from 'vitest';
import { fieldError, fieldLabel, invalid, num } from '../src/jobs/field-error.ts';
import { lrAt } from '../src/jobs/schedule.ts';
import { jobModelConfig, modelOf, specToRequest, validateSubmit } from '../src/jobs/validate.ts';

const request = (config: Partial<TrainConfig> = {}, over: DeepPartial<SubmitJobRequest> = {}) =>
  SubmitJobRequest.fromPartial({
    name: 'job',
    datasetId: 'ds-1',
    datasetVersion: 3,
    config: { iters: 100, ...config },
    ...over,
  });

/** The LabError validateSubmit throws for this config, as { field, message }. */
function rejection(config: Partial<TrainConfig>, over: DeepPartial<SubmitJobRequest> = {}) {
  try {
    validateSubmit(request(config, over));
  } catch (err) {
    expect(err).toBeInstanceOf(LabError);
    const e = err as LabError;
    expect(e.code).toBe('INVALID_ARGUMENT');
    return { field: e.field, message: e.message };
  }
  throw new Error(`accepted: ${JSON.stringify(config)}`);
}

describe('field errors', () => {
  it('labels fields in words: known ones, nested model fields, and unknown camelCase', () => {
    expect(fieldLabel('config.batchSize')).toBe('Batch size');
    expect(fieldLabel('config.modelJson.nLayer')).toBe('Layers');
    expect(fieldLabel('config.modelJson.ropeTheta')).toBe('RoPE theta');
    expect(fieldLabel('config.fooBarBaz')).toBe('Foo bar baz');
    expect(fieldLabel('x2Y')).toBe('X2 y');
    expect(fieldLabel('plain')).toBe('Plain');
    // Labels the camelCase rule would get wrong.
    expect(fieldLabel('dataPath')).toBe('The data file');
    expect(fieldLabel('datasetId')).toBe('The dataset');
    expect(fieldLabel('tokenizer')).toBe('The tokenizer');
    expect(fieldLabel('config.modelJson.ffnHidden')).toBe('FFN width');
    expect(fieldLabel('config.modelJson.tieEmbeddings')).toBe('Tied embeddings');
  });

  it('invalid() makes a sentence ending in a full stop, unless it already ends a sentence', () => {
    const e = invalid('config.iters', 'must be positive');
    expect(e).toBeInstanceOf(LabError);
    expect(e.code).toBe('INVALID_ARGUMENT');
    expect(e.field).toBe('config.iters');
    expect(e.message).toBe('The number of steps must be positive.');
    expect(invalid('name', 'is taken.').message).toBe('The name is taken.');
    expect(invalid('name', 'is taken!').message).toBe('The name is taken!');
    expect(invalid('name', 'is taken?').message).toBe('The name is taken?');
    const f = fieldError('dataPath', 'Give one source.');
    expect([f.code, f.field, f.message]).toEqual(['INVALID_ARGUMENT', 'dataPath', 'Give one source.']);
  });

  it('num() groups digits from 10,000 up, either sign, and leaves non-finite numbers alone', () => {
    expect(num(9999)).toBe('9999');
    expect(num(10_000)).toBe('10,000');
    expect(num(-10_000)).toBe('-10,000');
    expect(num(-9999)).toBe('-9999');
    expect(num(1234567.5)).toBe('1,234,567.5');
    expect(num(Number.POSITIVE_INFINITY)).toBe('Infinity');
    expect(num(Number.NaN)).toBe('NaN');
  });
});

describe('validateSubmit: defaults', () => {
  it('fills in every default', () => {
    const spec = validateSubmit(request());
    expect(spec).toMatchObject({
      name: 'job',
      source: { kind: 'dataset', datasetId: 'ds-1', version: 3 },
      tokenizer: 'char',
      preset: 'nanogpt-cpu',
      model: {},
      batch: 12,
      context: 64,
      iters: 100,
      lr: 1e-3,
      minLr: 1e-4,
      warmup: 0,
      schedule: 'cosine',
      accumulate: 1,
      weightDecay: 0.1,
      clip: 1,
      evalInterval: 10,
      checkpointInterval: 10,
      keepLast: 2,
      keepBest: true,
      seed: 1337,
      evalIters: 10,
      valFraction: 0.1,
      sampleTokens: 64,
      threads: 0,
    });
    expect(spec.finetune).toBeUndefined();
    expect(validateSubmit(request({ iters: 5 })).evalInterval).toBe(1);
    expect(validateSubmit(request({ iters: 25 })).evalInterval).toBe(2);
    expect(validateSubmit(request({ iters: 100, evalInterval: 7 })).checkpointInterval).toBe(7);
    expect(validateSubmit(request({ learningRate: 0.02 })).minLr).toBeCloseTo(0.002, 12);
  });

  it('keeps what is given, including zeros where zero means something', () => {
    const spec = validateSubmit(
      request(
        {
          preset: 'llama-small',
          context: 32,
          iters: 50,
          batchSize: 3,
          gradAccum: 4,
          learningRate: 1,
          minLearningRate: 0,
          warmupIters: 50,
          schedule: 'linear',
          weightDecay: 0,
          gradClip: 0,
          evalInterval: 50,
          checkpointInterval: 25,
          keepLast: 5,
          keepBest: false,
          seed: 0,
          evalIters: 1000,
          valFraction: 0.5,
          sampleTokens: 1000,
          threads: 256,
        },
        { tokenizer: 'bpe-1k', name: 'n'.repeat(200) },
      ),
    );
    expect(spec).toMatchObject({
      preset: 'llama-small',
      context: 32,
      batch: 3,
      accumulate: 4,
      lr: 1,
      minLr: 0,
      warmup: 50,
      schedule: 'linear',
      weightDecay: 0,
      clip: 0,
      evalInterval: 50,
      checkpointInterval: 25,
      keepLast: 5,
      keepBest: false,
      seed: 0,
      evalIters: 1000,
      valFraction: 0.5,
      sampleTokens: 1000,
      threads: 256,
      tokenizer: 'bpe-1k',
    });
    expect(validateSubmit(request({ sampleOff: true, sampleTokens: 9 })).sampleTokens).toBe(0);
    expect(validateSubmit(request({ schedule: 'constant' })).schedule).toBe('constant');
    expect(validateSubmit(request({ seed: 2 ** 32 - 1 })).seed).toBe(2 ** 32 - 1);
  });

  it('a fine-tune defaults to a 256-token context and no weight decay', () => {
    const spec = validateSubmit(request({}, { finetune: { baseModel: 'base' } }));
    expect(spec.context).toBe(256);
    expect(spec.weightDecay).toBe(0);
    expect(spec.finetune?.baseModel).toBe('base');
    const given = validateSubmit(
      request({ context: 48, weightDecay: 0.2 }, { finetune: { baseModel: 'base' } }),
    );
    expect(given.context).toBe(48);
    expect(given.weightDecay).toBe(0.2);
  });
});

describe('validateSubmit: bounds, naming the field', () => {
  const cases: [Partial<TrainConfig>, string, string][] = [
    [{ iters: 0 }, 'config.iters', 'The number of steps is required (optimizer steps, 1 or more).'],
    [
      { iters: 10_000_001 },
      'config.iters',
      'The number of steps must be a whole number from 1 to 10,000,000 (got 10,000,001).',
    ],
    [
      { iters: 2.5 },
      'config.iters',
      'The number of steps must be a whole number from 1 to 10,000,000 (got 2.5).',
    ],
    [{ batchSize: 1025 }, 'config.batchSize', 'Batch size must be a whole number from 1 to 1024 (got 1025).'],
    [{ batchSize: -1 }, 'config.batchSize', 'Batch size must be a whole number from 1 to 1024 (got -1).'],
    [
      { gradAccum: 2000 },
      'config.gradAccum',
      'Gradient accumulation must be a whole number from 1 to 1024 (got 2000).',
    ],
    [{ context: 8193 }, 'config.context', 'Context must be a whole number from 1 to 8192 (got 8193).'],
    [{ learningRate: 1.5 }, 'config.learningRate', 'Learning rate must be a number in (0, 1] (got 1.5).'],
    [{ learningRate: -0.1 }, 'config.learningRate', 'Learning rate must be a number in (0, 1] (got -0.1).'],
    [
      { learningRate: 0.01, minLearningRate: 0.02 },
      'config.minLearningRate',
      'The final learning rate must be a number in [0, 0.01] (got 0.02).',
    ],
    [
      { minLearningRate: -1e-5 },
      'config.minLearningRate',
      'The final learning rate must be a number in [0, 0.001] (got -0.00001).',
    ],
    [
      { warmupIters: 101 },
      'config.warmupIters',
      'Warm-up steps must be a whole number from 0 to 100 (got 101).',
    ],
    [{ schedule: 'step' }, 'config.schedule', 'Schedule must be cosine, linear or constant (got "step").'],
    [{ weightDecay: 1.01 }, 'config.weightDecay', 'Weight decay must be a number in [0, 1] (got 1.01).'],
    [{ weightDecay: Number.NaN }, 'config.weightDecay', 'Weight decay must be a number in [0, 1] (got NaN).'],
    [{ gradClip: 1001 }, 'config.gradClip', 'The gradient clip must be a number in [0, 1000] (got 1001).'],
    [
      { evalInterval: 101 },
      'config.evalInterval',
      'Eval every must be a whole number from 1 to 100 (got 101).',
    ],
    [
      { checkpointInterval: 101 },
      'config.checkpointInterval',
      'The checkpoint interval must be a whole number from 1 to 100 (got 101).',
    ],
    [
      { keepLast: 1001 },
      'config.keepLast',
      'Checkpoints kept must be a whole number from 1 to 1000 (got 1001).',
    ],
    [
      { seed: 2 ** 32 },
      'config.seed',
      'Seed must be a whole number from 0 to 4,294,967,295 (got 4,294,967,296).',
    ],
    [{ seed: -1 }, 'config.seed', 'Seed must be a whole number from 0 to 4,294,967,295 (got -1).'],
    [
      { evalIters: 1001 },
      'config.evalIters',
      'Batches per evaluation must be a whole number from 1 to 1000 (got 1001).',
    ],
    [
      { valFraction: 0.6 },
      'config.valFraction',
      'The validation fraction must be a number in (0, 0.5] (got 0.6).',
    ],
    [
      { valFraction: -0.1 },
      'config.valFraction',
      'The validation fraction must be a number in (0, 0.5] (got -0.1).',
    ],
    [
      { sampleTokens: 1001 },
      'config.sampleTokens',
      'Sample length must be a whole number from 0 to 1000 (got 1001).',
    ],
    [{ threads: 257 }, 'config.threads', 'Threads must be a whole number from 0 to 256 (got 257).'],
    [{ threads: -1 }, 'config.threads', 'Threads must be a whole number from 0 to 256 (got -1).'],
    [
      { preset: 'gpt5' },
      'config.preset',
      'The preset "gpt5" is an unknown preset (known: nanogpt-cpu, nanogpt-shakespeare, gpt2-small, gpt2-medium, gpt2-large, gpt2-xl, llama-small).',
    ],
  ];
  for (const [config, field, message] of cases) {
    it(`${JSON.stringify(config)} → ${field}`, () => {
      expect(rejection(config)).toEqual({ field, message });
    });
  }

  it('the name is at most 200 characters', () => {
    expect(rejection({}, { name: 'n'.repeat(201) })).toEqual({
      field: 'name',
      message: 'The name must be at most 200 characters long.',
    });
  });

  it('the bounds themselves are accepted', () => {
    const ok = (c: Partial<TrainConfig>) => expect(() => validateSubmit(request(c))).not.toThrow();
    ok({
      iters: 1,
      batchSize: 1,
      gradAccum: 1,
      context: 1,
      evalInterval: 1,
      checkpointInterval: 1,
      keepLast: 1,
    });
    ok({ iters: 10_000_000, batchSize: 1024, gradAccum: 1024, context: 8192, keepLast: 1000, evalIters: 1 });
    ok({ learningRate: 1e-9, minLearningRate: 1e-9, weightDecay: 1, gradClip: 1000, valFraction: 1e-9 });
    ok({ warmupIters: 100, evalInterval: 100, checkpointInterval: 100, threads: 0 });
  });
});

describe('model overrides (config.modelJson)', () => {
  const model = (modelJson: string, preset = '') => modelOf({ ...request().config!, modelJson, preset });
  const refused = (modelJson: string, preset = '') => {
    try {
      model(modelJson, preset);
    } catch (err) {
      return { field: (err as LabError).field, message: (err as LabError).message };
    }
    throw new Error(`accepted ${modelJson}`);
  };

  it('accepts an empty or blank text as no overrides, and valid fields of each kind', () => {
    expect(model('').model).toEqual({});
    expect(model('  \n').model).toEqual({});
    const m = model(
      '{"family":"llama","nLayer":2,"normEps":0.001,"bias":false,"tieEmbeddings":true,"dropout":0.9,"activation":"swiglu","ropeTheta":0}',
    );
    expect(m.model).toEqual({
      family: 'llama',
      nLayer: 2,
      normEps: 0.001,
      bias: false,
      tieEmbeddings: true,
      dropout: 0.9,
      activation: 'swiglu',
      ropeTheta: 0,
    });
    expect(m.base.nLayer).toBe(2);
    expect(m.context).toBe(m.base.blockSize);
    expect(m.presetName).toBe('nanogpt-cpu');
  });

  it('accepts every value of each enumerated field', () => {
    const values: Record<string, string[]> = {
      family: ['gpt2', 'llama'],
      norm: ['layernorm', 'rmsnorm'],
      positions: ['learned', 'sinusoidal', 'rope', 'none'],
      activation: ['gelu', 'gelu_tanh', 'swiglu', 'relu'],
    };
    for (const [k, vs] of Object.entries(values))
      for (const v of vs) expect(model(JSON.stringify({ [k]: v })).model, `${k}=${v}`).toEqual({ [k]: v });
    expect(refused('{"positions":"alibi"}').message).toBe(
      'Positions must be one of learned, sinusoidal, rope, none.',
    );
    expect(refused('{"activation":"silu"}').message).toBe(
      'Activation must be one of gelu, gelu_tanh, swiglu, relu.',
    );
  });

  it('kv heads follow heads unless the preset groups them', () => {
    expect(model('{"nHead":8}').model).toEqual({ nHead: 8, nKvHead: 8 });
    expect(model('{"nHead":8,"nKvHead":2}').model).toEqual({ nHead: 8, nKvHead: 2 });
    expect(model('{"nHead":4}', 'llama-small').model).toEqual({ nHead: 4 });
  });

  it('refuses what cannot be overridden or is not a model field', () => {
    const m = 'config.modelJson';
    expect(refused('{"nLayer":')).toMatchObject({ field: m });
    expect(refused('{"nLayer":').message).toMatch(/^The model overrides are not valid JSON \(.+\)\.$/);
    for (const bad of ['[1]', 'null', '3', '"x"'])
      expect(refused(bad)).toEqual({ field: m, message: 'The model overrides must be a JSON object.' });
    expect(refused('{"vocabSize":10}')).toEqual({
      field: `${m}.vocabSize`,
      message: 'Vocab size cannot be overridden: the tokenizer sets it.',
    });
    expect(refused('{"blockSize":10}')).toEqual({
      field: `${m}.blockSize`,
      message: 'Block size cannot be overridden: config.context sets it.',
    });
    // The list of known fields grows with the engine's model options: its start and end are what is stable.
    expect(refused('{"layers":2}').field).toBe(`${m}.layers`);
    expect(refused('{"layers":2}').message).toMatch(
      /^Layers is not a model field \(known: family, nLayer, nHead, nKvHead, nEmbd, ffnHidden, .*, dropout\b.*\)\.$/,
    );
  });

  it('checks each field by its kind', () => {
    const m = 'config.modelJson';
    expect(refused('{"family":"bert"}')).toEqual({
      field: `${m}.family`,
      message: 'Family must be one of gpt2, llama.',
    });
    expect(refused('{"norm":"batch"}')).toEqual({
      field: `${m}.norm`,
      message: 'Norm must be one of layernorm, rmsnorm.',
    });
    expect(refused('{"bias":1}')).toEqual({ field: `${m}.bias`, message: 'Bias must be true or false.' });
    expect(refused('{"nLayer":0}')).toEqual({
      field: `${m}.nLayer`,
      message: 'Layers must be a whole number from 1 to 65,536 (got 0).',
    });
    expect(refused('{"nEmbd":65537}').message).toBe(
      'Width must be a whole number from 1 to 65,536 (got 65,537).',
    );
    expect(model('{"nLayer":65536}').model.nLayer).toBe(65_536);
    expect(refused('{"normEps":-1}')).toEqual({
      field: `${m}.normEps`,
      message: 'The norm epsilon must be a number of at least 0.',
    });
    expect(refused('{"normEps":"1e-5"}').message).toBe('The norm epsilon must be a number of at least 0.');
    expect(refused('{"dropout":0.95}')).toEqual({
      field: `${m}.dropout`,
      message: 'Dropout must be a number in [0, 0.9] (got 0.95).',
    });
  });

  it('names the field the user changed when heads do not divide the width, or kv heads the heads', () => {
    const m = 'config.modelJson';
    expect(refused('{"nHead":5}')).toEqual({
      field: `${m}.nHead`,
      message: 'Heads (5) must divide the width 128 evenly.',
    });
    expect(refused('{"nHead":5,"nEmbd":131}').field).toBe(`${m}.nHead`);
    expect(refused('{"nEmbd":130}')).toEqual({
      field: `${m}.nEmbd`,
      message: 'Width (130) must be a multiple of the 4 heads.',
    });
    expect(refused('{"nHead":8,"nKvHead":3}')).toEqual({
      field: `${m}.nKvHead`,
      message: 'Key/value heads (3) must divide the 8 heads evenly.',
    });
    expect(refused('{"nHead":5,"nEmbd":320}', 'llama-small')).toEqual({
      field: `${m}.nHead`,
      message: 'Heads (5) must be a multiple of the 2 key/value heads.',
    });
  });

  it('jobModelConfig sets the context and, when known, the vocabulary', () => {
    const cfg = jobModelConfig('nanogpt-cpu', { nLayer: 1 }, 16, 300);
    expect([cfg.nLayer, cfg.blockSize, cfg.vocabSize]).toEqual([1, 16, 300]);
    expect(jobModelConfig('nanogpt-cpu', {}, 16).vocabSize).toBe(preset('nanogpt-cpu').vocabSize);
  });
});

describe('specToRequest', () => {
  it('stores the request with its defaults, which validates back to the same spec', () => {
    const spec = validateSubmit(request({ modelJson: '{"nLayer":2}', sampleOff: true }));
    const req = specToRequest(spec);
    expect(req.config).toMatchObject({ preset: 'nanogpt-cpu', modelJson: '{"nLayer":2}', sampleOff: true });
    expect(req.datasetId).toBe('ds-1');
    expect(req.datasetVersion).toBe(3);
    expect(req.dataPath).toBe('');
    expect(req.finetune).toBeUndefined();
    expect(validateSubmit(req)).toEqual(spec);
    const plain = specToRequest(validateSubmit(request()));
    expect(plain.config?.modelJson).toBe('');
    expect(plain.config?.sampleOff).toBe(false);
    expect(plain.config?.keepBest).toBe(true);
  });

  it('a file source and a fine-tune round-trip too', () => {
    const spec = validateSubmit(request({}, { finetune: { baseModel: 'base', loraRank: 4, packing: true } }));
    const fileSpec = { ...spec, source: { kind: 'file' as const, path: '/data/x.txt' } };
    const req = specToRequest(fileSpec);
    expect([req.dataPath, req.datasetId, req.datasetVersion]).toEqual(['/data/x.txt', '', 0]);
    expect(req.finetune).toMatchObject({ baseModel: 'base', loraRank: 4, loraAlpha: 8, packing: true });
    const targeted = validateSubmit(
      request({}, { finetune: { baseModel: 'base', loraTargets: ['q', 'v'] } }),
    );
    expect(specToRequest(targeted).finetune?.loraTargets).toEqual(['q', 'v']);
    expect(specToRequest({ ...spec, keepLast: undefined, keepBest: undefined }).config).toMatchObject({
      keepLast: 2,
      keepBest: false,
    });
    const full = validateSubmit(request({}, { finetune: { baseModel: 'base', adapter: 'full' } }));
    expect(specToRequest(full).finetune).toMatchObject({
      adapter: 'full',
      loraRank: 0,
      loraAlpha: 0,
      packing: false,
    });
    expect(specToRequest(full).finetune?.loraTargets).toEqual([]);
  });
});

describe('lrAt', () => {
  const base = { lr: 1e-3, minLr: 1e-4, warmup: 4, iters: 24 };
  it('warms up linearly to lr over warmup + 1 steps, for every schedule', () => {
    for (const kind of ['linear', 'constant', 'cosine'] as const) {
      expect(lrAt(0, { ...base, kind })).toBeCloseTo(1e-3 / 5, 15);
      expect(lrAt(3, { ...base, kind })).toBeCloseTo(4e-3 / 5, 15);
    }
  });
  it('constant stays at lr after warm-up', () => {
    for (const it of [4, 10, 24, 100]) expect(lrAt(it, { ...base, kind: 'constant' })).toBe(1e-3);
  });
  it('linear decays from lr at the end of warm-up to minLr at the last step, then stays', () => {
    expect(lrAt(4, { ...base, kind: 'linear' })).toBeCloseTo(1e-3, 15);
    expect(lrAt(14, { ...base, kind: 'linear' })).toBeCloseTo(5.5e-4, 15);
    expect(lrAt(24, { ...base, kind: 'linear' })).toBeCloseTo(1e-4, 15);
    expect(lrAt(30, { ...base, kind: 'linear' })).toBeCloseTo(1e-4, 15);
    // Warm-up as long as the run: no division by zero, minLr once past it.
    expect(lrAt(5, { ...base, kind: 'linear', warmup: 5, iters: 5 })).toBeCloseTo(1e-3, 15);
    expect(lrAt(6, { ...base, kind: 'linear', warmup: 5, iters: 5 })).toBeCloseTo(1e-4, 15);
  });
  it('cosine is the engine schedule decaying over the whole run', () => {
    for (const it of [0, 4, 9, 14, 24, 30])
      expect(lrAt(it, { ...base, kind: 'cosine' })).toBe(
        cosineLr(it, { lr: 1e-3, minLr: 1e-4, warmup: 4, decayIters: 24 }),
      );
    expect(lrAt(14, { ...base, kind: 'cosine' })).toBeCloseTo(5.5e-4, 15);
  });
});

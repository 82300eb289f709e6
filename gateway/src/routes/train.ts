import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi';
import { localCallContext } from '@lab/common';
import {
  FinetuneConfig as FinetuneConfigProto,
  type Job,
  type JobEvent,
  SubmitJobRequest,
  TrainConfig as TrainConfigProto,
} from '@lab/proto/train';
import type { ServiceClients } from '../clients.ts';
import { ErrorBody } from '../errors.ts';
import { relayStream, resumePoint } from '../sse.ts';

const tags = ['train'];
const json = <T extends z.ZodType>(schema: T, description: string) => ({
  description,
  content: { 'application/json': { schema } },
});
const errors = {
  400: json(ErrorBody, 'Invalid input; `error.field` names it'),
  404: json(ErrorBody, 'Unknown job'),
  409: json(ErrorBody, 'Not possible in the job’s state (e.g. resuming a job that is not paused)'),
};

const int = (min: number, max: number, description: string) =>
  z.number().int().min(min).max(max).optional().openapi({ description });

const TrainConfig = z
  .object({
    preset: z.string().optional().openapi({
      description: 'Model preset (default nanogpt-cpu; GET /api/train/presets); ignored when fine-tuning',
      example: 'nanogpt-cpu',
    }),
    model: z
      .record(z.string(), z.union([z.number(), z.string(), z.boolean()]))
      .optional()
      .openapi({
        description: 'Overrides of the preset (engine ModelConfig fields); ignored when fine-tuning',
        example: { nLayer: 2, nHead: 4, nEmbd: 64 },
      }),
    batchSize: int(1, 1024, 'Sequences per micro-batch (default 12)'),
    context: int(1, 8192, 'Context length in tokens (default: the preset’s; fine-tunes 256)'),
    iters: z.number().int().min(1).max(10_000_000).openapi({ description: 'Optimizer steps', example: 2000 }),
    learningRate: z
      .number()
      .gt(0)
      .max(1)
      .optional()
      .openapi({ description: 'Peak learning rate (default 1e-3)' }),
    minLearningRate: z
      .number()
      .min(0)
      .max(1)
      .optional()
      .openapi({ description: 'Final learning rate (default lr/10)' }),
    warmupIters: int(0, 10_000_000, 'Linear warm-up steps (default 0)'),
    schedule: z
      .enum(['cosine', 'linear', 'constant'])
      .optional()
      .openapi({ description: 'After warm-up (default cosine)' }),
    gradAccum: int(1, 1024, 'Micro-batches per step (default 1)'),
    weightDecay: z
      .number()
      .min(0)
      .max(1)
      .optional()
      .openapi({ description: 'AdamW weight decay (default 0.1; fine-tunes 0)' }),
    gradClip: z
      .number()
      .min(0)
      .max(1000)
      .optional()
      .openapi({ description: 'Gradient-norm clip, 0 = off (default 1)' }),
    evalInterval: int(1, 10_000_000, 'Steps between evaluations (default iters/10)'),
    checkpointInterval: int(1, 10_000_000, 'Steps between checkpoints (default evalInterval)'),
    keepLast: int(1, 1000, 'Checkpoints kept: the newest this many (default 2)'),
    keepBest: z
      .boolean()
      .optional()
      .openapi({ description: 'Also keep the checkpoint with the best validation loss (default true)' }),
    seed: int(0, 2 ** 32 - 1, 'Seed (default 1337)'),
    evalIters: int(1, 1000, 'Batches per split per evaluation (default 10)'),
    valFraction: z
      .number()
      .gt(0)
      .max(0.5)
      .optional()
      .openapi({ description: 'Held-out fraction (default 0.1)' }),
    sampleTokens: int(0, 1000, 'Tokens of the text sample at each evaluation (default 64; 0 = no sample)'),
    threads: int(0, 256, 'ONNX Runtime threads; 0 = all cores'),
  })
  .openapi('TrainConfig', {
    description: 'Hyper-parameters of a training job; unset fields take the defaults',
  });

const Finetune = z
  .object({
    method: z
      .enum(['sft', 'dpo', 'reward'])
      .optional()
      .openapi({ description: 'sft (default), dpo, or reward (a scalar-head reward model on pairs)' }),
    baseModel: z.string().min(1).max(300).openapi({ description: "A model of svc-infer's registry" }),
    adapter: z
      .enum(['lora', 'qlora', 'full'])
      .optional()
      .openapi({ description: 'lora (default), qlora (LoRA on a 4-bit NF4 base) or full' }),
    loraRank: int(1, 1024, 'LoRA rank (default 8)'),
    loraAlpha: z.number().gt(0).max(1e6).optional().openapi({ description: 'LoRA alpha (default 2 × rank)' }),
    loraDropout: z.number().min(0).lt(1).optional().openapi({ description: 'LoRA dropout (default 0.05)' }),
    loraTargets: z.array(z.string().min(1).max(100)).max(32).optional().openapi({
      description:
        'Modules with an adapter (default the attention projections: ["c_attn"] for GPT-2, ["q_proj", "v_proj"] for Llama)',
    }),
    beta: z.number().gt(0).max(100).optional().openapi({ description: "DPO's beta (default 0.1)" }),
    packing: z
      .boolean()
      .optional()
      .openapi({ description: 'SFT: pack short examples into shared rows (block-diagonal attention)' }),
  })
  .openapi('FinetuneConfig', {
    description: 'How to fine-tune: the base model of svc-infer, the method and the adapter',
  });

const RepeatedTokens = z
  .object({
    vocabSize: z.number().int().min(2).max(4096).openapi({ description: 'Ids drawn from [0, vocabSize)' }),
    halfLength: z
      .number()
      .int()
      .min(2)
      .max(4096)
      .openapi({ description: 'Longest repeated run; the context is twice this' }),
    seed: int(0, 2 ** 32 - 1, 'Seed of the data stream and held-out set (default: config.seed)'),
  })
  .openapi('RepeatedTokens', {
    description:
      'Synthetic pre-training data: random tokens repeated twice (runs of ⌈half/2⌉…half), the induction-head recipe',
  });

const SubmitBody = z
  .object({
    finetune: Finetune.optional().openapi({
      description: 'Fine-tune a registered model instead of pre-training',
    }),
    name: z
      .string()
      .max(200)
      .optional()
      .openapi({ description: 'Display name (default: none; the id shows)' }),
    dataPath: z.string().optional().openapi({
      description:
        'A UTF-8 text file on the machine running svc-train (fine-tuning: a JSON or JSONL file of examples); or datasetId',
    }),
    datasetId: z.string().optional().openapi({
      description:
        'A svc-data dataset; or dataPath. Pre-training reads the shards of datasetVersion made with `tokenizer` (POST /api/data/…/shards first); fine-tuning reads its documents',
    }),
    datasetVersion: z
      .number()
      .int()
      .min(0)
      .optional()
      .openapi({ description: 'Version of datasetId; 0 or absent: the latest' }),
    tokenizer: z.string().optional().openapi({
      description:
        'char (default), gpt2, cl100k_base, o200k_base or a trained tokenizer; with datasetId, the one its shards were made with; a fine-tune uses its base’s',
    }),
    config: TrainConfig,
    repeatedTokens: RepeatedTokens.optional().openapi({
      description: 'Pre-train on random tokens repeated twice instead of dataPath or datasetId',
    }),
  })
  .refine(
    (b) =>
      b.repeatedTokens !== undefined ||
      [b.dataPath, b.datasetId].filter((v) => v !== undefined && v !== '').length === 1,
    {
      message:
        'Give either a data file or a dataset version, not both (exactly one of dataPath or datasetId).',
      path: ['dataPath'],
    },
  )
  .refine((b) => b.repeatedTokens === undefined || (!b.dataPath && !b.datasetId), {
    message:
      'Repeated random tokens are a data source of their own: give no dataPath or datasetId with them.',
    path: ['repeatedTokens'],
  });

const TrainJob = z
  .object({
    id: z.string(),
    name: z.string(),
    state: z.enum(['queued', 'running', 'paused', 'completed', 'failed', 'cancelled']),
    step: z.number().int(),
    iters: z.number().int(),
    error: z.string(),
    request: z
      .record(z.string(), z.unknown())
      .openapi({ description: 'The submitted request with defaults' }),
    checkpoints: z.array(z.string()),
    checkpointInfo: z
      .array(
        z.object({
          dir: z.string(),
          step: z.number().int(),
          valLoss: z.number().optional().openapi({ description: 'Absent when its step was not evaluated' }),
          best: z.boolean().openapi({ description: 'The kept checkpoint with the lowest validation loss' }),
        }),
      )
      .openapi({ description: 'The kept checkpoints with step and validation loss, oldest first' }),
    retention: z.string().openapi({ description: 'Which checkpoints are kept, in words' }),
    createdAt: z.string(),
    updatedAt: z.string(),
    lastSeq: z.number().int().openapi({ description: 'Sequence of the last event (resume events after it)' }),
    pendingAction: z.string().openapi({ description: '"pause" or "cancel" while the worker carries it out' }),
    worker: z.string(),
    attempts: z.number().int(),
    loss: z.number(),
    valLoss: z.number(),
    vocabSize: z.number().int(),
    parameters: z.number().int(),
  })
  .openapi('TrainJob');

const TrainEvent = z
  .object({
    seq: z.number().int(),
    kind: z.enum(['step', 'eval', 'state']),
    step: z.number().int(),
    state: z.string(),
    time: z.string(),
    loss: z.number().optional(),
    lr: z.number().optional(),
    gradNorm: z.number().optional(),
    tokensPerSecond: z.number().optional(),
    elapsedSeconds: z.number().optional(),
    valLoss: z.number().optional(),
    trainLoss: z.number().optional(),
    perplexity: z.number().optional(),
    sample: z.string().optional(),
    message: z.string().optional(),
    preference: z
      .object({
        chosenReward: z.number(),
        rejectedReward: z.number(),
        margin: z.number(),
        accuracy: z.number(),
      })
      .optional()
      .openapi({
        description: 'DPO: mean rewards of chosen and rejected answers, margin, preference accuracy',
      }),
    induction: z
      .object({
        firstHalfLoss: z.number(),
        secondHalfLoss: z.number(),
        inductionScore: z.number(),
        bestLayer: z.number().int(),
        bestHead: z.number().int(),
      })
      .optional()
      .openapi({
        description:
          'Evaluations on repeated random tokens: loss on each half and the best head’s induction score',
      }),
  })
  .openapi('TrainEvent');

const idParam = { params: z.object({ id: z.string().min(1).max(100) }) };
const action = (verb: 'cancel' | 'pause' | 'resume', summary: string) =>
  createRoute({
    method: 'post',
    path: `/api/train/jobs/{id}/${verb}`,
    tags,
    summary,
    request: idParam,
    responses: { 200: json(TrainJob, 'The job after the action'), ...errors },
  });

const EstimateBody = TrainConfig.extend({
  iters: z
    .number()
    .int()
    .min(1)
    .max(10_000_000)
    .optional()
    .openapi({ description: 'Optimizer steps; gives totalSeconds and the time warning' }),
  vocabSize: z
    .number()
    .int()
    .min(1)
    .max(10_000_000)
    .optional()
    .openapi({ description: 'Default: what the job would get from tokenizer and data, else the preset’s' }),
  tokenizer: z
    .string()
    .optional()
    .openapi({ description: 'The job’s tokenizer (default char): its vocabulary sizes the model' }),
  dataPath: z.string().optional().openapi({ description: 'The job’s text file (char: its characters)' }),
  datasetId: z.string().optional().openapi({ description: 'The job’s dataset (its shards’ vocabulary)' }),
  datasetVersion: z
    .number()
    .int()
    .min(0)
    .optional()
    .openapi({ description: 'Version of datasetId; 0 or absent: the latest' }),
});

const MachineInfo = z
  .object({
    memoryBytes: z.number().openapi({ description: 'RAM svc-train may use (its cgroup limit when lower)' }),
    availableMemoryBytes: z.number(),
    cpus: z.number().int(),
  })
  .openapi('MachineInfo');

const Estimate = z
  .object({
    parameters: z.object({
      embeddings: z.number().int(),
      attention: z.number().int(),
      mlp: z.number().int(),
      norms: z.number().int(),
      head: z.number().int(),
      total: z.number().int(),
    }),
    flopsPerToken: z.object({ forward: z.number(), backward: z.number(), total: z.number() }),
    memory: z.object({
      weights: z.number().int(),
      gradients: z.number().int(),
      optimizer: z.number().int(),
      activations: z.number().int(),
      total: z.number().int(),
    }),
    secondsPerStep: z.number().openapi({ description: 'At the throughput bench:train measured on this CPU' }),
    totalSeconds: z.number().openapi({ description: 'secondsPerStep × iters; 0 without iters' }),
    vocabSize: z.number().int().openapi({ description: 'The vocabulary the estimate used' }),
    vocabSource: z
      .enum(['request', 'data', 'tokenizer', 'preset'])
      .openapi({ description: '"preset" when the job’s vocabulary depends on data not chosen yet' }),
    model: z.record(z.string(), z.union([z.number(), z.string(), z.boolean()])).openapi({
      description: 'The resolved model (engine ModelConfig): preset, overrides, context, vocabulary',
    }),
    machine: MachineInfo,
    warnings: z
      .array(
        z.object({
          kind: z.enum(['memory', 'time']),
          message: z.string(),
          field: z.string().openapi({ description: 'The request field that changes it most' }),
        }),
      )
      .openapi({ description: 'Past the machine’s memory or a day of compute: confirm before starting' }),
  })
  .openapi('ModelEstimate');

const Preset = z
  .object({
    name: z.string(),
    family: z.enum(['gpt2', 'llama']),
    nLayer: z.number().int(),
    nHead: z.number().int(),
    nKvHead: z.number().int(),
    nEmbd: z.number().int(),
    ffnHidden: z.number().int(),
    context: z.number().int(),
    vocabSize: z.number().int().openapi({ description: 'The preset’s; a job uses its tokenizer’s' }),
    bias: z.boolean(),
    tieEmbeddings: z.boolean(),
    dropout: z.number(),
    parameters: z.number().int().openapi({ description: 'At the preset’s vocabulary' }),
  })
  .openapi('ModelPreset');

const PreviewBody = z
  .object({
    finetune: Finetune,
    dataPath: z.string().optional().openapi({ description: 'A JSON/JSONL file of examples on the server' }),
    datasetId: z.string().optional().openapi({ description: 'A svc-data dataset of examples; or dataPath' }),
    datasetVersion: z
      .number()
      .int()
      .min(0)
      .optional()
      .openapi({ description: 'Version of datasetId; 0 or absent: the latest' }),
    config: z
      .object({ context: int(1, 8192, 'Context length in tokens (default 256, capped by the base’s)') })
      .optional()
      .openapi({ description: 'The training setting that changes the rendering' }),
    examples: int(1, 20, 'Examples to render (default 3)'),
  })
  .refine((b) => [b.dataPath, b.datasetId].filter((v) => v !== undefined && v !== '').length === 1, {
    message: 'Give either a data file or a dataset version, not both (exactly one of dataPath or datasetId).',
    path: ['dataPath'],
  });

const PreviewSequence = z.object({
  tokens: z.array(
    z.object({
      text: z.string(),
      id: z.number().int(),
      loss: z.boolean().openapi({ description: 'An answer token: the loss is computed on it' }),
      truncated: z.boolean().openapi({ description: 'Past the context: cut off in training' }),
    }),
  ),
  lossTokens: z.number().int(),
  truncatedTokens: z.number().int(),
  endsWithEos: z
    .boolean()
    .openapi({ description: 'Every answer keeps, within the context, a token generation stops on' }),
});

const FinetunePreview = z
  .object({
    examples: z.array(
      z.object({
        index: z.number().int(),
        sequence: PreviewSequence.openapi({ description: 'SFT: the conversation; DPO: the chosen answer' }),
        rejected: PreviewSequence.optional().openapi({ description: 'DPO: the rejected answer' }),
        chosenText: z.string().optional(),
        rejectedText: z.string().optional(),
      }),
    ),
    totalExamples: z.number().int(),
    truncatedExamples: z.number().int(),
    truncatedTokens: z.number().int(),
    emptyExamples: z
      .number()
      .int()
      .openapi({ description: 'Examples with no answer token within the context' }),
    context: z.number().int(),
    method: z.enum(['sft', 'dpo']),
    template: z.enum(['model', 'default']),
    eos: z.object({
      status: z.enum(['pass', 'warn', 'info']),
      message: z.string(),
      endToken: z.string(),
      stopIds: z.array(z.number().int()),
      stopTokens: z.array(z.string()),
      endingWithEos: z.number().int(),
      sequences: z.number().int(),
      endTokenStops: z.boolean(),
      answerEnd: z.string().openapi({ description: 'What ends an answer when the model has no EOS' }),
    }),
  })
  .openapi('FinetunePreview');

const EosCheckBody = z.object({
  step: int(1, 100_000_000, 'The checkpoint’s step (default: the newest kept)'),
  exportPath: z.string().min(1).max(4096).optional().openapi({
    description:
      'A merged model folder exported from that checkpoint (default: svc-infer exports one to a scratch folder, checked and removed)',
  }),
});

const EosStatus = z.enum(['pass', 'fail']);
const EosSurvival = z
  .object({
    status: z.enum(['pass', 'fail', 'warn', 'info']).openapi({
      description:
        'fail: the checkpoint or the export lost what the base had; warn: the base itself does not stop on it; info: no end-of-turn token',
    }),
    message: z.string(),
    endToken: z.string().openapi({ description: 'The token training ended every answer with' }),
    endId: z.number().int(),
    step: z.number().int(),
    model: z.string().openapi({ description: 'The checkpoint’s serving name, `<job id>@<step>`' }),
    folders: z.array(
      z.object({
        kind: z.enum(['base', 'checkpoint', 'export']),
        path: z.string(),
        status: EosStatus,
        items: z.array(
          z.object({
            name: z.enum([
              'generation_config',
              'tokenizer_config',
              'chat_template',
              'stop_set',
              'generation',
            ]),
            status: EosStatus,
            detail: z.string(),
          }),
        ),
        stopIds: z
          .array(z.number().int())
          .openapi({ description: 'The ids svc-infer stops on for the folder' }),
      }),
    ),
  })
  .openapi('EosSurvival');

const FinetuneEstimateBody = z.object({
  finetune: Finetune,
  config: z
    .object({
      batchSize: int(1, 1024, 'Sequences (DPO: pairs) per micro-batch (default 12)'),
      context: int(1, 8192, 'Context length (default 256, capped by the base’s)'),
      gradAccum: int(1, 1024, 'Micro-batches per step (default 1)'),
      iters: int(1, 10_000_000, 'Optimizer steps (gives totalSeconds)'),
    })
    .optional()
    .openapi({ description: 'Training settings (the model’s shape comes from the base)' }),
});

const FinetuneEstimate = z
  .object({
    baseParameters: z.number().int(),
    trainableParameters: z.number().int(),
    weightsFormat: z.enum(['fp32', 'nf4']),
    memory: z.object({
      weights: z.number().int(),
      adapter: z.number().int(),
      gradients: z.number().int(),
      optimizer: z.number().int(),
      activations: z.number().int(),
      dequantized: z
        .number()
        .int()
        .openapi({ description: 'QLoRA: projections rebuilt in float32 in the graph' }),
      total: z.number().int(),
    }),
    flopsPerToken: z.number(),
    secondsPerStep: z.number(),
    totalSeconds: z.number(),
    tokensPerStep: z.number().int(),
    context: z.number().int(),
    fits: z.array(z.object({ device: z.string(), memoryBytes: z.number(), fits: z.boolean() })),
    warnings: z.array(z.object({ kind: z.enum(['memory', 'time']), message: z.string(), field: z.string() })),
  })
  .openapi('FinetuneEstimate');

export const routes = {
  estimate: createRoute({
    method: 'post',
    path: '/api/train/estimate',
    tags,
    summary: 'Parameters, FLOPs per token, memory and time per step of a model config, before training it',
    request: { body: { required: true, content: { 'application/json': { schema: EstimateBody } } } },
    responses: { 200: json(Estimate, 'Estimate'), ...errors },
  }),
  finetunePreview: createRoute({
    method: 'post',
    path: '/api/train/finetune/preview',
    tags,
    summary:
      'The first examples of a fine-tune rendered as it would train on them (loss tokens, truncation), and the end-of-turn check',
    request: { body: { required: true, content: { 'application/json': { schema: PreviewBody } } } },
    responses: { 200: json(FinetunePreview, 'Preview'), ...errors },
  }),
  eosCheck: createRoute({
    method: 'post',
    path: '/api/train/jobs/{id}/eos-check',
    tags,
    summary:
      'After a fine-tune: whether the end-of-turn token it trained with still stops generation in its merged checkpoint and in an export of it',
    request: {
      ...idParam,
      body: { required: false, content: { 'application/json': { schema: EosCheckBody } } },
    },
    responses: { 200: json(EosSurvival, 'The check'), ...errors },
  }),
  finetuneEstimate: createRoute({
    method: 'post',
    path: '/api/train/finetune/estimate',
    tags,
    summary:
      'Trainable parameters, memory and step time of a fine-tune, with its fit on this machine and a 16 GB GPU',
    request: { body: { required: true, content: { 'application/json': { schema: FinetuneEstimateBody } } } },
    responses: { 200: json(FinetuneEstimate, 'Estimate'), ...errors },
  }),
  presets: createRoute({
    method: 'get',
    path: '/api/train/presets',
    tags,
    summary: 'Model presets with their shapes (layers, heads, width, context, …)',
    responses: { 200: json(z.object({ presets: z.array(Preset) }), 'Presets') },
  }),
  submit: createRoute({
    method: 'post',
    path: '/api/train/jobs',
    tags,
    summary:
      'Queue a training job: pre-training, or fine-tuning a registered model with `finetune`; follow it at /api/train/jobs/{id}/events',
    request: { body: { required: true, content: { 'application/json': { schema: SubmitBody } } } },
    responses: { 201: json(z.object({ id: z.string() }), 'Queued'), ...errors },
  }),
  list: createRoute({
    method: 'get',
    path: '/api/train/jobs',
    tags,
    summary: 'Training jobs, newest first',
    request: {
      query: z.object({
        state: z
          .enum(['queued', 'running', 'paused', 'completed', 'failed', 'cancelled'])
          .optional()
          .openapi({ description: 'Only jobs in this state' }),
        offset: z.coerce.number().int().min(0).default(0),
        limit: z.coerce.number().int().min(1).max(1000).default(100),
      }),
    },
    responses: { 200: json(z.object({ jobs: z.array(TrainJob), total: z.number().int() }), 'Jobs') },
  }),
  get: createRoute({
    method: 'get',
    path: '/api/train/jobs/{id}',
    tags,
    summary: 'One training job',
    request: idParam,
    responses: { 200: json(TrainJob, 'The job'), ...errors },
  }),
  cancel: action('cancel', 'Cancel a queued, running or paused job'),
  pause: action('pause', 'Pause a running job after its current step (writes a checkpoint)'),
  resume: action('resume', 'Queue a paused job again; it continues from its checkpoint'),
  events: createRoute({
    method: 'get',
    path: '/api/train/jobs/{id}/events',
    tags,
    summary:
      'The job’s history, then live step/eval/state events as SSE until it ends; resumable with Last-Event-ID (= seq)',
    request: {
      ...idParam,
      query: z.object({
        after: z.coerce
          .number()
          .int()
          .min(0)
          .optional()
          .openapi({ description: 'Replay events after this seq' }),
      }),
    },
    responses: {
      200: { description: 'text/event-stream', content: { 'text/event-stream': { schema: TrainEvent } } },
      404: json(ErrorBody, 'Unknown job'),
    },
  }),
};

function jobJson(j: Job) {
  return {
    ...j,
    request: (SubmitJobRequest.toJSON(j.request ?? SubmitJobRequest.fromPartial({})) ?? {}) as Record<
      string,
      unknown
    >,
  };
}

/** Only the fields that mean something for the event's kind. */
function eventJson(e: JobEvent) {
  const base = { seq: e.seq, kind: e.kind, step: e.step, state: e.state, time: e.time };
  if (e.kind === 'step')
    return {
      ...base,
      loss: e.loss,
      lr: e.lr,
      gradNorm: e.gradNorm,
      tokensPerSecond: e.tokensPerSecond,
      elapsedSeconds: e.elapsedSeconds,
      ...(e.preference ? { preference: e.preference } : {}),
    };
  if (e.kind === 'eval')
    return {
      ...base,
      valLoss: e.valLoss,
      trainLoss: e.trainLoss,
      perplexity: e.perplexity,
      sample: e.sample,
      elapsedSeconds: e.elapsedSeconds,
      ...(e.preference ? { preference: e.preference } : {}),
      ...(e.induction ? { induction: e.induction } : {}),
    };
  return { ...base, message: e.message };
}

export function trainRoutes(app: OpenAPIHono, services: ServiceClients) {
  const svc = services.train;
  const ctx = () => localCallContext();

  app.openapi(routes.estimate, async (c) => {
    const { model, vocabSize, tokenizer, dataPath, datasetId, datasetVersion, ...config } =
      c.req.valid('json');
    const e = await svc.estimateModel!(
      {
        config: { ...TrainConfigProto.fromPartial(config), modelJson: model ? JSON.stringify(model) : '' },
        vocabSize: vocabSize ?? 0,
        tokenizer: tokenizer ?? '',
        dataPath: dataPath ?? '',
        datasetId: datasetId ?? '',
        datasetVersion: datasetVersion ?? 0,
      },
      ctx(),
    );
    const p = e.parameters!;
    const memory = {
      weights: e.weightsBytes,
      gradients: e.gradientsBytes,
      optimizer: e.optimizerBytes,
      activations: e.activationsBytes,
    };
    return c.json(
      {
        parameters: p,
        flopsPerToken: {
          forward: e.forwardFlopsPerToken,
          backward: e.backwardFlopsPerToken,
          total: e.forwardFlopsPerToken + e.backwardFlopsPerToken,
        },
        memory: {
          ...memory,
          total: memory.weights + memory.gradients + memory.optimizer + memory.activations,
        },
        secondsPerStep: e.secondsPerStep,
        totalSeconds: e.totalSeconds,
        vocabSize: e.vocabSize,
        vocabSource: e.vocabSource as 'request' | 'data' | 'tokenizer' | 'preset',
        model: e.modelJson ? (JSON.parse(e.modelJson) as Record<string, number | string | boolean>) : {},
        machine: e.machine ?? { memoryBytes: 0, availableMemoryBytes: 0, cpus: 0 },
        warnings: e.warnings.map((w) => ({ ...w, kind: w.kind as 'memory' | 'time' })),
      },
      200,
    );
  });

  app.openapi(routes.finetunePreview, async (c) => {
    const b = c.req.valid('json');
    const p = await svc.previewFinetune!(
      {
        job: SubmitJobRequest.fromPartial({
          dataPath: b.dataPath ?? '',
          datasetId: b.datasetId ?? '',
          datasetVersion: b.datasetVersion ?? 0,
          config: { context: b.config?.context ?? 0 },
          finetune: b.finetune,
        }),
        examples: b.examples ?? 0,
      },
      ctx(),
    );
    return c.json(
      {
        ...p,
        examples: p.examples.map((e) => ({
          index: e.index,
          sequence: e.sequence!,
          ...(e.rejected
            ? { rejected: e.rejected, chosenText: e.chosenText, rejectedText: e.rejectedText }
            : {}),
        })),
        method: p.method as 'sft' | 'dpo',
        template: p.template as 'model' | 'default',
        eos: { ...p.eos!, status: p.eos!.status as 'pass' | 'warn' | 'info' },
      },
      200,
    );
  });

  app.openapi(routes.eosCheck, async (c) => {
    const { id } = c.req.valid('param');
    const b = c.req.valid('json') ?? {};
    const r = await svc.checkFinetuneEos!({ id, step: b.step ?? 0, exportPath: b.exportPath ?? '' }, ctx());
    return c.json(r as z.infer<typeof EosSurvival>, 200);
  });

  app.openapi(routes.finetuneEstimate, async (c) => {
    const b = c.req.valid('json');
    const e = await svc.estimateFinetune!(
      {
        finetune: FinetuneConfigProto.fromPartial(b.finetune),
        config: TrainConfigProto.fromPartial(b.config ?? {}),
      },
      ctx(),
    );
    return c.json(
      {
        baseParameters: e.baseParameters,
        trainableParameters: e.trainableParameters,
        weightsFormat: e.weightsFormat as 'fp32' | 'nf4',
        memory: {
          weights: e.weightsBytes,
          adapter: e.adapterBytes,
          gradients: e.gradientsBytes,
          optimizer: e.optimizerBytes,
          activations: e.activationsBytes,
          dequantized: e.dequantizedBytes,
          total: e.totalBytes,
        },
        flopsPerToken: e.flopsPerToken,
        secondsPerStep: e.secondsPerStep,
        totalSeconds: e.totalSeconds,
        tokensPerStep: e.tokensPerStep,
        context: e.context,
        fits: e.fits,
        warnings: e.warnings.map((w) => ({ ...w, kind: w.kind as 'memory' | 'time' })),
      },
      200,
    );
  });

  app.openapi(routes.presets, async (c) => {
    const { presets } = await svc.listPresets!({}, ctx());
    return c.json({ presets: presets.map((p) => ({ ...p, family: p.family as 'gpt2' | 'llama' })) }, 200);
  });

  app.openapi(routes.submit, async (c) => {
    const b = c.req.valid('json');
    const { model, ...config } = b.config;
    const job = await svc.submitJob!(
      SubmitJobRequest.fromPartial({
        name: b.name ?? '',
        dataPath: b.dataPath ?? '',
        datasetId: b.datasetId ?? '',
        datasetVersion: b.datasetVersion ?? 0,
        tokenizer: b.tokenizer ?? '',
        // Over HTTP, 0 means "no sample"; the proto's 0 is "the default", so the flag says it.
        config: {
          ...config,
          modelJson: model ? JSON.stringify(model) : '',
          sampleOff: config.sampleTokens === 0,
        },
        finetune: b.finetune,
        repeatedTokens: b.repeatedTokens,
      }),
      ctx(),
    );
    return c.json({ id: job.id }, 201);
  });

  app.openapi(routes.list, async (c) => {
    const q = c.req.valid('query');
    const res = await svc.listJobs!(
      { state: q.state ?? '', page: { offset: q.offset, limit: q.limit } },
      ctx(),
    );
    return c.json({ jobs: res.jobs.map(jobJson), total: res.total } as never, 200);
  });

  app.openapi(routes.get, async (c) =>
    c.json(jobJson(await svc.getJob!(c.req.valid('param'), ctx())) as never, 200),
  );
  app.openapi(routes.cancel, async (c) =>
    c.json(jobJson(await svc.cancelJob!(c.req.valid('param'), ctx())) as never, 200),
  );
  app.openapi(routes.pause, async (c) =>
    c.json(jobJson(await svc.pauseJob!(c.req.valid('param'), ctx())) as never, 200),
  );
  app.openapi(routes.resume, async (c) =>
    c.json(jobJson(await svc.resumeJob!(c.req.valid('param'), ctx())) as never, 200),
  );

  app.openapi(routes.events, async (c) => {
    const { id } = c.req.valid('param');
    // An unknown job answers 404 as JSON before the stream starts.
    await svc.getJob!({ id }, ctx());
    const afterSeq = resumePoint(c, c.req.valid('query').after) ?? 0;
    return relayStream(
      c,
      (callCtx) => svc.watchJob!({ id, afterSeq }, callCtx),
      (e) => ({ id: String(e.seq), event: e.kind, data: JSON.stringify(eventJson(e)) }),
    ) as never;
  });
}

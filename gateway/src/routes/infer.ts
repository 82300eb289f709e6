import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi';
import { fromServiceError, LabError, loadConfig, localCallContext } from '@lab/common';
import { type GenerateEvent, SamplingParams as ProtoSamplingParams } from '@lab/proto/infer';
import type { Context } from 'hono';
import type { ServiceClients } from '../clients.ts';
import { ErrorBody } from '../errors.ts';
import { float32Numbers } from '../floats.ts';
import { started } from '../relay.ts';
import { sseResponse } from '../sse.ts';
import { archiveName, openModelFiles, tarBytes, tarStream } from '../tar.ts';

const tags = ['infer'];
const json = <T extends z.ZodType>(schema: T, description: string) => ({
  description,
  content: { 'application/json': { schema } },
});
const errors = {
  400: json(ErrorBody, 'Invalid input; `error.field` names it'),
  404: json(ErrorBody, 'Unknown model or conversation'),
  413: json(ErrorBody, 'The model does not fit the memory budget'),
  503: json(ErrorBody, 'Busy: too many generations running and waiting; retry later'),
};
const body = <T extends z.ZodType>(schema: T) => ({
  body: { required: true, content: { 'application/json': { schema } } },
});

const ModelInfo = z
  .object({
    name: z.string(),
    source: z.enum(['registered', 'checkpoint', 'adapter']),
    path: z.string(),
    family: z.string(),
    architecture: z.string(),
    parameters: z.number().int(),
    context: z.number().int(),
    vocabSize: z.number().int(),
    dtype: z.string(),
    loaded: z.boolean(),
    memoryBytes: z.number().int(),
    hasChatTemplate: z.boolean(),
    createdAt: z.string(),
    jobId: z.string(),
    step: z.number().int(),
    valLoss: z.number(),
    tokenizer: z.string(),
    quantize: z
      .string()
      .openapi({ description: 'Weight format decoding uses: "" (float32), "int8" or "int4"' }),
    decoding: z.string().openapi({
      description:
        'How the loaded model decodes a token now: the kernel of its linear layers and the threading, e.g. "lab.engine::Linear avx512, 2 threads"; empty when not loaded',
    }),
  })
  .openapi('InferModel');

const num = (min: number, max: number, description: string) =>
  z.number().min(min).max(max).optional().openapi({ description });
const int = (min: number, max: number, description: string) =>
  z.number().int().min(min).max(max).optional().openapi({ description });

export const SamplingParams = z
  .object({
    maxTokens: int(1, 1_000_000, 'Maximum new tokens per sample (default 128)'),
    temperature: num(0, 100, 'Softmax temperature; 0 = greedy (default 1)'),
    topK: int(0, 10_000_000, 'Keep the k most likely tokens; 0 = off'),
    topP: z.number().gt(0).max(1).optional().openapi({ description: 'Nucleus threshold; 1 = off' }),
    minP: z.number().min(0).lt(1).optional().openapi({ description: 'Keep tokens ≥ minP × the top one' }),
    repetitionPenalty: z.number().gt(0).max(100).optional().openapi({ description: '1 = off' }),
    frequencyPenalty: num(-2, 2, 'OpenAI frequency penalty'),
    presencePenalty: num(-2, 2, 'OpenAI presence penalty'),
    logitBias: z
      .record(z.string().regex(/^\d+$/, 'token ids'), z.number().min(-100).max(100))
      .optional()
      .openapi({ description: 'Token id → bias added to its logit' }),
    stop: z
      .array(z.string().min(1).max(200))
      .max(16)
      .optional()
      .openapi({ description: 'Generation ends before any of these strings; they are never streamed' }),
    seed: int(0, Number.MAX_SAFE_INTEGER, 'Sampler seed: same seed and settings, same text'),
    n: int(1, 8, 'Independent samples'),
    numBeams: int(0, 16, 'Beam search with this many beams (0/1 = off)'),
    lengthPenalty: num(-10, 10, 'Beam score = logprob / length^lengthPenalty'),
    earlyStopping: z.enum(['true', 'false', 'never']).optional().openapi({
      description: 'Beam search: "true", "false" (default) or "never", as Hugging Face defines them',
    }),
    topLogprobs: int(0, 20, 'Alternatives reported per token'),
    echo: z.boolean().optional().openapi({ description: 'Log-probabilities of the prompt tokens too' }),
    trace: z.boolean().optional().openapi({ description: 'Distribution after each sampler stage' }),
    truncate: z.boolean().optional().openapi({ description: 'Cut the prompt from the left to fit' }),
    stopAtEos: z
      .boolean()
      .optional()
      .openapi({ description: 'End at the end-of-sequence token (default true)' }),
  })
  .openapi('SamplingParams', { description: 'How tokens are picked; unset fields take the defaults' });

const Message = z.object({
  role: z.enum(['system', 'user', 'assistant']).openapi({ description: 'A system prompt comes first' }),
  content: z.string().max(1_000_000).openapi({ description: 'The message text' }),
});

const modelName = z
  .string()
  .min(1)
  .max(200)
  .openapi({ description: 'A model of GET /api/infer/models (a registered name or `<job>@<step>`)' });

const GenerateBody = z
  .object({
    model: modelName,
    prompt: z.string().max(4_000_000).optional().openapi({ description: 'A plain prompt; or messages' }),
    messages: z
      .array(Message)
      .max(1000)
      .optional()
      .openapi({ description: "A conversation, rendered with the model's chat template; or prompt" }),
    params: SamplingParams.optional(),
  })
  .openapi('GenerateRequest');

const ChatBody = z
  .object({
    model: modelName,
    messages: z
      .array(Message)
      .min(1)
      .max(1000)
      .openapi({ description: 'The conversation so far, system prompt first when there is one' }),
    params: SamplingParams.optional(),
    conversationId: z
      .string()
      .max(100)
      .optional()
      .openapi({ description: 'Store the exchange into this conversation (default: start a new one)' }),
    ephemeral: z.boolean().optional().openapi({ description: 'Do not store the exchange' }),
  })
  .openapi('ChatRequest');

const Preflight = z
  .object({
    rendered: z.string(),
    tokens: z.array(
      z.object({ id: z.number(), text: z.string(), special: z.boolean(), logprob: z.number() }),
    ),
    promptTokens: z.number(),
    context: z.number(),
    available: z.number(),
    truncatedTokens: z.number(),
    truncatedText: z.string(),
    template: z.string(),
    problem: z.string(),
  })
  .openapi('Preflight');

const Conversation = z
  .object({
    id: z.string(),
    title: z.string(),
    model: z.string(),
    messages: z.array(Message),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .openapi('Conversation');

const SavedPrompt = z
  .object({ name: z.string(), kind: z.enum(['system', 'user']), text: z.string(), updatedAt: z.string() })
  .openapi('SavedPrompt');

const nameParam = { params: z.object({ name: z.string().min(1).max(200) }) };
const idParam = { params: z.object({ id: z.string().min(1).max(100) }) };
const sse = (description: string) => ({
  200: { description, content: { 'text/event-stream': { schema: z.string() } } },
  ...errors,
});

export const routes = {
  list: createRoute({
    method: 'get',
    path: '/api/infer/models',
    tags,
    summary:
      'Models it can serve: registered models, registered adapters (each with its base), and the checkpoints of training jobs (`<job>@<step>`)',
    responses: { 200: json(z.object({ models: z.array(ModelInfo) }), 'Models') },
  }),
  import: createRoute({
    method: 'post',
    path: '/api/infer/models',
    tags,
    summary: 'Register a model directory (lab checkpoint or Hugging Face folder) under a name',
    request: body(
      z.object({
        name: z.string().min(1).max(100).openapi({
          description:
            "Name to serve it under: letters, digits, '.', '_', '-' (no '@', which marks checkpoints)",
        }),
        path: z.string().min(1).max(4096).openapi({
          description:
            'A folder on the machine running svc-infer: config.json and safetensors (and tokenizer files)',
        }),
        quantize: z.enum(['int8', 'int4']).optional().openapi({
          description: 'Decode with 8- or 4-bit linear weights (quantised at load); default float32',
        }),
      }),
    ),
    responses: { 201: json(ModelInfo, 'Registered'), 409: json(ErrorBody, 'Name taken'), ...errors },
  }),
  get: createRoute({
    method: 'get',
    path: '/api/infer/models/{name}',
    tags,
    summary: 'One model',
    request: nameParam,
    responses: { 200: json(ModelInfo, 'The model'), ...errors },
  }),
  remove: createRoute({
    method: 'delete',
    path: '/api/infer/models/{name}',
    tags,
    summary: 'Remove a registered model from the registry (its files stay)',
    request: nameParam,
    responses: { 200: json(ModelInfo, 'Removed'), 409: json(ErrorBody, 'A checkpoint'), ...errors },
  }),
  download: createRoute({
    method: 'get',
    path: '/api/infer/models/{name}/download',
    tags,
    summary:
      'The model’s Hugging Face folder as a .tar (`<name>/config.json`, `model.safetensors`, tokenizer and generation files, `onnx/`); resume state (optimizer, trainer_state.json, manifest.json) left out',
    request: nameParam,
    responses: {
      200: { description: 'POSIX ustar archive', content: { 'application/x-tar': { schema: z.string() } } },
      ...errors,
    },
  }),
  unload: createRoute({
    method: 'post',
    path: '/api/infer/models/{name}/unload',
    tags,
    summary: 'Free a loaded model’s memory now',
    request: nameParam,
    responses: { 200: json(ModelInfo, 'The model'), ...errors },
  }),
  preflight: createRoute({
    method: 'post',
    path: '/api/infer/preflight',
    tags,
    summary: 'The exact prompt a request would run: rendered text, tokens, context use, truncation',
    request: body(GenerateBody),
    responses: { 200: json(Preflight, 'Preflight'), ...errors },
  }),
  generate: createRoute({
    method: 'post',
    path: '/api/infer/generate',
    tags,
    summary: 'Generate: SSE events `preflight`, `token` (one per token), `done` (per sample), `error`',
    request: body(GenerateBody),
    responses: sse('Token stream'),
  }),
  chat: createRoute({
    method: 'post',
    path: '/api/infer/chat',
    tags,
    summary: 'Chat with the model’s template; stores the conversation; SSE like /api/infer/generate',
    request: body(ChatBody),
    responses: sse('Token stream'),
  }),
  conversations: createRoute({
    method: 'get',
    path: '/api/infer/conversations',
    tags,
    summary: 'Stored conversations, newest first (without messages)',
    responses: { 200: json(z.object({ conversations: z.array(Conversation) }), 'Conversations') },
  }),
  conversation: createRoute({
    method: 'get',
    path: '/api/infer/conversations/{id}',
    tags,
    summary: 'One conversation with its messages (export as JSON)',
    request: idParam,
    responses: { 200: json(Conversation, 'Conversation'), ...errors },
  }),
  rename: createRoute({
    method: 'patch',
    path: '/api/infer/conversations/{id}',
    tags,
    summary: 'Rename a conversation',
    request: {
      ...idParam,
      ...body(z.object({ title: z.string().min(1).max(200).openapi({ description: 'The new title' }) })),
    },
    responses: { 200: json(Conversation, 'Conversation'), ...errors },
  }),
  deleteConversation: createRoute({
    method: 'delete',
    path: '/api/infer/conversations/{id}',
    tags,
    summary: 'Delete a conversation',
    request: idParam,
    responses: { 200: json(Conversation, 'Deleted'), ...errors },
  }),
  prompts: createRoute({
    method: 'get',
    path: '/api/infer/prompts',
    tags,
    summary: 'Saved prompts',
    responses: { 200: json(z.object({ prompts: z.array(SavedPrompt) }), 'Prompts') },
  }),
  savePrompt: createRoute({
    method: 'put',
    path: '/api/infer/prompts/{name}',
    tags,
    summary: 'Save a prompt (system prompt or template) under a name',
    request: {
      ...nameParam,
      ...body(
        z.object({
          kind: z
            .enum(['system', 'user'])
            .openapi({ description: 'system (a system prompt) or user (a prompt template)' }),
          text: z.string().min(1).max(100_000).openapi({ description: 'The prompt' }),
        }),
      ),
    },
    responses: { 200: json(SavedPrompt, 'Saved'), ...errors },
  }),
  deletePrompt: createRoute({
    method: 'delete',
    path: '/api/infer/prompts/{name}',
    tags,
    summary: 'Delete a saved prompt',
    request: nameParam,
    responses: { 200: json(SavedPrompt, 'Deleted'), ...errors },
  }),
};

const TraceSource = {
  model: modelName,
  text: z
    .string()
    .max(4_000_000)
    .optional()
    .openapi({ description: 'Text to run (one of text, tokens, randomRepeat)' }),
  tokens: z
    .array(
      z
        .number()
        .int()
        .min(0)
        .max(2 ** 32 - 1),
    )
    .max(1_000_000)
    .optional()
    .openapi({ description: 'Token ids instead of text' }),
};

const TraceBody = z
  .object({
    ...TraceSource,
    randomRepeat: int(
      0,
      100_000,
      'Instead of text: this many random tokens, then the same again (induction test)',
    ),
    seed: int(0, 2 ** 32 - 1, 'Seed of the random tokens'),
    topK: int(0, 50, 'Logit-lens tokens per position (default 5)'),
    layers: z.array(z.number().int().min(0).max(10_000)).max(10_000).optional().openapi({
      description: 'Layers whose attention comes back (default all): fetch large traces per layer',
    }),
    attention: z.boolean().optional().openapi({ description: 'false: the summary only, no attention' }),
    lens: z
      .boolean()
      .optional()
      .openapi({
        description:
          'false: skip the logit lens of the intermediate residual streams (the last one, which gives the loss, ' +
          'is always there): most of a trace’s time goes to unembedding every stream',
      }),
    encoding: z
      .enum(['float', 'base64'])
      .optional()
      .openapi({
        description:
          'How attention weights come back: "float" (default) as `weights`, a JSON array of numbers; "base64" as ' +
          '`weightsBase64`, the float32 little-endian bytes in base64: a quarter of the text, and no number ' +
          "to parse per weight (a 12×12-head model's trace of 128 tokens holds 2.4 M weights)",
      }),
  })
  .openapi('TraceRequest');

const Lens = z.object({
  ids: z.array(z.number()),
  texts: z.array(z.string()),
  probs: z.array(z.number()),
  targetProb: z.number(),
});

const TraceSummary = z
  .object({
    model: z.string(),
    tokens: Preflight.shape.tokens,
    loss: z.array(z.number()),
    meanLoss: z.number(),
    layers: z.number(),
    heads: z.number(),
    streams: z.array(
      z.object({
        layer: z.number(),
        residNorm: z.array(z.number()),
        attnNorm: z.array(z.number()),
        mlpNorm: z.array(z.number()),
        lens: z.array(Lens),
      }),
    ),
    scores: z.array(
      z.object({
        layer: z.number(),
        head: z.number(),
        previous: z.number(),
        first: z.number(),
        duplicate: z.number(),
        induction: z.number(),
      }),
    ),
    duplicateRows: z.number(),
    inductionRows: z.number(),
    topK: z.number(),
  })
  .openapi('TraceSummary');

const LayerAttention = z
  .object({
    layer: z.number(),
    heads: z.number(),
    tokens: z.number(),
    weights: z
      .array(z.number())
      .optional()
      .openapi({ description: '[heads, tokens (query), tokens (key)] row-major (encoding "float")' }),
    weightsBase64: z
      .string()
      .optional()
      .openapi({ description: 'The same values as float32 little-endian bytes, base64 (encoding "base64")' }),
  })
  .openapi('LayerAttention');

const AblateBody = z
  .object({
    ...TraceSource,
    components: z
      .array(
        z.object({
          layer: z.number().int().min(0).max(10_000).openapi({ description: 'Layer, from 0' }),
          head: z
            .number()
            .int()
            .min(0)
            .max(10_000)
            .optional()
            .openapi({ description: 'A head of the layer' }),
          mlp: z.boolean().optional().openapi({ description: "The layer's MLP instead of a head" }),
        }),
      )
      .min(1)
      .max(10_000)
      .openapi({ description: 'The heads and MLPs to ablate' }),
    mode: z.enum(['zero', 'mean']).openapi({
      description: "zero (output removed) or mean (output replaced by its mean over the text's positions)",
    }),
  })
  .openapi('AblateRequest');

const AblateResult = z
  .object({
    tokens: Preflight.shape.tokens,
    baseLoss: z.array(z.number()),
    ablatedLoss: z.array(z.number()),
    delta: z.array(z.number()),
    baseMean: z.number(),
    ablatedMean: z.number(),
  })
  .openapi('AblateResult');

export const traceRoutes = {
  trace: createRoute({
    method: 'post',
    path: '/api/infer/trace',
    tags,
    summary:
      'Trace a text: per layer and head the attention weights, residual-stream norms, the logit lens, loss per token and head-pattern scores',
    request: body(TraceBody),
    responses: {
      200: json(z.object({ summary: TraceSummary, attention: z.array(LayerAttention) }), 'The trace'),
      ...errors,
    },
  }),
  activations: createRoute({
    method: 'post',
    path: '/api/infer/trace/activations',
    tags,
    summary:
      'A trace’s activations (residual stream, attention and MLP outputs, attention, logits) as safetensors',
    // The file holds no logit lens and no JSON weights: the options for those are not offered.
    request: body(TraceBody.omit({ lens: true, encoding: true }).openapi('ActivationsRequest')),
    responses: {
      200: {
        description: 'safetensors file',
        content: { 'application/octet-stream': { schema: z.string() } },
      },
      ...errors,
    },
  }),
  ablate: createRoute({
    method: 'post',
    path: '/api/infer/ablate',
    tags,
    summary: 'Loss per token with heads or MLPs zero- or mean-ablated, beside the model as it is',
    request: body(AblateBody),
    responses: { 200: json(AblateResult, 'Losses'), ...errors },
  }),
};

const tokenIds = TraceSource.tokens;

const PatchBody = z
  .object({
    model: modelName,
    clean: z.string().max(1_000_000).optional().openapi({ description: 'The clean prompt (or cleanTokens)' }),
    corrupted: z
      .string()
      .max(1_000_000)
      .optional()
      .openapi({ description: 'The corrupted prompt, as many tokens as the clean one (or corruptedTokens)' }),
    cleanTokens: tokenIds.openapi({ description: 'The clean prompt as token ids' }),
    corruptedTokens: tokenIds.openapi({ description: 'The corrupted prompt as token ids' }),
    target: z
      .string()
      .max(1000)
      .optional()
      .openapi({ description: 'Token (text of one token) that should win' }),
    foil: z.string().max(1000).optional().openapi({ description: 'Token it is compared with' }),
    targetId: int(0, 2 ** 32 - 1, 'The target as an id (when target is not given)'),
    foilId: int(0, 2 ** 32 - 1, 'The foil as an id (when foil is not given)'),
    streams: z.array(z.number().int().min(0).max(10_000)).max(10_000).optional().openapi({
      description: 'Residual streams to patch, 0 (embeddings) to layers (after the last); default all',
    }),
    positions: z
      .array(z.number().int().min(0).max(1_000_000))
      .max(1_000_000)
      .optional()
      .openapi({ description: 'Positions to patch; default all' }),
    at: int(0, 1_000_000, 'Position whose logits are compared (default the last)'),
  })
  .openapi('PatchRequest');

const PatchResult = z
  .object({
    cleanTokens: Preflight.shape.tokens,
    corruptedTokens: Preflight.shape.tokens,
    targetId: z.number(),
    targetText: z.string(),
    foilId: z.number(),
    foilText: z.string(),
    at: z.number(),
    cleanDiff: z.number(),
    corruptedDiff: z.number(),
    streams: z.array(z.number()),
    positions: z.array(z.number()),
    patched: z.array(z.number()).openapi({ description: '[streams × positions] logit differences' }),
    restored: z.array(z.number()).openapi({ description: '(patched − corrupted) / (clean − corrupted)' }),
  })
  .openapi('PatchResult');

const ProbeBody = z
  .object({
    ...TraceSource,
    label: z.enum(['next_vowel', 'vowel']).optional().openapi({
      description: 'Built-in label: the next token (character) starts with a vowel, or this one does',
    }),
    labels: z
      .array(z.number().int().min(-1).max(255))
      .max(1_000_000)
      .optional()
      .openapi({ description: 'One class per token instead (−1 leaves a token out)' }),
    trainFraction: z.number().gt(0).lt(1).optional().openapi({ description: 'Train split (default 0.8)' }),
    seed: int(0, 2 ** 32 - 1, 'Seeds the split and the control'),
    control: z.boolean().optional().openapi({ description: 'Also fit on shuffled labels' }),
    datasetId: z.string().max(200).optional().openapi({
      description:
        'Instead of text or tokens: a svc-data dataset whose documents are the examples, one per document',
    }),
    datasetVersion: int(0, 2 ** 32 - 1, 'Its version (0 or absent: the latest)'),
    labelField: z.string().max(200).optional().openapi({
      description:
        'With datasetId: the document field holding each class (a JSONL/JSON/CSV field kept at ingest); its values are the class names',
    }),
    textField: z.string().max(200).optional().openapi({
      description: 'With datasetId: a document field to run instead of the document’s text',
    }),
    maxDocuments: int(1, 5000, 'With datasetId: read at most this many documents, in order (default 1000)'),
    pool: z.enum(['last', 'mean']).optional().openapi({
      description:
        'With datasetId: a document’s vector is its last token’s residual (default: the only position that has read all of it) or the mean over its tokens',
    }),
  })
  .openapi('ProbeRequest');

const ProbeResult = z
  .object({
    tokens: z.number(),
    train: z.number(),
    test: z.number(),
    classes: z.number(),
    baseline: z.number(),
    layers: z.array(
      z.object({
        stream: z.number(),
        accuracy: z.number(),
        trainAccuracy: z.number(),
        control: z.number(),
      }),
    ),
    classCounts: z.array(z.number()).openapi({ description: 'Examples per class (tokens, or documents)' }),
    classNames: z
      .array(z.string())
      .openapi({ description: 'A dataset probe’s class names in class order (empty for token labels)' }),
    documents: z.number().openapi({ description: 'Documents probed (0 for a text)' }),
    truncated: z.number().openapi({ description: 'Of them, documents cut to the model’s context' }),
    pool: z.string().openapi({ description: '"last" or "mean" for a dataset probe, empty for a text' }),
  })
  .openapi('ProbeResult');

const AdapterInfo = z
  .object({
    name: z.string(),
    base: z.string(),
    source: z.enum(['imported', 'merged', 'checkpoint']),
    path: z.string(),
    rank: z.number().int(),
    alpha: z.number(),
    dropout: z.number(),
    targets: z.array(z.string()),
    parameters: z.number().int(),
    createdAt: z.string(),
    jobId: z.string(),
    jobName: z.string(),
    step: z.number().int(),
    dataset: z.string(),
    method: z.string(),
    adapter: z.string(),
    mergedFrom: z.array(z.string()),
    mergeMethod: z.string(),
  })
  .openapi('InferAdapter');

const ExportBody = z.object({
  path: z.string().min(1).max(4096).openapi({
    description: 'Destination folder on the service machine (absent or empty; under the data roots)',
  }),
});
const ExportResult = z
  .object({ path: z.string(), files: z.array(z.string()), bytes: z.number().int() })
  .openapi('InferExport');

const MergeFidelity = z
  .object({
    positions: z.number().int(),
    klMean: z.number(),
    klMax: z.number(),
    top1Agreement: z.number(),
    maxLogitDiff: z.number(),
    text: z.string(),
  })
  .openapi('MergeFidelity');

export const adapterRoutes = {
  list: createRoute({
    method: 'get',
    path: '/api/infer/adapters',
    tags,
    summary: 'Registered adapters and those of LoRA checkpoints (`<job>@<step>`), with lineage',
    request: {
      query: z.object({
        base: z.string().max(200).optional().openapi({ description: 'Only the adapters of this base model' }),
      }),
    },
    responses: { 200: json(z.object({ adapters: z.array(AdapterInfo) }), 'Adapters') },
  }),
  import: createRoute({
    method: 'post',
    path: '/api/infer/adapters',
    tags,
    summary: 'Register a PEFT LoRA folder as an adapter of a base model; its name then serves base + adapter',
    request: body(
      z.object({
        name: z.string().min(1).max(100).openapi({ description: 'Name to serve base + adapter under' }),
        path: z
          .string()
          .min(1)
          .max(4096)
          .openapi({ description: 'A PEFT LoRA folder on the machine running svc-infer' }),
        base: z.string().min(1).max(200).openapi({ description: 'The registered model it adapts' }),
      }),
    ),
    responses: { 201: json(AdapterInfo, 'Registered'), 409: json(ErrorBody, 'Name taken'), ...errors },
  }),
  merge: createRoute({
    method: 'post',
    path: '/api/infer/adapters/merge',
    tags,
    summary: 'Merge adapters of one base (linear, TIES, DARE); registers the result; fidelity report',
    request: body(
      z.object({
        name: z
          .string()
          .min(1)
          .max(100)
          .openapi({ description: 'Name of the result (a model, or an adapter with asAdapter)' }),
        base: z.string().min(1).max(200).openapi({ description: 'The base model every adapter belongs to' }),
        adapters: z
          .array(
            z.object({
              name: z.string().min(1).max(200).openapi({ description: 'An adapter of base' }),
              weight: z.number().min(-100).max(100).openapi({ description: 'Its weight in the merge' }),
            }),
          )
          .min(1)
          .max(16)
          .openapi({ description: 'The adapters and their weights' }),
        method: z.enum(['linear', 'ties', 'dare_linear', 'dare_ties']).openapi({
          description: 'linear (weighted sum of deltas), ties, dare_linear or dare_ties (PEFT’s merge_utils)',
        }),
        density: z.number().gt(0).max(1).optional().openapi({
          description:
            'Fraction of each delta kept by TIES’s trim and DARE’s drop (default 1 for linear, 0.5 else)',
        }),
        seed: z
          .number()
          .int()
          .min(0)
          .max(Number.MAX_SAFE_INTEGER)
          .optional()
          .openapi({ description: 'Seed of DARE’s random drop (default 0)' }),
        asAdapter: z.boolean().optional().openapi({
          description:
            'Linear merges of adapters with equal rank and targets: keep the result as an adapter (A and B merged separately, so not exact)',
        }),
      }),
    ),
    responses: {
      201: json(
        z.object({ model: ModelInfo, adapter: AdapterInfo.optional(), fidelity: MergeFidelity }),
        'Merged and registered',
      ),
      409: json(ErrorBody, 'Name taken'),
      ...errors,
    },
  }),
  get: createRoute({
    method: 'get',
    path: '/api/infer/adapters/{name}',
    tags,
    summary: 'One adapter',
    request: nameParam,
    responses: { 200: json(AdapterInfo, 'The adapter'), ...errors },
  }),
  remove: createRoute({
    method: 'delete',
    path: '/api/infer/adapters/{name}',
    tags,
    summary: 'Remove a registered adapter (the folder it was imported from stays)',
    request: nameParam,
    responses: { 200: json(AdapterInfo, 'Removed'), 409: json(ErrorBody, 'A checkpoint'), ...errors },
  }),
  export: createRoute({
    method: 'post',
    path: '/api/infer/adapters/{name}/export',
    tags,
    summary: 'Write an adapter as a PEFT folder (adapter_config.json + adapter_model.safetensors)',
    request: { ...nameParam, ...body(ExportBody) },
    responses: {
      200: json(ExportResult, 'Written'),
      403: json(ErrorBody, 'Outside the data roots'),
      ...errors,
    },
  }),
  exportModel: createRoute({
    method: 'post',
    path: '/api/infer/models/{name}/export',
    tags,
    summary: 'Write a model (an adapter merged into its base too) as a Hugging Face folder',
    request: { ...nameParam, ...body(ExportBody) },
    responses: {
      200: json(ExportResult, 'Written'),
      403: json(ErrorBody, 'Outside the data roots'),
      ...errors,
    },
  }),
};

export const experimentRoutes = {
  patch: createRoute({
    method: 'post',
    path: '/api/infer/patch',
    tags,
    summary:
      'Activation patching: the clean run’s residual stream patched into the corrupted run one stream position at a time, with the logit difference of two tokens',
    request: body(PatchBody),
    responses: { 200: json(PatchResult, 'Logit differences'), ...errors },
  }),
  probe: createRoute({
    method: 'post',
    path: '/api/infer/probe',
    tags,
    summary: 'Linear probes: held-out accuracy of a logistic-regression probe per residual stream',
    request: body(ProbeBody),
    responses: { 200: json(ProbeResult, 'Accuracy per stream'), ...errors },
  }),
};

/** The lab's data roots: a symlink in a model folder is followed only into them (or within the folder). */
function dataRoots(): string[] {
  try {
    return loadConfig().dataRoots ?? [];
  } catch {
    return [];
  }
}

type TraceJson = z.infer<typeof TraceBody>;

/** The JSON body as the proto's TraceRequest. */
function toTraceRequest(b: TraceJson) {
  return {
    model: b.model,
    text: b.text ?? '',
    tokens: b.tokens ?? [],
    randomRepeat: b.randomRepeat ?? 0,
    seed: b.seed ?? 0,
    topK: b.topK ?? 0,
    attentionLayers: b.layers ?? [],
    skipAttention: b.attention === false,
    skipLens: b.lens === false,
  };
}

type Params = z.infer<typeof SamplingParams>;

/** JSON params → the proto's SamplingParams (unset stays unset: the service applies the defaults). */
export function toProtoParams(p: Params | undefined): ProtoSamplingParams {
  return ProtoSamplingParams.fromPartial(p ?? {});
}

/**
 * Streams generation events as SSE. The first event is awaited before the response starts, so bad input
 * is a 400 with a JSON body; a client that goes away cancels the gRPC call, which stops the generation.
 */
export async function streamGeneration(
  c: Context,
  open: (signal: AbortSignal) => AsyncIterable<GenerateEvent>,
) {
  const controller = new AbortController();
  const call = open(controller.signal);
  const cancel = () => {
    controller.abort();
    (call as { cancel?: () => void }).cancel?.();
  };
  const events = await started(call);
  return sseResponse(c, 15_000, async (stream, aborted) => {
    void aborted.then(cancel);
    try {
      for await (const e of events) {
        if (!e.event) continue;
        await stream.writeSSE({ event: e.event.$case, data: JSON.stringify(e.event.value) });
      }
    } catch (err) {
      if (!controller.signal.aborted) {
        const lab = fromServiceError(err);
        await stream
          .writeSSE({ event: 'error', data: JSON.stringify({ error: lab.toJSON() }) })
          .catch(() => {});
      }
    }
  });
}

export function inferRoutes(app: OpenAPIHono, services: ServiceClients) {
  const svc = services.infer;
  const ctx = (signal?: AbortSignal) => localCallContext(signal);

  app.openapi(routes.list, async (c) => c.json(await svc.listModels!({}, ctx()), 200) as never);
  app.openapi(routes.import, async (c) => {
    const req = c.req.valid('json');
    return c.json(await svc.importModel!({ ...req, quantize: req.quantize ?? '' }, ctx()), 201) as never;
  });
  app.openapi(
    routes.get,
    async (c) => c.json(await svc.getModel!(c.req.valid('param'), ctx()), 200) as never,
  );
  app.openapi(
    routes.remove,
    async (c) => c.json(await svc.deleteModel!(c.req.valid('param'), ctx()), 200) as never,
  );
  app.openapi(routes.download, async (c) => {
    const { name } = c.req.valid('param');
    // svc-infer names the folder (NOT_FOUND for an unknown name); the client never gives a path.
    const model = await svc.getModel!({ name }, ctx());
    const top = archiveName(model.name);
    let files: Awaited<ReturnType<typeof openModelFiles>>;
    try {
      files = await openModelFiles(model.path, top, dataRoots());
    } catch (err) {
      throw new LabError(
        'NOT_FOUND',
        `name: the folder of model "${name}" cannot be read (${(err as Error).message})`,
        'name',
      );
    }
    if (!files.some((f) => f.name === `${top}/config.json`)) {
      await Promise.all(files.map((f) => f.handle.close()));
      throw new LabError(
        'FAILED_PRECONDITION',
        `name: the folder of model "${name}" has no config.json`,
        'name',
      );
    }
    return new Response(tarStream(files), {
      status: 200,
      headers: {
        'content-type': 'application/x-tar',
        'content-length': String(tarBytes(files)),
        'content-disposition': `attachment; filename="${top}.tar"`,
        'cache-control': 'no-store',
      },
    }) as never;
  });
  app.openapi(
    routes.unload,
    async (c) => c.json(await svc.unloadModel!(c.req.valid('param'), ctx()), 200) as never,
  );

  app.openapi(routes.preflight, async (c) => {
    const b = c.req.valid('json');
    const res = await svc.preflight!(
      { model: b.model, prompt: b.prompt ?? '', messages: b.messages ?? [], params: toProtoParams(b.params) },
      ctx(),
    );
    return c.json(res, 200) as never;
  });

  app.openapi(routes.generate, async (c) => {
    const b = c.req.valid('json');
    return (await streamGeneration(c, (signal) =>
      svc.generate!(
        {
          model: b.model,
          prompt: b.prompt ?? '',
          messages: b.messages ?? [],
          params: toProtoParams(b.params),
        },
        ctx(signal),
      ),
    )) as never;
  });

  app.openapi(routes.chat, async (c) => {
    const b = c.req.valid('json');
    return (await streamGeneration(c, (signal) =>
      svc.chat!(
        {
          model: b.model,
          messages: b.messages,
          params: toProtoParams(b.params),
          conversationId: b.conversationId ?? '',
          ephemeral: b.ephemeral ?? false,
        },
        ctx(signal),
      ),
    )) as never;
  });

  app.openapi(
    routes.conversations,
    async (c) => c.json(await svc.listConversations!({}, ctx()), 200) as never,
  );
  app.openapi(
    routes.conversation,
    async (c) => c.json(await svc.getConversation!(c.req.valid('param'), ctx()), 200) as never,
  );
  app.openapi(routes.rename, async (c) => {
    const { id } = c.req.valid('param');
    return c.json(
      await svc.renameConversation!({ id, title: c.req.valid('json').title }, ctx()),
      200,
    ) as never;
  });
  app.openapi(
    routes.deleteConversation,
    async (c) => c.json(await svc.deleteConversation!(c.req.valid('param'), ctx()), 200) as never,
  );
  app.openapi(routes.prompts, async (c) => c.json(await svc.listPrompts!({}, ctx()), 200) as never);
  app.openapi(routes.savePrompt, async (c) => {
    const { name } = c.req.valid('param');
    const b = c.req.valid('json');
    return c.json(
      await svc.savePrompt!({ name, kind: b.kind, text: b.text, updatedAt: '' }, ctx()),
      200,
    ) as never;
  });
  app.openapi(
    routes.deletePrompt,
    async (c) => c.json(await svc.deletePrompt!(c.req.valid('param'), ctx()), 200) as never,
  );

  app.openapi(traceRoutes.trace, async (c) => {
    const body = c.req.valid('json');
    const summary: unknown[] = [];
    const attention: unknown[] = [];
    for await (const e of svc.trace!(toTraceRequest(body), ctx(c.req.raw.signal))) {
      if (e.event?.$case === 'summary') summary.push(e.event.value);
      else if (e.event?.$case === 'attention') {
        const { weights, ...layer } = e.event.value;
        attention.push(
          body.encoding === 'base64'
            ? {
                ...layer,
                weightsBase64: Buffer.from(weights.buffer, weights.byteOffset, weights.byteLength).toString(
                  'base64',
                ),
              }
            : { ...layer, weights: float32Numbers(weights) },
        );
      }
    }
    return c.json({ summary: summary[0], attention }, 200) as never;
  });
  app.openapi(traceRoutes.activations, async (c) => {
    const chunks: Uint8Array[] = [];
    for await (const e of svc.exportActivations!(toTraceRequest(c.req.valid('json')), ctx(c.req.raw.signal)))
      chunks.push(e.data);
    return c.body(Buffer.concat(chunks), 200, {
      'content-type': 'application/octet-stream',
      'content-disposition': 'attachment; filename="activations.safetensors"',
    }) as never;
  });
  app.openapi(traceRoutes.ablate, async (c) => {
    const b = c.req.valid('json');
    const res = await svc.ablate!(
      {
        model: b.model,
        text: b.text ?? '',
        tokens: b.tokens ?? [],
        components: b.components.map((x) => ({ layer: x.layer, head: x.head ?? 0, mlp: x.mlp ?? false })),
        mode: b.mode,
      },
      ctx(c.req.raw.signal),
    );
    return c.json(res, 200) as never;
  });

  app.openapi(experimentRoutes.patch, async (c) => {
    const b = c.req.valid('json');
    const res = await svc.patch!(
      {
        model: b.model,
        clean: b.clean ?? '',
        corrupted: b.corrupted ?? '',
        cleanTokens: b.cleanTokens ?? [],
        corruptedTokens: b.corruptedTokens ?? [],
        target: b.target ?? '',
        foil: b.foil ?? '',
        targetId: b.targetId,
        foilId: b.foilId,
        streams: b.streams ?? [],
        positions: b.positions ?? [],
        at: b.at,
      },
      ctx(c.req.raw.signal),
    );
    return c.json(res, 200) as never;
  });
  app.openapi(experimentRoutes.probe, async (c) => {
    const b = c.req.valid('json');
    const res = await svc.probe!(
      {
        model: b.model,
        text: b.text ?? '',
        tokens: b.tokens ?? [],
        label: b.label ?? '',
        labels: b.labels ?? [],
        trainFraction: b.trainFraction,
        seed: b.seed ?? 0,
        control: b.control ?? false,
        datasetId: b.datasetId ?? '',
        datasetVersion: b.datasetVersion ?? 0,
        labelField: b.labelField ?? '',
        textField: b.textField ?? '',
        maxDocuments: b.maxDocuments ?? 0,
        pool: b.pool ?? '',
      },
      ctx(c.req.raw.signal),
    );
    return c.json(res, 200) as never;
  });

  app.openapi(adapterRoutes.list, async (c) => {
    const { base } = c.req.valid('query');
    return c.json(await svc.listAdapters!({ base: base ?? '' }, ctx()), 200) as never;
  });
  app.openapi(
    adapterRoutes.import,
    async (c) => c.json(await svc.importAdapter!(c.req.valid('json'), ctx()), 201) as never,
  );
  app.openapi(adapterRoutes.merge, async (c) => {
    const b = c.req.valid('json');
    const res = await svc.mergeAdapters!(
      {
        name: b.name,
        base: b.base,
        adapters: b.adapters,
        method: b.method,
        density: b.density,
        seed: b.seed ?? 0,
        asAdapter: b.asAdapter ?? false,
      },
      ctx(c.req.raw.signal),
    );
    return c.json(res, 201) as never;
  });
  app.openapi(
    adapterRoutes.get,
    async (c) => c.json(await svc.getAdapter!(c.req.valid('param'), ctx()), 200) as never,
  );
  app.openapi(
    adapterRoutes.remove,
    async (c) => c.json(await svc.deleteAdapter!(c.req.valid('param'), ctx()), 200) as never,
  );
  app.openapi(adapterRoutes.export, async (c) => {
    const { name } = c.req.valid('param');
    return c.json(await svc.exportAdapter!({ name, path: c.req.valid('json').path }, ctx()), 200) as never;
  });
  app.openapi(adapterRoutes.exportModel, async (c) => {
    const { name } = c.req.valid('param');
    return c.json(await svc.exportModel!({ name, path: c.req.valid('json').path }, ctx()), 200) as never;
  });
}

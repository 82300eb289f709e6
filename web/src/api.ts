// Small typed client for the gateway's HTTP/JSON API. All URLs are relative (`/api/...`): in production the
// gateway serves this UI itself, and in development the Vite dev server proxies /api to the gateway.

/** The gateway's error body: `{"error": {"code": "INVALID_ARGUMENT", "message": "...", "field": "..."}}`. */
export interface ApiErrorBody {
  code: string;
  message: string;
  field?: string;
}

export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly field?: string;

  constructor(status: number, body: ApiErrorBody) {
    super(body.message);
    this.name = 'ApiError';
    this.status = status;
    this.code = body.code;
    this.field = body.field;
  }

  /** A sentence for a learner: what went wrong and, where known, which field. */
  describe(): string {
    if (this.status === 404 && (this.code === 'NOT_FOUND_ROUTE' || /^no route/i.test(this.message))) {
      return `This gateway endpoint does not exist yet (HTTP 404: ${this.message}).`;
    }
    const named = this.field && !this.message.startsWith(`${this.field}:`);
    const where = named ? ` (field "${this.field}")` : '';
    return `${this.message}${where}`;
  }
}

async function parseError(res: Response): Promise<ApiError> {
  let body: ApiErrorBody = { code: `HTTP_${res.status}`, message: `${res.status} ${res.statusText}`.trim() };
  try {
    const text = await res.text();
    if (text) {
      try {
        const json = JSON.parse(text) as { error?: Partial<ApiErrorBody> };
        if (json && typeof json.error === 'object' && json.error) {
          body = {
            code: json.error.code ?? body.code,
            message: json.error.message ?? body.message,
            field: json.error.field,
          };
        } else {
          body.message = `${body.message}: ${text.slice(0, 200)}`;
        }
      } catch {
        if (res.status === 404) body = { code: 'NOT_FOUND_ROUTE', message: 'Not found' };
        else body.message = `${body.message}: ${text.slice(0, 200)}`;
      }
    } else if (res.status === 404) {
      body = { code: 'NOT_FOUND_ROUTE', message: 'Not found' };
    }
  } catch {
    // keep the status-line message
  }
  return new ApiError(res.status, body);
}

export interface RequestOptions {
  signal?: AbortSignal;
  /** Milliseconds before the request is abandoned (default 15 s). */
  timeoutMs?: number;
}

function withTimeout(opts: RequestOptions | undefined, fallbackMs: number): AbortSignal {
  const timeout = AbortSignal.timeout(opts?.timeoutMs ?? fallbackMs);
  return opts?.signal ? AbortSignal.any([opts.signal, timeout]) : timeout;
}

export async function getJSON<T>(path: string, opts?: RequestOptions): Promise<T> {
  const res = await fetch(path, {
    headers: { accept: 'application/json' },
    signal: withTimeout(opts, 15_000),
  });
  if (!res.ok) throw await parseError(res);
  return (await res.json()) as T;
}

export async function postJSON<T>(path: string, body: unknown, opts?: RequestOptions): Promise<T> {
  const res = await fetch(path, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json' },
    body: JSON.stringify(body),
    signal: withTimeout(opts, 30_000),
  });
  if (!res.ok) throw await parseError(res);
  return (await res.json()) as T;
}

/** True for errors caused by our own AbortController (a newer request replaced this one). */
export function isAbort(err: unknown): boolean {
  return err instanceof DOMException && err.name === 'AbortError';
}

/** A readable message for any thrown value. */
export function errorText(err: unknown): string {
  if (err instanceof ApiError) return err.describe();
  if (err instanceof DOMException && err.name === 'TimeoutError') return 'The request timed out.';
  if (err instanceof TypeError) return `Network error: ${err.message}.`;
  if (err instanceof Error) return err.message;
  return String(err);
}

// ---- Shapes of the gateway's responses ---------------------------------------------------------------

export type ServingStatus = 'SERVING' | 'NOT_SERVING' | 'UNKNOWN';

export interface HealthResponse {
  ok: boolean;
  services: { name: string; address: string; status: ServingStatus }[];
  bus: { kind: 'nats' | 'memory'; state: 'connected' | 'reconnecting' | 'closed' };
}

/** One message of `GET /api/events`. */
export interface BusEvent {
  subject: string;
  data: unknown;
  time: string;
}

export interface TokenizerInfo {
  name: string;
  kind: 'bpe' | 'char' | 'hf' | string;
  vocabSize: number;
  builtin: boolean;
  /** Special tokens (e.g. <|endoftext|>) and their ids. */
  specialTokens?: Record<string, number>;
}

export interface EncodedToken {
  id: number;
  text: string;
  /** Character offsets (UTF-16 code units, as JavaScript strings count them) into the encoded text. */
  start: number;
  end: number;
  /** The token's bytes as lowercase hex. */
  bytes: string;
}

export interface EncodeResponse {
  ids: number[];
  tokens: EncodedToken[];
}

export interface CompareRow {
  tokenizer: string;
  tokens: number;
  characters: number;
  bytes: number;
  charsPerToken: number;
  bytesPerToken: number;
}

export interface VocabResponse {
  total: number;
  entries: { id: number; text: string; bytes: string }[];
  merges: [string, string][];
}

export interface TrainProgress {
  state: 'running' | 'done' | 'failed';
  merges: number;
  total: number;
  message?: string;
  /** On failure, the service's error (same shape as an HTTP error body). */
  error?: ApiErrorBody;
}

export const api = {
  health: (opts?: RequestOptions) => getJSON<HealthResponse>('/api/health', { timeoutMs: 1800, ...opts }),
  tokenizers: (opts?: RequestOptions) =>
    getJSON<{ tokenizers: TokenizerInfo[] }>('/api/tokenize/tokenizers', opts),
  /** `allowedSpecial: ['all']` encodes special tokens such as <|endoftext|> as their single id. */
  encode: (tokenizer: string, text: string, opts?: RequestOptions & { allowedSpecial?: string[] }) =>
    postJSON<EncodeResponse>(
      '/api/tokenize/encode',
      opts?.allowedSpecial?.length
        ? { tokenizer, text, allowedSpecial: opts.allowedSpecial }
        : { tokenizer, text },
      opts,
    ),
  compare: (tokenizers: string[], text: string, opts?: RequestOptions) =>
    postJSON<{ results: CompareRow[] }>('/api/tokenize/compare', { tokenizers, text }, opts),
  vocab: (name: string, offset: number, limit: number, opts?: RequestOptions) =>
    getJSON<VocabResponse>(
      `/api/tokenize/tokenizers/${encodeURIComponent(name)}/vocab?offset=${offset}&limit=${limit}`,
      opts,
    ),
  trainTokenizer: (
    body:
      | { name: string; vocabSize: number; text: string }
      | { name: string; vocabSize: number; datasetId: string },
    opts?: RequestOptions,
  ) => postJSON<{ jobId: string }>('/api/tokenize/train', body, opts),
  trainEventsUrl: (jobId: string) => `/api/tokenize/train/${encodeURIComponent(jobId)}/events`,
};

/** Hex string → "48 65 6c" for display. */
export function spacedHex(hex: string): string {
  return hex.replace(/(..)(?=.)/g, '$1 ');
}

// ---- Data (svc-data) ------------------------------------------------------------------------------------

export interface DatasetVersion {
  version: number;
  parent: number;
  step: string;
  paramsJson: string;
  documents: number;
  characters: number;
  bytes: number;
  splits: Record<string, number>;
  createdAt: string;
}

export interface Dataset {
  id: string;
  name: string;
  source: string;
  format: string;
  createdAt: string;
  versions: DatasetVersion[];
}

export interface StepReport {
  kind: string;
  paramsJson: string;
  documentsIn: number;
  documentsOut: number;
  removed: Record<string, number>;
  counts: Record<string, number>;
  examples: {
    reason: string;
    before: string;
    after: string;
    index: number;
    keptIndex: number;
    similarity: number;
  }[];
  clusters: number;
  durationMs: number;
}

export interface DatasetStats {
  version: number;
  documents: number;
  characters: number;
  bytes: number;
  words: number;
  tokens: number;
  tokenizer: string;
  lengthBucketBounds: number[];
  lengthBucketCounts: number[];
  topNgrams: { ngram: string; count: number }[];
  splits: Record<string, number>;
  minLength: number;
  maxLength: number;
  meanLength: number;
}

export interface ShardIndex {
  dir: string;
  dtype: 'uint16' | 'uint32';
  tokenizer: string;
  vocabSize: number;
  separatorId: number;
  tokens: number;
  splits: { name: string; tokens: number; documents: number; files: { file: string; tokens: number }[] }[];
}

export interface DataJobProgress {
  state: 'running' | 'done' | 'failed';
  done: number;
  total: number;
  message: string;
  version?: DatasetVersion;
  reports?: StepReport[];
  index?: ShardIndex;
  error?: ApiErrorBody;
}

export type DataStep = { kind: string } & Record<string, unknown>;

/** POST multipart/form-data (the browser sets the boundary). */
export async function postForm<T>(path: string, form: FormData, opts?: RequestOptions): Promise<T> {
  const res = await fetch(path, {
    method: 'POST',
    headers: { accept: 'application/json' },
    body: form,
    signal: withTimeout(opts, 300_000),
  });
  if (!res.ok) throw await parseError(res);
  return (await res.json()) as T;
}

const ds = (id: string) => `/api/data/datasets/${encodeURIComponent(id)}`;

export interface CreatedDataset {
  id: string;
  version: number;
  dataset: Dataset;
  warnings: string[];
}

export const dataApi = {
  list: (opts?: RequestOptions) =>
    getJSON<{ datasets: Dataset[]; total: number }>('/api/data/datasets', opts),
  get: (id: string, opts?: RequestOptions) => getJSON<Dataset>(ds(id), opts),
  upload: (form: FormData) => postForm<CreatedDataset>('/api/data/datasets', form),
  fromPath: (body: { path: string; name?: string; format?: string }) =>
    postJSON<CreatedDataset>('/api/data/datasets', body, { timeoutMs: 300_000 }),
  version: (id: string, v: number, opts?: RequestOptions) =>
    getJSON<{ version: DatasetVersion; reports: StepReport[] }>(`${ds(id)}/versions/${v}`, opts),
  stats: (id: string, v: number, tokenizer: string, opts?: RequestOptions) =>
    getJSON<DatasetStats>(
      `${ds(id)}/versions/${v}/stats${tokenizer ? `?tokenizer=${encodeURIComponent(tokenizer)}` : ''}`,
      { timeoutMs: 120_000, ...opts },
    ),
  transformJob: (id: string, body: { from?: number; steps: DataStep[] }) =>
    postJSON<{ jobId: string }>(`${ds(id)}/versions/jobs`, body),
  shardsJob: (id: string, v: number, body: { tokenizer: string }) =>
    postJSON<{ jobId: string }>(`${ds(id)}/versions/${v}/shards/jobs`, body),
  jobEventsUrl: (jobId: string) => `/api/data/jobs/${encodeURIComponent(jobId)}/events`,
};

// ---- Train (svc-train) ----------------------------------------------------------------------------------

export type TrainJobState = 'queued' | 'running' | 'paused' | 'completed' | 'failed' | 'cancelled';

export interface TrainJob {
  id: string;
  name: string;
  state: TrainJobState;
  step: number;
  iters: number;
  error: string;
  request: Record<string, unknown>;
  checkpoints: string[];
  createdAt: string;
  updatedAt: string;
  lastSeq: number;
  pendingAction: string;
  loss: number;
  valLoss: number;
  vocabSize: number;
  parameters: number;
}

export interface TrainEvent {
  seq: number;
  kind: 'step' | 'eval' | 'state';
  step: number;
  state: string;
  time: string;
  loss?: number;
  lr?: number;
  gradNorm?: number;
  tokensPerSecond?: number;
  elapsedSeconds?: number;
  valLoss?: number;
  perplexity?: number;
  sample?: string;
  message?: string;
}

export interface TrainConfig {
  preset?: string;
  model?: Record<string, number | string | boolean>;
  batchSize?: number;
  context?: number;
  iters: number;
  learningRate?: number;
  warmupIters?: number;
  schedule?: 'cosine' | 'linear' | 'constant';
  evalInterval?: number;
  seed?: number;
}

export interface SubmitTrainJob {
  name?: string;
  dataPath?: string;
  datasetId?: string;
  datasetVersion?: number;
  tokenizer?: string;
  config: TrainConfig;
}

export interface TrainEstimate {
  parameters: {
    embeddings: number;
    attention: number;
    mlp: number;
    norms: number;
    head: number;
    total: number;
  };
  flopsPerToken: { forward: number; backward: number; total: number };
  memory: { weights: number; gradients: number; optimizer: number; activations: number; total: number };
  secondsPerStep: number;
}

const tj = (id: string) => `/api/train/jobs/${encodeURIComponent(id)}`;

export const trainApi = {
  submit: (body: SubmitTrainJob) => postJSON<{ id: string }>('/api/train/jobs', body),
  list: (opts?: RequestOptions) => getJSON<{ jobs: TrainJob[]; total: number }>('/api/train/jobs', opts),
  get: (id: string, opts?: RequestOptions) => getJSON<TrainJob>(tj(id), opts),
  action: (id: string, verb: 'cancel' | 'pause' | 'resume') => postJSON<TrainJob>(`${tj(id)}/${verb}`, {}),
  estimate: (body: Omit<TrainConfig, 'iters'>, opts?: RequestOptions) =>
    postJSON<TrainEstimate>('/api/train/estimate', body, opts),
  eventsUrl: (id: string) => `${tj(id)}/events`,
};

// ---- Infer (svc-infer): models, preflight, streaming generation and chat, conversations, saved prompts ----
// Declared here rather than imported from @lab/proto so the web build never type-checks the service packages;
// the fields mirror proto/lab/v1/infer.proto as the gateway sends them (camelCase JSON).

export interface ModelInfo {
  name: string;
  /** "registered" (imported) or "checkpoint" (a svc-train job's checkpoint, named `<job name or id>@<step>`). */
  source: 'registered' | 'checkpoint' | string;
  path: string;
  family: string;
  architecture: string;
  parameters: number;
  context: number;
  vocabSize: number;
  dtype: string;
  loaded: boolean;
  memoryBytes: number;
  hasChatTemplate: boolean;
  createdAt: string;
  jobId: string;
  step: number;
  valLoss: number;
  tokenizer: string;
}

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant' | string;
  content: string;
}

export interface SamplingParams {
  maxTokens?: number;
  temperature?: number;
  topK?: number;
  topP?: number;
  minP?: number;
  repetitionPenalty?: number;
  frequencyPenalty?: number;
  presencePenalty?: number;
  /** Token id → bias added to its logit. */
  logitBias?: Record<string, number>;
  stop?: string[];
  seed?: number;
  n?: number;
  numBeams?: number;
  lengthPenalty?: number;
  earlyStopping?: 'true' | 'false' | 'never';
  topLogprobs?: number;
  echo?: boolean;
  trace?: boolean;
  truncate?: boolean;
  stopAtEos?: boolean;
}

export interface GenerateRequest {
  model: string;
  prompt?: string;
  messages?: ChatMessage[];
  params?: SamplingParams;
}

export interface ChatRequest {
  model: string;
  messages: ChatMessage[];
  params?: SamplingParams;
  conversationId?: string;
  ephemeral?: boolean;
}

export interface PromptToken {
  id: number;
  text: string;
  special: boolean;
  /** Log-probability given the tokens before it (only with `echo`); 0 for the first. */
  logprob: number;
}

export interface PreflightInfo {
  rendered: string;
  tokens: PromptToken[];
  promptTokens: number;
  context: number;
  available: number;
  truncatedTokens: number;
  truncatedText: string;
  /** "model" (the model's own chat template), "default" (the lab's) or "" for a plain prompt. */
  template: string;
  /** Why the request cannot run as asked; empty when it can. */
  problem: string;
}

export interface TokenLogprob {
  id: number;
  text: string;
  /** Natural-log probability; in a SamplerStage's `top` this field holds a plain probability instead. */
  logprob: number;
}

export interface SamplerStage {
  /** "raw", "penalties", "temperature", "top_k", "top_p", "min_p". */
  name: string;
  top: TokenLogprob[];
  allowed: number;
}

export interface TokenEvent {
  sample: number;
  index: number;
  id: number;
  /** The token's own text (for the token view). */
  token: string;
  /** Text safe to show now (held back while it could begin a stop string): the transcript shows this. */
  text: string;
  logprob: number;
  top: TokenLogprob[];
  stages: SamplerStage[];
}

export interface BeamResult {
  text: string;
  ids: number[];
  score: number;
  logprob: number;
  finishReason: string;
}

export interface BeamNode {
  id: number;
  parent: number;
  token: number;
  text: string;
  logprob: number;
  cumulative: number;
  step: number;
  finished: boolean;
  kept: boolean;
}

export interface DoneEvent {
  sample: number;
  finishReason: 'stop' | 'length' | 'cancelled' | string;
  text: string;
  promptTokens: number;
  completionTokens: number;
  firstTokenMs: number;
  tokensPerSecond: number;
  stop: string;
  beams: BeamResult[];
  tree: BeamNode[];
  conversationId: string;
}

export type InferEvent =
  | { type: 'preflight'; data: PreflightInfo }
  | { type: 'token'; data: TokenEvent }
  | { type: 'done'; data: DoneEvent };

export interface Conversation {
  id: string;
  title: string;
  model: string;
  messages: ChatMessage[];
  createdAt: string;
  updatedAt: string;
}

export interface SavedPrompt {
  name: string;
  kind: 'system' | 'user';
  text: string;
  updatedAt: string;
}

/** POST /api/infer/trace body (exactly one of text, tokens, randomRepeat). */
export interface TraceRequest {
  model: string;
  text?: string;
  tokens?: number[];
  /** Random tokens repeated twice (the induction test). */
  randomRepeat?: number;
  seed?: number;
  topK?: number;
  /** Layers whose attention comes back (default all). */
  layers?: number[];
  attention?: boolean;
}

/** One head's pattern scores (proto HeadScore). */
export interface HeadScore {
  layer: number;
  head: number;
  previous: number;
  first: number;
  duplicate: number;
  induction: number;
}

export interface LensPosition {
  ids: number[];
  texts: string[];
  probs: number[];
  targetProb: number;
}

export interface TraceStream {
  layer: number;
  residNorm: number[];
  attnNorm: number[];
  mlpNorm: number[];
  lens: LensPosition[];
}

export interface TraceSummary {
  model: string;
  tokens: PromptToken[];
  loss: number[];
  meanLoss: number;
  layers: number;
  heads: number;
  streams: TraceStream[];
  scores: HeadScore[];
  duplicateRows: number;
  inductionRows: number;
  topK: number;
}

export interface LayerAttention {
  layer: number;
  heads: number;
  tokens: number;
  /** [heads, tokens (query), tokens (key)] row-major. */
  weights: number[];
}

export interface TraceResponse {
  summary: TraceSummary;
  attention: LayerAttention[];
}

export async function sendJSON<T>(
  method: 'PUT' | 'PATCH' | 'DELETE',
  path: string,
  body?: unknown,
): Promise<T> {
  const res = await fetch(path, {
    method,
    headers: { 'content-type': 'application/json', accept: 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(30_000),
  });
  if (!res.ok) throw await parseError(res);
  const text = await res.text();
  return (text ? JSON.parse(text) : {}) as T;
}

/**
 * POSTs `body` and yields the server-sent events of the answer. EventSource cannot POST, so the stream is read
 * with fetch; aborting `signal` ends the request, which the gateway turns into a server-side cancel.
 */
export async function* postSSE(
  path: string,
  body: unknown,
  signal: AbortSignal,
): AsyncGenerator<{ event: string; data: string }> {
  const res = await fetch(path, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
    body: JSON.stringify(body),
    signal,
  });
  if (!res.ok) throw await parseError(res);
  if (!res.body) throw new Error('The gateway answered without a stream.');
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buf = '';
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += value.replace(/\r\n/g, '\n');
      for (let end = buf.indexOf('\n\n'); end >= 0; end = buf.indexOf('\n\n')) {
        const block = buf.slice(0, end);
        buf = buf.slice(end + 2);
        let event = 'message';
        const data: string[] = [];
        for (const line of block.split('\n')) {
          if (line.startsWith(':')) continue; // heartbeat comments
          const colon = line.indexOf(':');
          const field = colon < 0 ? line : line.slice(0, colon);
          const val = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
          if (field === 'event') event = val;
          else if (field === 'data') data.push(val);
        }
        if (data.length) yield { event, data: data.join('\n') };
      }
    }
  } finally {
    reader.cancel().catch(() => {});
  }
}

/** Generation events of a `generate` or `chat` stream; an `error` event is thrown as an ApiError. */
async function* inferEvents(path: string, body: unknown, signal: AbortSignal): AsyncGenerator<InferEvent> {
  for await (const m of postSSE(path, body, signal)) {
    if (m.event === 'error') {
      let err: Partial<ApiErrorBody> = {};
      try {
        err = (JSON.parse(m.data) as { error?: Partial<ApiErrorBody> }).error ?? {};
      } catch {
        err = { message: m.data };
      }
      throw new ApiError(500, {
        code: err.code ?? 'STREAM_ERROR',
        message: err.message ?? 'generation failed',
        field: err.field,
      });
    }
    if (m.event === 'preflight' || m.event === 'token' || m.event === 'done') {
      yield { type: m.event, data: JSON.parse(m.data) } as InferEvent;
    }
  }
}

const im = (name: string) => `/api/infer/models/${encodeURIComponent(name)}`;
const ic = (id: string) => `/api/infer/conversations/${encodeURIComponent(id)}`;
const ip = (name: string) => `/api/infer/prompts/${encodeURIComponent(name)}`;

export const inferApi = {
  models: (opts?: RequestOptions) => getJSON<{ models: ModelInfo[] }>('/api/infer/models', opts),
  /** Loading a big model to check it can take a while. */
  importModel: (body: { name: string; path: string }) =>
    postJSON<ModelInfo>('/api/infer/models', body, { timeoutMs: 300_000 }),
  model: (name: string, opts?: RequestOptions) => getJSON<ModelInfo>(im(name), opts),
  deleteModel: (name: string) => sendJSON<ModelInfo>('DELETE', im(name)),
  unloadModel: (name: string) => postJSON<ModelInfo>(`${im(name)}/unload`, {}),
  /** The first preflight of a model loads it, which can take seconds. */
  preflight: (body: GenerateRequest, opts?: RequestOptions) =>
    postJSON<PreflightInfo>('/api/infer/preflight', body, { timeoutMs: 120_000, ...opts }),
  /** Aborting `signal` (the stop button) cancels the generation on the server. */
  generate: (body: GenerateRequest, signal: AbortSignal) => inferEvents('/api/infer/generate', body, signal),
  /** The last `done` event names the conversation the exchange was stored in (unless ephemeral). */
  chat: (body: ChatRequest, signal: AbortSignal) => inferEvents('/api/infer/chat', body, signal),
  conversations: (opts?: RequestOptions) =>
    getJSON<{ conversations: Conversation[] }>('/api/infer/conversations', opts),
  conversation: (id: string, opts?: RequestOptions) => getJSON<Conversation>(ic(id), opts),
  renameConversation: (id: string, title: string) => sendJSON<Conversation>('PATCH', ic(id), { title }),
  deleteConversation: (id: string) => sendJSON<Conversation>('DELETE', ic(id)),
  prompts: (opts?: RequestOptions) => getJSON<{ prompts: SavedPrompt[] }>('/api/infer/prompts', opts),
  savePrompt: (name: string, body: { kind: 'system' | 'user'; text: string }) =>
    sendJSON<SavedPrompt>('PUT', ip(name), body),
  deletePrompt: (name: string) => sendJSON<SavedPrompt>('DELETE', ip(name)),
};

// ---- Eval (svc-eval): tasks, runs with live progress, scored items, leaderboard --------------------------

export type EvalTaskKind = 'multiple_choice' | 'perplexity' | 'humaneval' | 'judge';

export interface EvalTask {
  name: string;
  kind: EvalTaskKind | string;
  description: string;
  /** The first is the task's headline metric (the leaderboard's). */
  metrics: string[];
  defaultFewshot: number;
  maxFewshot: number;
  higherIsBetter: boolean;
}

export type EvalRunState = 'queued' | 'running' | 'completed' | 'failed' | 'cancelled';

/** One score; `group` is '' for the whole task, else a part of it (an MMLU subject). Null where undefined. */
export interface EvalMetric {
  name: string;
  value: number | null;
  stderr: number | null;
  ciLow: number | null;
  ciHigh: number | null;
  n: number;
  group: string;
}

export interface EvalPrompt {
  fewshot: number;
  fewshotOrder: string;
  chatTemplate: boolean;
  firstItem: string;
  description: string;
}

export interface EvalRun {
  id: string;
  model: string;
  task: string;
  label: string;
  state: EvalRunState;
  request: Record<string, unknown>;
  progress: { done: number; total: number; message: string };
  metrics: EvalMetric[];
  prompt: EvalPrompt | null;
  details: Record<string, unknown>;
  error: string;
  createdAt: string;
  startedAt: string;
  finishedAt: string;
  jobId: string;
  step: number;
  items: number;
  seconds: number;
  tokens: number;
}

export interface SubmitEvalRun {
  model: string;
  task: string;
  limit?: number;
  fewshot?: number;
  seed?: number;
  chatTemplate?: boolean;
  label?: string;
  // perplexity
  text?: string;
  textPath?: string;
  datasetId?: string;
  datasetVersion?: number;
  split?: '' | 'train' | 'val';
  context?: number;
  stride?: number;
  // humaneval
  samples?: number;
  temperature?: number;
  k?: number[];
  maxTokens?: number;
  // judge
  judgeMode?: 'single' | 'pairwise';
  questions?: string[];
  baseline?: string;
  judgeUrl?: string;
  judgeKey?: string;
  judgeModel?: string;
  judgePrompt?: string;
}

export interface EvalChoice {
  /** The continuation exactly as scored (usually with its leading space). */
  text: string;
  /** log P(choice | prompt), summed over its tokens. */
  loglik: number;
  /** loglik divided by the choice's length in characters (acc_norm's measure). */
  loglikNorm: number;
  tokens: number;
  /** Whether greedy decoding would have produced exactly this choice. */
  greedy: boolean;
  gold: boolean;
}

export interface EvalItem {
  index: number;
  id: string;
  group: string;
  prompt: string;
  choices: EvalChoice[];
  references: string[];
  outputs: string[];
  correct: boolean;
  score: number;
  details: unknown;
}

export interface LeaderboardScore {
  task: string;
  metric: EvalMetric;
  runId: string;
  finishedAt: string;
}

export interface LeaderboardRow {
  model: string;
  label: string;
  jobId: string;
  step: number;
  scores: LeaderboardScore[];
}

const er = (id: string) => `/api/eval/runs/${encodeURIComponent(id)}`;

export const evalApi = {
  tasks: (opts?: RequestOptions) => getJSON<{ tasks: EvalTask[] }>('/api/eval/tasks', opts),
  submit: (body: SubmitEvalRun) => postJSON<EvalRun>('/api/eval/runs', body),
  runs: (
    q: { model?: string; task?: string; state?: EvalRunState; offset?: number; limit?: number } = {},
    opts?: RequestOptions,
  ) => {
    const p = new URLSearchParams();
    for (const [k, v] of Object.entries(q)) if (v !== undefined && v !== '') p.set(k, String(v));
    const qs = p.toString();
    return getJSON<{ runs: EvalRun[]; total: number }>(`/api/eval/runs${qs ? `?${qs}` : ''}`, opts);
  },
  run: (id: string, opts?: RequestOptions) => getJSON<EvalRun>(er(id), opts),
  items: (
    id: string,
    q: { wrong?: boolean; group?: string; offset?: number; limit?: number },
    opts?: RequestOptions,
  ) => {
    const p = new URLSearchParams();
    if (q.wrong) p.set('wrong', 'true');
    if (q.group) p.set('group', q.group);
    if (q.offset) p.set('offset', String(q.offset));
    if (q.limit) p.set('limit', String(q.limit));
    const qs = p.toString();
    return getJSON<{ items: EvalItem[]; total: number }>(`${er(id)}/items${qs ? `?${qs}` : ''}`, opts);
  },
  cancel: (id: string) => postJSON<EvalRun>(`${er(id)}/cancel`, {}),
  /** SSE: `state`, `progress` and a last `done` event, each with the whole run. */
  eventsUrl: (id: string) => `${er(id)}/events`,
  leaderboard: (tasks: string[] = [], opts?: RequestOptions) =>
    getJSON<{ rows: LeaderboardRow[]; tasks: EvalTask[] }>(
      `/api/eval/leaderboard${tasks.length ? `?tasks=${encodeURIComponent(tasks.join(','))}` : ''}`,
      opts,
    ),
};

// Small typed client for the gateway's HTTP/JSON API. All URLs are relative (`/api/...`): in production the
// gateway serves this UI itself, and in development the Vite dev server proxies /api to the gateway.
// The shapes are the gateway's route definitions (gateway/src/contract.ts), never copied: a changed route
// fails this package's typecheck. Type-only imports, so no server code reaches the bundle.
import type {
  ApiErrorBody,
  BodyOf,
  EventOf,
  GenerationEvent,
  QueryOf,
  ResponseOf,
  Routes,
} from '../../gateway/src/contract.ts';

// ApiErrorBody is what `error` holds in every error answer: {"code": "INVALID_ARGUMENT", "message", "field"}.
// The rest serve the pages' own calls: the routes, and the helpers that read a route's body, answer and events.
export type { ApiErrorBody, BodyOf, EventOf, QueryOf, ResponseOf, Routes };

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

export type HealthResponse = ResponseOf<Routes['health']['health'], 200>;
export type ServingStatus = HealthResponse['services'][number]['status'];

/** One message of `GET /api/events`. */
export type BusEvent = EventOf<Routes['events']['events']>;

type Tokenize = Routes['tokenize'];
export type TokenizerInfo = ResponseOf<Tokenize['list'], 200>['tokenizers'][number];
export type EncodeResponse = ResponseOf<Tokenize['encode'], 200>;
export type EncodedToken = EncodeResponse['tokens'][number];
export type CompareRow = ResponseOf<Tokenize['compare'], 200>['results'][number];
export type VocabResponse = ResponseOf<Tokenize['vocab'], 200>;
/** One message of a tokenizer training's event stream. */
export type TrainProgress = EventOf<Tokenize['trainEvents']>;
type TrainTokenizerFields = BodyOf<Tokenize['train']>;
/** POST /api/tokenize/train as the pages send it: a text or a dataset version (the route wants exactly one). */
export type TrainTokenizerBody = Omit<
  TrainTokenizerFields,
  'text' | 'path' | 'datasetId' | 'datasetVersion'
> &
  (
    | Required<Pick<TrainTokenizerFields, 'text'>>
    | Required<Pick<TrainTokenizerFields, 'datasetId' | 'datasetVersion'>>
  );

export const api = {
  health: (opts?: RequestOptions) => getJSON<HealthResponse>('/api/health', { timeoutMs: 1800, ...opts }),
  tokenizers: (opts?: RequestOptions) =>
    getJSON<ResponseOf<Tokenize['list'], 200>>('/api/tokenize/tokenizers', opts),
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
    postJSON<ResponseOf<Tokenize['compare'], 200>>('/api/tokenize/compare', { tokenizers, text }, opts),
  vocab: (name: string, offset: number, limit: number, opts?: RequestOptions) =>
    getJSON<VocabResponse>(
      `/api/tokenize/tokenizers/${encodeURIComponent(name)}/vocab?offset=${offset}&limit=${limit}`,
      opts,
    ),
  trainTokenizer: (body: TrainTokenizerBody, opts?: RequestOptions) =>
    postJSON<ResponseOf<Tokenize['train'], 202>>('/api/tokenize/train', body, opts),
  trainEventsUrl: (jobId: string) => `/api/tokenize/train/${encodeURIComponent(jobId)}/events`,
};

/** Hex string → "48 65 6c" for display. */
export function spacedHex(hex: string): string {
  return hex.replace(/(..)(?=.)/g, '$1 ');
}

// ---- Data (svc-data) ------------------------------------------------------------------------------------

type Data = Routes['data'];
export type Dataset = ResponseOf<Data['get'], 200>;
export type DatasetVersion = Dataset['versions'][number];
export type StepReport = ResponseOf<Data['report'], 200>['reports'][number];
export type DatasetStats = ResponseOf<Data['stats'], 200>;
export type ShardIndex = ResponseOf<Data['shards'], 201>;
/** One message of a data job's event stream. */
export type DataJobProgress = EventOf<Data['jobEvents']>;
export type DataStep = BodyOf<Data['transform']>['steps'][number];

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

export type CreatedDataset = ResponseOf<Data['create'], 201>;

export const dataApi = {
  list: (opts?: RequestOptions) => getJSON<ResponseOf<Data['list'], 200>>('/api/data/datasets', opts),
  get: (id: string, opts?: RequestOptions) => getJSON<Dataset>(ds(id), opts),
  upload: (form: FormData) => postForm<CreatedDataset>('/api/data/datasets', form),
  fromPath: (body: BodyOf<Data['create']>) =>
    postJSON<CreatedDataset>('/api/data/datasets', body, { timeoutMs: 300_000 }),
  version: (id: string, v: number, opts?: RequestOptions) =>
    getJSON<ResponseOf<Data['report'], 200>>(`${ds(id)}/versions/${v}`, opts),
  stats: (id: string, v: number, tokenizer: string, opts?: RequestOptions) =>
    getJSON<DatasetStats>(
      `${ds(id)}/versions/${v}/stats${tokenizer ? `?tokenizer=${encodeURIComponent(tokenizer)}` : ''}`,
      { timeoutMs: 120_000, ...opts },
    ),
  /** Starts a transform job; with `dryRun` it reports what the steps would do and makes no version. */
  transformJob: (id: string, body: BodyOf<Data['transformJob']>) =>
    postJSON<ResponseOf<Data['transformJob'], 202>>(`${ds(id)}/versions/jobs`, body),
  shardsJob: (id: string, v: number, body: BodyOf<Data['shardsJob']>) =>
    postJSON<ResponseOf<Data['shardsJob'], 202>>(`${ds(id)}/versions/${v}/shards/jobs`, body),
  jobEventsUrl: (jobId: string) => `/api/data/jobs/${encodeURIComponent(jobId)}/events`,
};

// ---- Train (svc-train) ----------------------------------------------------------------------------------

type Train = Routes['train'];
export type TrainJob = ResponseOf<Train['get'], 200>;
export type TrainJobState = TrainJob['state'];
/** One message of a training job's event stream (`step`, `eval` or `state`). */
export type TrainEvent = EventOf<Train['events']>;
export type SubmitTrainJob = BodyOf<Train['submit']>;
export type TrainConfig = SubmitTrainJob['config'];
export type TrainEstimate = ResponseOf<Train['estimate'], 200>;
export type TrainEstimateRequest = BodyOf<Train['estimate']>;

const tj = (id: string) => `/api/train/jobs/${encodeURIComponent(id)}`;

export const trainApi = {
  submit: (body: SubmitTrainJob) => postJSON<ResponseOf<Train['submit'], 201>>('/api/train/jobs', body),
  list: (opts?: RequestOptions) => getJSON<ResponseOf<Train['list'], 200>>('/api/train/jobs', opts),
  get: (id: string, opts?: RequestOptions) => getJSON<TrainJob>(tj(id), opts),
  action: (id: string, verb: 'cancel' | 'pause' | 'resume') => postJSON<TrainJob>(`${tj(id)}/${verb}`, {}),
  estimate: (body: TrainEstimateRequest, opts?: RequestOptions) =>
    postJSON<TrainEstimate>('/api/train/estimate', body, opts),
  eventsUrl: (id: string) => `${tj(id)}/events`,
};

// ---- Infer (svc-infer): models, preflight, streaming generation and chat, conversations, saved prompts ----

type Infer = Routes['infer'];
export type ModelInfo = ResponseOf<Infer['get'], 200>;
export type GenerateRequest = BodyOf<Infer['generate']>;
export type ChatRequest = BodyOf<Infer['chat']>;
export type ChatMessage = ChatRequest['messages'][number];
export type SamplingParams = NonNullable<GenerateRequest['params']>;
export type PreflightInfo = ResponseOf<Infer['preflight'], 200>;
export type PromptToken = PreflightInfo['tokens'][number];

/** What a `generate` or `chat` stream yields: svc-infer's events as the gateway relays them. */
export type InferEvent = GenerationEvent;
type EventData<T extends InferEvent['type']> = Extract<InferEvent, { type: T }>['data'];
export type TokenEvent = EventData<'token'>;
export type DoneEvent = EventData<'done'>;
/** Natural-log probability; in a SamplerStage's `top` the field holds a plain probability instead. */
export type TokenLogprob = TokenEvent['top'][number];
export type SamplerStage = TokenEvent['stages'][number];
export type BeamResult = DoneEvent['beams'][number];
export type BeamNode = DoneEvent['tree'][number];

export type Conversation = ResponseOf<Infer['conversation'], 200>;
export type SavedPrompt = ResponseOf<Infer['savePrompt'], 200>;

/** POST /api/infer/trace body (exactly one of text, tokens, randomRepeat). */
export type TraceRequest = BodyOf<Infer['trace']>;
export type TraceResponse = ResponseOf<Infer['trace'], 200>;
export type TraceSummary = TraceResponse['summary'];
export type LayerAttention = TraceResponse['attention'][number];
export type TraceStream = TraceSummary['streams'][number];
export type LensPosition = TraceStream['lens'][number];
/** One head's pattern scores. */
export type HeadScore = TraceSummary['scores'][number];

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
  models: (opts?: RequestOptions) => getJSON<ResponseOf<Infer['list'], 200>>('/api/infer/models', opts),
  /** Loading a big model to check it can take a while. */
  importModel: (body: BodyOf<Infer['import']>) =>
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
    getJSON<ResponseOf<Infer['conversations'], 200>>('/api/infer/conversations', opts),
  conversation: (id: string, opts?: RequestOptions) => getJSON<Conversation>(ic(id), opts),
  renameConversation: (id: string, title: string) => sendJSON<Conversation>('PATCH', ic(id), { title }),
  deleteConversation: (id: string) => sendJSON<Conversation>('DELETE', ic(id)),
  prompts: (opts?: RequestOptions) => getJSON<ResponseOf<Infer['prompts'], 200>>('/api/infer/prompts', opts),
  savePrompt: (name: string, body: BodyOf<Infer['savePrompt']>) =>
    sendJSON<SavedPrompt>('PUT', ip(name), body),
  deletePrompt: (name: string) => sendJSON<SavedPrompt>('DELETE', ip(name)),
};

// ---- Eval (svc-eval): tasks, runs with live progress, scored items, leaderboard --------------------------

type Eval = Routes['eval'];
/** The kinds svc-eval's tasks have today; the route types `kind` as any string. */
export type EvalTaskKind = 'multiple_choice' | 'perplexity' | 'humaneval' | 'judge';
/** The first of `metrics` is the task's headline metric (the leaderboard's). */
export type EvalTask = ResponseOf<Eval['tasks'], 200>['tasks'][number];
export type EvalRun = ResponseOf<Eval['get'], 200>;
export type EvalRunState = EvalRun['state'];
/** One score; `group` is '' for the whole task, else a part of it (an MMLU subject). Null where undefined. */
export type EvalMetric = EvalRun['metrics'][number];
export type EvalPrompt = NonNullable<EvalRun['prompt']>;
export type SubmitEvalRun = BodyOf<Eval['submit']>;
export type EvalItem = ResponseOf<Eval['items'], 200>['items'][number];
export type EvalChoice = EvalItem['choices'][number];
export type LeaderboardRow = ResponseOf<Eval['leaderboard'], 200>['rows'][number];
export type LeaderboardScore = LeaderboardRow['scores'][number];

const er = (id: string) => `/api/eval/runs/${encodeURIComponent(id)}`;

export const evalApi = {
  tasks: (opts?: RequestOptions) => getJSON<ResponseOf<Eval['tasks'], 200>>('/api/eval/tasks', opts),
  submit: (body: SubmitEvalRun) => postJSON<ResponseOf<Eval['submit'], 201>>('/api/eval/runs', body),
  runs: (q: QueryOf<Eval['list']> = {}, opts?: RequestOptions) => {
    const p = new URLSearchParams();
    for (const [k, v] of Object.entries(q)) if (v !== undefined && v !== '') p.set(k, String(v));
    const qs = p.toString();
    return getJSON<ResponseOf<Eval['list'], 200>>(`/api/eval/runs${qs ? `?${qs}` : ''}`, opts);
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
    return getJSON<ResponseOf<Eval['items'], 200>>(`${er(id)}/items${qs ? `?${qs}` : ''}`, opts);
  },
  cancel: (id: string) => postJSON<EvalRun>(`${er(id)}/cancel`, {}),
  /** SSE: `state`, `progress` and a last `done` event, each with the whole run. */
  eventsUrl: (id: string) => `${er(id)}/events`,
  leaderboard: (tasks: string[] = [], opts?: RequestOptions) =>
    getJSON<ResponseOf<Eval['leaderboard'], 200>>(
      `/api/eval/leaderboard${tasks.length ? `?tasks=${encodeURIComponent(tasks.join(','))}` : ''}`,
      opts,
    ),
};

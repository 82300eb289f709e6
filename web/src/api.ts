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

// The OpenAI-compatible face of svc-infer on the gateway's port: /v1/models, /v1/completions and
// /v1/chat/completions, streamed and not, in OpenAI's request, response, chunk and error shapes, so any
// OpenAI client can use the lab's models.
import { randomUUID } from 'node:crypto';
import { z } from '@hono/zod-openapi';
import { fromServiceError, LabError, localCallContext } from '@lab/common';
import { type DoneEvent, type GenerateEvent, SamplingParams, type TokenEvent } from '@lab/proto/infer';
import type { Context, Hono } from 'hono';
import { streamSSE } from 'hono/streaming';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { ServiceClients } from '../clients.ts';
import { started } from '../relay.ts';

const stopField = z.union([z.string(), z.array(z.string()).max(4)]).nullish();
const common = {
  model: z.string().min(1).max(200),
  max_tokens: z.number().int().min(1).max(1_000_000).nullish(),
  temperature: z.number().min(0).max(2).nullish(),
  top_p: z.number().gt(0).max(1).nullish(),
  n: z.number().int().min(1).max(8).nullish(),
  stream: z.boolean().nullish(),
  stop: stopField,
  seed: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).nullish(),
  presence_penalty: z.number().min(-2).max(2).nullish(),
  frequency_penalty: z.number().min(-2).max(2).nullish(),
  logit_bias: z.record(z.string().regex(/^\d+$/), z.number().min(-100).max(100)).nullish(),
  user: z.string().nullish(),
  stream_options: z.object({ include_usage: z.boolean().nullish() }).nullish(),
};

const CompletionBody = z.object({
  ...common,
  prompt: z.union([z.string(), z.array(z.string()).length(1)]),
  logprobs: z.number().int().min(0).max(20).nullish(),
  echo: z.boolean().nullish(),
});

const ChatBody = z.object({
  ...common,
  messages: z
    .array(
      z.object({
        role: z.enum(['system', 'user', 'assistant', 'developer']),
        content: z.union([z.string(), z.array(z.object({ type: z.literal('text'), text: z.string() }))]),
      }),
    )
    .min(1),
  max_completion_tokens: z.number().int().min(1).max(1_000_000).nullish(),
  logprobs: z.boolean().nullish(),
  top_logprobs: z.number().int().min(0).max(20).nullish(),
});

type OpenAIErrorType = 'invalid_request_error' | 'not_found_error' | 'rate_limit_error' | 'server_error';

/** OpenAI's error body: {"error": {"message", "type", "param", "code"}}. */
export function openaiError(
  c: Context,
  status: number,
  message: string,
  type: OpenAIErrorType,
  param: string | null = null,
  code: string | null = null,
) {
  return c.json({ error: { message, type, param, code } }, status as ContentfulStatusCode);
}

function fromLab(c: Context, err: unknown) {
  const lab = err instanceof LabError ? err : fromServiceError(err);
  const param = lab.field ?? null;
  switch (lab.code) {
    case 'INVALID_ARGUMENT':
      return openaiError(c, 400, lab.message, 'invalid_request_error', param, null);
    case 'NOT_FOUND':
      return openaiError(c, 404, lab.message, 'invalid_request_error', param, 'model_not_found');
    case 'RESOURCE_EXHAUSTED':
      return openaiError(c, 429, lab.message, 'rate_limit_error', param, null);
    case 'UNAVAILABLE':
      return openaiError(c, 503, lab.message, 'server_error', param, null);
    default:
      return openaiError(c, 500, lab.message, 'server_error', param, null);
  }
}

async function parse<T extends z.ZodType>(c: Context, schema: T): Promise<z.infer<T> | Response> {
  let raw: unknown;
  try {
    raw = await c.req.json();
  } catch {
    return openaiError(c, 400, 'We could not parse the JSON body of your request.', 'invalid_request_error');
  }
  const r = schema.safeParse(raw);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    const param = issue.path.map(String).join('.') || null;
    return openaiError(c, 400, `${param ?? 'body'}: ${issue.message}`, 'invalid_request_error', param);
  }
  return r.data;
}

const stops = (s: string | string[] | null | undefined): string[] =>
  s == null ? [] : typeof s === 'string' ? [s] : s;

function params(
  b: z.infer<typeof CompletionBody> | z.infer<typeof ChatBody>,
  topLogprobs: number,
  echo: boolean,
): SamplingParams {
  const maxTokens = ('max_completion_tokens' in b ? b.max_completion_tokens : undefined) ?? b.max_tokens;
  const logitBias: Record<number, number> = {};
  for (const [k, v] of Object.entries(b.logit_bias ?? {})) logitBias[Number(k)] = v;
  return SamplingParams.fromPartial({
    // OpenAI's default for completions is 16 tokens; chat takes the service's default (0 = unset).
    maxTokens: maxTokens ?? ('messages' in b ? 0 : 16),
    temperature: b.temperature ?? undefined,
    topP: b.top_p ?? undefined,
    frequencyPenalty: b.frequency_penalty ?? 0,
    presencePenalty: b.presence_penalty ?? 0,
    logitBias,
    stop: stops(b.stop),
    seed: b.seed ?? undefined,
    n: b.n ?? 1,
    topLogprobs,
    echo,
  });
}

const finish = (d: DoneEvent): 'stop' | 'length' => (d.finishReason === 'length' ? 'length' : 'stop');
const bytesOf = (s: string) => [...Buffer.from(s, 'utf8')];
const topMap = (t: TokenEvent) => Object.fromEntries(t.top.map((x) => [x.text, x.logprob]));

/** Runs the events to the end: per sample its tokens and its done event, plus the preflight. */
async function collect(events: AsyncIterable<GenerateEvent>) {
  const samples = new Map<number, { tokens: TokenEvent[]; done?: DoneEvent }>();
  let promptTokens = 0;
  let preflight: Extract<GenerateEvent['event'], { $case: 'preflight' }>['value'] | undefined;
  for await (const e of events) {
    const ev = e.event;
    if (!ev) continue;
    if (ev.$case === 'preflight') {
      preflight = ev.value;
      promptTokens = ev.value.promptTokens;
    } else {
      const s = samples.get(ev.value.sample) ?? { tokens: [] };
      samples.set(ev.value.sample, s);
      if (ev.$case === 'token') s.tokens.push(ev.value);
      else s.done = ev.value;
    }
  }
  const sorted = [...samples.entries()].sort((a, b) => a[0] - b[0]).map(([, s]) => s);
  const completion = sorted.reduce((a, s) => a + (s.done?.completionTokens ?? 0), 0);
  return {
    samples: sorted,
    usage: {
      prompt_tokens: promptTokens,
      completion_tokens: completion,
      total_tokens: promptTokens + completion,
    },
    preflight,
  };
}

const isRealToken = (t: TokenEvent) => t.token !== '' || t.top.length > 0;

type SampleEvent = Exclude<NonNullable<GenerateEvent['event']>, { $case: 'preflight' }>;
interface Opened {
  events: AsyncIterable<GenerateEvent>;
  cancel: () => void;
}

/**
 * Streams OpenAI chunks: `head` plus one choice each, as `choicesFor` makes them from a token or done event;
 * then, when asked, a chunk with the usage; then `[DONE]`. A client that goes away cancels the generation.
 */
function streamChunks(
  c: Context,
  o: Opened,
  head: Record<string, unknown>,
  includeUsage: boolean,
  choicesFor: (ev: SampleEvent) => Record<string, unknown>[],
) {
  return streamSSE(c, async (stream) => {
    stream.onAbort(o.cancel);
    const usage = { prompt_tokens: 0, completion_tokens: 0, total_tokens: 0 };
    for await (const e of o.events) {
      const ev = e.event;
      if (!ev) continue;
      if (ev.$case === 'preflight') {
        usage.prompt_tokens = ev.value.promptTokens;
        continue;
      }
      if (ev.$case === 'done') usage.completion_tokens += ev.value.completionTokens;
      for (const choice of choicesFor(ev))
        await stream.writeSSE({ data: JSON.stringify({ ...head, choices: [choice] }) });
    }
    usage.total_tokens = usage.prompt_tokens + usage.completion_tokens;
    if (includeUsage) await stream.writeSSE({ data: JSON.stringify({ ...head, choices: [], usage }) });
    await stream.writeSSE({ data: '[DONE]' });
  });
}

export function openaiRoutes(app: Hono, services: ServiceClients) {
  const svc = services.infer;
  const now = () => Math.floor(Date.now() / 1000);

  app.get('/v1/models', async (c) => {
    try {
      const { models } = await svc.listModels!({}, localCallContext());
      return c.json({
        object: 'list',
        data: models.map((m) => ({
          id: m.name,
          object: 'model',
          created: Math.floor(Date.parse(m.createdAt || '1970-01-01') / 1000) || 0,
          owned_by: m.source === 'checkpoint' ? `job ${m.jobId}` : 'llm-lab',
        })),
      });
    } catch (err) {
      return fromLab(c, err);
    }
  });

  app.get('/v1/models/:model{.+}', async (c) => {
    try {
      const m = await svc.getModel!({ name: c.req.param('model') }, localCallContext());
      return c.json({
        id: m.name,
        object: 'model',
        created: Math.floor(Date.parse(m.createdAt) / 1000) || 0,
        owned_by: 'llm-lab',
      });
    } catch (err) {
      return fromLab(c, err);
    }
  });

  /** Opens a generation, or answers the OpenAI error of its first failure (bad input, unknown model). */
  async function open(c: Context, start: (signal: AbortSignal) => AsyncIterable<GenerateEvent>) {
    const controller = new AbortController();
    const call = start(controller.signal);
    const cancel = () => {
      controller.abort();
      (call as { cancel?: () => void }).cancel?.();
    };
    try {
      return { events: await started(call), cancel };
    } catch (err) {
      return { error: fromLab(c, err) };
    }
  }

  app.post('/v1/completions', async (c) => {
    const b = await parse(c, CompletionBody);
    if (b instanceof Response) return b;
    const prompt = typeof b.prompt === 'string' ? b.prompt : b.prompt[0]!;
    const k = b.logprobs ?? 0;
    const wantLogprobs = b.logprobs != null;
    const o = await open(c, (signal) =>
      svc.generate!(
        { model: b.model, prompt, messages: [], params: params(b, k, !!b.echo && wantLogprobs) },
        localCallContext(signal),
      ),
    );
    if ('error' in o) return o.error;
    const id = `cmpl-${randomUUID()}`;
    const created = now();
    const head = { id, object: 'text_completion', created, model: b.model };
    if (b.stream) {
      // The prompt leads the first chunk when echo is asked.
      let promptEcho = b.echo ? prompt : '';
      return streamChunks(c, o, head, !!b.stream_options?.include_usage, (ev) => {
        if (ev.$case === 'done')
          return [{ text: '', index: ev.value.sample, logprobs: null, finish_reason: finish(ev.value) }];
        const t = ev.value;
        const logprobs =
          wantLogprobs && isRealToken(t)
            ? { tokens: [t.token], token_logprobs: [t.logprob], top_logprobs: [topMap(t)], text_offset: [0] }
            : null;
        const text = promptEcho + t.text;
        promptEcho = '';
        return [{ text, index: t.sample, logprobs, finish_reason: null }];
      });
    }
    try {
      const { samples, usage, preflight } = await collect(o.events);
      return c.json({
        ...head,
        choices: samples.map((s, index) => {
          const toks = s.tokens.filter(isRealToken);
          let logprobs = null;
          if (wantLogprobs) {
            const echoed = b.echo ? (preflight?.tokens ?? []) : [];
            const tokens = [...echoed.map((t) => t.text), ...toks.map((t) => t.token)];
            const offsets: number[] = [];
            let off = 0;
            for (const t of tokens) {
              offsets.push(off);
              off += t.length;
            }
            logprobs = {
              tokens,
              token_logprobs: [
                ...echoed.map((t, i) => (i === 0 ? null : t.logprob)),
                ...toks.map((t) => t.logprob),
              ],
              top_logprobs: [...echoed.map(() => null), ...toks.map(topMap)],
              text_offset: offsets,
            };
          }
          return {
            text: (b.echo ? prompt : '') + (s.done?.text ?? ''),
            index,
            logprobs,
            finish_reason: s.done ? finish(s.done) : 'length',
          };
        }),
        usage,
      });
    } catch (err) {
      return fromLab(c, err);
    }
  });

  app.post('/v1/chat/completions', async (c) => {
    const b = await parse(c, ChatBody);
    if (b instanceof Response) return b;
    const messages = b.messages.map((m) => ({
      role: m.role === 'developer' ? 'system' : m.role,
      content: typeof m.content === 'string' ? m.content : m.content.map((p) => p.text).join(''),
    }));
    const k = b.logprobs ? (b.top_logprobs ?? 0) : 0;
    const o = await open(c, (signal) =>
      svc.chat!(
        { model: b.model, messages, params: params(b, k, false), conversationId: '', ephemeral: true },
        localCallContext(signal),
      ),
    );
    if ('error' in o) return o.error;
    const id = `chatcmpl-${randomUUID()}`;
    const created = now();
    const lpEntry = (t: TokenEvent) => ({
      token: t.token,
      logprob: t.logprob,
      bytes: bytesOf(t.token),
      top_logprobs: t.top.map((x) => ({ token: x.text, logprob: x.logprob, bytes: bytesOf(x.text) })),
    });
    if (b.stream) {
      const head = { id, object: 'chat.completion.chunk', created, model: b.model, system_fingerprint: null };
      const begun = new Set<number>();
      return streamChunks(c, o, head, !!b.stream_options?.include_usage, (ev) => {
        const index = ev.value.sample;
        const choices: Record<string, unknown>[] = [];
        // Each choice opens with the assistant's role, as OpenAI streams it.
        if (!begun.has(index)) {
          begun.add(index);
          choices.push({
            index,
            delta: { role: 'assistant', content: '' },
            logprobs: null,
            finish_reason: null,
          });
        }
        if (ev.$case === 'done')
          choices.push({ index, delta: {}, logprobs: null, finish_reason: finish(ev.value) });
        else {
          const t = ev.value;
          const logprobs = b.logprobs && isRealToken(t) ? { content: [lpEntry(t)] } : null;
          if (t.text || logprobs)
            choices.push({ index, delta: { content: t.text }, logprobs, finish_reason: null });
        }
        return choices;
      });
    }
    try {
      const { samples, usage } = await collect(o.events);
      return c.json({
        id,
        object: 'chat.completion',
        created,
        model: b.model,
        system_fingerprint: null,
        choices: samples.map((s, index) => ({
          index,
          message: { role: 'assistant', content: s.done?.text ?? '', refusal: null },
          logprobs: b.logprobs ? { content: s.tokens.filter(isRealToken).map(lpEntry) } : null,
          finish_reason: s.done ? finish(s.done) : 'length',
        })),
        usage,
      });
    } catch (err) {
      return fromLab(c, err);
    }
  });

  app.all('/v1/*', (c) =>
    openaiError(
      c,
      404,
      `Unknown request URL: ${c.req.method} ${c.req.path}`,
      'invalid_request_error',
      null,
      'unknown_url',
    ),
  );
}

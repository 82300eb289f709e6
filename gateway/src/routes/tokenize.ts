import { randomUUID } from 'node:crypto';
import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi';
import { fromServiceError, localCallContext } from '@lab/common';
import type { TrainTokenizerEvent } from '@lab/proto/tokenize';
import type { ServiceClients } from '../clients.ts';
import { ErrorBody } from '../errors.ts';
import { relayResponse, StreamRelay, started } from '../relay.ts';

const tags = ['tokenize'];
const json = <T extends z.ZodType>(schema: T, description: string) => ({
  description,
  content: { 'application/json': { schema } },
});
const errors = {
  400: json(ErrorBody, 'Invalid input; `error.field` names it'),
  404: json(ErrorBody, 'Unknown tokenizer'),
};
const body = <T extends z.ZodType>(schema: T) => ({
  body: { required: true, content: { 'application/json': { schema } } },
});

const name = z
  .string()
  .min(1)
  .max(512)
  .openapi({ description: 'A tokenizer of GET /api/tokenize/tokenizers', example: 'cl100k_base' });
const text = z
  .string()
  .max(16 * 1024 * 1024)
  .openapi({ description: 'Text, up to 16 Mi characters', example: 'Hello, world!' });

const TokenizerInfo = z
  .object({
    name: z.string(),
    kind: z
      .string()
      .openapi({ description: 'bpe (byte-level BPE), char (character-level) or hf (imported)' }),
    vocabSize: z.number().int(),
    builtin: z.boolean(),
    specialTokens: z.record(z.string(), z.number().int()),
  })
  .openapi('TokenizerInfo');

const Token = z
  .object({
    id: z.number().int(),
    text: z.string().openapi({ description: 'The span of the input this token covers' }),
    start: z.number().int().openapi({ description: 'UTF-16 offset of the span start' }),
    end: z.number().int(),
    bytes: z.string().openapi({ description: 'Token bytes, hex' }),
  })
  .openapi('Token');

const TrainProgress = z
  .object({
    state: z.enum(['running', 'done', 'failed']),
    phase: z
      .enum(['reading', 'merging'])
      .optional()
      .openapi({ description: "While running: reading a dataset's documents, or learning merges" }),
    merges: z.number().int().openapi({ description: 'Merges learned so far; when done, the merges learned' }),
    total: z.number().int().openapi({ description: 'Merges the vocabulary size asks for' }),
    documentsRead: z.number().int().optional().openapi({ description: 'Dataset documents read so far' }),
    documents: z.number().int().optional().openapi({ description: 'Documents in the dataset version' }),
    stopReason: z.enum(['vocab_size', 'min_frequency', 'no_pairs']).optional().openapi({
      description:
        'When done: why merging ended (vocabulary full, no pair left occurs minFrequency times, no pair left)',
    }),
    message: z.string().optional(),
    tokenizer: TokenizerInfo.optional(),
    error: z.object({ code: z.string(), message: z.string(), field: z.string().optional() }).optional(),
  })
  .openapi('TokenizerTrainProgress');
type TrainProgress = z.infer<typeof TrainProgress>;

export const routes = {
  list: createRoute({
    method: 'get',
    path: '/api/tokenize/tokenizers',
    tags,
    summary: 'Built-in and trained tokenizers',
    responses: { 200: json(z.object({ tokenizers: z.array(TokenizerInfo) }), 'Tokenizers') },
  }),
  encode: createRoute({
    method: 'post',
    path: '/api/tokenize/encode',
    tags,
    summary: 'Encode text; every token with its span and bytes (for the inspector)',
    request: body(
      z.object({
        tokenizer: name,
        text,
        allowedSpecial: z
          .array(z.string())
          .optional()
          .openapi({ description: 'Special tokens allowed in text; ["all"] for every one' }),
      }),
    ),
    responses: {
      200: json(z.object({ ids: z.array(z.number().int()), tokens: z.array(Token) }), 'Tokens'),
      ...errors,
    },
  }),
  decode: createRoute({
    method: 'post',
    path: '/api/tokenize/decode',
    tags,
    summary: 'Decode ids to text',
    request: body(
      z.object({
        tokenizer: name,
        ids: z.array(z.number().int().min(0)).max(4_000_000).openapi({ description: 'Token ids' }),
      }),
    ),
    responses: { 200: json(z.object({ text: z.string() }), 'Text'), ...errors },
  }),
  compare: createRoute({
    method: 'post',
    path: '/api/tokenize/compare',
    tags,
    summary: 'Compare tokenizers on one text',
    request: body(
      z.object({
        tokenizers: z.array(name).min(1).max(8).openapi({ description: 'One to eight tokenizers' }),
        text,
      }),
    ),
    responses: {
      200: json(
        z.object({
          results: z.array(
            z.object({
              tokenizer: z.string(),
              tokens: z.number().int(),
              characters: z.number().int(),
              bytes: z.number().int(),
              charsPerToken: z.number(),
              bytesPerToken: z.number(),
            }),
          ),
        }),
        'One row per tokenizer',
      ),
      ...errors,
    },
  }),
  vocab: createRoute({
    method: 'get',
    path: '/api/tokenize/tokenizers/{name}/vocab',
    tags,
    summary: 'A page of the vocabulary and of the merges',
    request: {
      params: z.object({ name }),
      query: z.object({
        offset: z.coerce
          .number()
          .int()
          .min(0)
          .default(0)
          .openapi({ description: 'First id; must be below the vocabulary size' }),
        limit: z.coerce.number().int().min(1).max(1000).default(100).openapi({ description: 'Ids per page' }),
      }),
    },
    responses: {
      200: json(
        z.object({
          total: z.number().int(),
          entries: z.array(
            z.object({
              id: z.number().int(),
              text: z.string(),
              bytes: z.string(),
              merge: z
                .tuple([z.string(), z.string()])
                .optional()
                .openapi({ description: 'The two tokens merged into this one (BPE)' }),
            }),
          ),
          merges: z.array(z.tuple([z.string(), z.string()])),
        }),
        'Vocabulary page',
      ),
      ...errors,
    },
  }),
  cost: createRoute({
    method: 'post',
    path: '/api/tokenize/cost',
    tags,
    summary: 'Token count and cost of a text at a price per 1,000 tokens',
    request: body(
      z.object({
        tokenizer: name,
        text,
        pricePer1k: z.number().min(0).openapi({ description: 'US dollars per 1,000 tokens' }),
      }),
    ),
    responses: { 200: json(z.object({ tokens: z.number().int(), cost: z.number() }), 'Estimate'), ...errors },
  }),
  coverage: createRoute({
    method: 'post',
    path: '/api/tokenize/coverage',
    tags,
    summary: 'How a corpus uses a vocabulary: unused ids, byte-fallback rate, most frequent tokens',
    request: body(
      z
        .object({
          tokenizer: name,
          text: text.optional().openapi({ description: 'The corpus (exactly one of text or path)' }),
          path: z
            .string()
            .optional()
            .openapi({ description: 'A UTF-8 text file on the machine running svc-tokenize' }),
          top: z
            .number()
            .int()
            .min(1)
            .max(1000)
            .optional()
            .openapi({ description: 'How many of the most frequent tokens to list (default 20)' }),
        })
        .refine((b) => !!b.text !== !!b.path, {
          message: 'give exactly one of text or path',
          path: ['text'],
        }),
    ),
    responses: {
      200: json(
        z.object({
          totalTokens: z.number().int(),
          distinctTokens: z.number().int(),
          unusedTokens: z.number().int(),
          byteFallbackRate: z.number(),
          topTokens: z.array(z.object({ id: z.number().int(), text: z.string(), count: z.number().int() })),
        }),
        'Coverage report',
      ),
      ...errors,
    },
  }),
  importTokenizer: createRoute({
    method: 'post',
    path: '/api/tokenize/tokenizers',
    tags,
    summary:
      'Register a Hugging Face tokenizer.json (inline) or a tokenizer.json / tiktoken file on the server',
    request: body(
      z
        .object({
          name: z
            .string()
            .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, "letters, digits, '.', '_' or '-', at most 64")
            .openapi({ description: 'Name to register it under (must be new)' }),
          json: z
            .string()
            .max(64 * 1024 * 1024)
            .optional()
            .openapi({ description: 'A Hugging Face tokenizer.json, inline (exactly one of json or path)' }),
          path: z.string().optional().openapi({
            description: 'A tokenizer.json or tiktoken file on the machine running svc-tokenize',
          }),
        })
        .refine((b) => !!b.json !== !!b.path, {
          message: 'give exactly one of json or path',
          path: ['json'],
        }),
    ),
    responses: { 201: json(TokenizerInfo, 'Registered'), ...errors, 409: json(ErrorBody, 'Name taken') },
  }),
  exportTokenizer: createRoute({
    method: 'get',
    path: '/api/tokenize/tokenizers/{name}/tokenizer.json',
    tags,
    summary: 'Download a tokenizer as tokenizer.json (Hugging Face format for BPE kinds)',
    request: { params: z.object({ name }) },
    responses: { 200: json(z.object({}).passthrough(), 'tokenizer.json'), ...errors },
  }),
  train: createRoute({
    method: 'post',
    path: '/api/tokenize/train',
    tags,
    summary:
      'Start training a tokenizer (byte-level BPE, or char) on a text, a file or a dataset version; follow it at /api/tokenize/train/{jobId}/events',
    request: body(
      z
        .object({
          name: z
            .string()
            .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, "letters, digits, '.', '_' or '-', at most 64")
            .openapi({ description: 'Name to register the result under (must be new)' }),
          vocabSize: z.number().int().min(1).max(1_000_000).openapi({
            description: 'Vocabulary size, counting the 256 byte tokens and the special tokens (bpe)',
          }),
          text: text
            .optional()
            .openapi({ description: 'Text to train on (exactly one of text, path or datasetId)' }),
          path: z
            .string()
            .optional()
            .openapi({ description: 'A text file on the machine running svc-tokenize' }),
          datasetId: z.string().optional().openapi({ description: 'A dataset of svc-data to train on' }),
          datasetVersion: z
            .number()
            .int()
            .min(0)
            .optional()
            .openapi({ description: 'Version of datasetId; 0 or absent means the latest' }),
          minFrequency: z
            .number()
            .int()
            .min(1)
            .optional()
            .openapi({ description: 'Pairs seen fewer times than this are never merged (default 2)' }),
          specialTokens: z
            .array(z.string().min(1))
            .max(100)
            .optional()
            .openapi({ description: 'Special tokens appended after the learned vocabulary' }),
          pattern: z
            .string()
            .optional()
            .openapi({ description: 'Pre-tokenisation: gpt2 (default), cl100k, o200k or a regex' }),
          kind: z
            .enum(['bpe', 'char'])
            .optional()
            .openapi({ description: 'bpe (default) or char (one id per character)' }),
        })
        .refine(
          (b) => [b.text, b.path, b.datasetId].filter((v) => v !== undefined && v !== '').length === 1,
          {
            message: 'give exactly one of text, path or datasetId',
            path: ['text'],
          },
        ),
    ),
    responses: { 202: json(z.object({ jobId: z.string() }), 'Started'), ...errors },
  }),
  trainEvents: createRoute({
    method: 'get',
    path: '/api/tokenize/train/{jobId}/events',
    tags,
    summary:
      'Progress of a training run as SSE (JSON TokenizerTrainProgress per message); resumable with Last-Event-ID',
    request: { params: z.object({ jobId: z.string() }) },
    responses: {
      200: { description: 'text/event-stream', content: { 'text/event-stream': { schema: TrainProgress } } },
      404: json(ErrorBody, 'Unknown job'),
    },
  }),
};

export function tokenizeRoutes(app: OpenAPIHono, services: ServiceClients) {
  const svc = services.tokenize;
  const ctx = () => localCallContext();
  const relay = new StreamRelay<TrainProgress>();

  app.openapi(routes.list, async (c) => c.json((await svc.listTokenizers!({}, ctx())) as never, 200));

  app.openapi(routes.encode, async (c) => {
    const b = c.req.valid('json');
    const res = await svc.encode!(
      { tokenizer: b.tokenizer, text: b.text, withTokens: true, allowedSpecial: b.allowedSpecial ?? [] },
      ctx(),
    );
    return c.json(
      {
        ids: res.ids,
        tokens: res.tokens.map((t) => ({
          id: t.id,
          text: t.text,
          start: t.start,
          end: t.end,
          bytes: t.bytesHex,
        })),
      },
      200,
    );
  });

  app.openapi(routes.decode, async (c) => c.json(await svc.decode!(c.req.valid('json'), ctx()), 200));

  app.openapi(routes.compare, async (c) => c.json(await svc.compare!(c.req.valid('json'), ctx()), 200));

  app.openapi(routes.vocab, async (c) => {
    const { name: tokenizer } = c.req.valid('param');
    const page = c.req.valid('query');
    const res = await svc.getVocab!({ tokenizer, page }, ctx());
    return c.json(
      {
        total: res.total,
        entries: res.entries.map((e) => ({
          id: e.id,
          text: e.text,
          bytes: e.bytesHex,
          ...(e.merge ? { merge: [e.merge.left, e.merge.right] as [string, string] } : {}),
        })),
        merges: res.merges.map((m) => [m.left, m.right] as [string, string]),
      },
      200,
    );
  });

  app.openapi(routes.cost, async (c) => c.json(await svc.estimateCost!(c.req.valid('json'), ctx()), 200));

  app.openapi(routes.coverage, async (c) => {
    const b = c.req.valid('json');
    return c.json(
      await svc.coverage!(
        { tokenizer: b.tokenizer, text: b.text ?? '', path: b.path ?? '', top: b.top ?? 0 },
        ctx(),
      ),
      200,
    );
  });

  app.openapi(routes.importTokenizer, async (c) => {
    const b = c.req.valid('json');
    return c.json(
      (await svc.importTokenizer!({ name: b.name, json: b.json ?? '', path: b.path ?? '' }, ctx())) as never,
      201,
    );
  });

  app.openapi(routes.exportTokenizer, async (c) => {
    const { json: text } = await svc.exportTokenizer!({ tokenizer: c.req.valid('param').name }, ctx());
    c.header('content-disposition', `attachment; filename="${c.req.valid('param').name}.tokenizer.json"`);
    return c.body(text, 200, { 'content-type': 'application/json' }) as never;
  });

  app.openapi(routes.train, async (c) => {
    const b = c.req.valid('json');
    const jobId = randomUUID();
    const stream = svc.train!(
      {
        name: b.name,
        vocabSize: b.vocabSize,
        text: b.text ?? '',
        path: b.path ?? '',
        datasetId: b.datasetId ?? '',
        datasetVersion: b.datasetVersion ?? 0,
        minFrequency: b.minFrequency ?? 0,
        specialTokens: b.specialTokens ?? [],
        pattern: b.pattern ?? '',
        kind: b.kind ?? '',
      },
      ctx(),
    );
    // Bad input (a taken name, a vocabulary too small) answers this request, not the event stream.
    const events = await started(stream);
    const requested = (b.kind ?? 'bpe') === 'bpe' ? b.vocabSize - 256 - (b.specialTokens?.length ?? 0) : 0;
    relay.start(jobId, mapProgress(events, requested), (err) => {
      const e = fromServiceError(err).toJSON();
      return { state: 'failed', merges: 0, total: 0, message: e.message, error: e };
    });
    return c.json({ jobId }, 202);
  });

  app.openapi(
    routes.trainEvents,
    (c) => relayResponse(c, relay, c.req.valid('param').jobId, 'training run') as never,
  );
}

const STOP_REASONS = new Set(['vocab_size', 'min_frequency', 'no_pairs']);

/** Service events as the web sees them; `requested` is the merges the vocabulary size asks for. */
async function* mapProgress(
  events: AsyncIterable<TrainTokenizerEvent>,
  requested: number,
): AsyncGenerator<TrainProgress> {
  let total = requested;
  let merges = 0;
  let documents: { documentsRead: number; documents: number } | undefined;
  for await (const e of events) {
    if (e.done) {
      const s = e.summary;
      const reason = STOP_REASONS.has(s?.stopReason ?? '')
        ? (s!.stopReason as TrainProgress['stopReason'])
        : undefined;
      yield {
        state: 'done',
        merges: s?.mergesLearned ?? merges,
        total: s?.mergesRequested ?? total,
        ...(s?.documents ? { documentsRead: s.documents, documents: s.documents } : {}),
        ...(reason ? { stopReason: reason } : {}),
        message: s?.message || 'done',
        tokenizer: e.done,
      };
      return;
    }
    const p = e.progress;
    if (e.phase === 'reading') documents = { documentsRead: p?.done ?? 0, documents: p?.total ?? 0 };
    else {
      merges = p?.done ?? merges;
      total = p?.total ?? total;
    }
    yield {
      state: 'running',
      phase: e.phase === 'reading' ? 'reading' : 'merging',
      merges,
      total,
      ...documents,
      message: p?.message,
    };
  }
}

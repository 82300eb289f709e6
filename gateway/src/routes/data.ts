import { randomUUID } from 'node:crypto';
import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi';
import { fromServiceError, LabError, localCallContext } from '@lab/common';
import type { Progress } from '@lab/proto/common';
import type { IngestEvent, UploadChunk } from '@lab/proto/data';
import type { ServiceClients } from '../clients.ts';
import { ErrorBody } from '../errors.ts';
import { relayResponse, StreamRelay, started } from '../relay.ts';

const tags = ['data'];
const json = <T extends z.ZodType>(schema: T, description: string) => ({
  description,
  content: { 'application/json': { schema } },
});
const errors = {
  400: json(ErrorBody, 'Invalid input; `error.field` names it'),
  404: json(ErrorBody, 'Unknown dataset or version'),
};
const counts = z.record(z.string(), z.number().int());

const DatasetVersion = z
  .object({
    version: z.number().int(),
    parent: z.number().int().openapi({ description: 'Version this one was made from; 0 for the first' }),
    step: z.string().openapi({ example: 'clean+pii+dedup_near' }),
    paramsJson: z.string().openapi({ description: 'The steps with every parameter, as JSON' }),
    documents: z.number().int(),
    characters: z.number().int(),
    bytes: z.number().int(),
    splits: counts,
    createdAt: z.string(),
  })
  .openapi('DatasetVersion');

const Dataset = z
  .object({
    id: z.string(),
    name: z.string(),
    source: z.string(),
    format: z.string(),
    createdAt: z.string(),
    versions: z.array(DatasetVersion),
    documentSplit: z.string().openapi({
      description:
        'What one document is: paragraph, line or file (txt), or record; quality defaults depend on it',
    }),
  })
  .openapi('Dataset');

const StepReport = z
  .object({
    kind: z.string(),
    paramsJson: z.string(),
    documentsIn: z.number().int(),
    documentsOut: z.number().int(),
    removed: counts.openapi({ description: 'Documents removed, by reason' }),
    counts: counts.openapi({ description: 'PII per kind, documents changed, splits, …' }),
    examples: z.array(
      z.object({
        reason: z.string(),
        before: z.string(),
        after: z.string(),
        index: z.number().int(),
        keptIndex: z.number().int(),
        similarity: z
          .number()
          .openapi({ description: 'Near duplicates: Jaccard similarity to the kept one' }),
        measure: z.string().openapi({ description: 'What the removal was measured by, e.g. "words"' }),
        value: z.number().openapi({ description: "The document's value of that measure" }),
        limit: z.number().openapi({ description: 'The threshold it failed' }),
        limitKind: z.string().openapi({ description: '"min" (had to be at least the limit), "max" or ""' }),
      }),
    ),
    clusters: z.number().int(),
    durationMs: z.number(),
    charactersIn: z.number().int(),
    charactersOut: z.number().int(),
    warnings: z
      .array(z.string())
      .openapi({ description: 'E.g. a step removing more than a quarter of the documents or characters' }),
  })
  .openapi('StepReport');

const Stats = z
  .object({
    version: z.number().int(),
    documents: z.number().int(),
    characters: z.number().int(),
    bytes: z.number().int(),
    words: z.number().int(),
    tokens: z.number().int(),
    tokenizer: z.string(),
    lengthBucketBounds: z.array(z.number()),
    lengthBucketCounts: z.array(z.number().int()),
    topNgrams: z.array(z.object({ ngram: z.string(), count: z.number().int() })),
    splits: counts,
    minLength: z.number().int(),
    maxLength: z.number().int(),
    meanLength: z.number(),
  })
  .openapi('DatasetStats');

const ShardIndex = z
  .object({
    dir: z.string(),
    dtype: z.enum(['uint16', 'uint32']),
    tokenizer: z.string(),
    vocabSize: z.number().int(),
    separatorId: z.number().int(),
    tokens: z.number().int(),
    splits: z.array(
      z.object({
        name: z.string(),
        tokens: z.number().int(),
        documents: z.number().int(),
        files: z.array(z.object({ file: z.string(), tokens: z.number().int() })),
      }),
    ),
  })
  .openapi('ShardIndex');

const JobProgress = z
  .object({
    state: z.enum(['running', 'done', 'failed']),
    done: z.number().int(),
    total: z.number().int(),
    message: z.string(),
    version: DatasetVersion.optional().openapi({
      description: 'Transform jobs, when done (not for a dry run)',
    }),
    reports: z.array(StepReport).optional(),
    documents: z
      .number()
      .int()
      .optional()
      .openapi({ description: 'Transform jobs: documents of the result' }),
    characters: z
      .number()
      .int()
      .optional()
      .openapi({ description: 'Transform jobs: characters of the result' }),
    index: ShardIndex.optional().openapi({ description: 'Shard jobs, when done' }),
    error: z.object({ code: z.string(), message: z.string(), field: z.string().optional() }).optional(),
  })
  .openapi('DataJobProgress');
type JobProgress = z.infer<typeof JobProgress>;

const ingestFields = {
  name: z.string().max(200).optional().openapi({ description: 'Display name; default the file name' }),
  format: z.string().optional().openapi({
    description: 'txt, jsonl, json, csv, parquet, alpaca, sharegpt, chatml; default from the extension',
  }),
  textField: z
    .string()
    .max(200)
    .optional()
    .openapi({ description: 'jsonl/json/csv/parquet: field or column holding the text (default "text")' }),
  documentSplit: z.enum(['paragraph', 'line', 'file']).optional().openapi({
    description: 'txt: what one document is: blank-line separated paragraph (default), line or whole file',
  }),
};
const IngestJson = z
  .object({
    path: z.string().min(1).openapi({ description: 'A file on the machine running svc-data' }),
    maxBytes: z
      .number()
      .int()
      .min(1)
      .optional()
      .openapi({ description: "Refuse a file larger than this (default: the service's limit)" }),
    ...ingestFields,
  })
  .openapi('IngestPath');
const IngestForm = z
  .object({
    file: z.any().openapi({ type: 'string', format: 'binary', description: 'The file to upload' }),
    maxBytes: z.coerce
      .number()
      .int()
      .min(1)
      .optional()
      .openapi({ description: "Refuse a file larger than this (default: the service's limit)" }),
    ...ingestFields,
  })
  .openapi('IngestUpload');

const id = z.string().min(1).max(100).openapi({ example: 'tinyshakespeare-1a2b3c' });
const versionParams = z.object({
  id,
  version: z.coerce.number().int().min(0).openapi({ description: 'Version number; 0 for the latest' }),
});

const StepsBody = z.object({
  from: z
    .number()
    .int()
    .min(0)
    .optional()
    .openapi({ description: 'Version to start from; default the latest' }),
  steps: z
    .array(
      z.looseObject({ kind: z.string().min(1).openapi({ description: 'The step kind' }) }).openapi({
        description: 'The step kind and its parameters',
        example: { kind: 'dedup_near', threshold: 0.8 },
      }),
    )
    .min(1)
    .max(32)
    .openapi({
      description:
        'Applied in order; kinds: clean, pii, quality, dedup_exact, dedup_near, split (GET …/step-defaults lists every parameter)',
    }),
  dryRun: z
    .boolean()
    .optional()
    .openapi({ description: 'Report what the steps would do without making a version' }),
});
const ShardsBody = z.object({
  tokenizer: z.string().min(1).openapi({
    description: 'A built-in tokenizer, one trained by svc-tokenize, or a tokenizer.json path',
    example: 'gpt2',
  }),
  shardTokens: z
    .number()
    .int()
    .min(1024)
    .optional()
    .openapi({ description: 'Tokens per shard file (default 16,777,216)' }),
  noSeparator: z.boolean().optional().openapi({
    description: "No end-of-text token between documents (by default the tokenizer's, if it has one)",
  }),
});
const Dependent = z
  .object({
    kind: z.enum(['version', 'job', 'shards', 'unknown']),
    id: z.string(),
    description: z.string(),
    blocking: z.boolean().openapi({ description: 'Deleting is refused because of it' }),
    needsForce: z.boolean().openapi({ description: 'Deleting goes ahead only with force=true' }),
  })
  .openapi('DataDependent');
const deleteQuery = z.object({
  force: z
    .enum(['true', 'false'])
    .optional()
    .openapi({ description: 'Delete although finished jobs or later versions refer to it' }),
});
const Deleted = json(
  z.object({
    deletedVersions: z.array(z.number().int()),
    datasetDeleted: z.boolean(),
    bytesFreed: z.number().int(),
    dependents: z.array(Dependent),
  }),
  'Deleted',
);
const refused = json(
  ErrorBody,
  'Something depends on it: a running job (always), or others without force=true',
);

const jsonBody = <T extends z.ZodType>(schema: T) => ({
  body: { required: true, content: { 'application/json': { schema } } },
});
const startedResponse = json(
  z.object({ jobId: z.string() }),
  'Started; follow it at /api/data/jobs/{jobId}/events',
);

export const routes = {
  list: createRoute({
    method: 'get',
    path: '/api/data/datasets',
    tags,
    summary: 'Datasets, newest first',
    request: {
      query: z.object({
        offset: z.coerce.number().int().min(0).default(0),
        limit: z.coerce.number().int().min(1).max(1000).default(100),
      }),
    },
    responses: {
      200: json(z.object({ datasets: z.array(Dataset), total: z.number().int() }), 'Datasets'),
      400: errors[400],
    },
  }),
  create: createRoute({
    method: 'post',
    path: '/api/data/datasets',
    tags,
    summary:
      'Create a dataset: upload a file (multipart: file, name, format, textField, documentSplit, maxBytes) or name a server-side path (JSON)',
    request: {
      body: {
        required: false,
        content: {
          'application/json': { schema: IngestJson },
          'multipart/form-data': { schema: IngestForm },
        },
      },
    },
    responses: {
      201: json(
        z.object({
          id: z.string(),
          version: z.number().int(),
          dataset: Dataset,
          warnings: z
            .array(z.string())
            .openapi({ description: 'Input skipped, e.g. a malformed JSONL line' }),
        }),
        'Created',
      ),
      ...errors,
      413: json(ErrorBody, 'File above the size limit'),
    },
  }),
  get: createRoute({
    method: 'get',
    path: '/api/data/datasets/{id}',
    tags,
    summary: 'A dataset with all its versions (lineage)',
    request: { params: z.object({ id }) },
    responses: { 200: json(Dataset, 'Dataset'), ...errors },
  }),
  transform: createRoute({
    method: 'post',
    path: '/api/data/datasets/{id}/versions',
    tags,
    summary:
      'Apply steps (clean, pii, quality, dedup_exact, dedup_near, split) to a version, making a new one',
    request: {
      params: z.object({ id }),
      ...jsonBody(StepsBody),
    },
    responses: {
      201: json(
        z.object({ version: DatasetVersion, reports: z.array(StepReport) }),
        'The new version and its report',
      ),
      200: json(
        z.object({ reports: z.array(StepReport), documents: z.number().int(), characters: z.number().int() }),
        'A dry run: what the steps would do',
      ),
      ...errors,
    },
  }),
  stepDefaults: createRoute({
    method: 'get',
    path: '/api/data/datasets/{id}/step-defaults',
    tags,
    summary: "Every step kind with every parameter at the default for this dataset's kind of document",
    request: { params: z.object({ id }) },
    responses: {
      200: json(
        z.object({
          documentSplit: z.string(),
          steps: z.array(z.looseObject({ kind: z.string() })),
          note: z.string().openapi({ description: "Why the defaults differ from Gopher's, when they do" }),
        }),
        'Defaults',
      ),
      ...errors,
    },
  }),
  dependents: createRoute({
    method: 'get',
    path: '/api/data/datasets/{id}/dependents',
    tags,
    summary: 'What depends on a dataset, or on one version: what deleting it would affect',
    request: {
      params: z.object({ id }),
      query: z.object({
        version: z.coerce
          .number()
          .int()
          .min(1)
          .optional()
          .openapi({ description: 'One version; default all' }),
      }),
    },
    responses: {
      200: json(
        z.object({
          dependents: z.array(Dependent),
          versions: z.array(z.number().int()),
          bytes: z.number().int(),
        }),
        'Dependents, blocking ones first',
      ),
      ...errors,
    },
  }),
  deleteDataset: createRoute({
    method: 'delete',
    path: '/api/data/datasets/{id}',
    tags,
    summary: 'Delete a dataset with all its versions and shards',
    request: { params: z.object({ id }), query: deleteQuery },
    responses: { 200: Deleted, ...errors, 409: refused },
  }),
  deleteVersion: createRoute({
    method: 'delete',
    path: '/api/data/datasets/{id}/versions/{version}',
    tags,
    summary: 'Delete one version (not the only one) and its shards',
    request: {
      params: z.object({ id, version: z.coerce.number().int().min(1) }),
      query: deleteQuery,
    },
    responses: { 200: Deleted, ...errors, 409: refused },
  }),
  report: createRoute({
    method: 'get',
    path: '/api/data/datasets/{id}/versions/{version}',
    tags,
    summary: 'One version with the report of the steps that made it (the cleaning report)',
    request: { params: versionParams },
    responses: {
      200: json(
        z.object({ version: DatasetVersion, reports: z.array(StepReport), warnings: z.array(z.string()) }),
        'Version and report',
      ),
      ...errors,
    },
  }),
  stats: createRoute({
    method: 'get',
    path: '/api/data/datasets/{id}/versions/{version}/stats',
    tags,
    summary: 'Statistics of a version: documents, characters, tokens, length histogram, top n-grams',
    request: {
      params: versionParams,
      query: z.object({
        tokenizer: z.string().optional().openapi({ description: 'Count tokens with this tokenizer' }),
        ngram: z.coerce.number().int().min(1).max(10).default(2).openapi({ description: 'n of the n-grams' }),
        topK: z.coerce
          .number()
          .int()
          .min(1)
          .max(1000)
          .default(20)
          .openapi({ description: 'How many of the most frequent n-grams' }),
      }),
    },
    responses: { 200: json(Stats, 'Statistics'), ...errors },
  }),
  documents: createRoute({
    method: 'get',
    path: '/api/data/datasets/{id}/versions/{version}/documents',
    tags,
    summary: 'A page of documents of a version',
    request: {
      params: versionParams,
      query: z.object({
        offset: z.coerce.number().int().min(0).default(0),
        limit: z.coerce.number().int().min(1).max(1000).default(20),
        split: z
          .string()
          .optional()
          .openapi({ description: 'Only documents of this split, e.g. train or val' }),
      }),
    },
    responses: {
      200: json(
        z.object({
          total: z.number().int(),
          documents: z.array(
            z.object({
              index: z.number().int(),
              text: z.string(),
              split: z.string(),
              fields: z.record(z.string(), z.string()).openapi({
                description:
                  'The record’s other scalar fields (JSONL/JSON fields, CSV columns besides the text), as strings: labels, ids',
              }),
            }),
          ),
        }),
        'Documents',
      ),
      ...errors,
    },
  }),
  shards: createRoute({
    method: 'post',
    path: '/api/data/datasets/{id}/versions/{version}/shards',
    tags,
    summary: 'Tokenize a version into binary shards (uint16/uint32) with index.json, for training',
    request: {
      params: versionParams,
      ...jsonBody(ShardsBody),
    },
    responses: { 201: json(ShardIndex, 'Where the shards are and what they hold'), ...errors },
  }),
  transformJob: createRoute({
    method: 'post',
    path: '/api/data/datasets/{id}/versions/jobs',
    tags,
    summary: 'Like POST …/versions, but answers at once; follow progress at /api/data/jobs/{jobId}/events',
    request: { params: z.object({ id }), ...jsonBody(StepsBody) },
    responses: { 202: startedResponse, ...errors },
  }),
  shardsJob: createRoute({
    method: 'post',
    path: '/api/data/datasets/{id}/versions/{version}/shards/jobs',
    tags,
    summary: 'Like POST …/shards, but answers at once; follow progress at /api/data/jobs/{jobId}/events',
    request: { params: versionParams, ...jsonBody(ShardsBody) },
    responses: { 202: startedResponse, ...errors },
  }),
  jobEvents: createRoute({
    method: 'get',
    path: '/api/data/jobs/{jobId}/events',
    tags,
    summary: 'Progress of a data job as SSE (JSON DataJobProgress per message); resumable with Last-Event-ID',
    request: { params: z.object({ jobId: z.string() }) },
    responses: {
      200: { description: 'text/event-stream', content: { 'text/event-stream': { schema: JobProgress } } },
      404: json(ErrorBody, 'Unknown job'),
    },
  }),
};

/** Progress events as DataJobProgress; `last` picks the result fields out of the final event. */
async function* toJobProgress<E extends { progress?: Progress | undefined }>(
  events: AsyncIterable<E>,
  last: (e: E) => Partial<JobProgress> | undefined,
): AsyncGenerator<JobProgress> {
  for await (const e of events) {
    const p = e.progress ?? { done: 0, total: 0, message: '' };
    const end = last(e);
    yield { state: end ? 'done' : 'running', done: p.done, total: p.total, message: p.message, ...end };
  }
}

const UPLOAD_CHUNK = 256 * 1024;

/** The Upload stream's messages: the header, then the file's bytes in chunks as they are read. */
async function* uploadMessages(
  file: File,
  header: NonNullable<UploadChunk['header']>,
): AsyncGenerator<UploadChunk> {
  yield { header, data: Buffer.alloc(0) };
  const reader = file.stream().getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return;
    for (let i = 0; i < value.length; i += UPLOAD_CHUNK)
      yield { header: undefined, data: Buffer.from(value.subarray(i, i + UPLOAD_CHUNK)) };
  }
}

async function lastOf<T>(events: AsyncIterable<T>): Promise<T> {
  let last: T | undefined;
  for await (const e of events) last = e;
  if (last === undefined) throw new LabError('INTERNAL', 'the data service ended without an answer');
  return last;
}

export function dataRoutes(app: OpenAPIHono, services: ServiceClients) {
  const svc = services.data;
  const ctx = () => localCallContext();
  const relay = new StreamRelay<JobProgress>();
  const failed = (err: unknown): JobProgress => {
    const e = fromServiceError(err).toJSON();
    return { state: 'failed', done: 0, total: 0, message: e.message, error: e };
  };
  const transformRequest = (datasetId: string, b: z.infer<typeof StepsBody>) => ({
    datasetId,
    version: b.from ?? 0,
    dryRun: b.dryRun ?? false,
    steps: b.steps.map(({ kind, ...params }) => ({
      kind: kind as string,
      paramsJson: JSON.stringify(params),
    })),
  });
  const shardsRequest = (datasetId: string, version: number, b: z.infer<typeof ShardsBody>) => ({
    datasetId,
    version,
    tokenizer: b.tokenizer,
    shardTokens: b.shardTokens ?? 0,
    noSeparator: b.noSeparator ?? false,
  });

  app.openapi(routes.list, async (c) => {
    const page = c.req.valid('query');
    return c.json((await svc.listDatasets!({ page }, ctx())) as never, 200);
  });

  app.openapi(routes.create, async (c) => {
    const type = c.req.header('content-type') ?? '';
    let events: AsyncIterable<IngestEvent>;
    if (/^multipart\/form-data/i.test(type)) {
      const f = c.req.valid('form') as z.infer<typeof IngestForm>;
      if (!(f.file instanceof File))
        throw new LabError('INVALID_ARGUMENT', 'file: attach the file as the multipart field "file"', 'file');
      events = svc.upload!(
        uploadMessages(f.file, {
          name: f.name ?? '',
          filename: f.file.name || 'upload',
          format: f.format ?? '',
          textField: f.textField ?? '',
          documentSplit: f.documentSplit ?? '',
          maxBytes: f.maxBytes ?? 0,
          size: f.file.size,
        }),
        ctx(),
      );
    } else {
      const b = c.req.valid('json') as Partial<z.infer<typeof IngestJson>>;
      if (!b.path)
        throw new LabError(
          'INVALID_ARGUMENT',
          'path: give {"path": …} as JSON, or upload a file as multipart/form-data',
          'path',
        );
      events = svc.ingest!(
        {
          name: b.name ?? '',
          path: b.path,
          format: b.format ?? '',
          textField: b.textField ?? '',
          documentSplit: b.documentSplit ?? '',
          maxBytes: b.maxBytes ?? 0,
        },
        ctx(),
      );
    }
    const last = await lastOf(events);
    const dataset = last.dataset!;
    return c.json({ id: dataset.id, version: 1, dataset, warnings: last.warnings } as never, 201);
  });

  app.openapi(routes.get, async (c) =>
    c.json((await svc.getDataset!(c.req.valid('param'), ctx())) as never, 200),
  );

  app.openapi(routes.transform, async (c) => {
    const { id: datasetId } = c.req.valid('param');
    const last = await lastOf(svc.transform!(transformRequest(datasetId, c.req.valid('json')), ctx()));
    if (!last.version)
      return c.json(
        { reports: last.reports, documents: last.documents, characters: last.characters } as never,
        200,
      );
    return c.json({ version: last.version, reports: last.reports } as never, 201);
  });

  app.openapi(routes.transformJob, async (c) => {
    const { id: datasetId } = c.req.valid('param');
    const events = await started(svc.transform!(transformRequest(datasetId, c.req.valid('json')), ctx()));
    const jobId = randomUUID();
    relay.start(
      jobId,
      // A dry run's last event has reports and no version.
      toJobProgress(events, (e) =>
        e.version || e.reports.length
          ? ({
              version: e.version,
              reports: e.reports,
              documents: e.documents,
              characters: e.characters,
            } as never)
          : undefined,
      ),
      failed,
    );
    return c.json({ jobId }, 202);
  });

  app.openapi(routes.stepDefaults, async (c) => {
    const r = await svc.getStepDefaults!({ datasetId: c.req.valid('param').id }, ctx());
    const steps = r.steps.map((s) => ({ kind: s.kind, ...(JSON.parse(s.paramsJson) as object) }));
    return c.json({ documentSplit: r.documentSplit, steps, note: r.note } as never, 200);
  });

  app.openapi(routes.dependents, async (c) => {
    const { id: datasetId } = c.req.valid('param');
    const { version } = c.req.valid('query');
    return c.json((await svc.getDependents!({ datasetId, version }, ctx())) as never, 200);
  });

  app.openapi(routes.deleteDataset, async (c) => {
    const { id: datasetId } = c.req.valid('param');
    const force = c.req.valid('query').force === 'true';
    return c.json((await svc.deleteDataset!({ datasetId, force }, ctx())) as never, 200);
  });

  app.openapi(routes.deleteVersion, async (c) => {
    const { id: datasetId, version } = c.req.valid('param');
    const force = c.req.valid('query').force === 'true';
    return c.json((await svc.deleteDataset!({ datasetId, version, force }, ctx())) as never, 200);
  });

  app.openapi(routes.report, async (c) => {
    const { id: datasetId, version } = c.req.valid('param');
    return c.json((await svc.getReport!({ datasetId, version }, ctx())) as never, 200);
  });

  app.openapi(routes.stats, async (c) => {
    const { id: datasetId, version } = c.req.valid('param');
    const q = c.req.valid('query');
    const s = await svc.getStats!(
      { datasetId, version, tokenizer: q.tokenizer ?? '', ngram: q.ngram, topK: q.topK },
      ctx(),
    );
    return c.json(s as never, 200);
  });

  app.openapi(routes.documents, async (c) => {
    const { id: datasetId, version } = c.req.valid('param');
    const q = c.req.valid('query');
    const res = await svc.listDocuments!(
      { datasetId, version, page: { offset: q.offset, limit: q.limit }, split: q.split ?? '' },
      ctx(),
    );
    return c.json(res as never, 200);
  });

  app.openapi(routes.shards, async (c) => {
    const { id: datasetId, version } = c.req.valid('param');
    const last = await lastOf(svc.tokenize!(shardsRequest(datasetId, version, c.req.valid('json')), ctx()));
    return c.json(last.index as never, 201);
  });

  app.openapi(routes.shardsJob, async (c) => {
    const { id: datasetId, version } = c.req.valid('param');
    const events = await started(
      svc.tokenize!(shardsRequest(datasetId, version, c.req.valid('json')), ctx()),
    );
    const jobId = randomUUID();
    relay.start(
      jobId,
      toJobProgress(events, (e) => (e.index ? ({ index: e.index } as never) : undefined)),
      failed,
    );
    return c.json({ jobId }, 202);
  });

  app.openapi(
    routes.jobEvents,
    (c) => relayResponse(c, relay, c.req.valid('param').jobId, 'data job') as never,
  );
}

// The gateway's OpenAPI document as its readers need it, and the typed contract the web derives from the same
// routes (src/contract.ts). The document needs no service: it is written from the route definitions alone.
import { loadConfig, MemoryBus } from '@lab/common';
import { describe, expect, expectTypeOf, it } from 'vitest';
import { createApp } from '../src/app.ts';
import { connectServices } from '../src/clients.ts';
import type {
  ApiErrorBody,
  BodyOf,
  EventOf,
  GenerationEvent,
  QueryOf,
  ResponseOf,
  Routes,
} from '../src/contract.ts';

interface Schema {
  $ref?: string;
  description?: string;
  type?: string;
  properties?: Record<string, Schema>;
  items?: Schema;
  allOf?: Schema[];
  anyOf?: Schema[];
  oneOf?: Schema[];
}
interface Operation {
  summary?: string;
  description?: string;
  parameters?: { name: string; in: string; description?: string; schema?: Schema }[];
  requestBody?: { content: Record<string, { schema: Schema }> };
  responses: Record<string, { description?: string; content?: Record<string, { schema: Schema }> }>;
}
interface Doc {
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, Schema> };
}

const services = connectServices(loadConfig({ LAB_HOME: '/tmp/lab-openapi-test' }));
const app = createApp({ services, bus: new MemoryBus() });
const load = async () => (await (await app.request('/api/openapi.json')).json()) as Doc;

/** A schema with its $ref (and allOf parts) followed: what a reader of the document sees for it. */
function views(doc: Doc, s: Schema | undefined): Schema[] {
  if (!s) return [];
  const own = s.$ref ? [s, doc.components.schemas[s.$ref.split('/').pop()!]!] : [s];
  return [...own, ...own.flatMap((v) => (v.allOf ?? []).flatMap((p) => views(doc, p)))];
}

/** Paths of the fields of a request body with no description anywhere a reader would look. */
function undocumented(doc: Doc, s: Schema, path: string, out: string[], seen = new Set<Schema>()) {
  for (const v of views(doc, s)) {
    if (seen.has(v)) continue;
    seen.add(v);
    for (const u of [...(v.anyOf ?? []), ...(v.oneOf ?? [])]) undocumented(doc, u, path, out, seen);
    if (v.items) undocumented(doc, v.items, `${path}[]`, out, seen);
    for (const [k, p] of Object.entries(v.properties ?? {})) {
      if (!views(doc, p).some((x) => x.description)) out.push(`${path}.${k}`);
      undocumented(doc, p, `${path}.${k}`, out, seen);
    }
  }
}

const operations = (doc: Doc) =>
  Object.entries(doc.paths).flatMap(([path, item]) =>
    Object.entries(item).map(([method, op]) => ({ name: `${method.toUpperCase()} ${path}`, op })),
  );

describe('the OpenAPI document', () => {
  it('gives every route a summary, and every request field a user fills in a description', async () => {
    const doc = await load();
    const missing: string[] = [];
    for (const { name, op } of operations(doc)) {
      if (!op.summary) missing.push(`${name}: summary`);
      const body = op.requestBody?.content['application/json']?.schema;
      const fields: string[] = [];
      if (body) undocumented(doc, body, 'body', fields);
      // Paging is the same everywhere and says what it is.
      for (const p of op.parameters ?? [])
        if (
          p.in === 'query' &&
          !['offset', 'limit'].includes(p.name) &&
          !p.description &&
          !p.schema?.description
        )
          fields.push(`query.${p.name}`);
      missing.push(...fields.map((f) => `${name}: ${f}`));
    }
    expect(missing).toEqual([]);
  });

  it('says nothing is "not available yet" that the services do today', async () => {
    const doc = await load();
    // The training route once called svc-data datasets unavailable after svc-train had learnt to read them.
    const stale = JSON.stringify(doc).match(/"[^"]*not (available|supported) yet[^"]*"/gi) ?? [];
    expect(stale).toEqual([]);
    const submit = doc.paths['/api/train/jobs']!.post!.requestBody!.content['application/json']!;
    const datasetId = submit.schema.properties!.datasetId!;
    expect(datasetId.description).toMatch(/shards/);
  });

  it('documents the message of every event stream it serves with a schema, not as a bare string', async () => {
    const doc = await load();
    const streams = operations(doc).filter(({ op }) => op.responses['200']?.content?.['text/event-stream']);
    const bare = streams
      .filter(({ op }) => !op.responses['200']!.content!['text/event-stream']!.schema.$ref)
      .map(({ name }) => name);
    expect(streams.length).toBeGreaterThanOrEqual(5);
    // Generation streams several kinds of event, each a svc-infer message (see GenerationEvent).
    expect(bare.sort()).toEqual(['POST /api/infer/chat', 'POST /api/infer/generate']);
  });
});

describe('the typed contract the web reads (checked by tsc)', () => {
  it('reads bodies, answers and stream messages off the routes', () => {
    type Dataset = ResponseOf<Routes['data']['get'], 200>;
    expectTypeOf<Dataset>().not.toBeNever();
    expectTypeOf<Dataset['versions'][number]['documents']>().toEqualTypeOf<number>();
    expectTypeOf<ResponseOf<Routes['data']['create'], 201>['dataset']>().toEqualTypeOf<Dataset>();
    // A stream's message is its own schema, not the route's JSON answer.
    expectTypeOf<EventOf<Routes['eval']['events']>>().toEqualTypeOf<ResponseOf<Routes['eval']['get'], 200>>();
    expectTypeOf<EventOf<Routes['train']['events']>['kind']>().toEqualTypeOf<'step' | 'eval' | 'state'>();
    // Bodies as a client writes them: fields with defaults or optional may be left out.
    expectTypeOf<{ iters: number }>().toMatchTypeOf<BodyOf<Routes['train']['submit']>['config']>();
    expectTypeOf<BodyOf<Routes['infer']['generate']>['model']>().toEqualTypeOf<string>();
    expectTypeOf<QueryOf<Routes['eval']['list']>>().toMatchTypeOf<{ limit?: number; state?: string }>();
    expectTypeOf<ApiErrorBody>().toEqualTypeOf<{
      code: string;
      message: string;
      field?: string | undefined;
    }>();
    expectTypeOf<
      Extract<GenerationEvent, { type: 'done' }>['data']['finishReason']
    >().toEqualTypeOf<string>();
  });
});

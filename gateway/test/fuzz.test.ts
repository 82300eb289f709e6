// Fuzzing as a test: every route of /api/openapi.json gets generated requests — schema-aware mutations
// (wrong types, huge and negative numbers, NaN-like strings, 100 kB strings, deep nesting, nulls) and plain
// garbage (truncated JSON, random bytes, path parameters with `..`, NUL and 300 characters) — and every
// gRPC method of the five services gets random bytes. No answer may be a 5xx other than 501 (or, over
// gRPC, INTERNAL/UNKNOWN/DATA_LOSS), no service may restart, and all five must be SERVING at the end.
// Seeded and bounded: the same requests every run, each with a deadline.
import { Client, credentials, Metadata, status } from '@grpc/grpc-js';
import { mulberry32 } from '@lab/common';
import { DataServiceService } from '@lab/proto/data';
import { EvalServiceService } from '@lab/proto/eval';
import { InferServiceService } from '@lab/proto/infer';
import { TokenizeServiceService } from '@lab/proto/tokenize';
import { TrainServiceService } from '@lab/proto/train';
import { type Stack, startStack } from '@lab/supervisor';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const SEED = 20261206;
const HTTP_REQUESTS = 2000;

type Schema = {
  type?: string | string[];
  properties?: Record<string, Schema>;
  items?: Schema;
  enum?: unknown[];
  anyOf?: Schema[];
  oneOf?: Schema[];
  $ref?: string;
  example?: unknown;
  minimum?: number;
  required?: string[];
};
interface Operation {
  method: string;
  path: string;
  params: { name: string; in: string; schema?: Schema }[];
  body?: Schema;
  streams: boolean;
}

let stack: Stack;
const rand = mulberry32(SEED);
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;

function deref(s: Schema | undefined, doc: { components?: { schemas?: Record<string, Schema> } }): Schema {
  let out = s ?? {};
  while (out.$ref) out = doc.components?.schemas?.[out.$ref.split('/').pop()!] ?? {};
  return out;
}

/** A plausible value for a schema: its example, an enum member, or a small value of its type. */
function sample(s: Schema, doc: Parameters<typeof deref>[1], depth = 0): unknown {
  const d = deref(s, doc);
  if (d.example !== undefined) return d.example;
  if (d.enum) return pick(d.enum);
  const alt = d.anyOf ?? d.oneOf;
  if (alt) return sample(pick(alt), doc, depth);
  const type = Array.isArray(d.type) ? d.type[0] : d.type;
  if (type === 'object' || d.properties) {
    const o: Record<string, unknown> = {};
    if (depth < 4)
      for (const [k, v] of Object.entries(d.properties ?? {}))
        if (rand() < 0.7 || d.required?.includes(k)) o[k] = sample(v, doc, depth + 1);
    return o;
  }
  if (type === 'array') return depth < 4 ? [sample(d.items ?? {}, doc, depth + 1)] : [];
  if (type === 'integer' || type === 'number') return d.minimum ?? 1;
  if (type === 'boolean') return true;
  return 'x';
}

const deep = (n: number): unknown => {
  let v: unknown = 1;
  for (let i = 0; i < n; i++) v = [v];
  return v;
};
const NASTY: (() => unknown)[] = [
  () => 'NaN',
  () => 'Infinity',
  () => -1,
  () => 0,
  () => 1e308,
  () => -1e308,
  () => 2 ** 53 + 1,
  () => 1.5,
  () => null,
  () => true,
  () => '',
  () => 'x'.repeat(100_000),
  () => '\u0000\uffff\ud800',
  () => ({}),
  () => [],
  () => deep(2000),
  () => ({ __proto__: { polluted: true } }),
  () => '../../../../etc/passwd',
];

/** The body to send: a mutated sample, or garbage. */
function body(op: Operation, doc: Parameters<typeof deref>[1]): { text: string; type: string } {
  const r = rand();
  if (r < 0.12) return { text: '{"a": [1, 2', type: 'application/json' };
  if (r < 0.18)
    return {
      text: String.fromCharCode(...Array.from({ length: 64 }, () => Math.floor(rand() * 256))),
      type: 'application/json',
    };
  if (r < 0.22) return { text: 'not json at all', type: 'text/plain' };
  if (r < 0.26) return { text: JSON.stringify(pick(NASTY)()), type: 'application/json' };
  const value = op.body ? sample(op.body, doc) : {};
  if (value && typeof value === 'object' && !Array.isArray(value)) {
    const keys = Object.keys(deref(op.body, doc).properties ?? {});
    const mutations = 1 + Math.floor(rand() * 2);
    for (let i = 0; i < mutations && keys.length; i++)
      (value as Record<string, unknown>)[pick(keys)] = pick(NASTY)();
  }
  return { text: JSON.stringify(value), type: 'application/json' };
}

function pathParam(): string {
  return pick([
    '..',
    '%2e%2e',
    '..%2f..%2fetc%2fpasswd',
    '%00',
    'a%00b',
    'x'.repeat(300),
    'nope',
    '0',
    '-1',
    '%F0%9F%91%8B',
    'ev-x',
    'ds_x',
  ]);
}

function queryValue(): string {
  return pick(['-1', '0', 'NaN', '1e999', 'x'.repeat(3000), '%00', 'true', '', '[]', '99999999999999999999']);
}

async function operations(): Promise<{ ops: Operation[]; doc: Parameters<typeof deref>[1] }> {
  const doc = (await (await fetch(`${stack.url}/api/openapi.json`)).json()) as {
    paths: Record<
      string,
      Record<
        string,
        {
          parameters?: Operation['params'];
          requestBody?: { content?: Record<string, { schema?: Schema }> };
          responses?: Record<string, { content?: Record<string, unknown> }>;
        }
      >
    >;
    components?: { schemas?: Record<string, Schema> };
  };
  const ops: Operation[] = [];
  for (const [path, methods] of Object.entries(doc.paths))
    for (const [method, op] of Object.entries(methods))
      ops.push({
        method: method.toUpperCase(),
        path,
        params: op.parameters ?? [],
        body: op.requestBody?.content?.['application/json']?.schema,
        streams: Object.values(op.responses ?? {}).some((r) => r.content && 'text/event-stream' in r.content),
      });
  return { ops, doc };
}

beforeAll(async () => {
  stack = await startStack({ ports: 'free', output: 'buffer' });
}, 120_000);

afterAll(async () => {
  await stack?.stop();
});

describe('fuzzing', () => {
  const failures: string[] = [];

  it(`answers ${HTTP_REQUESTS} generated HTTP requests over every route without a 5xx (other than 501)`, async () => {
    const { ops, doc } = await operations();
    expect(ops.length).toBeGreaterThan(40);
    let sent = 0;
    const statuses = new Map<number, number>();
    let retried = 0;
    const one = async () => {
      const op = pick(ops);
      let url = op.path.replace(/\{[^}]+\}/g, () => pathParam());
      const query = op.params.filter((p) => p.in === 'query');
      if (query.length && rand() < 0.7)
        url += `?${query.map((q) => `${encodeURIComponent(q.name)}=${encodeURIComponent(rand() < 0.5 ? String(sample(q.schema ?? {}, doc)) : queryValue())}`).join('&')}`;
      const b = op.method === 'GET' || op.method === 'DELETE' ? undefined : body(op, doc);
      const ctrl = new AbortController();
      const timer = setTimeout(() => ctrl.abort(), 30_000);
      // A pooled keep-alive socket the server closed just as a request was written fails before any byte of
      // an answer ("other side closed"); clients retry that once on a new connection, as browsers do. A
      // gateway that really dropped requests fails the SERVING and no-restart checks at the end.
      const send = () =>
        fetch(`${stack.url}${url}`, {
          method: op.method,
          headers: b ? { 'content-type': b.type } : {},
          body: b?.text,
          signal: ctrl.signal,
        });
      try {
        const res = await send().catch((err: Error & { cause?: { code?: string; message?: string } }) => {
          if (!/other side closed/.test(String(err.cause?.message))) throw err;
          retried++;
          return send();
        });
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        // An event stream stays open: its status is the answer.
        if (res.headers.get('content-type')?.includes('text/event-stream')) await res.body?.cancel();
        else await res.text();
        if (res.status >= 500 && res.status !== 501 && res.status !== 503)
          failures.push(`${op.method} ${url.slice(0, 200)} ${b?.text.slice(0, 200) ?? ''} → ${res.status}`);
      } catch (err) {
        failures.push(
          `${op.method} ${url.slice(0, 200)} → ${(err as Error).name === 'AbortError' ? 'no answer in 30 s' : `${(err as Error).message} (${String((err as { cause?: unknown }).cause)})`}`,
        );
      } finally {
        clearTimeout(timer);
      }
      sent++;
    };
    // Four at a time: enough to overlap, not a load test.
    const plan = Array.from({ length: HTTP_REQUESTS });
    for (let i = 0; i < plan.length; i += 4) await Promise.all([one(), one(), one(), one()]);
    console.log(
      `fuzz: ${sent} HTTP requests over ${ops.length} routes; statuses ${[...statuses.entries()]
        .sort((a, b) => a[0] - b[0])
        .map(([k, v]) => `${k}×${v}`)
        .join(' ')}; ${retried} retried after a closed keep-alive socket`,
    );
    expect(sent).toBe(HTTP_REQUESTS);
    expect(failures).toEqual([]);
    expect([...statuses.keys()].some((s) => s >= 400 && s < 500)).toBe(true);
  }, 900_000);

  it('answers random bytes to every gRPC method of the five services with a status, never INTERNAL', async () => {
    const services = {
      tokenize: TokenizeServiceService,
      data: DataServiceService,
      train: TrainServiceService,
      infer: InferServiceService,
      eval: EvalServiceService,
    };
    const bad: string[] = [];
    let calls = 0;
    for (const [name, def] of Object.entries(services)) {
      const client = new Client(
        stack.config.addresses[name as keyof typeof services],
        credentials.createInsecure(),
      );
      for (const m of Object.values(def) as {
        path: string;
        requestStream: boolean;
        responseStream: boolean;
      }[]) {
        for (let i = 0; i < 4; i++) {
          const bytes = Buffer.from(
            Array.from({ length: 1 + Math.floor(rand() * 200) }, () => Math.floor(rand() * 256)),
          );
          const code = await new Promise<number>((resolve) => {
            const ser = (b: Buffer) => b;
            const deadline = Date.now() + 10_000;
            if (m.requestStream) {
              const call = m.responseStream
                ? client.makeBidiStreamRequest(m.path, ser, ser, new Metadata(), { deadline })
                : client.makeClientStreamRequest(m.path, ser, ser, new Metadata(), { deadline }, (err) =>
                    resolve(err ? err.code : status.OK),
                  );
              call.on('error', (e: { code: number }) => resolve(e.code));
              if (m.responseStream) {
                call.on('data', () => {});
                call.on('end', () => resolve(status.OK));
              }
              call.write(bytes);
              call.end();
            } else if (m.responseStream) {
              const call = client.makeServerStreamRequest(m.path, ser, ser, bytes, new Metadata(), {
                deadline,
              });
              call.on('data', () => call.cancel());
              call.on('error', (e: { code: number }) =>
                resolve(e.code === status.CANCELLED ? status.OK : e.code),
              );
              call.on('end', () => resolve(status.OK));
            } else
              client.makeUnaryRequest(m.path, ser, ser, bytes, new Metadata(), { deadline }, (err) =>
                resolve(err ? err.code : status.OK),
              );
          });
          calls++;
          if ([status.INTERNAL, status.UNKNOWN, status.DATA_LOSS, status.DEADLINE_EXCEEDED].includes(code))
            bad.push(`${m.path} → ${status[code]}`);
        }
      }
      client.close();
    }
    expect(calls).toBeGreaterThan(200);
    expect(bad).toEqual([]);
  }, 600_000);

  it('leaves every service SERVING, none restarted', async () => {
    const health = (await (await fetch(`${stack.url}/api/health`)).json()) as {
      services: { name: string; status: string }[];
    };
    expect(health.services.map((s) => s.status)).toEqual([
      'SERVING',
      'SERVING',
      'SERVING',
      'SERVING',
      'SERVING',
    ]);
    for (const [name, child] of stack.children)
      expect({ name, restarts: child.restarts }).toEqual({ name, restarts: 0 });
  });
});

import { createRequire } from 'node:module';
import { credentials, loadPackageDefinition } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { checkHealth, SERVICE_NAMES } from '@lab/common';
import { describe, expect, it } from 'vitest';
import { useStack } from './fixture.ts';
import { openSse } from './sse.ts';

const require = createRequire(import.meta.url);
type Health = {
  ok: boolean;
  services: { name: string; status: string; address: string }[];
  bus: { kind: string; state: string };
};

const lab = useStack();

const health = async (): Promise<Health> =>
  (await fetch(`${lab().url}/api/health`)).json() as Promise<Health>;

async function until<T>(fn: () => Promise<T>, pred: (v: T) => boolean, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (pred(v)) return v;
    if (Date.now() > deadline) throw new Error(`condition not met in ${timeoutMs} ms: ${JSON.stringify(v)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Lists a server's services through gRPC server reflection (grpc.reflection.v1). */
function reflectServices(address: string): Promise<string[]> {
  const protoPath = require.resolve('@grpc/reflection/build/proto/grpc/reflection/v1/reflection.proto');
  const pkg = loadPackageDefinition(loadSync(protoPath, { keepCase: true })) as never as {
    grpc: {
      reflection: {
        v1: {
          ServerReflection: new (
            a: string,
            c: unknown,
          ) => {
            ServerReflectionInfo(): NodeJS.ReadWriteStream & { write(m: unknown): void; end(): void };
            close(): void;
          };
        };
      };
    };
  };
  const client = new pkg.grpc.reflection.v1.ServerReflection(address, credentials.createInsecure());
  return new Promise((resolve, reject) => {
    const call = client.ServerReflectionInfo();
    call.on('data', (msg: { list_services_response?: { service: { name: string }[] } }) => {
      resolve(msg.list_services_response?.service.map((s) => s.name) ?? []);
      call.end();
      client.close();
    });
    call.on('error', reject);
    call.write({ list_services: '' });
  });
}

describe('the lab stack on real NATS and gRPC', () => {
  it('reports all five services SERVING and the NATS bus connected', async () => {
    const h = await health();
    expect(h.services.map((s) => s.name)).toEqual([...SERVICE_NAMES]);
    for (const s of h.services) expect(s.status, s.name).toBe('SERVING');
    expect(h.bus).toEqual({ kind: 'nats', state: 'connected' });
    expect(h.ok).toBe(true);
  });

  it('lets a gRPC client find each service by reflection and check its health by that name', async () => {
    for (const name of SERVICE_NAMES) {
      const address = lab().config.addresses[name];
      const services = await reflectServices(address);
      expect(services).toContain('grpc.health.v1.Health');
      const ours = services.filter((s) => s.startsWith('lab.v1.'));
      expect(ours).toHaveLength(1);
      expect(ours[0]!.toLowerCase()).toBe(`lab.v1.${name}service`);
      expect(await checkHealth(address, ours[0]!)).toBe('SERVING');
    }
  });

  it('streams events published by services to SSE clients and resumes from Last-Event-ID', async () => {
    const sse = await openSse(`${lab().url}/api/events?after=0&heartbeat=1`);
    try {
      const events = await sse.waitFor(
        (evs) => new Set(evs.map((e) => JSON.parse(e.data).subject)).size >= 5,
      );
      const subjects = new Set(events.map((e) => JSON.parse(e.data).subject));
      for (const n of SERVICE_NAMES) expect(subjects).toContain(`lab.service.${n}.state`);
      await until(
        async () => sse.comments.filter((c) => c === 'ping').length,
        (n) => n >= 1,
        5000,
      );
      const ids = events.map((e) => Number(e.id));
      for (let i = 1; i < ids.length; i++) expect(ids[i]).toBeGreaterThan(ids[i - 1]!);

      const resumed = await openSse(`${lab().url}/api/events`, { 'last-event-id': String(ids[1]) });
      try {
        const again = await resumed.waitFor((evs) => evs.length >= events.length - 2);
        expect(again.map((e) => e.id).slice(0, events.length - 2)).toEqual(events.slice(2).map((e) => e.id));
      } finally {
        resumed.close();
      }
    } finally {
      sse.close();
    }
  });

  it('after kill -9 of a service reports it down, restarts it, and its new start event reaches SSE', async () => {
    const sse = await openSse(`${lab().url}/api/events?subject=lab.service.train.state`);
    try {
      const child = lab().children.get('train')!;
      const oldPid = child.pid!;
      process.kill(oldPid, 'SIGKILL');
      const down = await until(
        health,
        (h) => h.services.find((s) => s.name === 'train')!.status !== 'SERVING',
        10_000,
      );
      expect(down.ok).toBe(false);
      const up = await until(health, (h) => h.ok, 60_000);
      expect(up.services.every((s) => s.status === 'SERVING')).toBe(true);
      expect(child.pid).not.toBe(oldPid);
      expect(child.restarts).toBeGreaterThanOrEqual(1);
      const evs = await sse.waitFor((e) => e.some((x) => JSON.parse(x.data).data.pid === child.pid));
      expect(JSON.parse(evs.at(-1)!.data).data.state).toBe('serving');
    } finally {
      sse.close();
    }
  });

  it('answers unknown API routes with 404 JSON and publishes an OpenAPI document', async () => {
    const res = await fetch(`${lab().url}/api/no/such/route`);
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({
      error: { code: 'NOT_FOUND', message: 'no route for GET /api/no/such/route' },
    });
    const doc = (await (await fetch(`${lab().url}/api/openapi.json`)).json()) as {
      openapi: string;
      paths: Record<string, unknown>;
    };
    expect(doc.openapi).toBe('3.1.0');
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/api/health', '/api/events']));
  });

  it('rejects a bad subject pattern on /api/events with 400 naming the parameter', async () => {
    const res = await fetch(`${lab().url}/api/events?subject=lab..x`);
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: { field: string; code: string } };
    expect(body.error).toMatchObject({ code: 'INVALID_ARGUMENT', field: 'subject' });
  });

  it('continues the caller trace: the gateway answers with the trace id of the incoming traceparent', async () => {
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const res = await fetch(`${lab().url}/api/health`, {
      headers: { traceparent: `00-${traceId}-00f067aa0ba902b7-01` },
    });
    expect(res.headers.get('x-trace-id')).toBe(traceId);
  });
});

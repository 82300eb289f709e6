import { createRequire } from 'node:module';
import type { Readable } from 'node:stream';
import {
  type CallOptions,
  type ChannelOptions,
  credentials,
  InterceptingCall,
  type Interceptor,
  Metadata,
  makeGenericClientConstructor,
  Server,
  ServerCredentials,
  type ServerDuplexStream,
  type ServerUnaryCall,
  type ServerWritableStream,
  type ServiceDefinition,
  type sendUnaryData,
  status,
} from '@grpc/grpc-js';
import type { loadSync } from '@grpc/proto-loader';
import type { ReflectionService } from '@grpc/reflection';
import { protoFiles, protoRoot } from '@lab/proto';
import { context } from '@opentelemetry/api';
import { LabError, toServiceError } from './errors.ts';
import {
  type HealthCheckRequest,
  type HealthCheckResponse,
  HealthService,
  healthProtoPath,
  healthService,
} from './health.ts';
import type { Logger } from './log.ts';
import { currentTraceHeaders, extractContext, inSpan, SpanKind } from './telemetry.ts';

// Loads what only some calls need (server reflection) when they first need it.
const require = createRequire(import.meta.url);

/** What a handler gets besides its request. */
export interface CallContext {
  /** Aborted when the client cancels or its deadline passes. */
  signal: AbortSignal;
  metadata: Metadata;
}

/** Context for calling an implementation directly in this process (CLIs, tests of domain code). */
export function localCallContext(signal: AbortSignal = new AbortController().signal): CallContext {
  return { signal, metadata: new Metadata() };
}

type MethodDef = {
  path: string;
  requestStream: boolean;
  responseStream: boolean;
  requestDeserialize: (b: Buffer) => unknown;
};
type RequestOf<M> = M extends { requestDeserialize: (b: Buffer) => infer Q } ? Q : never;
type ResponseOf<M> = M extends { responseDeserialize: (b: Buffer) => infer R } ? R : never;

/**
 * A service implementation in plain async terms: unary methods return a promise, server-streaming methods
 * return an async iterable. Methods left out answer UNIMPLEMENTED.
 */
export type ServiceImpl<D> = {
  [K in keyof D]?: D[K] extends { requestStream: true }
    ? D[K] extends { responseStream: true }
      ? (requests: AsyncIterable<RequestOf<D[K]>>, ctx: CallContext) => AsyncIterable<ResponseOf<D[K]>>
      : (requests: AsyncIterable<RequestOf<D[K]>>, ctx: CallContext) => Promise<ResponseOf<D[K]>>
    : D[K] extends { responseStream: true }
      ? (request: RequestOf<D[K]>, ctx: CallContext) => AsyncIterable<ResponseOf<D[K]>>
      : (request: RequestOf<D[K]>, ctx: CallContext) => Promise<ResponseOf<D[K]>>;
};

export interface ServiceBinding {
  /** Fully qualified name used for health checks, e.g. `lab.v1.TokenizeService`. */
  name: string;
  definition: ServiceDefinition;
  implementation: Record<string, unknown>;
}

/** Binds a ts-proto generated definition to its implementation with type checking of both sides. */
export function bindService<D extends Record<string, MethodDef>>(
  definition: D,
  implementation: ServiceImpl<D>,
): ServiceBinding {
  const first = Object.values(definition)[0]!;
  return {
    name: first.path.split('/')[1]!,
    definition: definition as unknown as ServiceDefinition,
    implementation: implementation as Record<string, unknown>,
  };
}

/** Names of the RPCs a binding implements, as `package.Service/Method`. */
export function implementedMethods(binding: ServiceBinding): string[] {
  return Object.entries(binding.definition)
    .filter(([key]) => typeof binding.implementation[key] === 'function')
    .map(([, def]) => def.path.slice(1));
}

function metadataCarrier(md: Metadata): Record<string, string | undefined> {
  const carrier: Record<string, string | undefined> = {};
  for (const key of ['traceparent', 'tracestate']) {
    const v = md.get(key)[0];
    if (typeof v === 'string') carrier[key] = v;
  }
  return carrier;
}

function callSignal(call: { on(event: 'cancelled', cb: () => void): unknown; getDeadline(): unknown }) {
  const controller = new AbortController();
  call.on('cancelled', () => controller.abort(new LabError('CANCELLED', 'call cancelled by the client')));
  return controller.signal;
}

function wrapMethod(path: string, def: MethodDef, impl: unknown, log: Logger): (...args: never[]) => void {
  if (typeof impl !== 'function') {
    const message = `${path.slice(1)} is not implemented yet in this build of the lab`;
    return ((_call: unknown, callback?: sendUnaryData<unknown>) => {
      const err = { code: status.UNIMPLEMENTED, details: message, message };
      if (callback) callback(err);
      else (_call as ServerWritableStream<unknown, unknown>).emit('error', err);
    }) as (...args: never[]) => void;
  }
  const attrs = { 'rpc.system': 'grpc', 'rpc.method': path };
  // A client-streaming call hands the implementation the incoming messages as an async iterable.
  // Iterating must not destroy the call when the input ends: a bidirectional handler still answers after it.
  const requestOf = (call: { request?: unknown }) =>
    def.requestStream
      ? decodedMessages((call as unknown as Readable).iterator({ destroyOnReturn: false }), path)
      : decoded(call.request, path);
  if (def.responseStream) {
    return ((call: ServerWritableStream<unknown, unknown>) => {
      const ctx: CallContext = { signal: callSignal(call), metadata: call.metadata };
      const parent = extractContext(metadataCarrier(call.metadata));
      void inSpan(path, SpanKind.SERVER, parent, attrs, async () => {
        try {
          const iterable = (impl as (r: unknown, c: CallContext) => AsyncIterable<unknown>)(
            requestOf(call),
            ctx,
          );
          for await (const msg of iterable) {
            if (ctx.signal.aborted) break;
            // Honour backpressure so a slow client bounds the server's memory.
            if (!call.write(msg)) await new Promise((r) => call.once('drain', r));
          }
          if (!ctx.signal.aborted) call.end();
        } catch (err) {
          if (!ctx.signal.aborted) {
            logFailure(log, path, err);
            call.emit('error', toServiceError(err));
          }
        }
      });
    }) as (...args: never[]) => void;
  }
  return ((call: ServerUnaryCall<unknown, unknown>, callback: sendUnaryData<unknown>) => {
    const ctx: CallContext = { signal: callSignal(call), metadata: call.metadata };
    const parent = extractContext(metadataCarrier(call.metadata));
    inSpan(path, SpanKind.SERVER, parent, attrs, () =>
      (impl as (r: unknown, c: CallContext) => Promise<unknown>)(requestOf(call), ctx),
    ).then(
      (res) => callback(null, res),
      (err) => {
        logFailure(log, path, err);
        callback(toServiceError(err));
      },
    );
  }) as (...args: never[]) => void;
}

/** A request message that did not decode; the call answers INVALID_ARGUMENT instead of grpc-js's INTERNAL. */
class Undecodable {
  constructor(readonly reason: string) {}
}

function decoded(message: unknown, path: string): unknown {
  if (message instanceof Undecodable)
    throw new LabError(
      'INVALID_ARGUMENT',
      `request: not a valid ${path.split('/')[2] ?? ''} request message (${message.reason})`,
      'request',
    );
  return message;
}

async function* decodedMessages(messages: AsyncIterable<unknown>, path: string): AsyncGenerator<unknown> {
  for await (const m of messages) yield decoded(m, path);
}

/** The definition with request decoding that never throws (grpc-js would answer INTERNAL): see Undecodable. */
function tolerantDefinition(definition: ServiceDefinition): ServiceDefinition {
  const out: Record<string, unknown> = {};
  for (const [key, def] of Object.entries(definition as unknown as Record<string, MethodDef>))
    out[key] = {
      ...def,
      requestDeserialize: (b: Buffer) => {
        try {
          return def.requestDeserialize(b);
        } catch (err) {
          return new Undecodable((err as Error).message);
        }
      },
    };
  return out as unknown as ServiceDefinition;
}

function logFailure(log: Logger, path: string, err: unknown): void {
  if (err instanceof LabError || (err as { field?: unknown })?.field) {
    log.debug('call rejected', { method: path, error: (err as Error).message });
  } else log.error('call failed', { method: path, error: (err as Error)?.stack ?? String(err) });
}

let reflectionDefinition: ReturnType<typeof loadSync> | undefined;

function reflectionPackage(): ReturnType<typeof loadSync> {
  const proto = require('@grpc/proto-loader') as typeof import('@grpc/proto-loader');
  reflectionDefinition ??= proto.loadSync([...protoFiles, healthProtoPath()], {
    includeDirs: [protoRoot],
    keepCase: true,
  });
  return reflectionDefinition;
}

type Handler = (call: ServerDuplexStream<unknown, unknown>) => void;
const REFLECTION_SERVICES = [
  'grpc.reflection.v1.ServerReflection',
  'grpc.reflection.v1alpha.ServerReflection',
];

/**
 * Server reflection, built on its first call: parsing every .proto of the lab and indexing its descriptors
 * took ~0.4 s of CPU and ~10 MiB in every service at start, for what only tools like grpcurl ask. The
 * methods are registered at once (their paths are fixed); serialisation and handlers come from
 * @grpc/reflection's own service, made when a call first arrives.
 */
function addLazyReflection(server: Server, services: string[]): void {
  let real: Map<string, { def: ServiceDefinition[string]; handler: Handler }> | undefined;
  const load = () => {
    if (!real) {
      const found = new Map<string, { def: ServiceDefinition[string]; handler: Handler }>();
      const { ReflectionService: Reflection } = require('@grpc/reflection') as {
        ReflectionService: typeof ReflectionService;
      };
      new Reflection(reflectionPackage(), { services }).addToServer({
        addService: (definition: ServiceDefinition, handlers: Record<string, Handler>) => {
          for (const [key, def] of Object.entries(definition))
            found.set(def.path, { def, handler: handlers[key] ?? handlers[def.originalName ?? key]! });
        },
      } as Pick<Server, 'addService'>);
      real = found;
    }
    return real;
  };
  for (const name of REFLECTION_SERVICES) {
    const path = `/${name}/ServerReflectionInfo`;
    const of = () => load().get(path)!;
    server.addService(
      {
        ServerReflectionInfo: {
          path,
          requestStream: true,
          responseStream: true,
          originalName: 'serverReflectionInfo',
          requestSerialize: (v: unknown) => of().def.requestSerialize(v),
          requestDeserialize: (b: Buffer) => of().def.requestDeserialize(b),
          responseSerialize: (v: unknown) => of().def.responseSerialize(v),
          responseDeserialize: (b: Buffer) => of().def.responseDeserialize(b),
        },
      },
      { ServerReflectionInfo: (call: ServerDuplexStream<unknown, unknown>) => of().handler(call) },
    );
  }
}

export interface RunningGrpcServer {
  server: Server;
  port: number;
  health: HealthService;
  /** Marks every service NOT_SERVING, then stops accepting calls and waits up to `graceMs` for running ones. */
  shutdown(graceMs?: number): Promise<void>;
}

/** Starts a gRPC server with the lab's services plus health checking and server reflection. */
export async function startGrpcServer(opts: {
  host: string;
  port: number;
  services: ServiceBinding[];
  log: Logger;
}): Promise<RunningGrpcServer> {
  const server = new Server({ 'grpc.max_receive_message_length': 64 * 1024 * 1024 });
  const health = new HealthService({ '': 'NOT_SERVING' });
  health.addToServer(server);
  // Reflection lists only what this server serves, so grpcurl shows the one lab service plus health.
  addLazyReflection(server, [...opts.services.map((b) => b.name), 'grpc.health.v1.Health']);
  for (const binding of opts.services) {
    const handlers: Record<string, (...args: never[]) => void> = {};
    for (const [key, def] of Object.entries(binding.definition) as [string, MethodDef][]) {
      handlers[key] = wrapMethod(def.path, def, binding.implementation[key], opts.log);
    }
    server.addService(tolerantDefinition(binding.definition), handlers as never);
  }
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`${opts.host}:${opts.port}`, ServerCredentials.createInsecure(), (err, p) =>
      err ? reject(err) : resolve(p),
    ),
  );
  health.setStatus('', 'SERVING');
  for (const b of opts.services) health.setStatus(b.name, 'SERVING');
  return {
    server,
    port,
    health,
    shutdown: async (graceMs = 2000) => {
      health.setStatus('', 'NOT_SERVING');
      for (const b of opts.services) health.setStatus(b.name, 'NOT_SERVING');
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, graceMs);
        server.tryShutdown(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    },
  };
}

const retryServiceConfig = JSON.stringify({
  methodConfig: [
    {
      name: [{}],
      retryPolicy: {
        maxAttempts: 5,
        initialBackoff: '0.25s',
        maxBackoff: '2s',
        backoffMultiplier: 2,
        retryableStatusCodes: ['UNAVAILABLE'],
      },
    },
  ],
});

/** Client options for every lab client: retries on UNAVAILABLE (gRPC's own retry policy). */
export const clientChannelOptions: ChannelOptions = {
  'grpc.enable_retries': 1,
  'grpc.service_config': retryServiceConfig,
  'grpc.max_receive_message_length': 64 * 1024 * 1024,
};

/** Adds the default deadline to unary calls and the active trace context to every call's metadata. */
function labInterceptor(defaultDeadlineMs: number): Interceptor {
  return (options, nextCall) => {
    const unary = !options.method_definition.requestStream && !options.method_definition.responseStream;
    if (unary && options.deadline === undefined) options.deadline = Date.now() + defaultDeadlineMs;
    return new InterceptingCall(nextCall(options), {
      start(metadata, listener, next) {
        for (const [k, v] of Object.entries(currentTraceHeaders(context.active()))) metadata.set(k, v);
        next(metadata, listener);
      },
    });
  };
}

type ClientCtor<C> = new (
  address: string,
  creds: ReturnType<typeof credentials.createInsecure>,
  options?: Record<string, unknown>,
) => C;

/** Creates a ts-proto generated client with the lab's retry policy, default deadline and trace propagation. */
export function createClient<C>(Ctor: ClientCtor<C>, address: string, opts: { deadlineMs?: number } = {}): C {
  return new Ctor(address, credentials.createInsecure(), {
    ...clientChannelOptions,
    interceptors: [labInterceptor(opts.deadlineMs ?? 30_000)],
  });
}

type UnaryFn<Req, Res> = (
  request: Req,
  metadata: Metadata,
  options: Partial<CallOptions>,
  callback: (err: Error | null, res: Res) => void,
) => unknown;

/** Calls a callback-style unary method of a generated client and returns a promise. */
export function callUnary<Req, Res>(
  fn: UnaryFn<Req, Res>,
  request: Req,
  options: Partial<CallOptions> = {},
): Promise<Res> {
  return new Promise((resolve, reject) => {
    fn(request, new Metadata(), options, (err, res) => (err ? reject(err) : resolve(res)));
  });
}

type HealthClient = {
  check(
    req: HealthCheckRequest,
    options: Partial<CallOptions>,
    cb: (err: Error | null, res?: HealthCheckResponse) => void,
  ): void;
  close(): void;
};
let HealthClientCtor: (new (address: string, creds: unknown) => HealthClient) | undefined;

/** gRPC health check of one address: SERVING, NOT_SERVING, or UNKNOWN when it cannot be reached in time. */
export function checkHealth(
  address: string,
  service = '',
  timeoutMs = 1000,
): Promise<'SERVING' | 'NOT_SERVING' | 'UNKNOWN'> {
  HealthClientCtor ??= makeGenericClientConstructor(
    healthService,
    'grpc.health.v1.Health',
  ) as unknown as new (
    address: string,
    creds: unknown,
  ) => HealthClient;
  const client = new HealthClientCtor(address, credentials.createInsecure());
  return new Promise((resolve) => {
    client.check({ service }, { deadline: Date.now() + timeoutMs }, (err, res) => {
      client.close();
      if (err || !res)
        resolve(
          err?.message && (err as { code?: number }).code === status.NOT_FOUND ? 'NOT_SERVING' : 'UNKNOWN',
        );
      else
        resolve(
          res.status === 'SERVING' ? 'SERVING' : res.status === 'NOT_SERVING' ? 'NOT_SERVING' : 'UNKNOWN',
        );
    });
  });
}

export { Metadata, status as GrpcStatus };

import { callUnary, type ServiceImpl } from './grpc.ts';

type MethodDef = { requestStream: boolean; responseStream: boolean };
type Writable = { write(m: unknown): boolean; end(): void; once(e: 'drain', cb: () => void): unknown };

/** Writes messages from an iterable to a client call's request stream, honouring back-pressure. */
async function pump(
  requests: AsyncIterable<unknown>,
  call: Writable & { destroy?(e?: Error): void },
): Promise<void> {
  try {
    for await (const m of requests) if (!call.write(m)) await new Promise<void>((r) => call.once('drain', r));
    call.end();
  } catch (err) {
    call.destroy?.(err as Error);
  }
}

/**
 * Presents a generated gRPC client as a ServiceImpl, so a CLI runs the same code against the in-process
 * implementation or, with `--remote`, against a server.
 */
export function remoteImpl<D extends Record<string, MethodDef>>(
  definition: D,
  client: object,
): ServiceImpl<D> {
  const impl: Record<string, unknown> = {};
  const c = client as Record<string, (...args: unknown[]) => unknown>;
  for (const [key, def] of Object.entries(definition)) {
    const method = c[key]!.bind(client);
    if (def.requestStream && def.responseStream) {
      impl[key] = (requests: AsyncIterable<unknown>) => {
        const call = method() as Writable & AsyncIterable<unknown>;
        void pump(requests, call);
        return call;
      };
    } else if (def.requestStream) {
      impl[key] = (requests: AsyncIterable<unknown>) =>
        new Promise((resolve, reject) => {
          const call = method((err: Error | null, res: unknown) =>
            err ? reject(err) : resolve(res),
          ) as Writable;
          void pump(requests, call);
        });
    } else {
      impl[key] = def.responseStream
        ? (request: unknown) => method(request) as AsyncIterable<unknown>
        : (request: unknown) => callUnary(method as never, request);
    }
  }
  return impl as ServiceImpl<D>;
}

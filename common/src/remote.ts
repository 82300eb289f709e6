import { callUnary, type ServiceImpl } from './grpc.ts';

type MethodDef = { responseStream: boolean };

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
    impl[key] = def.responseStream
      ? (request: unknown) => method(request) as AsyncIterable<unknown>
      : (request: unknown) => callUnary(method as never, request);
  }
  return impl as ServiceImpl<D>;
}

import {
  bindService,
  callUnary,
  createClient,
  createLogger,
  fromServiceError,
  type RunningGrpcServer,
  startGrpcServer,
} from '@lab/common';
import {
  TokenizeServiceClient,
  TokenizeServiceService,
  TrainTokenizerEvent,
  TrainTokenizerRequest,
} from '@lab/proto/tokenize';
import { freePort } from '@lab/supervisor';
import { afterEach, describe, expect, it } from 'vitest';

const log = createLogger('test', 'error');
let server: RunningGrpcServer | undefined;
afterEach(async () => {
  await server?.shutdown(100);
  server = undefined;
});

const never = () => new Promise<never>(() => {});

describe('gRPC helpers on real loopback gRPC', () => {
  it('retries a call while the server is still starting (UNAVAILABLE), then succeeds', async () => {
    const port = await freePort();
    const client = createClient(TokenizeServiceClient, `127.0.0.1:${port}`);
    const call = callUnary(client.listTokenizers.bind(client), {});
    await new Promise((r) => setTimeout(r, 300));
    server = await startGrpcServer({
      host: '127.0.0.1',
      port,
      log,
      services: [bindService(TokenizeServiceService, { listTokenizers: async () => ({ tokenizers: [] }) })],
    });
    expect(await call).toEqual({ tokenizers: [] });
    client.close();
  });

  it('gives unary calls a default deadline', async () => {
    server = await startGrpcServer({
      host: '127.0.0.1',
      port: 0,
      log,
      services: [bindService(TokenizeServiceService, { listTokenizers: never })],
    });
    const client = createClient(TokenizeServiceClient, `127.0.0.1:${server.port}`, { deadlineMs: 300 });
    const t0 = Date.now();
    const err = await callUnary(client.listTokenizers.bind(client), {}).catch(fromServiceError);
    expect(err).toMatchObject({ code: 'DEADLINE_EXCEEDED' });
    expect(Date.now() - t0).toBeLessThan(3000);
    client.close();
  });

  it('tells a streaming handler when the client cancels', async () => {
    let aborted!: () => void;
    const sawAbort = new Promise<void>((r) => {
      aborted = r;
    });
    server = await startGrpcServer({
      host: '127.0.0.1',
      port: 0,
      log,
      services: [
        bindService(TokenizeServiceService, {
          train: async function* (_req, ctx) {
            ctx.signal.addEventListener('abort', () => aborted());
            yield TrainTokenizerEvent.fromPartial({ progress: { done: 1, total: 10, message: 'started' } });
            await never();
          },
        }),
      ],
    });
    const client = createClient(TokenizeServiceClient, `127.0.0.1:${server.port}`);
    const stream = client.train(TrainTokenizerRequest.fromPartial({ name: 'x', vocabSize: 300, text: 'a' }));
    stream.on('error', () => {});
    await new Promise((r) => stream.once('data', r));
    stream.cancel();
    await sawAbort;
    client.close();
  });

  it('answers methods left out of the implementation with UNIMPLEMENTED and a message saying so', async () => {
    server = await startGrpcServer({
      host: '127.0.0.1',
      port: 0,
      log,
      services: [bindService(TokenizeServiceService, {})],
    });
    const client = createClient(TokenizeServiceClient, `127.0.0.1:${server.port}`);
    const err = await callUnary(client.decode.bind(client), { tokenizer: 'gpt2', ids: [1] }).catch(
      fromServiceError,
    );
    expect(err).toMatchObject({ code: 'UNIMPLEMENTED' });
    expect((err as Error).message).toBe(
      'lab.v1.TokenizeService/Decode is not implemented yet in this build of the lab',
    );
    client.close();
  });

  it('maps a domain error with a field to INVALID_ARGUMENT and carries the field to the client', async () => {
    const domain = Object.assign(new Error('vocabSize: too small'), { field: 'vocabSize' });
    server = await startGrpcServer({
      host: '127.0.0.1',
      port: 0,
      log,
      services: [bindService(TokenizeServiceService, { listTokenizers: async () => Promise.reject(domain) })],
    });
    const client = createClient(TokenizeServiceClient, `127.0.0.1:${server.port}`);
    const err = await callUnary(client.listTokenizers.bind(client), {}).catch(fromServiceError);
    expect(err).toMatchObject({
      code: 'INVALID_ARGUMENT',
      field: 'vocabSize',
      message: 'vocabSize: too small',
    });
    client.close();
  });
});

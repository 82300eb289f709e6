import { type CallContext, localCallContext } from '@lab/common';
import type { Context } from 'hono';
import { type SSEStreamingApi, streamSSE } from 'hono/streaming';

/**
 * An SSE response that sends `: ping` comments every `heartbeatMs` (so clients can tell a quiet stream from
 * a dead one). `body` writes events and returns when the stream should end; `aborted` settles when the
 * client goes away.
 */
export function sseResponse(
  c: Context,
  heartbeatMs: number,
  body: (stream: SSEStreamingApi, aborted: Promise<void>) => Promise<void>,
) {
  return streamSSE(c, async (stream) => {
    let abort!: () => void;
    const aborted = new Promise<void>((r) => {
      abort = r;
    });
    stream.onAbort(() => abort());
    await stream.write(': connected\n\n');
    const timer = setInterval(() => {
      stream.write(': ping\n\n').catch(() => abort());
    }, heartbeatMs);
    try {
      await body(stream, aborted);
    } finally {
      clearInterval(timer);
    }
  });
}

/** `Last-Event-ID` header (what EventSource sends on reconnect) or a query fallback, as a number. */
export function resumePoint(c: Context, fallback: number | undefined): number | undefined {
  const lastId = c.req.header('last-event-id');
  return lastId !== undefined && /^\d+$/.test(lastId) ? Number(lastId) : fallback;
}

/**
 * An SSE response relaying a server-streaming call, one event per message. Over gRPC the iterable is the
 * client call: when the browser goes away the call is cancelled, which ends the server's stream too. A
 * failure mid-stream becomes an `error` event (the status line has long been sent).
 */
export function relayStream<T>(
  c: Context,
  open: (ctx: CallContext) => AsyncIterable<T>,
  toEvent: (message: T) => { id?: string; event: string; data: string },
) {
  return sseResponse(c, 15_000, async (stream, aborted) => {
    const controller = new AbortController();
    const call = open(localCallContext(controller.signal));
    void aborted.then(() => {
      controller.abort();
      (call as { cancel?: () => void }).cancel?.();
    });
    try {
      for await (const m of call) await stream.writeSSE(toEvent(m));
    } catch (err) {
      if (!controller.signal.aborted)
        await stream
          .writeSSE({ event: 'error', data: JSON.stringify({ message: (err as Error).message }) })
          .catch(() => {});
    }
  });
}

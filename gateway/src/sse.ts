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

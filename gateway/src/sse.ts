import type { Context } from 'hono';
import { type SSEStreamingApi, streamSSE } from 'hono/streaming';

/**
 * An SSE response that sends `: ping` comments every `heartbeatMs` (so proxies and clients can tell a quiet
 * stream from a dead one) and runs `cleanup` when the client goes away.
 */
export function sseResponse(
  c: Context,
  heartbeatMs: number,
  body: (stream: SSEStreamingApi, done: Promise<void>) => Promise<(() => Promise<void> | void) | undefined>,
) {
  return streamSSE(c, async (stream) => {
    let finish!: () => void;
    const done = new Promise<void>((r) => {
      finish = r;
    });
    stream.onAbort(() => finish());
    await stream.write(': connected\n\n');
    const timer = setInterval(() => {
      stream.write(': ping\n\n').catch(() => finish());
    }, heartbeatMs);
    try {
      const cleanup = await body(stream, done);
      await done;
      await cleanup?.();
    } finally {
      clearInterval(timer);
    }
  });
}

import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi';
import type { EventBus } from '@lab/common';
import { resumePoint, sseResponse } from '../sse.ts';

const query = z.object({
  subject: z
    .string()
    .regex(
      /^[\w-]+(\.([\w-]+|\*|>))*$|^>$/,
      'must be a NATS subject pattern such as lab.> or lab.run.*.metrics',
    )
    .optional()
    .openapi({ description: 'Subject pattern to follow (NATS wildcards); default lab.>' }),
  after: z.coerce
    .number()
    .int()
    .min(0)
    .optional()
    .openapi({ description: 'Replay events with a sequence above this (same as the Last-Event-ID header)' }),
  heartbeat: z.coerce
    .number()
    .int()
    .min(1)
    .max(60)
    .optional()
    .openapi({ description: 'Seconds between heartbeat comments (default 15)' }),
});

const BusMessage = z
  .object({
    subject: z.string().openapi({ example: 'lab.job.data-tinyshakespeare-1a2b3c.state' }),
    data: z.unknown().openapi({ description: 'The event as its publisher sent it' }),
    time: z.string().openapi({ description: 'When the bus stored it (ISO 8601)' }),
    traceId: z
      .string()
      .optional()
      .openapi({ description: 'W3C trace id of the request that caused it, when it carried one' }),
  })
  .openapi('BusEvent');

export const route = createRoute({
  method: 'get',
  path: '/api/events',
  summary: 'Bus events as Server-Sent Events; resumable with Last-Event-ID',
  description:
    'Each message has `id` = the bus sequence number and `data` = JSON {subject, data, time, traceId}. ' +
    'Reconnect with `Last-Event-ID` to receive what was missed (as far as the bus retains it).',
  tags: ['lab'],
  request: { query },
  responses: {
    200: {
      description: 'text/event-stream; each message is a BusEvent',
      content: { 'text/event-stream': { schema: BusMessage } },
    },
  },
});

export function eventRoutes(app: OpenAPIHono, bus: EventBus) {
  app.openapi(route, (c) => {
    const q = c.req.valid('query');
    const resumeFrom = resumePoint(c, q.after);
    return sseResponse(c, (q.heartbeat ?? 15) * 1000, async (stream, aborted) => {
      // Events arrive faster than a slow client may read: queue them and write in order.
      let chain = Promise.resolve();
      const sub = await bus.subscribe(
        q.subject ?? 'lab.>',
        (e) => {
          chain = chain.then(() =>
            stream.writeSSE({
              id: String(e.seq),
              event: 'message',
              data: JSON.stringify({
                subject: e.subject,
                data: e.data,
                time: e.time,
                traceId: e.headers.traceparent?.split('-')[1],
              }),
            }),
          );
        },
        { afterSeq: resumeFrom },
      );
      await aborted;
      await sub.unsubscribe();
    }) as never;
  });
}

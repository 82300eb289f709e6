import { extractContext, inSpan, SpanKind } from '@lab/common';
import { trace } from '@opentelemetry/api';
import type { MiddlewareHandler } from 'hono';

/** One server span per HTTP request, continuing the caller's trace; its id is returned in `x-trace-id`. */
export const tracing: MiddlewareHandler = async (c, next) => {
  const parent = extractContext({
    traceparent: c.req.header('traceparent'),
    tracestate: c.req.header('tracestate'),
  });
  await inSpan(
    `${c.req.method} ${c.req.path}`,
    SpanKind.SERVER,
    parent,
    { 'http.request.method': c.req.method, 'url.path': c.req.path },
    async (span) => {
      c.header('x-trace-id', span.spanContext().traceId);
      await next();
      span.setAttribute('http.response.status_code', c.res.status);
    },
  );
};

export const activeTraceId = (): string | undefined => trace.getActiveSpan()?.spanContext().traceId;

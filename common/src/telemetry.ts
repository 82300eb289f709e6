import {
  type Context,
  context,
  propagation,
  type Span,
  SpanKind,
  SpanStatusCode,
  type Tracer,
  trace,
} from '@opentelemetry/api';
import { Resource } from '@opentelemetry/resources';
import { BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';

let provider: NodeTracerProvider | undefined;

/**
 * Registers a tracer provider for this process. Spans are always created (so trace ids exist and travel in
 * gRPC metadata and NATS headers); they are exported only when OTEL_EXPORTER_OTLP_ENDPOINT is set.
 */
export async function initTelemetry(
  serviceName: string,
  otlpEndpoint?: string,
): Promise<{ shutdown(): Promise<void> }> {
  if (!provider) {
    provider = new NodeTracerProvider({ resource: new Resource({ 'service.name': `lab-${serviceName}` }) });
    if (otlpEndpoint) {
      // Loaded only when exporting: it costs ~0.1 s of start-up in every process.
      const { OTLPTraceExporter } = await import('@opentelemetry/exporter-trace-otlp-http');
      const url = otlpEndpoint.endsWith('/v1/traces')
        ? otlpEndpoint
        : `${otlpEndpoint.replace(/\/$/, '')}/v1/traces`;
      provider.addSpanProcessor(new BatchSpanProcessor(new OTLPTraceExporter({ url })));
    }
    provider.register();
  }
  const p = provider;
  return { shutdown: () => p.shutdown() };
}

export function tracer(): Tracer {
  return trace.getTracer('llm-lab');
}

/** W3C trace headers (`traceparent`, `tracestate`) of the active span, for NATS headers and gRPC metadata. */
export function currentTraceHeaders(ctx: Context = context.active()): Record<string, string> {
  const carrier: Record<string, string> = {};
  propagation.inject(ctx, carrier);
  return carrier;
}

/** The trace id inside a `traceparent` header, or undefined. */
export function traceIdOf(traceparent: string | undefined): string | undefined {
  return traceparent?.split('-')[1];
}

export function extractContext(carrier: Record<string, string | undefined>): Context {
  return propagation.extract(context.active(), carrier);
}

/** Runs `fn` inside a new span that is a child of `parent`; records errors and ends the span when fn settles. */
export async function inSpan<T>(
  name: string,
  kind: SpanKind,
  parent: Context,
  attributes: Record<string, string | number>,
  fn: (span: Span) => Promise<T>,
): Promise<T> {
  const span = tracer().startSpan(name, { kind, attributes }, parent);
  try {
    return await context.with(trace.setSpan(parent, span), () => fn(span));
  } catch (err) {
    span.recordException(err as Error);
    span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error).message });
    throw err;
  } finally {
    span.end();
  }
}

export { SpanKind };

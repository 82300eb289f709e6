import { OpenAPIHono } from '@hono/zod-openapi';
import { type EventBus, LAB_VERSION } from '@lab/common';
import { bodyLimit } from 'hono/body-limit';
import type { ServiceClients } from './clients.ts';
import { errorResponse, handleError, validationHook } from './errors.ts';
import { type GuardOptions, guard } from './guard.ts';
import { dataRoutes } from './routes/data.ts';
import { evalRoutes } from './routes/eval.ts';
import { eventRoutes } from './routes/events.ts';
import { healthRoutes } from './routes/health.ts';
import { inferRoutes } from './routes/infer.ts';
import { openaiRoutes } from './routes/openai.ts';
import { tokenizeRoutes } from './routes/tokenize.ts';
import { trainRoutes } from './routes/train.ts';
import { staticRoutes } from './static.ts';
import { tracing } from './tracing.ts';

/** Texts up to 16 Mi characters fit, with room for JSON escaping. */
const MAX_BODY_BYTES = 64 * 1024 * 1024;

export interface GatewayDeps {
  services: ServiceClients;
  bus: EventBus;
  /** Built UI to serve; defaults to web/dist. */
  webDist?: string;
  /** Host names besides loopback ones, and the token (default: loopback only, no token). */
  guard?: GuardOptions;
}

/** The gateway: typed JSON routes that validate input, then call services over gRPC; SSE for live data. */
export function createApp(deps: GatewayDeps): OpenAPIHono {
  const app = new OpenAPIHono({ defaultHook: validationHook });
  app.use('*', guard(deps.guard));
  app.use('/api/*', tracing);
  app.use('/v1/*', tracing);
  const limit = bodyLimit({
    maxSize: MAX_BODY_BYTES,
    onError: (c) =>
      errorResponse(c, 413, 'RESOURCE_EXHAUSTED', `body: larger than ${MAX_BODY_BYTES >> 20} MiB`, 'body'),
  });
  app.use('/api/*', limit);
  app.use('/v1/*', limit);
  app.onError(handleError);
  app.notFound((c) => errorResponse(c, 404, 'NOT_FOUND', `no route for ${c.req.method} ${c.req.path}`));

  healthRoutes(app, deps.services.addresses, deps.bus);
  eventRoutes(app, deps.bus);
  tokenizeRoutes(app, deps.services);
  dataRoutes(app, deps.services);
  trainRoutes(app, deps.services);
  inferRoutes(app, deps.services);
  evalRoutes(app, deps.services);
  openaiRoutes(app, deps.services);

  app.doc31('/api/openapi.json', {
    openapi: '3.1.0',
    info: {
      title: 'LLM Lab gateway',
      version: LAB_VERSION,
      description: 'HTTP/JSON and SSE in front of the lab services (tokenize, data, train, infer, eval).',
    },
  });
  app.all('/api/*', (c) => errorResponse(c, 404, 'NOT_FOUND', `no route for ${c.req.method} ${c.req.path}`));
  staticRoutes(app, deps.webDist);
  return app;
}

// The gateway's HTTP contract as types, for clients written in TypeScript (the web UI): every type here is
// derived from the zod route definitions that validate requests and write /api/openapi.json, so a changed
// route changes its clients' types and breaks their typecheck instead of their users' pages. Import it with
// `import type` only: the route modules hold server code that must never reach a browser bundle.
import type { z } from '@hono/zod-openapi';
import type { GenerateEvent } from '@lab/proto/infer';
import type { ErrorBody } from './errors.ts';
import type { routes as dataRoutes } from './routes/data.ts';
import type { routes as evalRoutes } from './routes/eval.ts';
import type { route as eventsRoute } from './routes/events.ts';
import type { route as healthRoute } from './routes/health.ts';
import type { adapterRoutes, experimentRoutes, routes as inferRoutes, traceRoutes } from './routes/infer.ts';
import type { routes as tokenizeRoutes } from './routes/tokenize.ts';
import type { routes as trainRoutes } from './routes/train.ts';

/** The routes by service, each by the name its route module gives it. */
export interface Routes {
  health: { health: typeof healthRoute };
  events: { events: typeof eventsRoute };
  tokenize: typeof tokenizeRoutes;
  data: typeof dataRoutes;
  train: typeof trainRoutes;
  infer: typeof inferRoutes & typeof traceRoutes & typeof experimentRoutes;
  /** Apart from `infer`: both have list, import, get and remove. */
  adapters: typeof adapterRoutes;
  eval: typeof evalRoutes;
}

/** What `error` holds in every error answer (and in a stream's failure event). */
export type ApiErrorBody = z.output<typeof ErrorBody>['error'];

interface Route {
  responses: object;
  request?: object;
}

/** The zod schema a request or response part holds for one media type. */
type SchemaOf<Part, Media extends string> = Part extends { content: { [M in Media]: { schema: infer S } } }
  ? S extends z.ZodType
    ? S
    : never
  : never;

/** The JSON body a route answers with `status`, as the client parses it. */
export type ResponseOf<R extends Route, Status extends keyof R['responses']> = z.output<
  SchemaOf<R['responses'][Status], 'application/json'>
>;

/** One message's JSON data of a route that answers with Server-Sent Events (where its schema has one). */
export type EventOf<R extends Route> = z.output<
  SchemaOf<R['responses'][200 & keyof R['responses']], 'text/event-stream'>
>;

type RequestPart<R extends Route, K extends string> = R['request'] extends { [P in K]: infer T } ? T : never;

/** The JSON body a route takes, as a client may write it (defaults optional). */
export type BodyOf<R extends Route> = z.input<SchemaOf<RequestPart<R, 'body'>, 'application/json'>>;

/** A route's query parameters by their validated types (the client writes them as strings); all optional. */
export type QueryOf<R extends Route> = Partial<z.output<Extract<RequestPart<R, 'query'>, z.ZodType>>>;

/**
 * One message of /api/infer/generate and /api/infer/chat: the SSE `event` name and its JSON `data`. The gateway
 * writes svc-infer's GenerateEvent cases as they come (routes/infer.ts, streamGeneration), so the proto is
 * their schema; an `error` event carries the error body instead.
 */
export type GenerationEvent =
  NonNullable<GenerateEvent['event']> extends infer C
    ? C extends { $case: infer T; value: infer V }
      ? { type: T; data: V }
      : never
    : never;

import type { OpenAPIHono } from '@hono/zod-openapi';
import type { ServiceClients } from '../clients.ts';

/** Tokenizer routes: filled in with the tokenizer service. */
export function tokenizeRoutes(_app: OpenAPIHono, _services: ServiceClients) {}

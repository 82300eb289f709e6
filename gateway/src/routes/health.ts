import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi';
import { checkHealth, type EventBus, SERVICE_NAMES } from '@lab/common';

const ServiceHealth = z
  .object({
    name: z.enum(SERVICE_NAMES),
    address: z.string().openapi({ example: '127.0.0.1:7101' }),
    status: z.enum(['SERVING', 'NOT_SERVING', 'UNKNOWN']),
  })
  .openapi('ServiceHealth');

export const HealthBody = z
  .object({
    ok: z.boolean().openapi({ description: 'True when every service is SERVING and the bus is connected' }),
    services: z.array(ServiceHealth),
    bus: z.object({
      kind: z.enum(['nats', 'memory']),
      state: z.enum(['connected', 'reconnecting', 'closed']),
    }),
  })
  .openapi('Health');

const route = createRoute({
  method: 'get',
  path: '/api/health',
  summary: 'gRPC health of each service and the state of the event bus',
  tags: ['lab'],
  responses: {
    200: { description: 'Health report', content: { 'application/json': { schema: HealthBody } } },
  },
});

export function healthRoutes(
  app: OpenAPIHono,
  addresses: Record<(typeof SERVICE_NAMES)[number], string>,
  bus: EventBus,
) {
  app.openapi(route, async (c) => {
    const services = await Promise.all(
      SERVICE_NAMES.map(async (name) => ({
        name,
        address: addresses[name],
        status: await checkHealth(addresses[name], '', 1000),
      })),
    );
    const state = bus.state();
    const ok = state === 'connected' && services.every((s) => s.status === 'SERVING');
    return c.json({ ok, services, bus: { kind: bus.kind, state } }, 200);
  });
}

import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi';
import {
  callUnary,
  checkHealth,
  createClient,
  type EventBus,
  type Metadata,
  SERVICE_NAMES,
} from '@lab/common';
import { DataServiceClient, DataServiceService } from '@lab/proto/data';
import { EvalServiceClient, EvalServiceService } from '@lab/proto/eval';
import { InferServiceClient, InferServiceService } from '@lab/proto/infer';
import { TokenizeServiceClient, TokenizeServiceService } from '@lab/proto/tokenize';
import { TrainServiceClient, TrainServiceService } from '@lab/proto/train';

type ServiceName = (typeof SERVICE_NAMES)[number];

/** The RPCs each service's .proto declares, as `package.Service/Method`. */
const declared: Record<ServiceName, string[]> = Object.fromEntries(
  (
    [
      ['tokenize', TokenizeServiceService],
      ['data', DataServiceService],
      ['train', TrainServiceService],
      ['infer', InferServiceService],
      ['eval', EvalServiceService],
    ] as const
  ).map(([name, def]) => [name, Object.values(def).map((m: { path: string }) => m.path.slice(1))]),
) as Record<ServiceName, string[]>;

const clientCtors = {
  tokenize: TokenizeServiceClient,
  data: DataServiceClient,
  train: TrainServiceClient,
  infer: InferServiceClient,
  eval: EvalServiceClient,
} as const;

/** The one method of the generated clients used here. */
type InfoClient = {
  getInfo(
    req: object,
    md: Metadata,
    opts: NonNullable<Parameters<typeof callUnary>[2]>,
    cb: (err: Error | null, res: { implementedMethods: string[]; version: string }) => void,
  ): unknown;
  close(): void;
};

/**
 * What a serving service can do: the RPCs its proto declares and how many of them it implements
 * (from its GetInfo). Null when the service does not answer GetInfo in time. Like checkHealth, a
 * short-lived client per call.
 */
async function rpcsOf(name: ServiceName, address: string, timeoutMs: number) {
  const client = createClient(
    clientCtors[name] as unknown as Parameters<typeof createClient<InfoClient>>[0],
    address,
    {
      deadlineMs: timeoutMs,
    },
  );
  try {
    const info = await callUnary(client.getInfo.bind(client), {}, { deadline: Date.now() + timeoutMs });
    const implemented = new Set(info.implementedMethods);
    const all = declared[name];
    return {
      implemented: all.filter((m) => implemented.has(m)).length,
      total: all.length,
      missing: all.filter((m) => !implemented.has(m)).map((m) => m.split('/')[1] ?? m),
      version: info.version,
    };
  } catch {
    return null;
  } finally {
    client.close();
  }
}

const Rpcs = z
  .object({
    implemented: z.number().int().openapi({ description: 'RPCs of the service that are implemented' }),
    total: z.number().int().openapi({ description: 'RPCs its .proto declares' }),
    missing: z.array(z.string()).openapi({ description: 'Names of the RPCs not implemented yet' }),
    version: z.string(),
  })
  .nullable()
  .openapi({ description: "From the service's GetInfo; null when it did not answer" });

const ServiceHealth = z
  .object({
    name: z.enum(SERVICE_NAMES),
    address: z.string().openapi({ example: '127.0.0.1:7101' }),
    status: z.enum(['SERVING', 'NOT_SERVING', 'UNKNOWN']),
    rpcs: Rpcs,
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

export const route = createRoute({
  method: 'get',
  path: '/api/health',
  summary: 'gRPC health of each service and the state of the event bus',
  tags: ['lab'],
  responses: {
    200: { description: 'Health report', content: { 'application/json': { schema: HealthBody } } },
  },
});

export function healthRoutes(app: OpenAPIHono, addresses: Record<ServiceName, string>, bus: EventBus) {
  app.openapi(route, async (c) => {
    const services = await Promise.all(
      SERVICE_NAMES.map(async (name) => {
        // Side by side, so that the answer stays within the 1 s of the health check (the UI waits 1.8 s).
        const [status, info] = await Promise.all([
          checkHealth(addresses[name], '', 1000),
          rpcsOf(name, addresses[name], 900),
        ]);
        const rpcs = status === 'SERVING' ? info : null;
        return { name, address: addresses[name], status, rpcs };
      }),
    );
    const state = bus.state();
    const ok = state === 'connected' && services.every((s) => s.status === 'SERVING');
    return c.json({ ok, services, bus: { kind: bus.kind, state } }, 200);
  });
}

import { isAbsolute, resolve } from 'node:path';
import { z } from 'zod';
import { datasetPath } from './datasets.ts';

/** The five services, in the order the lab shows them. */
export const SERVICE_NAMES = ['tokenize', 'data', 'train', 'infer', 'eval'] as const;
export type ServiceName = (typeof SERVICE_NAMES)[number];

/** Default ports: gateway 7100, services 7101–7105, the supervisor's NATS 7122. */
export const DEFAULT_PORTS: Record<ServiceName | 'gateway' | 'nats', number> = {
  gateway: 7100,
  tokenize: 7101,
  data: 7102,
  train: 7103,
  infer: 7104,
  eval: 7105,
  nats: 7122,
};

const port = (name: string, fallback: number) =>
  z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v === '') return fallback;
      const n = Number(v);
      if (!Number.isInteger(n) || n < 0 || n > 65535) {
        ctx.addIssue({ code: 'custom', message: `${name} must be a port number 0-65535 (got "${v}")` });
        return z.NEVER;
      }
      return n;
    });

const choice = <T extends string>(name: string, values: readonly T[], fallback: T) =>
  z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v === '') return fallback;
      if (!(values as readonly string[]).includes(v)) {
        ctx.addIssue({ code: 'custom', message: `${name} must be one of ${values.join(', ')} (got "${v}")` });
        return z.NEVER;
      }
      return v as T;
    });

const url = (name: string) =>
  z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v === '') return undefined;
      for (const part of v.split(',')) {
        try {
          new URL(part.includes('://') ? part : `nats://${part}`);
        } catch {
          ctx.addIssue({
            code: 'custom',
            message: `${name} must be a URL such as nats://127.0.0.1:4222 (got "${v}")`,
          });
          return z.NEVER;
        }
      }
      return v;
    });

const addr = (name: string) =>
  z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v === '') return undefined;
      if (!/^[\w.-]+:\d{1,5}$/.test(v) && !/^\[[\da-f:]+\]:\d{1,5}$/i.test(v)) {
        ctx.addIssue({ code: 'custom', message: `${name} must be host:port (got "${v}")` });
        return z.NEVER;
      }
      return v;
    });

const positiveInt = (name: string, min: number) =>
  z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v === '') return undefined;
      const n = Number(v);
      if (!Number.isSafeInteger(n) || n < min) {
        ctx.addIssue({ code: 'custom', message: `${name} must be an integer ≥ ${min} (got "${v}")` });
        return z.NEVER;
      }
      return n;
    });

const schema = z.object({
  LAB_HOME: z.string().optional(),
  LAB_HOST: z
    .string()
    .optional()
    .refine((v) => v === undefined || /^[\w.:-]+$/.test(v), {
      message: 'LAB_HOST must be a host name or IP address',
    }),
  LAB_PORT: port('LAB_PORT', DEFAULT_PORTS.gateway),
  LAB_TOKENIZE_PORT: port('LAB_TOKENIZE_PORT', DEFAULT_PORTS.tokenize),
  LAB_DATA_PORT: port('LAB_DATA_PORT', DEFAULT_PORTS.data),
  LAB_TRAIN_PORT: port('LAB_TRAIN_PORT', DEFAULT_PORTS.train),
  LAB_INFER_PORT: port('LAB_INFER_PORT', DEFAULT_PORTS.infer),
  LAB_EVAL_PORT: port('LAB_EVAL_PORT', DEFAULT_PORTS.eval),
  LAB_NATS_PORT: port('LAB_NATS_PORT', DEFAULT_PORTS.nats),
  LAB_TOKENIZE_ADDR: addr('LAB_TOKENIZE_ADDR'),
  LAB_DATA_ADDR: addr('LAB_DATA_ADDR'),
  LAB_TRAIN_ADDR: addr('LAB_TRAIN_ADDR'),
  LAB_INFER_ADDR: addr('LAB_INFER_ADDR'),
  LAB_EVAL_ADDR: addr('LAB_EVAL_ADDR'),
  NATS_URL: url('NATS_URL'),
  LAB_EP: choice('LAB_EP', ['cpu', 'webgpu', 'cuda'] as const, 'cpu'),
  LAB_TRAIN_CONCURRENCY: positiveInt('LAB_TRAIN_CONCURRENCY', 1),
  LAB_TRAIN_LEASE_MS: positiveInt('LAB_TRAIN_LEASE_MS', 100),
  LAB_TRAIN_ACK_WAIT_MS: positiveInt('LAB_TRAIN_ACK_WAIT_MS', 1000),
  LAB_DATA_MAX_BYTES: positiveInt('LAB_DATA_MAX_BYTES', 1),
  LAB_ALLOWED_HOSTS: z.string().optional(),
  LAB_DATA_ROOTS: z.string().optional(),
  LAB_TOKEN: z
    .string()
    .optional()
    .refine((v) => v === undefined || v === '' || v.length >= 16, {
      message: 'LAB_TOKEN must be at least 16 characters',
    }),
  LAB_INFER_MEMORY_MB: positiveInt('LAB_INFER_MEMORY_MB', 1),
  LAB_INFER_IDLE_MS: positiveInt('LAB_INFER_IDLE_MS', 0),
  LAB_INFER_MAX_ACTIVE: positiveInt('LAB_INFER_MAX_ACTIVE', 1),
  LAB_INFER_MAX_QUEUE: positiveInt('LAB_INFER_MAX_QUEUE', 0),
  LAB_LOG_LEVEL: choice('LAB_LOG_LEVEL', ['debug', 'info', 'warn', 'error'] as const, 'info'),
  OTEL_EXPORTER_OTLP_ENDPOINT: url('OTEL_EXPORTER_OTLP_ENDPOINT').optional(),
});

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface LabConfig {
  /** Root of all state: each service keeps its store in `<home>/<service>/`. */
  home: string;
  /** Interface every listener binds to (127.0.0.1 unless LAB_HOST says otherwise). */
  host: string;
  gatewayPort: number;
  natsPort: number;
  ports: Record<ServiceName, number>;
  /** Address clients use to reach each service (LAB_<SERVICE>_ADDR, else host:port). */
  addresses: Record<ServiceName, string>;
  natsUrl?: string;
  executionProvider: 'cpu' | 'webgpu' | 'cuda';
  logLevel: LogLevel;
  otlpEndpoint?: string;
  /** svc-train: jobs run at once per process, claim lease of a running job, JetStream ack wait. */
  train: { concurrency?: number; leaseMs?: number; ackWaitMs?: number };
  /** svc-data: largest accepted input, in bytes. */
  dataMaxBytes?: number;
  /**
   * Gateway: host names it answers besides loopback ones (LAB_ALLOWED_HOSTS, comma-separated; `*` = any),
   * and the token every request must carry (LAB_TOKEN), required when LAB_HOST is not a loopback address.
   */
  gateway: { allowedHosts: string[]; token?: string };
  /**
   * svc-infer: memory budget for loaded models (MiB), idle time before a model is unloaded (ms, 0 = never),
   * generations run at once, and requests that may wait for one before the service answers "busy".
   */
  infer: { memoryMb?: number; idleMs?: number; maxActive?: number; maxQueue?: number };
  /**
   * Folders whose files the services may be asked to read by path (LAB_DATA_ROOTS, comma-separated; default
   * LAB_HOME, the directory the lab was started from and the reference datasets). Undefined: no
   * confinement, for CLIs working in the user's own process.
   */
  dataRoots?: string[];
}

/** Whether a bind address or host name stays on this machine. */
export function isLoopbackHost(host: string): boolean {
  const h = host.toLowerCase().replace(/^\[|\]$/g, '');
  return h === 'localhost' || h.endsWith('.localhost') || h === '::1' || /^127\.\d+\.\d+\.\d+$/.test(h);
}

/** A configuration problem; `variable` names the environment variable at fault. */
export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(message);
    this.name = 'ConfigError';
  }
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): LabConfig {
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const variable = String(issue.path[0] ?? 'environment');
    const message = issue.message.startsWith(variable) ? issue.message : `${variable}: ${issue.message}`;
    throw new ConfigError(variable, message);
  }
  const e = parsed.data;
  const home = e.LAB_HOME ? (isAbsolute(e.LAB_HOME) ? e.LAB_HOME : resolve(e.LAB_HOME)) : resolve('.lab');
  const host = e.LAB_HOST || '127.0.0.1';
  const ports: Record<ServiceName, number> = {
    tokenize: e.LAB_TOKENIZE_PORT,
    data: e.LAB_DATA_PORT,
    train: e.LAB_TRAIN_PORT,
    infer: e.LAB_INFER_PORT,
    eval: e.LAB_EVAL_PORT,
  };
  // A wildcard bind address is not something a client can dial; dial loopback instead.
  const dialHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
  const overrides: Record<ServiceName, string | undefined> = {
    tokenize: e.LAB_TOKENIZE_ADDR,
    data: e.LAB_DATA_ADDR,
    train: e.LAB_TRAIN_ADDR,
    infer: e.LAB_INFER_ADDR,
    eval: e.LAB_EVAL_ADDR,
  };
  const addresses = Object.fromEntries(
    SERVICE_NAMES.map((s) => [s, overrides[s] ?? `${dialHost}:${ports[s]}`]),
  ) as Record<ServiceName, string>;
  return {
    home,
    host,
    gatewayPort: e.LAB_PORT,
    natsPort: e.LAB_NATS_PORT,
    ports,
    addresses,
    natsUrl: e.NATS_URL,
    executionProvider: e.LAB_EP,
    logLevel: e.LAB_LOG_LEVEL,
    otlpEndpoint: e.OTEL_EXPORTER_OTLP_ENDPOINT,
    train: {
      concurrency: e.LAB_TRAIN_CONCURRENCY,
      leaseMs: e.LAB_TRAIN_LEASE_MS,
      ackWaitMs: e.LAB_TRAIN_ACK_WAIT_MS,
    },
    dataMaxBytes: e.LAB_DATA_MAX_BYTES,
    gateway: {
      allowedHosts: (e.LAB_ALLOWED_HOSTS ?? '')
        .split(',')
        .map((h) => h.trim().toLowerCase())
        .filter(Boolean),
      token: e.LAB_TOKEN || undefined,
    },
    dataRoots: e.LAB_DATA_ROOTS
      ? e.LAB_DATA_ROOTS.split(',')
          .map((r) => r.trim())
          .filter(Boolean)
          .map((r) => resolve(r))
      : [home, process.cwd(), datasetPath()],
    infer: {
      memoryMb: e.LAB_INFER_MEMORY_MB,
      idleMs: e.LAB_INFER_IDLE_MS,
      maxActive: e.LAB_INFER_MAX_ACTIVE,
      maxQueue: e.LAB_INFER_MAX_QUEUE,
    },
  };
}

/** Loads the configuration or ends the process with a message naming the bad variable (exit code 2). */
export function loadConfigOrExit(env: NodeJS.ProcessEnv = process.env): LabConfig {
  try {
    return loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`error: invalid configuration: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
}

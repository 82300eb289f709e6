import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createBus, type EventBus } from './bus/index.ts';
import { type LabConfig, loadConfigOrExit, type ServiceName } from './config.ts';
import { implementedMethods, type ServiceBinding, startGrpcServer } from './grpc.ts';
import { createLogger, type Logger } from './log.ts';
import { openStore, type Store } from './store.ts';
import { initTelemetry } from './telemetry.ts';

export const LAB_VERSION = '0.1.0';

/** What a service's implementation is built from. */
export interface ServiceDeps {
  name: ServiceName;
  config: LabConfig;
  log: Logger;
  bus: EventBus;
  store: Store;
}

export interface ServiceInfoMessage {
  name: string;
  version: string;
  uptimeSeconds: number;
  busKind: string;
  implementedMethods: string[];
}

/** The GetInfo answer every service gives. */
export function serviceInfo(deps: ServiceDeps, binding: ServiceBinding): ServiceInfoMessage {
  return {
    name: deps.name,
    version: LAB_VERSION,
    uptimeSeconds: process.uptime(),
    busKind: deps.bus.kind,
    implementedMethods: implementedMethods(binding),
  };
}

/** Adds the GetInfo every service answers (unless the service implements its own). */
export function withServiceInfo(deps: ServiceDeps, binding: ServiceBinding): ServiceBinding {
  binding.implementation.getInfo ??= async () => serviceInfo(deps, binding);
  return binding;
}

/**
 * The whole life of a service process: validated config, telemetry, bus, store, gRPC server with health
 * and reflection, a `lab.service.<name>.state` event, and a clean stop on SIGTERM/SIGINT.
 */
export async function runService(
  name: ServiceName,
  build: (deps: ServiceDeps) => ServiceBinding | Promise<ServiceBinding>,
): Promise<void> {
  const config = loadConfigOrExit();
  exitWithParent();
  const telemetry = await initTelemetry(name, config.otlpEndpoint);
  const log = createLogger(name, config.logLevel);
  const store = openStore(config.home, name);
  // Given the store, the bus keeps unpublished metrics and job states there while NATS is down.
  const bus = await createBus(config.natsUrl, `lab-${name}`, log, store);
  const deps: ServiceDeps = { name, config, log, bus, store };
  const binding = withServiceInfo(deps, await build(deps));
  const grpc = await startGrpcServer({
    host: config.host,
    port: config.ports[name],
    services: [binding],
    log,
  });
  log.info(`serving ${binding.name} on ${config.host}:${grpc.port}`, { bus: bus.kind, pid: process.pid });
  await bus.publish(`lab.service.${name}.state`, {
    service: name,
    state: 'serving',
    pid: process.pid,
    port: grpc.port,
  });

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info(`stopping (${signal})`);
    const hardStop = setTimeout(() => process.exit(1), 4000);
    hardStop.unref();
    await grpc.shutdown(1500);
    await bus
      .publish(`lab.service.${name}.state`, { service: name, state: 'stopped', pid: process.pid })
      .catch(() => {});
    await bus.close().catch(() => {});
    await store.close().catch(() => {});
    await telemetry.shutdown().catch(() => {});
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}

/** True when the module with this import.meta.url is the process's entry point. */
export function isMain(moduleUrl: string): boolean {
  return !!process.argv[1] && resolve(process.argv[1]) === fileURLToPath(moduleUrl);
}

/**
 * Ends this process when its parent (the supervisor) is gone, so a supervisor killed with SIGKILL leaves no
 * orphaned services behind. Only active under the supervisor, which sets LAB_SUPERVISED=1.
 */
export function exitWithParent(): void {
  if (process.env.LAB_SUPERVISED !== '1') return;
  const parent = process.ppid;
  setInterval(() => {
    if (process.ppid !== parent) process.exit(0);
  }, 1000).unref();
}

import { serve } from '@hono/node-server';
import {
  createBus,
  createLogger,
  exitWithParent,
  initTelemetry,
  isLoopbackHost,
  isMain,
  loadConfigOrExit,
} from '@lab/common';
import { createApp } from './app.ts';
import { connectServices } from './clients.ts';

/** Runs the gateway on LAB_HOST:LAB_PORT until SIGTERM/SIGINT. */
export async function start(): Promise<void> {
  const config = loadConfigOrExit();
  if (!isLoopbackHost(config.host) && !config.gateway.token) {
    process.stderr.write(
      `error: LAB_HOST=${config.host} makes the lab reachable from other machines; set LAB_TOKEN (16+ characters) so only those who have it can use it\n`,
    );
    process.exit(2);
  }
  exitWithParent();
  const telemetry = await initTelemetry('gateway', config.otlpEndpoint);
  const log = createLogger('gateway', config.logLevel);
  const bus = await createBus(config.natsUrl, 'lab-gateway', log);
  const services = connectServices(config);
  const app = createApp({ services, bus, webDist: process.env.LAB_WEB_DIST, guard: config.gateway });
  const server = serve({ fetch: app.fetch, hostname: config.host, port: config.gatewayPort }, (info) => {
    log.info(`listening on http://${config.host}:${info.port}`, { bus: bus.kind });
  });
  // A client that reuses an idle connection just as the server drops it gets "other side closed" and no
  // answer (seen under load in the fuzz test). Keeping idle connections longer than clients do (undici 4 s,
  // browsers up to ~60 s) means the client always closes first.
  const http = server as unknown as { keepAliveTimeout: number; headersTimeout: number };
  http.keepAliveTimeout = 65_000;
  http.headersTimeout = 66_000;
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    setTimeout(() => process.exit(1), 3000).unref();
    // Open SSE streams would hold close() forever; drop them.
    (server as unknown as { closeAllConnections?: () => void }).closeAllConnections?.();
    server.close();
    services.close();
    await bus.close().catch(() => {});
    await telemetry.shutdown().catch(() => {});
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop());
  process.on('SIGINT', () => void stop());
}

if (isMain(import.meta.url)) await start();

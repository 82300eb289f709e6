import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

/** Path of nats-server when it is on PATH. */
export function findNatsServer(): string | undefined {
  const r = spawnSync('sh', ['-c', 'command -v nats-server'], { encoding: 'utf8' });
  const path = r.stdout.trim();
  return r.status === 0 && path ? path : undefined;
}

/** Arguments for a JetStream-enabled nats-server on loopback, storing under `<home>/nats`. */
export function natsArgs(home: string, host: string, port: number): string[] {
  const store = join(home, 'nats');
  mkdirSync(store, { recursive: true });
  // Its banner and logs go to a file: the terminal is for the lab's own lines.
  return [
    '-js',
    '-a',
    host,
    '-p',
    String(port),
    '-sd',
    store,
    '--server_name',
    'lab',
    '-l',
    join(store, 'nats.log'),
  ];
}

export interface NatsServerHandle {
  url: string;
  port: number;
  /** SIGTERM and wait for exit. */
  stop(): Promise<void>;
  /** Starts it again on the same port and store (events survive: JetStream is on disk). */
  start(): Promise<void>;
}

/** Runs a real JetStream nats-server on loopback for tests and tools; throws when nats-server is missing. */
export async function runNatsServer(home: string, port?: number): Promise<NatsServerHandle> {
  const binary = findNatsServer();
  if (!binary) throw new Error('nats-server is not on PATH (apt-get install nats-server)');
  const { freePort, waitForPort } = await import('./ports.ts');
  const { spawn } = await import('node:child_process');
  const p = port ?? (await freePort());
  let child: import('node:child_process').ChildProcess | undefined;
  const handle: NatsServerHandle = {
    url: `nats://127.0.0.1:${p}`,
    port: p,
    start: async () => {
      child = spawn(binary, natsArgs(home, '127.0.0.1', p), { stdio: 'ignore' });
      await waitForPort('127.0.0.1', p, 10_000);
    },
    stop: async () => {
      const c = child;
      if (!c || c.exitCode !== null || c.signalCode !== null) return;
      await new Promise((r) => {
        c.once('exit', r);
        c.kill('SIGTERM');
      });
    },
  };
  await handle.start();
  return handle;
}

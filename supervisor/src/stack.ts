import { mkdirSync, mkdtempSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { DEFAULT_PORTS, type LabConfig, loadConfig, SERVICE_NAMES, type ServiceName } from '@lab/common';
import { ensureBuilt, entryFile } from '../dist.js';
import { SupervisedChild } from './child.ts';
import { findNatsServer, natsArgs } from './nats.ts';
import { freePort, waitForPort } from './ports.ts';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
// With runtime 'tsx', children run TypeScript through tsx's ESM loader (resolved here: vitest's import.meta
// has no resolve()).
const tsxLoader = pathToFileURL(
  join(dirname(createRequire(import.meta.url).resolve('tsx/package.json')), 'dist/loader.mjs'),
).href;

/** The TypeScript entry of each process (what runtime 'tsx' runs, and what `npm run build` bundles). */
export const entryPoints: Record<ServiceName | 'gateway', string> = {
  tokenize: join(repoRoot, 'svc-tokenize/src/server.ts'),
  data: join(repoRoot, 'svc-data/src/server.ts'),
  train: join(repoRoot, 'svc-train/src/server.ts'),
  infer: join(repoRoot, 'svc-infer/src/server.ts'),
  eval: join(repoRoot, 'svc-eval/src/server.ts'),
  gateway: join(repoRoot, 'gateway/src/server.ts'),
};

/**
 * V8 sizes its young generation (up to 2 × 16 MiB) by the burst of allocation at start-up and keeps it while
 * the process idles: ~7 MiB of each service's resident memory, ~12 MiB of the gateway's. A service's main
 * thread answers calls and streams; its heavy work (training, tokenizer training, transforms) runs in worker
 * threads, which get V8's default young generation back (common/src/worker.ts). Measured on 5 MB of
 * encoding on the main thread: no difference beyond noise.
 */
const SERVICE_NODE_FLAGS = ['--max-semi-space-size=1'];

export interface StackOptions {
  /** LAB_HOME for the stack; a fresh temporary directory when omitted. */
  home?: string;
  /** 'auto' (default) runs nats-server when it is on PATH; false always uses the in-process bus. */
  nats?: 'auto' | boolean;
  /** 'config' uses LAB_* ports from the environment (defaults 7100–7105, NATS 7122); 'free' picks free ones. */
  ports?: 'config' | 'free';
  output?: 'inherit' | 'buffer';
  /** Extra environment for every child. */
  env?: NodeJS.ProcessEnv;
  /**
   * 'dist' (default): the compiled bundles in dist/, rebuilt first when any source changed; 'tsx': the
   * TypeScript sources through tsx's loader (~1 s and ~40 MiB more per process).
   */
  runtime?: 'dist' | 'tsx';
  /** How long to wait for /api/health to report everything up. */
  readyTimeoutMs?: number;
  /** Progress and restart messages. */
  onEvent?: (msg: string) => void;
}

export interface Stack {
  url: string;
  config: LabConfig;
  children: Map<string, SupervisedChild>;
  natsUrl?: string;
  /** Seconds from start to all services healthy. */
  readySeconds: number;
  /** Stops everything: SIGTERM, SIGKILL after the grace period. */
  stop(graceMs?: number): Promise<void>;
}

async function ports(mode: 'config' | 'free', base: LabConfig) {
  if (mode === 'config') return { gateway: base.gatewayPort, nats: base.natsPort, ...base.ports };
  const names = ['gateway', 'nats', ...SERVICE_NAMES] as const;
  const picked = await Promise.all(names.map(() => freePort()));
  return Object.fromEntries(names.map((n, i) => [n, picked[i]])) as Record<(typeof names)[number], number>;
}

/** Starts NATS (when available), the five services and the gateway, and waits until all are healthy. */
export async function startStack(opts: StackOptions = {}): Promise<Stack> {
  const t0 = performance.now();
  const onEvent = opts.onEvent ?? (() => {});
  const home = opts.home ?? mkdtempSync(join(tmpdir(), 'lab-home-'));
  mkdirSync(home, { recursive: true });
  const base = loadConfig({ ...process.env, ...opts.env, LAB_HOME: home });
  const p = await ports(opts.ports ?? 'config', base);
  const host = base.host;
  const dial = host === '0.0.0.0' ? '127.0.0.1' : host;
  const children = new Map<string, SupervisedChild>();
  const output = opts.output ?? 'inherit';
  const manifest = (opts.runtime ?? 'dist') === 'dist' ? await ensureBuilt(onEvent) : undefined;
  const childArgs = (name: ServiceName | 'gateway') =>
    manifest
      ? [...SERVICE_NODE_FLAGS, entryFile(manifest, name === 'gateway' ? name : `svc-${name}`)]
      : ['--import', tsxLoader, entryPoints[name]];

  let natsUrl = base.natsUrl;
  const natsBinary = opts.nats === false ? undefined : findNatsServer();
  if (!natsUrl && natsBinary) {
    const nats = new SupervisedChild(
      { name: 'nats', command: natsBinary, args: natsArgs(home, dial, p.nats), env: process.env, output },
      onEvent,
    );
    nats.start();
    children.set('nats', nats);
    await waitForPort(dial, p.nats, 15_000);
    natsUrl = `nats://${dial}:${p.nats}`;
  } else if (!natsUrl) {
    if (opts.nats === true)
      throw new Error('nats-server is not on PATH (install it: apt-get install nats-server)');
    onEvent('nats-server not found on PATH: using in-process event buses (no live events between services)');
  }

  const env: NodeJS.ProcessEnv = {
    ...process.env,
    ...opts.env,
    LAB_HOME: home,
    LAB_HOST: host,
    LAB_PORT: String(p.gateway),
    LAB_TOKENIZE_PORT: String(p.tokenize),
    LAB_DATA_PORT: String(p.data),
    LAB_TRAIN_PORT: String(p.train),
    LAB_INFER_PORT: String(p.infer),
    LAB_EVAL_PORT: String(p.eval),
    LAB_SUPERVISED: '1',
    ...(natsUrl ? { NATS_URL: natsUrl } : {}),
  };
  if (!natsUrl) delete env.NATS_URL;
  for (const name of [...SERVICE_NAMES, 'gateway'] as const) {
    const child = new SupervisedChild(
      { name, command: process.execPath, args: childArgs(name), env, output },
      onEvent,
    );
    child.start();
    children.set(name, child);
  }
  const config = loadConfig(env);
  const url = `http://${dial}:${p.gateway}`;
  const stop = async (graceMs = 4000) => {
    // A Ctrl-C in a terminal signals every child at once: none of those exits may trigger a restart.
    for (const c of children.values()) c.markStopping();
    // Services first, then the bus they publish to.
    await Promise.all([...children].filter(([n]) => n !== 'nats').map(([, c]) => c.stop(graceMs)));
    await children.get('nats')?.stop(graceMs);
  };
  try {
    await waitHealthy(url, opts.readyTimeoutMs ?? 60_000, config.gateway.token);
  } catch (err) {
    const logs = [...children].map(([n, c]) => `--- ${n}\n${c.recentOutput}`).join('\n');
    await stop(1000);
    throw new Error(`${(err as Error).message}${output === 'buffer' ? `\n${logs}` : ''}`);
  }
  return { url, config, children, natsUrl, readySeconds: (performance.now() - t0) / 1000, stop };
}

/** Polls GET /api/health until it answers ok. */
export async function waitHealthy(url: string, timeoutMs: number, token?: string): Promise<unknown> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer';
  while (Date.now() < deadline) {
    try {
      const res = await fetch(`${url}/api/health`, {
        signal: AbortSignal.timeout(3000),
        headers: token ? { authorization: `Bearer ${token}` } : {},
      });
      const body = (await res.json()) as { ok?: boolean };
      if (body.ok) return body;
      last = JSON.stringify(body);
    } catch (err) {
      last = (err as Error).message;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`the lab did not become healthy within ${timeoutMs} ms (last health: ${last})`);
}

export { DEFAULT_PORTS };

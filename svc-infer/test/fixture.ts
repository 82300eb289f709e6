// A real svc-infer for tests: gRPC over loopback, a real nats-server, and the gateway over real HTTP (so
// SSE disconnects reach the service), with a small character-level model folder written by the engine.
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serve } from '@hono/node-server';
import {
  bindService,
  createLogger,
  datasetPath,
  loadConfig,
  NatsBus,
  openStore,
  type RunningGrpcServer,
  type Store,
  startGrpcServer,
} from '@lab/common';
import { gpt2Config, type ModelConfig, paramLayout, saveCheckpoint } from '@lab/engine';
import { InferServiceService } from '@lab/proto/infer';
import type { Job } from '@lab/proto/train';
import { type NatsServerHandle, runNatsServer } from '@lab/supervisor';
import { CharTokenizer, saveTokenizer } from '@lab/tokenizer';
import { createApp } from '../../gateway/src/app.ts';
import { connectServices, type ServiceClients } from '../../gateway/src/clients.ts';
import { parseSseBlock } from '../../supervisor/test/sse.ts';
import { createInferImpl, type InferImpl, type InferServiceOptions } from '../src/service.ts';

export const SHAKESPEARE = readFileSync(datasetPath('tinyshakespeare', 'input.txt'), 'utf8').slice(0, 50_000);

/** A char-level GPT-2 folder with random weights: model.safetensors, config.json, tokenizer.json. */
export function writeCharModel(
  dir: string,
  over: Partial<ModelConfig> = {},
  seed = 7,
): {
  dir: string;
  cfg: ModelConfig;
  params: Float32Array;
  tokenizer: CharTokenizer;
} {
  const chars = [...new Set(SHAKESPEARE)].sort();
  const tokenizer = new CharTokenizer(chars, 'shakespeare-char');
  const cfg = gpt2Config({
    nLayer: 2,
    nHead: 2,
    nEmbd: 32,
    ffnHidden: 64,
    blockSize: 64,
    vocabSize: chars.length,
    bias: false,
    activation: 'gelu',
    ...over,
  });
  const params = paramLayout(cfg).init(seed);
  // Random init puts all logits near zero; a larger spread makes distributions peaked, like a trained model.
  for (let i = 0; i < params.length; i++) params[i]! *= 6;
  mkdirSync(dir, { recursive: true });
  saveCheckpoint(dir, { cfg, params });
  saveTokenizer(tokenizer, dir);
  return { dir, cfg, params, tokenizer };
}

export interface InferFixture {
  home: string;
  url: string;
  impl: InferImpl;
  services: ServiceClients;
  bus: NatsBus;
  nats: NatsServerHandle;
  /** Jobs the fake svc-train lister reports (tests push checkpoints here). */
  jobs: Job[];
  close(): Promise<void>;
}

/** `env` adds to the service's configuration (e.g. LAB_DATA_ADDR of a svc-data the test runs). */
export async function startInfer(
  options: InferServiceOptions = {},
  env: Record<string, string> = {},
): Promise<InferFixture> {
  const home = mkdtempSync(join(tmpdir(), 'lab-infer-'));
  const nats = await runNatsServer(home);
  const bus = await NatsBus.connect(nats.url, { name: 'infer' });
  const store: Store = openStore(home, 'infer');
  const log = createLogger('infer', 'warn');
  const jobs: Job[] = [];
  const config = loadConfig({
    LAB_DATA_ROOTS: process.env.LAB_DATA_ROOTS,
    LAB_HOME: home,
    NATS_URL: nats.url,
    ...env,
  });
  const impl = createInferImpl({ bus, store, config, log }, { listJobs: async () => jobs, ...options });
  const server: RunningGrpcServer = await startGrpcServer({
    host: '127.0.0.1',
    port: 0,
    services: [bindService(InferServiceService, impl.impl)],
    log,
  });
  const services = connectServices(
    loadConfig({
      LAB_DATA_ROOTS: process.env.LAB_DATA_ROOTS,
      LAB_HOME: home,
      LAB_INFER_ADDR: `127.0.0.1:${server.port}`,
    }),
  );
  const app = createApp({ services, bus });
  const http = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 });
  await new Promise<void>((r) => http.once('listening', () => r()));
  const url = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
  return {
    home,
    url,
    impl,
    services,
    bus,
    nats,
    jobs,
    close: async () => {
      (http as unknown as { closeAllConnections?: () => void }).closeAllConnections?.();
      http.close();
      services.close();
      await server.shutdown(500);
      await impl.close();
      await bus.close();
      await store.close();
      await nats.stop();
    },
  };
}

export interface SseMessage {
  event: string;
  data: unknown;
}

/** POSTs JSON and reads the SSE answer; `onEvent` may return true to disconnect right there. */
export async function postSse(
  url: string,
  body: unknown,
  onEvent?: (e: SseMessage, all: SseMessage[]) => boolean | undefined,
): Promise<{ status: number; events: SseMessage[]; error?: unknown }> {
  const controller = new AbortController();
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
    body: JSON.stringify(body),
    signal: controller.signal,
  });
  if (!res.headers.get('content-type')?.includes('text/event-stream'))
    return { status: res.status, events: [], error: await res.json() };
  const events: SseMessage[] = [];
  const decoder = new TextDecoder();
  let buf = '';
  try {
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      buf += decoder.decode(chunk, { stream: true });
      let idx = buf.indexOf('\n\n');
      while (idx >= 0) {
        const block = buf.slice(0, idx);
        buf = buf.slice(idx + 2);
        idx = buf.indexOf('\n\n');
        const { event } = parseSseBlock(block);
        if (!event) continue;
        const msg = { event: event.event ?? 'message', data: JSON.parse(event.data) as unknown };
        events.push(msg);
        if (onEvent?.(msg, events)) {
          controller.abort();
          return { status: res.status, events };
        }
      }
    }
  } catch (err) {
    if (!controller.signal.aborted) throw err;
  }
  return { status: res.status, events };
}

/** The gateway's error body. */
export interface ErrorJson {
  error: { code: string; message: string; field?: string };
}

export async function postJson<T = ErrorJson>(
  url: string,
  body: unknown,
  method = 'POST',
): Promise<{ status: number; body: T }> {
  const res = await fetch(url, {
    method,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as T };
}

export function writeText(path: string, text: string): void {
  writeFileSync(path, text);
}

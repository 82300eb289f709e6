// First-token latency as a client of the lab sees it: POST /api/infer/generate on the gateway (HTTP, SSE),
// which calls svc-infer over loopback gRPC, which runs the model. Both servers run in this process with an
// in-process bus; the model is loaded (and warmed) before timing, so the figure is a request's, not a load's.
import { copyFileSync, readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { serve } from '@hono/node-server';
import {
  bindService,
  createLogger,
  datasetPath,
  loadConfig,
  MemoryBus,
  openStore,
  startGrpcServer,
} from '@lab/common';
import { InferServiceService } from '@lab/proto/infer';
import { CharTokenizer, saveTokenizer } from '@lab/tokenizer';
import { createApp } from '../../gateway/src/app.ts';
import { connectServices, type ServiceClients } from '../../gateway/src/clients.ts';
import { createInferImpl, type InferImpl } from '../src/service.ts';

/** Gives a benchmark folder the tokenizer its vocabulary implies: GPT-2's, or tiny Shakespeare's characters. */
export function addTokenizer(dir: string, vocabSize: number): void {
  if (vocabSize === 50257) {
    copyFileSync(datasetPath('gpt2-tokenizer', 'tokenizer.json'), join(dir, 'tokenizer.json'));
    return;
  }
  const chars = [...new Set(readFileSync(datasetPath('tinyshakespeare', 'input.txt'), 'utf8'))].sort();
  if (chars.length !== vocabSize) throw new Error(`no tokenizer with ${vocabSize} ids for the benchmark`);
  saveTokenizer(new CharTokenizer(chars), dir);
}

async function firstTokenMs(url: string, body: unknown): Promise<number> {
  const t0 = performance.now();
  const res = await fetch(`${url}/api/infer/generate`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let buf = '';
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    buf += decoder.decode(value, { stream: true });
    if (buf.includes('event: token')) {
      const ms = performance.now() - t0;
      await reader.cancel();
      return ms;
    }
  }
  throw new Error(`no token event in: ${buf.slice(0, 300)}`);
}

export interface GatewayLatency {
  medianMs: number;
  p90Ms: number;
  runs: number;
}

/** svc-infer (loopback gRPC, in-process bus) behind the gateway's HTTP app, both in this process. */
export interface InferStack {
  url: string;
  impl: InferImpl;
  /** gRPC clients of the gateway (services.infer: svc-infer over loopback). */
  services: ServiceClients;
  close(): Promise<void>;
}

export async function startInferStack(home: string): Promise<InferStack> {
  const bus = new MemoryBus();
  const store = openStore(home, 'infer');
  const log = createLogger('infer', 'warn');
  const config = loadConfig({ LAB_HOME: home, LAB_TRAIN_ADDR: '127.0.0.1:1' });
  const impl = createInferImpl({ bus, store, config, log }, { listJobs: async () => [] });
  const grpc = await startGrpcServer({
    host: '127.0.0.1',
    port: 0,
    services: [bindService(InferServiceService, impl.impl)],
    log,
  });
  const services = connectServices(loadConfig({ LAB_HOME: home, LAB_INFER_ADDR: `127.0.0.1:${grpc.port}` }));
  const http = serve({ fetch: createApp({ services, bus }).fetch, hostname: '127.0.0.1', port: 0 });
  await new Promise<void>((r) => http.once('listening', () => r()));
  return {
    url: `http://127.0.0.1:${(http.address() as AddressInfo).port}`,
    impl,
    services,
    async close() {
      (http as unknown as { closeAllConnections?: () => void }).closeAllConnections?.();
      http.close();
      services.close();
      await grpc.shutdown(500);
      await impl.close();
      await store.close();
    },
  };
}

/** Median and p90 of the time to the first token event over SSE for a 16-token prompt. */
export async function benchGatewayFirstToken(dir: string, home: string, runs = 15): Promise<GatewayLatency> {
  const { url, impl, close } = await startInferStack(home);
  try {
    await impl.catalog.register('bench', dir);
    // A prompt of exactly 16 tokens for either tokenizer: 16 characters, or 16 GPT-2 words.
    const prompt =
      readFileSync(join(dir, 'tokenizer.json'), 'utf8').length > 100_000
        ? ' the the the the the the the the the the the the the the the the'
        : 'First Citizen:\nB';
    const body = { model: 'bench', prompt, params: { maxTokens: 1, temperature: 0 } };
    const pre = (await (
      await fetch(`${url}/api/infer/preflight`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      })
    ).json()) as { promptTokens: number };
    if (pre.promptTokens !== 16)
      throw new Error(`the benchmark prompt has ${pre.promptTokens} tokens, not 16`);
    await firstTokenMs(url, body);
    await firstTokenMs(url, body);
    const times: number[] = [];
    for (let i = 0; i < runs; i++) times.push(await firstTokenMs(url, body));
    times.sort((a, b) => a - b);
    return {
      medianMs: times[Math.floor(times.length / 2)]!,
      p90Ms: times[Math.floor(times.length * 0.9)]!,
      runs,
    };
  } finally {
    await close();
  }
}

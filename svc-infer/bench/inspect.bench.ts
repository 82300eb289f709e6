// Trace benchmark (npm run bench:inspect, first half; web/bench/attention.bench.ts is the second): issue 15's
// target is a trace of a gpt2-small-shaped model (12 layers, 12 heads, 768 wide, random weights written by
// infer.bench.ts, GPT-2's tokenizer) on 128 tokens in ≤ 1.5 s, as a user gets it: POST /api/infer/trace on
// the gateway → svc-infer over loopback gRPC → the trace session (engine/src/inspect). Printed:
//   first     the first request: the pool loads the model, the trace graph is built and its session made
//   warm      median of --rounds requests after that, over HTTP (JSON) and over gRPC alone
//   breakdown where a warm request's time goes, each part timed on its own in this process on the
//             service's own session: the ORT run (forward, attention, 13 logit lenses over the 50,257-token
//             vocabulary; then without the 12 earlier streams' lenses, as skip_lens asks, and loss only, as
//             ablation and patching run), the summary (norms, logit lens top-k, pattern scores, token
//             texts), the attention messages, their protobuf encoding and the gateway's JSON; and of the
//             first request's load: building the trace graph, and a fresh session's creation and first run.
// Flags: --rounds N (default 5), --tokens N (default 128).
//
// Recorded 2026-12-06 on this 2-core VM while other sessions ran tests (load average 4–7, so the ORT run alone
// moved 0.85–2.3 s between runs): before, the attention went as `repeated float` (Array.from in svc-infer,
// ts-proto's number-by-number decode in the gateway): warm HTTP 4.1 s, gRPC 2.6 s, ORT run 1.7 s (load
// 4.3–4.7). Sent as float32 bytes (LayerAttention.weights, the same wire bytes): warm HTTP 2.3 s, gRPC 0.98 s,
// ORT run 0.85 s (load 4.8); what gRPC adds to the run fell from ~0.9 s to ~0.13 s. What remains above the
// run is the gateway's JSON of 2.4 M weights (27.5 MB; ~0.5 s here, 1–2.5 s on its own at load 8) and
// moving it over HTTP. First request 6–8.5 s (first ORT run 1.1–1.9 s).
// Then at load 2.7 (`npm run bench:inspect`): ORT run 0.65 s, gRPC 0.73 s (≤ 1.5 s), HTTP + JSON 1.84 s (not
// yet: the JSON is 0.41 s of it), first request 3.8 s; through the full stack (separate processes, from
// attention.bench.ts) 2.3 s, 0.76 s without the attention.
// With the 12 earlier streams' lenses in their own session, run only when wanted (load 4–5): ORT run 0.73 s
// with them, 0.26 s without (skip_lens), 0.15 s loss only (ablation, patching; 0.55–0.58 s before, when the
// one graph computed every lens whatever was fetched).
// With the attention as base64 float32 bytes (`encoding: "base64"`, what the Attention page asks for; 13.1 MB
// of JSON against 27.5), load 4–6: warm HTTP 1.16 s (≤ 1.5 s), 2.05 s as numbers, gRPC 0.75 s. Of the 0.4 s
// HTTP adds to gRPC, building the JSON is ~70 ms (base64 ~1 ms); the rest is writing and reading 13 MB.
// Again at load 2.4 (`npm run bench:inspect`): base64 1.30 s, numbers 2.25 s, gRPC 0.84 s; ORT run 0.78 s,
// 0.26 s without the earlier lenses, 0.19 s loss only.
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { localCallContext } from '@lab/common';
import { buildTraceGraph, lensAt, TraceModel, traceNorms, traceScores } from '@lab/engine';
import { TraceEvent, TraceRequest } from '@lab/proto/infer';
import { float32Numbers } from '../../gateway/src/floats.ts';
import { summarise, traceEvents } from '../src/trace/trace.ts';
import { addTokenizer, startInferStack } from './gateway.ts';
import { writeCheckpoint } from './infer.bench.ts';
import { wikitextPrompt } from './prompt.ts';

const MODEL = 'gpt2-small-bench';

const median = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
const ms = (x: number) => `${x.toFixed(0).padStart(6)} ms`;
const load = () =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');

/** Median ms of `fn` over `rounds` calls, and its last result. */
async function timed<T>(rounds: number, fn: () => T | Promise<T>): Promise<{ ms: number; value: T }> {
  const times: number[] = [];
  let value!: T;
  for (let i = 0; i < rounds; i++) {
    const t0 = performance.now();
    value = await fn();
    times.push(performance.now() - t0);
  }
  return { ms: median(times), value };
}

async function post(url: string, body: unknown): Promise<string> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`POST ${url}: HTTP ${res.status} ${text.slice(0, 300)}`);
  return text;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      rounds: { type: 'string', default: '5' },
      tokens: { type: 'string', default: '128' },
    },
  });
  const rounds = Number(values.rounds);
  const T = Number(values.tokens);
  console.log(`bench:inspect — ${availableParallelism()} cores, load average ${load()}`);
  const { cfg, dir } = writeCheckpoint('gpt2-small');
  addTokenizer(dir, cfg.vocabSize);
  const home = mkdtempSync(join(tmpdir(), 'bench-inspect-home-'));
  const stack = await startInferStack(home);
  try {
    // Registered in process: the checkpoint lies in the temp folder, outside the lab's data roots.
    await stack.impl.catalog.register(MODEL, dir);
    const text = wikitextPrompt(T);
    const body = { model: MODEL, text };
    const url = `${stack.url}/api/infer/trace`;

    const t0 = performance.now();
    const first = JSON.parse(await post(url, body)) as {
      summary: { tokens: unknown[]; layers: number; heads: number };
      attention: { weights: number[] }[];
    };
    const firstMs = performance.now() - t0;
    const { summary } = first;
    if (summary.tokens.length !== T || summary.layers !== 12 || summary.heads !== 12)
      throw new Error(`trace of ${summary.tokens.length} tokens, ${summary.layers}×${summary.heads} heads`);
    const bytes = (await post(url, body)).length;

    const http = await timed(rounds, async () => (await post(url, body)).length);
    // As the Attention page asks: the weights as base64 float32 bytes.
    const packedBody = { ...body, encoding: 'base64' };
    const packedBytes = (await post(url, packedBody)).length;
    const packed = await timed(rounds, async () => (await post(url, packedBody)).length);
    const grpc = await timed(rounds, async () => {
      let n = 0;
      for await (const _ of stack.services.infer.trace!(
        TraceRequest.fromPartial({ model: MODEL, text }),
        localCallContext(),
      ))
        n++;
      return n;
    });

    // The parts of a warm request, on the service's own session and model.
    const entry = await stack.impl.catalog.resolve(MODEL);
    const parts = await stack.impl.pool.use(entry, async (model) => {
      const tracer = await stack.impl.tracers.get(model);
      const ids = model.tokenizer.encode(text);
      const run = await timed(rounds, () => tracer.run(ids, { topK: 5 }));
      // Without the 12 earlier streams' lenses (skip_lens), and the loss alone (ablation, patching).
      const lensFree = await timed(rounds, () => tracer.run(ids, { topK: 5, lens: false }));
      const lossOnly = await timed(rounds, () => tracer.run(ids, { topK: 5, lossOnly: true }));
      const raw = run.value;
      const layers = Array.from({ length: cfg.nLayer }, (_, i) => i);
      const norms = await timed(rounds, () => traceNorms(raw, cfg.nEmbd));
      const lens = await timed(rounds, () => raw.lensLogp.map((_, l) => lensAt(raw, l)));
      const scores = await timed(rounds, () => traceScores(raw, cfg.nHead));
      const sum = await timed(rounds, () => summarise(model, raw));
      const events = await timed(rounds, () => [...traceEvents(model, raw, layers)]);
      const encode = await timed(rounds, () =>
        events.value.reduce((n, e) => n + TraceEvent.encode(e).finish().length, 0),
      );
      const attention = events.value.flatMap((e) => (e.event?.$case === 'attention' ? [e.event.value] : []));
      // As the gateway answers: the weights back to numbers, then the JSON text.
      const json = await timed(
        rounds,
        () =>
          JSON.stringify({
            summary: sum.value,
            attention: attention.map((a) => ({ ...a, weights: float32Numbers(a.weights) })),
          }).length,
      );
      return { run, lensFree, lossOnly, norms, lens, scores, sum, events, encode, json };
    });
    const graph = await timed(1, () => buildTraceGraph(cfg));
    const fresh = await timed(1, () => TraceModel.load(dir));
    const ids = first.summary.tokens.map((t) => (t as { id: number }).id);
    const freshRun = await timed(1, () => fresh.value.run(ids, { topK: 5 }));
    await fresh.value.release();

    console.log(
      `\ntrace of gpt2-small (12 layers × 12 heads, 768 wide, random weights) on ${T} tokens, ` +
        `POST /api/infer/trace (${(bytes / 1e6).toFixed(1)} MB of JSON), median of ${rounds}:`,
    );
    console.log(`  first request (model load, graph build, session, run) ${ms(firstMs)}`);
    console.log(`  warm, HTTP + JSON, weights as numbers                 ${ms(http.ms)}   target ≤ 1500 ms`);
    console.log(
      `  warm, HTTP + JSON, weights as base64 (${(packedBytes / 1e6).toFixed(1)} MB)          ${ms(packed.ms)}   target ≤ 1500 ms`,
    );
    console.log(`  warm, gRPC alone (${grpc.value} messages)                      ${ms(grpc.ms)}`);
    console.log('\nwhere a warm request goes (each part alone, same session):');
    console.log(`  ORT run (forward, attention, 13 logit lenses)         ${ms(parts.run.ms)}`);
    console.log(`    without the 12 earlier streams' lenses (skip_lens)  ${ms(parts.lensFree.ms)}`);
    console.log(`    loss only (ablation, patching)                      ${ms(parts.lossOnly.ms)}`);
    console.log(`  summary, all of it                                    ${ms(parts.sum.ms)}`);
    console.log(`    norms of the residual stream and block outputs      ${ms(parts.norms.ms)}`);
    console.log(`    logit lens top-k (13 streams × ${T} positions)        ${ms(parts.lens.ms)}`);
    console.log(`    head pattern scores (144 heads)                     ${ms(parts.scores.ms)}`);
    console.log(`  attention messages (${cfg.nLayer} layers as float32 bytes)      ${ms(parts.events.ms)}`);
    console.log(
      `  protobuf encoding (${(parts.encode.value / 1e6).toFixed(1)} MB)                        ${ms(parts.encode.ms)}`,
    );
    console.log(`  gateway JSON (weights to numbers, JSON.stringify)     ${ms(parts.json.ms)}`);
    console.log('\nthe first request’s load:');
    console.log(`  trace graph build                                     ${ms(graph.ms)}`);
    console.log(`  TraceModel.load (graph, ORT session over mapped weights) ${ms(fresh.ms)}`);
    console.log(`  its first run                                         ${ms(freshRun.ms)}`);
  } finally {
    await stack.close();
    rmSync(dir, { recursive: true, force: true });
    rmSync(home, { recursive: true, force: true });
  }
  console.log(`\nload average after: ${load()}`);
}

await main();

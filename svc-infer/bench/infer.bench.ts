// Inference benchmark (npm run bench:infer). For the nanogpt-shakespeare and gpt2-small presets, random
// weights are written with saveCheckpoint to a temp folder and loaded back from disk, then:
//   load      reading the folder until the model is ready to generate (loadInferenceModel)
//   fast      ...until it decodes from the weight copies in fast layouts, made in the background
//             (InferenceModel.ready); the figures below are taken after that
//   TTFT      a new request's 16-token prompt to its first (greedy) token
//   tok/s     decoding 128 greedy tokens with the KV cache
//   no-cache  tokens/s when every step recomputes the whole sequence (16-token prompt, 32 steps)
//   GB/s      read bandwidth, by scans of as many bytes as a token reads (bandwidth.ts): this machine
//             reports a 512 MiB L3, which holds nanogpt-shakespeare and part of GPT-2 small, so the bound is
//             that of the same working set, not of DRAM (printed once, 1 GiB scans)
//   bound     GB/s ÷ weight bytes per token (each decoded token reads every weight once)
// The VM's bandwidth moves with its neighbours (24–58 GB/s within an hour), so the measurements go in
// rounds, each contender then a bandwidth scan, and the medians are printed.
// Quantised rows (`<preset> int8`, `<preset> int4`): the same checkpoint loaded with
// InferenceOptions.quantize (linear layers and head through ORT's MatMulNBits, block 32, int8 compute);
// their MB/token and bound count the codes and scales instead of those float32 weights. Then, for
// gpt2-small, each format's quality against fp32 on ../shared/datasets/wikitext-2 (raw test text, GPT-2's
// tokenizer): perplexity by svc-eval's sliding-window code, and per position the KL divergence
// KL(fp32 ‖ quantised) and how often the top-1 token agrees. The weights are random (no GPT-2 weights can
// be downloaded here), so the perplexity is near the vocabulary's size and its change measures how far
// quantisation moves the distributions, not the loss in quality of a trained model.
// Flags: --only <preset>, --gemm (also decoding through ORT's Gemm instead of lab.engine::Linear, in the
// same rounds), --baseline (also the path before InferenceModel, in the same rounds: the
// exported graph with its weights embedded, through onnxruntime-node, as Decoder ran it; ~30 s more for
// gpt2-small), --tokens N, --rounds N, --quantize int8,int4 (or none), --ppl-tokens N (default 2048;
// 0 skips the quality section).
//
// Recorded for the quantised rows: engine/README.md ("Quantised weights"). Quantised rows load with a
// temporary InferenceOptions.quantCache, and a second load from it is timed and printed after the table.
// 2026-12-06, `--only gpt2-small --quantize int8,int4 --ppl-tokens 0 --rounds 1`, load average 1.5–1.6:
// int8 first load 4.2 s → 1.1 s from the cache, int4 2.9 → 0.27 s (before the cache, worker threads and
// codes given to ORT as shared initializers: 5.2–8.0 s and 3.7–4.3 s at every load, measured interleaved).
//
//
// Recorded 2026-12-06 on this 2-core VM, `npm run bench:infer -- --baseline`, three runs at load average
// 1.2–1.9 (GPT-2 small; before → now): load 13.1–13.9 s → 0.11–0.15 s (fast layouts after 0.8–1.0 s),
// TTFT 26.5–46.6 → 26.6–34.6 ms, decode 47.2–59.4 → 50.5–78.1 tok/s (1.07–1.31× in the same run), bound
// 82.8–114.5 tok/s (40.9–56.6 GB/s), 52–60% → 61–74% of it. nanogpt-shakespeare: load 1.0–1.4 → 0.13–0.24 s,
// decode 329–433 → 436–556 tok/s.
// The share of the bound follows the VM's bandwidth more than the code: five runs of `--only gpt2-small
// --quantize none --ppl-tokens 0 --rounds 3` at load 1.5–2 gave 51.9–67.9 tok/s, 78.2%, 82.3% and 84.1% of
// the bound at 32.9–35.1 GB/s, 62.1–62.7% at 53.3–54.1 GB/s: decode gains 20–30% when the scans gain ~60%.
// An ORT profile of one token (C API, fast layouts): the 49 Gemms are 87% of kernel time (MLAS's one-row
// kernels, 24–31 GB/s each at that moment), GroupQueryAttention 6.5%, norms, adds and GELU 4%.
// Then one-token runs moved to the engine's own kernel (lab.engine::Linear, engine/README.md): `--only
// gpt2-small --quantize none --ppl-tokens 0 --gemm`, three runs at load 1.1–2.3, 45–55 GB/s: 72.3–84.4 tok/s,
// 75.6–76.3% of the bound, against 62.0–79.3 tok/s (58.1–76.3%) through ORT's Gemm in the same rounds.
// First token over SSE, gpt2-small: median 87.6 ms (p90 151) and 113.1 ms (p90 192) in two idle runs.
//
// Then the first token through the HTTP gateway's SSE (gateway.ts), and the sampler chain's cost per token
// at GPT-2's vocabulary (sampler.ts).
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import {
  buildInferenceGraph,
  createSession,
  type DecodeFormat,
  headDim,
  type InferenceModel,
  type InferenceOptions,
  loadCheckpoint,
  loadInferenceModel,
  type ModelConfig,
  measureReadBandwidth,
  ort,
  paramLayout,
  preset,
  saveCheckpoint,
  weightBytesPerToken,
} from '@lab/engine';
import { parseTokenizerJson } from '@lab/tokenizer';
import { perplexity } from '../../svc-eval/src/score/perplexity.ts';
import { logSumExp } from '../src/index.ts';
import { addTokenizer, benchGatewayFirstToken } from './gateway.ts';
import { benchSampler, V as SAMPLER_VOCAB } from './sampler.ts';

/** Something that serves a model, measured in rounds. */
export interface Contender {
  name: string;
  /** How it runs, printed after the figures (read after the rounds). */
  how(): string;
  loadMs: number;
  /** Until decoding reads the weights in fast layouts. */
  fastMs?: number;
  /** Weight bytes a decoded token reads, when not the float32 model's (quantised weights). */
  bytesPerToken?: number;
  /** A new request: prompt to first token, ms. */
  firstToken(prompt: readonly number[]): Promise<number>;
  /** tokens/s decoding `n` tokens after `prompt`. */
  decode(prompt: readonly number[], n: number): Promise<number>;
  /** tokens/s recomputing the whole sequence every step. */
  withoutCache?(prompt: readonly number[], steps: number): Promise<number>;
  release(): Promise<void>;
}

const PROMPT = 16;

/** Random weights fast enough for 124M parameters (xorshift32, uniform ±0.035 ≈ std 0.02). */
function randomParams(cfg: ModelConfig, seed: number): Float32Array {
  const p = new Float32Array(paramLayout(cfg).total);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < p.length; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    p[i] = ((s >>> 0) / 2 ** 32 - 0.5) * 0.07;
  }
  return p;
}

const argmax = (l: Float32Array): number => {
  let best = 0;
  for (let i = 1; i < l.length; i++) if (l[i] > l[best]) best = i;
  return best;
};

const median = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1];

/** A checkpoint folder (a new temp folder unless `dir` is given) with random weights for the preset; the caller removes it. */
export function writeCheckpoint(
  name: string,
  dir = mkdtempSync(join(tmpdir(), `bench-infer-${name}-`)),
): { cfg: ModelConfig; dir: string } {
  const cfg = preset(name, { dropout: 0 });
  saveCheckpoint(dir, { cfg, params: randomParams(cfg, 42) });
  return { cfg, dir };
}

/** The folder through loadInferenceModel. */
export async function inferenceModel(
  name: string,
  dir: string,
  opts: InferenceOptions = {},
): Promise<Contender> {
  const t = performance.now();
  const model = await loadInferenceModel(dir, opts);
  const loadMs = performance.now() - t;
  await model.ready();
  const fastMs = performance.now() - t;
  const q = model.quantization;
  return {
    name: q ? `${name} ${q.format}` : name,
    how: () =>
      `${model.threading}${model.mapped ? ', mapped' : ''}${model.fast && !q ? ', fast layouts' : ''}` +
      (model.labKernel ? `, Linear ${model.labKernel}` : '') +
      (q ? `, ${q.format} block ${q.blockSize} (MatMulNBits)` : ''),
    loadMs,
    fastMs: q ? undefined : fastMs,
    bytesPerToken: q ? weightBytesPerToken(model.cfg) - q.replaced + q.bytes : undefined,
    async firstToken(prompt) {
      const t0 = performance.now();
      argmax((await model.run(prompt)).logits);
      return performance.now() - t0;
    },
    async decode(prompt, n) {
      let r = await model.run(prompt);
      // As svc-infer's generation loop decodes: one logits array for the whole sequence.
      const into = new Float32Array(model.cfg.vocabSize);
      const t0 = performance.now();
      for (let i = 0; i < n; i++) r = await model.run([argmax(r.logits)], r.cache, { into });
      return n / ((performance.now() - t0) / 1000);
    },
    async withoutCache(prompt, steps) {
      const seq = [...prompt];
      const t0 = performance.now();
      for (let i = 0; i < steps; i++) seq.push(argmax(await model.forward(seq)));
      return steps / ((performance.now() - t0) / 1000);
    },
    release: () => model.release(),
  };
}

/** A second load of a quantised row's folder (codes mapped from InferenceOptions.quantCache), described. */
async function cachedLoad(first: Contender, dir: string, opts: InferenceOptions): Promise<string> {
  const t = performance.now();
  const model = await loadInferenceModel(dir, opts);
  const loadMs = performance.now() - t;
  await model.ready();
  const readyMs = performance.now() - t;
  const from = model.quantization?.fromCache ? 'from the cache' : 'NOT from the cache';
  await model.release();
  return (
    `first load ${first.loadMs.toFixed(0)} ms, then ${loadMs.toFixed(0)} ms ${from} ` +
    `(every threading's session ${readyMs.toFixed(0)} ms)`
  );
}

/**
 * The path before InferenceModel: loadCheckpoint, the exported graph with its weights embedded, serialised
 * and constant-folded by ORT, and decoding through onnxruntime-node.
 */
export async function exportedGraph(name: string, dir: string, cfg: ModelConfig): Promise<Contender> {
  const t = performance.now();
  const session = await createSession(buildInferenceGraph(cfg, loadCheckpoint(dir).params));
  const loadMs = performance.now() - t;
  const V = cfg.vocabSize;
  const empty = new ort.Tensor('float32', new Float32Array(0), [1, cfg.nKvHead, 0, headDim(cfg)]);
  /** Feed `ids` after `past` (length `length`); the next greedy token and the new cache. */
  const feed = async (ids: readonly number[], past: ort.Tensor[], length: number) => {
    const T = ids.length;
    const total = length + T;
    const feeds: Record<string, ort.Tensor> = {
      input_ids: new ort.Tensor('int64', BigInt64Array.from(ids, BigInt), [1, T]),
      attention_mask: new ort.Tensor('int64', new BigInt64Array(total).fill(1n), [1, total]),
      position_ids: new ort.Tensor(
        'int64',
        BigInt64Array.from({ length: T }, (_, i) => BigInt(length + i)),
        [1, T],
      ),
    };
    for (let i = 0; i < cfg.nLayer; i++) {
      feeds[`past_key_values.${i}.key`] = past[2 * i] ?? empty;
      feeds[`past_key_values.${i}.value`] = past[2 * i + 1] ?? empty;
    }
    const out = await session.run(feeds);
    const present: ort.Tensor[] = [];
    for (let i = 0; i < cfg.nLayer; i++)
      present.push(out[`present.${i}.key`] as ort.Tensor, out[`present.${i}.value`] as ort.Tensor);
    const next = argmax((out.logits.data as Float32Array).subarray((T - 1) * V, T * V));
    return { next, past: present, length: total };
  };
  return {
    name: `${name} (before)`,
    how: () => 'exported graph, onnxruntime-node',
    loadMs,
    async firstToken(prompt) {
      const t0 = performance.now();
      await feed(prompt, [], 0);
      return performance.now() - t0;
    },
    async decode(prompt, n) {
      let s = await feed(prompt, [], 0);
      const t0 = performance.now();
      for (let i = 0; i < n; i++) s = await feed([s.next], s.past, s.length);
      return n / ((performance.now() - t0) / 1000);
    },
    release: () => session.release(),
  };
}

const SHARED = join(dirname(fileURLToPath(import.meta.url)), '../../../shared/datasets');

/** log-softmax of a row, float64. */
function logProbs(row: Float32Array): Float64Array {
  const z = logSumExp(row);
  return Float64Array.from(row, (x) => x - z);
}

/**
 * Perplexity (svc-eval's sliding window, context 1,024) of each format, and against fp32 per position of
 * 256-token windows: mean KL(fp32 ‖ quantised) in nats and the share of positions with the same top-1.
 */
async function quality(dir: string, formats: readonly DecodeFormat[], limit: number): Promise<string[]> {
  const tokenizer = parseTokenizerJson(
    readFileSync(join(SHARED, 'gpt2-tokenizer/tokenizer.json'), 'utf8'),
    'gpt2',
  );
  const text = readFileSync(join(SHARED, 'wikitext-2/wiki.test.raw.crlf-nonempty-lines'), 'utf8').replace(
    /\r\n/g,
    '\n',
  );
  const ids = tokenizer.encode(text).slice(0, limit);
  const windows: number[][] = [];
  for (let at = 0; at + 1 < ids.length; at += 256) windows.push(ids.slice(at, at + 256));
  const score = async (lm: InferenceModel) =>
    (
      await perplexity({ lm, tokenizer, emptyContextToken: 50256, hasEmptyContextToken: true }, text, {
        limit,
      })
    ).perplexity;
  const lines: string[] = [];
  const reference = await loadInferenceModel(dir);
  try {
    const basePpl = await score(reference);
    lines.push(`  fp32   perplexity ${basePpl.toFixed(1)}`);
    for (const f of formats) {
      const lm = await loadInferenceModel(dir, { quantize: f });
      try {
        const ppl = await score(lm);
        let kl = 0;
        let agree = 0;
        let n = 0;
        const V = lm.cfg.vocabSize;
        for (const w of windows) {
          const a = (await reference.run(w, undefined, { allPositions: true })).logits;
          const b = (await lm.run(w, undefined, { allPositions: true })).logits;
          for (let i = 0; i < w.length; i++) {
            const p = logProbs(a.subarray(i * V, (i + 1) * V));
            const q = logProbs(b.subarray(i * V, (i + 1) * V));
            let d = 0;
            let ta = 0;
            let tb = 0;
            for (let j = 0; j < V; j++) {
              d += Math.exp(p[j]) * (p[j] - q[j]);
              if (p[j] > p[ta]) ta = j;
              if (q[j] > q[tb]) tb = j;
            }
            kl += d;
            if (ta === tb) agree++;
            n++;
          }
        }
        lines.push(
          `  ${f.padEnd(6)} perplexity ${ppl.toFixed(1)} (${ppl >= basePpl ? '+' : ''}${(ppl - basePpl).toFixed(2)}, ` +
            `${((100 * (ppl - basePpl)) / basePpl).toFixed(2)}%), KL ${kl / n < 0.001 ? (kl / n).toExponential(2) : (kl / n).toFixed(4)} nats/token, ` +
            `top-1 agreement ${((100 * agree) / n).toFixed(1)}% of ${n} positions`,
        );
      } finally {
        await lm.release();
      }
    }
  } finally {
    await reference.release();
  }
  return lines;
}

interface Row {
  contender: Contender;
  ttftMs: number;
  decodeTokS: number;
  noCacheTokS?: number;
  bytesPerToken: number;
  /** Median bandwidth of the rounds, bytes/s. */
  bandwidth: number;
}

/** Rounds of: each contender's first token (3 requests) and decode, then a bandwidth scan. */
async function measure(
  contenders: readonly Contender[],
  cfg: ModelConfig,
  tokens: number,
  rounds: number,
): Promise<Row[]> {
  const prompt = Array.from({ length: PROMPT }, (_, i) => (i * 131 + 7) % cfg.vocabSize);
  const bytesPerToken = weightBytesPerToken(cfg);
  // The scans read as many bytes as the float32 model; quantised rows' bounds divide the same bandwidth.
  // Warm-up: ORT's arenas, and InferenceModel's choice of threading (adaptive) as a server's first
  // requests would make it.
  for (const c of contenders) await c.decode(prompt, 24);
  const ttft = contenders.map(() => [] as number[]);
  const decode = contenders.map(() => [] as number[]);
  const bandwidth: number[] = [];
  for (let r = 0; r < rounds; r++) {
    for (const [k, c] of contenders.entries()) {
      for (let i = 0; i < 3; i++) ttft[k].push(await c.firstToken(prompt));
      decode[k].push(await c.decode(prompt, tokens));
    }
    bandwidth.push(await measureReadBandwidth({ bytes: Math.ceil(bytesPerToken / 64) * 64, repeats: 3 }));
  }
  const rows: Row[] = [];
  for (const [k, c] of contenders.entries()) {
    rows.push({
      contender: c,
      ttftMs: median(ttft[k]),
      decodeTokS: median(decode[k]),
      noCacheTokS: c.withoutCache ? await c.withoutCache(prompt, 32) : undefined,
      bytesPerToken: c.bytesPerToken ?? bytesPerToken,
      bandwidth: median(bandwidth),
    });
  }
  return rows;
}

function printRows(rows: readonly Row[]): void {
  const pad = (s: string, n: number) => s.padStart(n);
  const opt = (x: number | undefined, digits: number) => (x === undefined ? '-' : x.toFixed(digits));
  console.log(
    `${'model'.padEnd(30)}${pad('load ms', 9)}${pad('fast ms', 9)}${pad('TTFT ms', 9)}${pad('tok/s', 8)}` +
      `${pad('no-cache', 10)}${pad('MB/token', 10)}${pad('GB/s', 7)}${pad('bound', 8)}${pad('% bound', 9)}  how`,
  );
  for (const r of rows) {
    const c = r.contender;
    const bound = r.bandwidth / r.bytesPerToken;
    console.log(
      `${c.name.padEnd(30)}${pad(c.loadMs.toFixed(0), 9)}${pad(opt(c.fastMs, 0), 9)}${pad(r.ttftMs.toFixed(1), 9)}` +
        `${pad(r.decodeTokS.toFixed(1), 8)}${pad(opt(r.noCacheTokS, 1), 10)}` +
        `${pad((r.bytesPerToken / 1e6).toFixed(1), 10)}${pad((r.bandwidth / 1e9).toFixed(1), 7)}` +
        `${pad(bound.toFixed(1), 8)}${pad(`${((100 * r.decodeTokS) / bound).toFixed(1)}%`, 9)}  ${c.how()}`,
    );
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      only: { type: 'string' },
      baseline: { type: 'boolean' },
      gemm: { type: 'boolean' },
      tokens: { type: 'string', default: '128' },
      rounds: { type: 'string', default: '3' },
      quantize: { type: 'string', default: 'int8,int4' },
      'ppl-tokens': { type: 'string', default: '2048' },
    },
  });
  const formats = (values.quantize === 'none' ? [] : values.quantize.split(',')) as DecodeFormat[];
  const names = values.only ? [values.only] : ['nanogpt-shakespeare', 'gpt2-small'];
  const load = () =>
    loadavg()
      .map((l) => l.toFixed(2))
      .join(' ');
  console.log(`bench:infer — ${availableParallelism()} cores, load average ${load()}`);
  const dram = await measureReadBandwidth({ bytes: 1 << 30, repeats: 3 });
  console.log(`read bandwidth beyond the L3 (1 GiB scans): ${(dram / 1e9).toFixed(1)} GB/s\n`);
  const rows: Row[] = [];
  const cachedLoads: string[] = [];
  for (const name of names) {
    const { cfg, dir } = writeCheckpoint(name);
    const quantCache = mkdtempSync(join(tmpdir(), `bench-infer-quantized-${name}-`));
    const contenders: Contender[] = [];
    try {
      contenders.push(await inferenceModel(name, dir));
      if (values.gemm) contenders.push(await inferenceModel(`${name} (ORT Gemm)`, dir, { labOps: false }));
      if (values.baseline) contenders.push(await exportedGraph(name, dir, cfg));
      for (const f of formats) {
        const first = await inferenceModel(name, dir, { quantize: f, quantCache });
        contenders.push(first);
        cachedLoads.push(`  ${first.name}: ${await cachedLoad(first, dir, { quantize: f, quantCache })}`);
      }
      rows.push(...(await measure(contenders, cfg, Number(values.tokens), Number(values.rounds))));
    } finally {
      await Promise.all(contenders.map((c) => c.release()));
      rmSync(dir, { recursive: true, force: true });
      rmSync(quantCache, { recursive: true, force: true });
    }
  }
  printRows(rows);
  const fp32 = new Map(rows.filter((r) => !r.contender.bytesPerToken).map((r) => [r.contender.name, r]));
  for (const r of rows) {
    const base = fp32.get(r.contender.name.replace(/ (int8|int4)$/, ''));
    if (r.contender.bytesPerToken && base)
      console.log(
        `  ${r.contender.name}: ${(r.decodeTokS / base.decodeTokS).toFixed(2)}× the float32 decode`,
      );
  }
  if (cachedLoads.length) {
    console.log(
      '\nquantised loads: the first (quantising on worker threads, writing the cache), then from the cache:',
    );
    for (const line of cachedLoads) console.log(line);
  }

  const pplTokens = Number(values['ppl-tokens']);
  if (pplTokens > 0 && formats.length && names.includes('gpt2-small')) {
    console.log(
      `\nquality against fp32, gpt2-small (random weights), wikitext-2 raw test, first ${pplTokens} tokens:`,
    );
    const { dir } = writeCheckpoint('gpt2-small');
    try {
      for (const line of await quality(dir, formats, pplTokens)) console.log(line);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  console.log(
    '\nfirst token over HTTP SSE (gateway → svc-infer over gRPC → model), 16-token prompt, model warm:',
  );
  for (const name of names) {
    const { cfg, dir } = writeCheckpoint(name);
    try {
      addTokenizer(dir, cfg.vocabSize);
      const r = await benchGatewayFirstToken(dir, mkdtempSync(join(tmpdir(), 'bench-infer-home-')));
      console.log(
        `  ${name.padEnd(22)} median ${r.medianMs.toFixed(1)} ms, p90 ${r.p90Ms.toFixed(1)} ms (${r.runs} requests)`,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  console.log(`\nsampler at V = ${SAMPLER_VOCAB} (svc-infer/src/sampling):`);
  for (const line of benchSampler()) console.log(line);
  console.log(`\nload average after: ${load()}`);
}

if (import.meta.url === `file://${process.argv[1]}`) await main();

// lab.engine::Linear (engine/native/linear.c): its numbers against a float64 product for every kernel this
// CPU has, its independence from how rows are split between threads, its errors, the build of its library,
// and decoding through it against the portable export.
import {
  copyFileSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Graph } from '../src/graph/graph.ts';
import { InferenceModel } from '../src/infer/model.ts';
import { createRunner, type Runner } from '../src/infer/runner.ts';
import { gpt2Config, llamaConfig, type ModelConfig } from '../src/models/config.ts';
import { paramLayout } from '../src/models/model.ts';
import { ModelProto } from '../src/onnx/gen/onnx.ts';
import { Rng } from '../src/rng.ts';
import { type LabOps, labOps, labOpsUnavailable } from '../src/runtime/lab-ops.ts';
import { exportLogits } from './export-reference.ts';

const nativeDir = join(import.meta.dirname, '..', 'native');

let op: LabOps;
beforeAll(async () => {
  const found = await labOps();
  // CI installs a C compiler (.ci/run); without one the engine decodes through ORT's Gemm, and these
  // tests say why instead of passing on the fallback.
  if (!found) throw new Error(`lab.engine::Linear unavailable: ${labOpsUnavailable()}`);
  op = found;
});

/** A session of one Linear node: y = x · wᵀ (+ b), x [m, k], w [n, k]. */
async function linearSession(bias: boolean, threads: number): Promise<Runner> {
  const g = new Graph('linear');
  const x = g.input('x', 'float32', ['m', 'k']);
  const w = g.input('w', 'float32', ['n', 'k']);
  const inputs = bias ? [x, w, g.input('b', 'float32', ['n'])] : [x, w];
  const [y] = g.node('Linear', inputs, [{ dtype: 'float32', shape: ['m', 'n'] }]);
  g.output(y, 'y');
  const proto = g.toProto();
  for (const n of proto.graph?.node ?? []) n.domain = 'lab.engine';
  proto.opsetImport.push({ domain: 'lab.engine', version: 1 });
  return createRunner(ModelProto.encode(proto).finish(), new Map(), {
    threads,
    opsLibrary: op.library,
  });
}

/** y = x · wᵀ + b with x [m, k], w [n, k], b [n] (or none). */
interface Product {
  x: Float32Array;
  w: Float32Array;
  b?: Float32Array;
  m: number;
  k: number;
  n: number;
}

/** A product of normal draws. */
function draw(m: number, k: number, n: number, bias: boolean, rng: Rng): Product {
  const normals = (len: number) => Float32Array.from({ length: len }, () => rng.normal());
  return { x: normals(m * k), w: normals(n * k), b: bias ? normals(n) : undefined, m, k, n };
}

async function run(s: Runner, { x, w, b, m, k, n }: Product): Promise<Float32Array> {
  const feeds = {
    x: { data: x, dims: [m, k] },
    w: { data: w, dims: [n, k] },
    ...(b ? { b: { data: b, dims: [n] } } : {}),
  };
  return (await s.run(feeds, { y: { data: new Float32Array(m * n), dims: [m, n] } })).y;
}

/** The largest error of `y` against x · wᵀ + b in float64, relative to Σ|x·w| of each element. */
function worstError(y: Float32Array, { x, w, b, m, k, n }: Product): number {
  let worst = 0;
  for (let i = 0; i < m; i++)
    for (let j = 0; j < n; j++) {
      let exact = b ? b[j] : 0;
      let scale = b ? Math.abs(b[j]) : 0;
      for (let t = 0; t < k; t++) {
        exact += x[i * k + t] * w[j * k + t];
        scale += Math.abs(x[i * k + t] * w[j * k + t]);
      }
      worst = Math.max(worst, Math.abs(y[i * n + j] - exact) / scale);
    }
  return worst;
}

describe('lab.engine::Linear', () => {
  afterAll(() => {
    op?.select('avx512');
  });

  // k: full vectors, tails of every kernel's width (16, 8), and shorter than one vector; n: not a
  // multiple of the 4-row blocks; m: one row (decoding) and several.
  const shapes = [
    [1, 64, 8],
    [1, 37, 11],
    [3, 23, 6],
    [2, 5, 3],
    [1, 768, 97],
  ] as const;
  for (const kernel of ['avx512', 'avx2', 'scalar'] as const)
    it(`equals a float64 product with the ${kernel} kernel (or the widest below it this CPU has)`, async () => {
      const chosen = op.select(kernel);
      expect(op.kernel()).toBe(chosen);
      const rng = new Rng(11);
      for (const bias of [true, false]) {
        const s = await linearSession(bias, 2);
        for (const [m, k, n] of shapes) {
          const p = draw(m, k, n, bias, rng);
          const label = `${chosen} ${m}×${k}·${n}ᵀ bias ${bias}`;
          expect(worstError(await run(s, p), p), label).toBeLessThan(1e-6);
        }
        await s.release();
      }
    });

  it('gives the same bits on one thread as on two, the rows split into tasks', async () => {
    op.select('avx512');
    const rng = new Rng(5);
    // 300 inputs: 56 rows per 64 KiB task, so 300 rows make 6 tasks for the threads to share
    const p = draw(2, 300, 300, true, rng);
    const one = await linearSession(true, 1);
    const two = await linearSession(true, 2);
    const a = await run(one, p);
    const c = await run(two, p);
    expect(Buffer.from(c.buffer).equals(Buffer.from(a.buffer))).toBe(true);
    expect(worstError(c, p)).toBeLessThan(1e-6);
    await Promise.all([one.release(), two.release()]);
  });

  it('refuses mismatched shapes with an error naming the operator', async () => {
    const s = await linearSession(true, 2);
    const t = (dims: number[]) => ({ data: new Float32Array(dims.reduce((a, b) => a * b, 1)), dims });
    const y = { y: t([2, 2]) };
    await expect(s.run({ x: t([2, 3]), w: t([2, 4]), b: t([2]) }, y)).rejects.toThrow(
      /lab\.engine::Linear: X \[\.\.\., K\] and W \[N, K\] expected/,
    );
    await expect(s.run({ x: t([2, 3]), w: t([2, 3]), b: t([3]) }, y)).rejects.toThrow(
      /lab\.engine::Linear: bias \[N\] expected/,
    );
    // the session still runs after both
    const p = draw(2, 3, 2, true, new Rng(2));
    expect(worstError(await run(s, p), p)).toBeLessThan(1e-6);
    await s.release();
  });
});

describe('the Linear library build', () => {
  const dirs: string[] = [];
  afterAll(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  /** engine/native's sources and build.mjs copied to a new folder, and the buildNative of that copy. */
  async function copy(): Promise<{
    dir: string;
    build: () => Promise<{ path: string } | { error: string }>;
  }> {
    const dir = mkdtempSync(join(tmpdir(), 'lab-native-'));
    dirs.push(dir);
    for (const f of readdirSync(nativeDir).filter((f) => /\.(c|h|mjs)$/.test(f)))
      copyFileSync(join(nativeDir, f), join(dir, f));
    const mod = (await import(pathToFileURL(join(dir, 'build.mjs')).href)) as {
      buildNative: () => Promise<{ path: string } | { error: string }>;
    };
    return { dir, build: mod.buildNative };
  }

  it('builds once per source, replaces the build of an older source, and says when there is no compiler', async () => {
    const { dir, build } = await copy();
    const cc = process.env.CC;
    process.env.CC = join(dir, 'no-such-compiler');
    try {
      expect(await build()).toEqual({ error: expect.stringMatching(/^no C compiler .*apt install gcc/) });
    } finally {
      if (cc === undefined) delete process.env.CC;
      else process.env.CC = cc;
    }
    const first = await build();
    if (!('path' in first)) throw new Error(first.error);
    const built = statSync(first.path).mtimeMs;
    expect(await build()).toEqual(first);
    expect(statSync(first.path).mtimeMs).toBe(built);
    writeFileSync(
      join(dir, 'linear.c'),
      `/* edited */\n${readFileSync(join(nativeDir, 'linear.c'), 'utf8')}`,
    );
    const second = await build();
    if (!('path' in second)) throw new Error(second.error);
    expect(second.path).not.toBe(first.path);
    expect(existsSync(second.path)).toBe(true);
    expect(existsSync(first.path)).toBe(false);
  });

  it('reports what the compiler said when the source does not compile', async () => {
    const { dir, build } = await copy();
    writeFileSync(join(dir, 'linear.c'), 'int broken(void) { return }\n');
    const r = await build();
    expect('error' in r && r.error).toMatch(/failed: .*linear\.c/);
  });
});

describe('decoding through lab.engine::Linear', () => {
  const cases: [string, ModelConfig][] = [
    // GPT-2: Conv1D weights read from their transposed copies, q/k/v packed, biases, the tied head
    ['gpt2', gpt2Config({ nLayer: 2, nHead: 2, nEmbd: 32, ffnHidden: 72, blockSize: 64, vocabSize: 29 })],
    // Llama: nn.Linear weights where they lie, grouped KV heads, no biases, its own head
    [
      'llama',
      llamaConfig({
        nLayer: 2,
        nHead: 4,
        nKvHead: 2,
        nEmbd: 64,
        ffnHidden: 40,
        blockSize: 64,
        vocabSize: 19,
        tieEmbeddings: false,
      }),
    ],
  ];
  for (const [name, cfg] of cases)
    it(`${name}: one-token runs use it, and their logits equal the export's`, async () => {
      const params = paramLayout(cfg).init(3);
      const tokens = Array.from({ length: 40 }, (_, i) => (i * 5 + 2) % cfg.vocabSize);
      const full = await exportLogits(cfg, params, tokens);
      const V = cfg.vocabSize;
      const m = await InferenceModel.create(cfg, params);
      const gemm = await InferenceModel.create(cfg, params, { labOps: false });
      await Promise.all([m.ready(), gemm.ready()]);
      expect(m.labKernel).toBe(op.kernel());
      expect(gemm.labKernel).toBeUndefined();
      let r = await m.run(tokens.slice(0, 8));
      let q = await gemm.run(tokens.slice(0, 8));
      let worst = 0;
      let apart = 0;
      for (let i = 8; i < tokens.length; i++) {
        r = await m.run([tokens[i]], r.cache);
        q = await gemm.run([tokens[i]], q.cache);
        for (let v = 0; v < V; v++) {
          worst = Math.max(worst, Math.abs(r.logits[v] - full[i * V + v]));
          apart = Math.max(apart, Math.abs(r.logits[v] - q.logits[v]));
        }
      }
      expect(worst).toBeLessThan(1e-4);
      // the two paths sum in different orders, so they differ (the runs did go through Linear), but
      // only by rounding
      expect(apart).toBeGreaterThan(0);
      expect(apart).toBeLessThan(1e-5);
      await Promise.all([m.release(), gemm.release()]);
    });

  it('leaves no thread spinning after a prompt, whose tokens run on the Linear session', async () => {
    const cfg = gpt2Config({
      nLayer: 2,
      nHead: 4,
      nEmbd: 256,
      ffnHidden: 1024,
      blockSize: 128,
      vocabSize: 500,
    });
    const m = await InferenceModel.create(cfg, paramLayout(cfg).init(3), { adaptive: false, threads: 2 });
    await m.ready();
    expect(m.labKernel).toBe(op.kernel());
    const prompt = Array.from({ length: 48 }, (_, i) => (i * 7 + 1) % cfg.vocabSize);
    const cpu: number[] = [];
    for (let k = 0; k < 5; k++) {
      await m.run(prompt);
      const before = process.cpuUsage();
      await new Promise((r) => setTimeout(r, 40));
      const used = process.cpuUsage(before);
      cpu.push((used.user + used.system) / 1000);
    }
    await m.release();
    // A prompt session's worker left spinning burned 22–26 ms of these 40 (a core the tokens needed).
    expect(cpu.sort((a, b) => a - b)[2]).toBeLessThan(10);
  });
});

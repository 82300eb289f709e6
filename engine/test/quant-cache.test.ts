// The cache of quantised decoding weights (infer/quant-cache.ts) through loadInferenceModel: a second load
// maps what the first wrote and decodes bit for bit the same; new weights, a damaged file or another
// format never reuse a file that does not match.
import {
  closeSync,
  mkdtempSync,
  openSync,
  readdirSync,
  rmSync,
  statSync,
  truncateSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadCheckpoint, saveCheckpoint } from '../src/checkpoint/checkpoint.ts';
import { loadInferenceModel } from '../src/infer/load.ts';
import { InferenceModel, type InferenceOptions } from '../src/infer/model.ts';
import { gpt2Config, llamaConfig, type ModelConfig } from '../src/models/config.ts';
import { paramLayout } from '../src/models/model.ts';
import { Rng } from '../src/rng.ts';
import { safetensorsBytes, toF16Bits } from './hf-fixtures.ts';

const root = mkdtempSync(join(tmpdir(), 'quant-cache-test-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const gpt2 = gpt2Config({ nLayer: 2, nHead: 2, nEmbd: 64, ffnHidden: 256, blockSize: 64, vocabSize: 97 });
const llama = llamaConfig({
  nLayer: 2,
  nHead: 4,
  nKvHead: 2,
  nEmbd: 64,
  ffnHidden: 96,
  blockSize: 64,
  vocabSize: 71,
});
const tokens = [5, 42, 17, 3, 60, 8, 33];

function randomParams(cfg: ModelConfig, seed: number): Float32Array {
  const rng = new Rng(seed);
  const p = new Float32Array(paramLayout(cfg).total);
  for (let i = 0; i < p.length; i++) p[i] = 0.1 * rng.normal();
  return p;
}

let folders = 0;
function folder(cfg: ModelConfig, seed: number): string {
  const dir = join(root, `model-${folders++}`);
  saveCheckpoint(dir, { cfg, params: randomParams(cfg, seed) });
  return dir;
}

/** Logits of every position and what the load reports; single-threaded, so runs compare bit for bit. */
async function load(dir: string, opts: InferenceOptions) {
  const m = await loadInferenceModel(dir, { threads: 1, ...opts });
  try {
    const logits = (await m.run(tokens, undefined, { allPositions: true })).logits;
    return { logits, quantization: m.quantization! };
  } finally {
    await m.release();
  }
}

const same = (a: Float32Array, b: Float32Array) =>
  a.length === b.length && a.every((x, i) => Object.is(x, b[i]));
const lqFiles = (dir: string) => readdirSync(dir).filter((n) => n.endsWith('.lq'));

describe.each([
  ['gpt2', gpt2],
  ['llama', llama],
])('quantised-weights cache, %s', (_name, cfg) => {
  it('a second load maps the file the first wrote, unchanged, and decodes bit for bit as a fresh quantisation', async () => {
    const dir = folder(cfg, 1);
    const cache = join(root, `cache-${folders}`);
    const fresh = await load(dir, { quantize: 'int4' });
    expect(fresh.quantization.fromCache).toBe(false);
    expect(fresh.quantization.cachePath).toBeUndefined();
    const first = await load(dir, { quantize: 'int4', quantCache: cache });
    expect(first.quantization.fromCache).toBe(false);
    const path = first.quantization.cachePath!;
    expect(lqFiles(cache)).toEqual([path.split('/').pop()]);
    const written = statSync(path, { bigint: true });
    const second = await load(dir, { quantize: 'int4', quantCache: cache });
    expect(second.quantization).toMatchObject({
      fromCache: true,
      cachePath: path,
      bytes: first.quantization.bytes,
    });
    // Read, not rewritten.
    const after = statSync(path, { bigint: true });
    expect([after.mtimeNs, after.ino]).toEqual([written.mtimeNs, written.ino]);
    expect(same(second.logits, first.logits)).toBe(true);
    expect(same(first.logits, fresh.logits)).toBe(true);
    // And as InferenceModel quantises in memory (no worker, no file).
    const m = await InferenceModel.create(cfg, loadCheckpoint(dir).params, { quantize: 'int4', threads: 1 });
    try {
      expect(same((await m.run(tokens, undefined, { allPositions: true })).logits, fresh.logits)).toBe(true);
    } finally {
      await m.release();
    }
  });

  it('new weights in the folder are quantised again: the new logits, and the file replaced', async () => {
    const dir = folder(cfg, 2);
    const cache = join(root, `cache-${folders}`);
    const before = await load(dir, { quantize: 'int8', quantCache: cache });
    await load(dir, { quantize: 'int8', quantCache: cache });
    // Same names, shapes and size: only the values differ.
    saveCheckpoint(dir, { cfg, params: randomParams(cfg, 3) });
    const want = await load(dir, { quantize: 'int8' });
    expect(same(want.logits, before.logits)).toBe(false);
    const changed = await load(dir, { quantize: 'int8', quantCache: cache });
    expect(changed.quantization.fromCache).toBe(false);
    expect(same(changed.logits, want.logits)).toBe(true);
    const again = await load(dir, { quantize: 'int8', quantCache: cache });
    expect(again.quantization.fromCache).toBe(true);
    expect(same(again.logits, want.logits)).toBe(true);
    expect(lqFiles(cache)).toHaveLength(1);
  });
});

describe('damaged cache files', () => {
  const dir = folder(gpt2, 4);
  const cache = join(root, 'cache-damaged');
  let want: Float32Array;
  let path: string;

  it('the reference: written once, then read', async () => {
    want = (await load(dir, { quantize: 'int8' })).logits;
    path = (await load(dir, { quantize: 'int8', quantCache: cache })).quantization.cachePath!;
    expect((await load(dir, { quantize: 'int8', quantCache: cache })).quantization.fromCache).toBe(true);
  });

  it.each([
    ['truncated', () => truncateSync(path, Math.floor(statSync(path).size / 2))],
    [
      'one byte of codes changed',
      () => {
        const fd = openSync(path, 'r+');
        // Past the header, inside the data (the header is a few kB at most for this model).
        writeSync(fd, Buffer.from([0x5a]), 0, 1, statSync(path).size - 100);
        closeSync(fd);
      },
    ],
    ['not a cache file', () => writeFileSync(path, 'garbage')],
    ['empty', () => writeFileSync(path, '')],
  ])('%s: ignored and replaced, with the right logits', async (_what, damage) => {
    const size = statSync(path).size;
    damage();
    const r = await load(dir, { quantize: 'int8', quantCache: cache });
    expect(r.quantization.fromCache).toBe(false);
    expect(same(r.logits, want)).toBe(true);
    expect(statSync(path).size).toBe(size);
    expect((await load(dir, { quantize: 'int8', quantCache: cache })).quantization.fromCache).toBe(true);
  });
});

it('two formats of one model keep separate files, each read back as its own', async () => {
  const dir = folder(gpt2, 5);
  const cache = join(root, 'cache-formats');
  const q8 = await load(dir, { quantize: 'int8', quantCache: cache });
  const q4 = await load(dir, { quantize: 'int4', quantCache: cache });
  expect(q8.quantization.cachePath).not.toBe(q4.quantization.cachePath);
  expect(lqFiles(cache)).toHaveLength(2);
  expect(same(q8.logits, q4.logits)).toBe(false);
  const q8Again = await load(dir, { quantize: 'int8', quantCache: cache });
  const q4Again = await load(dir, { quantize: 'int4', quantCache: cache });
  expect([q8Again.quantization.fromCache, q4Again.quantization.fromCache]).toEqual([true, true]);
  expect(same(q8Again.logits, q8.logits)).toBe(true);
  expect(same(q4Again.logits, q4.logits)).toBe(true);
  // Another block size is another file too.
  const b64 = await load(dir, { quantize: 'int4', quantBlockSize: 64, quantCache: cache });
  expect(b64.quantization.fromCache).toBe(false);
  expect(lqFiles(cache)).toHaveLength(3);
});

it('a half-precision folder (read into memory, quantised on the worker) caches the same way', async () => {
  const dir = folder(gpt2, 6);
  const layout = paramLayout(gpt2);
  const params = randomParams(gpt2, 6);
  const raw = new Map(
    layout.entries.map((e) => {
      const bytes = Buffer.alloc(2 * e.size);
      for (let i = 0; i < e.size; i++) bytes.writeUInt16LE(toF16Bits(params[e.offset + i]), 2 * i);
      return [e.name, { dtype: 'F16', shape: [...e.shape], bytes }];
    }),
  );
  writeFileSync(join(dir, 'model.safetensors'), safetensorsBytes(raw));
  const cache = join(root, 'cache-f16');
  const first = await load(dir, { quantize: 'int4', quantCache: cache });
  const second = await load(dir, { quantize: 'int4', quantCache: cache });
  expect([first.quantization.fromCache, second.quantization.fromCache]).toEqual([false, true]);
  expect(same(first.logits, second.logits)).toBe(true);
  const m = await InferenceModel.create(gpt2, loadCheckpoint(dir).params, { quantize: 'int4', threads: 1 });
  try {
    expect(same((await m.run(tokens, undefined, { allPositions: true })).logits, first.logits)).toBe(true);
  } finally {
    await m.release();
  }
});

it('adaptive threading: decoding starts on the first session while the others are made, and agrees after', async () => {
  const dir = folder(gpt2, 7);
  const cache = join(root, 'cache-adaptive');
  const ref = await load(dir, { quantize: 'int4', quantCache: cache });
  const m = await loadInferenceModel(dir, { quantize: 'int4', quantCache: cache });
  try {
    expect(m.quantization?.fromCache).toBe(true);
    const during = (await m.run(tokens, undefined, { allPositions: true })).logits;
    await m.ready();
    expect(m.threading).not.toBe('default');
    let r = await m.run(tokens.slice(0, 3));
    // One-token runs go round every threading while the choice is measured.
    for (let i = 3; i < tokens.length; i++) r = await m.run([tokens[i]], r.cache);
    const V = gpt2.vocabSize;
    const last = ref.logits.subarray((tokens.length - 1) * V);
    for (const [got, want] of [
      [during, ref.logits],
      [r.logits, last],
    ] as const)
      for (let i = 0; i < want.length; i++) expect(Math.abs(got[i] - want[i])).toBeLessThan(1e-4);
  } finally {
    await m.release();
  }
});

// The cache of quantised decoding weights (infer/quant-cache.ts) through loadInferenceModel: a second load
// maps what the first wrote and decodes bit for bit the same; new weights, a damaged file or another
// format never reuse a file that does not match.
import {
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  truncateSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { loadCheckpoint, saveCheckpoint } from '../src/checkpoint/checkpoint.ts';
import { loadInferenceModel } from '../src/infer/load.ts';
import { InferenceModel, type InferenceOptions } from '../src/infer/model.ts';
import { crc32Chunked } from '../src/infer/quant-cache.ts';
import type { ModelConfig } from '../src/models/config.ts';
import { paramLayout } from '../src/models/model.ts';
import { Rng } from '../src/rng.ts';
import { safetensorsBytes, toF16Bits } from './hf-fixtures.ts';
import { gpt2, llama } from './quant-models.ts';

// Seams for a folder rewritten in the middle of a load: run once, right after the load has read the weights
// (into memory, or mapped). The worker threads load their own modules, so they see the real files.
const hooks = vi.hoisted(() => ({ afterRead: undefined as (() => void) | undefined, noMapping: false }));
const fire = () => {
  const f = hooks.afterRead;
  hooks.afterRead = undefined;
  f?.();
};
vi.mock('../src/checkpoint/checkpoint.ts', async (actual) => {
  const m = await actual<typeof import('../src/checkpoint/checkpoint.ts')>();
  return {
    ...m,
    loadCheckpoint: (...a: Parameters<typeof m.loadCheckpoint>) => {
      const r = m.loadCheckpoint(...a);
      fire();
      return r;
    },
  };
});
vi.mock('../src/infer/mmap.ts', async (actual) => {
  const m = await actual<typeof import('../src/infer/mmap.ts')>();
  return {
    ...m,
    // As off Linux: the loading thread cannot map (its workers, in their own module graphs, still can).
    mappingAvailable: async () => !hooks.noMapping && (await m.mappingAvailable()),
    mapFile: async (path: string) => {
      if (hooks.noMapping) return null;
      const r = await m.mapFile(path);
      if (path.endsWith('model.safetensors')) fire();
      return r;
    },
  };
});

const root = mkdtempSync(join(tmpdir(), 'quant-cache-test-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

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

/** A GPT-2 folder in half precision: not mappable, so read into memory by loadCheckpoint. */
function f16Folder(seed: number): string {
  const dir = folder(gpt2, seed);
  const layout = paramLayout(gpt2);
  const params = randomParams(gpt2, seed);
  const raw = new Map(
    layout.entries.map((e) => {
      const bytes = Buffer.alloc(2 * e.size);
      for (let i = 0; i < e.size; i++) bytes.writeUInt16LE(toF16Bits(params[e.offset + i]), 2 * i);
      return [e.name, { dtype: 'F16', shape: [...e.shape], bytes }];
    }),
  );
  writeFileSync(join(dir, 'model.safetensors'), safetensorsBytes(raw));
  return dir;
}

/** Logits of every position and what the load reports; single-threaded, so runs compare bit for bit. */
/** The logits of `tokens` when InferenceModel.create quantises `dir`'s weights to int4 in memory (no worker, no file). */
async function int4InMemory(cfg: ModelConfig, dir: string): Promise<Float32Array> {
  const m = await InferenceModel.create(cfg, loadCheckpoint(dir).params, { quantize: 'int4', threads: 1 });
  try {
    return (await m.run(tokens, undefined, { allPositions: true })).logits;
  } finally {
    await m.release();
  }
}

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
    // And as InferenceModel quantises in memory.
    expect(same(await int4InMemory(cfg, dir), fresh.logits)).toBe(true);
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
    [
      'one digit of an offset in the header changed (still valid JSON, same length, in range)',
      () => {
        const bytes = readFileSync(path);
        const n = bytes.readUInt32LE(8);
        const json = bytes.toString('utf8', 16, 16 + n);
        // The first tensor's scales, moved by 4 bytes: aligned and inside the file, so only the checksum can
        // tell; read, it would hand the decoder scales shifted by one.
        const m = /"scales":(\d+)/.exec(json)!;
        const d = Number(m[1]!.at(-1));
        const moved = `"scales":${m[1]!.slice(0, -1)}${d < 6 ? d + 4 : d - 4}`;
        const changed = json.replace(m[0], moved);
        expect(changed).not.toBe(json);
        expect(Buffer.byteLength(changed)).toBe(n);
        JSON.parse(changed);
        Buffer.from(changed).copy(bytes, 16);
        writeFileSync(path, bytes);
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

  /** Rewrite the header through `edit` and recompute the checksum, as a writer with other rules would. */
  const reseal = (edit: (json: string) => string) => {
    const bytes = readFileSync(path);
    const n = bytes.readUInt32LE(8);
    const json = Buffer.from(edit(bytes.toString('utf8', 16, 16 + n)));
    // The header is followed by at least 256 bytes of zero padding, so a byte more or less still fits.
    bytes.fill(0, 16, 16 + Math.max(n, json.byteLength));
    json.copy(bytes, 16);
    bytes.writeUInt32LE(json.byteLength, 8);
    bytes.writeUInt32LE(crc32(bytes.subarray(16), crc32(bytes.subarray(8, 12))) >>> 0, 12);
    writeFileSync(path, bytes);
  };

  it('an entry recording the other orientation of a square weight: stale, even with a valid checksum', async () => {
    // The control: resealed as it was, the file is still read, so the checksum recomputed here is right.
    reseal((json) => json);
    expect((await load(dir, { quantize: 'int8', quantCache: cache })).quantization.fromCache).toBe(true);
    // GPT-2's attention projection is square (64 × 64): its shape cannot tell a transposed matrix.
    reseal((json) => {
      const h = JSON.parse(json) as {
        tensors: { param: string; rows: number; cols: number; outIn: boolean }[];
      };
      const e = h.tensors.find((t) => t.param.endsWith('attn.c_proj.weight'))!;
      expect(e.rows).toBe(e.cols);
      e.outIn = !e.outIn;
      return JSON.stringify(h);
    });
    const r = await load(dir, { quantize: 'int8', quantCache: cache });
    expect(r.quantization.fromCache).toBe(false);
    expect(same(r.logits, want)).toBe(true);
    expect((await load(dir, { quantize: 'int8', quantCache: cache })).quantization.fromCache).toBe(true);
  });

  it('a directory where the file should be: a miss, not a failed load, and the file written once it is gone', async () => {
    rmSync(path);
    mkdirSync(path);
    writeFileSync(join(path, 'inside'), 'x');
    const r = await load(dir, { quantize: 'int8', quantCache: cache });
    expect(r.quantization.fromCache).toBe(false);
    // Nothing could be written over it either; the load decodes from the worker's codes.
    expect(r.quantization.cachePath).toBeUndefined();
    expect(same(r.logits, want)).toBe(true);
    rmSync(path, { recursive: true });
    expect((await load(dir, { quantize: 'int8', quantCache: cache })).quantization.cachePath).toBe(path);
    expect((await load(dir, { quantize: 'int8', quantCache: cache })).quantization.fromCache).toBe(true);
  });
});

describe('a folder rewritten during a load', () => {
  it('read into memory: the codes serve that load, and no file records the new folder with the old codes', async () => {
    const dir = f16Folder(10);
    const cache = join(root, 'cache-rewritten-f16');
    const old = await load(dir, { quantize: 'int8' });
    hooks.afterRead = () => saveCheckpoint(dir, { cfg: gpt2, params: randomParams(gpt2, 11) });
    const during = await load(dir, { quantize: 'int8', quantCache: cache });
    expect(hooks.afterRead).toBeUndefined();
    // What this load read, consistently.
    expect(same(during.logits, old.logits)).toBe(true);
    expect(during.quantization.cachePath).toBeUndefined();
    expect(existsSync(cache) ? lqFiles(cache) : []).toEqual([]);
    const now = await load(dir, { quantize: 'int8' });
    expect(same(now.logits, old.logits)).toBe(false);
    const next = await load(dir, { quantize: 'int8', quantCache: cache });
    expect(next.quantization.fromCache).toBe(false);
    expect(same(next.logits, now.logits)).toBe(true);
    expect((await load(dir, { quantize: 'int8', quantCache: cache })).quantization.fromCache).toBe(true);
  });

  it('mapped: the worker finds another file under the path and the load fails, rather than mix two checkpoints', async () => {
    const dir = folder(gpt2, 12);
    const cache = join(root, 'cache-rewritten-mapped');
    hooks.afterRead = () => saveCheckpoint(dir, { cfg: gpt2, params: randomParams(gpt2, 13) });
    await expect(load(dir, { quantize: 'int4', quantCache: cache })).rejects.toThrow(
      /model\.safetensors changed while the model was loading/,
    );
    expect(hooks.afterRead).toBeUndefined();
    expect(existsSync(cache) ? lqFiles(cache) : []).toEqual([]);
    const now = await load(dir, { quantize: 'int4' });
    const next = await load(dir, { quantize: 'int4', quantCache: cache });
    expect(next.quantization.fromCache).toBe(false);
    expect(same(next.logits, now.logits)).toBe(true);
    const again = await load(dir, { quantize: 'int4', quantCache: cache });
    expect(again.quantization.fromCache).toBe(true);
    expect(same(again.logits, now.logits)).toBe(true);
  });
});

it('where files cannot be mapped, no cache file is written (it could never be read back)', async () => {
  const dir = folder(gpt2, 14);
  const cache = join(root, 'cache-unmappable');
  const want = await load(dir, { quantize: 'int4' });
  hooks.noMapping = true;
  try {
    const r = await load(dir, { quantize: 'int4', quantCache: cache });
    expect(r.quantization.fromCache).toBe(false);
    expect(r.quantization.cachePath).toBeUndefined();
    expect(same(r.logits, want.logits)).toBe(true);
    expect(existsSync(cache) ? lqFiles(cache) : []).toEqual([]);
  } finally {
    hooks.noMapping = false;
  }
});

it('the checksum in chunks, the running value chained, is the checksum of the whole', () => {
  const bytes = new Uint8Array(1000).map((_, i) => (i * 7919) % 251);
  expect(crc32Chunked(bytes, 0, 7)).toBe(crc32(bytes));
  expect(crc32Chunked(bytes.subarray(500), crc32Chunked(bytes.subarray(0, 500), 0, 64), 3)).toBe(
    crc32(bytes),
  );
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
  const dir = f16Folder(6);
  const cache = join(root, 'cache-f16');
  const first = await load(dir, { quantize: 'int4', quantCache: cache });
  const second = await load(dir, { quantize: 'int4', quantCache: cache });
  expect([first.quantization.fromCache, second.quantization.fromCache]).toEqual([false, true]);
  expect(same(first.logits, second.logits)).toBe(true);
  expect(same(await int4InMemory(gpt2, dir), first.logits)).toBe(true);
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

// The safetensors reader on files built byte by byte: F16/BF16 decoding against known bit patterns and an
// independent decoder, reads that cross the scratch buffer's chunks at unaligned offsets, header-only
// reads of a file whose data was never written, and a clear error for each kind of broken header.
import { closeSync, ftruncateSync, mkdtempSync, openSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  f16ToF32,
  readSafetensors,
  readSafetensorsHeader,
  readTensorsInto,
} from '../src/checkpoint/safetensors.ts';
import {
  fromBf16Bits,
  fromF16Bits,
  type RawTensor,
  safetensorsBytes,
  toBf16Bits,
  toF16Bits,
} from './hf-fixtures.ts';

const root = mkdtempSync(join(tmpdir(), 'hf-st-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

let n = 0;
function file(bytes: Uint8Array | string): string {
  const path = join(root, `t${n++}.safetensors`);
  writeFileSync(path, bytes);
  return path;
}

// Little-endian like the files (every platform Node runs on here is little-endian).
const u16 = (bits: ArrayLike<number>): Uint8Array => new Uint8Array(Uint16Array.from(bits).buffer);

/** Index of the first element that differs (−1 if none): vitest's toEqual walks millions of elements slowly. */
function firstDiff(a: Float32Array, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Math.min(a.length, b.length);
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return i;
  return -1;
}

const raw = (entries: Record<string, RawTensor>): Map<string, RawTensor> => new Map(Object.entries(entries));

describe('safetensors dtypes', () => {
  it('decodes F16 and BF16 bit patterns exactly', () => {
    // 1, -2, 65504 (largest), 2^-14 (smallest normal), 2^-24 (smallest subnormal), 1/3, -0, +inf, NaN
    const f16 = [0x3c00, 0xc000, 0x7bff, 0x0400, 0x0001, 0x3555, 0x8000, 0x7c00, 0x7e00];
    const f16Want = [1, -2, 65504, 2 ** -14, 2 ** -24, 0.333251953125, -0, Infinity, Number.NaN];
    // 1, -2, π rounded (3.140625), 1e-40 (subnormal), -inf
    const bf16 = [0x3f80, 0xc000, 0x4049, 0x0001, 0xff80];
    const bf16Want = [1, -2, 3.140625, 2 ** -133, -Infinity];
    const path = file(
      safetensorsBytes(
        raw({
          a: { dtype: 'F16', shape: [3, 3], bytes: u16(f16) },
          b: { dtype: 'BF16', shape: [5], bytes: u16(bf16) },
        }),
      ),
    );
    const st = readSafetensors(path);
    expect(st.tensors.get('a')?.shape).toEqual([3, 3]);
    expect(Array.from(st.tensors.get('a')!.data)).toEqual(f16Want.map(Math.fround));
    expect(Object.is(st.tensors.get('a')!.data[6], -0)).toBe(true);
    expect(Array.from(st.tensors.get('b')!.data)).toEqual(bf16Want.map(Math.fround));
    expect(st.metadata).toEqual({ format: 'pt' });
    // The fixtures' encoders agree with the same patterns, so the architecture tests' rounding is right.
    expect(toF16Bits(1 / 3)).toBe(0x3555);
    expect(toF16Bits(65504)).toBe(0x7bff);
    expect(toF16Bits(2 ** -24)).toBe(0x0001);
    expect(toBf16Bits(Math.PI)).toBe(0x4049);
  });

  it('decodes every float16 value as an independent decoder does', () => {
    const all = new Uint16Array(65536).map((_, i) => i);
    const out = new Float32Array(65536);
    f16ToF32(all, out);
    for (let h = 0; h < 65536; h++) {
      const want = fromF16Bits(h);
      if (Number.isNaN(want)) expect(out[h]).toBeNaN();
      else if (!Object.is(out[h], Math.fround(want))) expect([h, out[h]]).toEqual([h, want]);
    }
  });

  it('reads large tensors across scratch chunks at unaligned offsets, and prefixes of them', () => {
    const N = 2_200_001; // more than one 4 MB scratch buffer of half-precision values, and odd
    const f32 = Float32Array.from({ length: N }, (_, i) => Math.sin(i * 0.001) * (1 + (i % 7)));
    const f16Bits = Uint16Array.from(f32, toF16Bits);
    const bf16Bits = Uint16Array.from(f32, toBf16Bits);
    const bytes = safetensorsBytes(
      raw({
        a_f16: { dtype: 'F16', shape: [N], bytes: u16(f16Bits) },
        b_bf16: { dtype: 'BF16', shape: [N], bytes: u16(bf16Bits) },
        c_f32: { dtype: 'F32', shape: [N], bytes: new Uint8Array(f32.buffer) },
      }),
      { align: false },
    );
    const path = file(bytes);
    const header = readSafetensorsHeader(path);
    expect(header.dataOffset % 2).toBe(1);
    const st = readSafetensors(path);
    expect(firstDiff(st.tensors.get('c_f32')!.data, f32)).toBe(-1);
    const b = st.tensors.get('b_bf16')!.data;
    expect(firstDiff(st.tensors.get('a_f16')!.data, Float32Array.from(f16Bits, fromF16Bits))).toBe(-1);
    expect(firstDiff(b, Float32Array.from(bf16Bits, fromBf16Bits))).toBe(-1);
    // A prefix into a view of a larger array (a capped position table lands like this).
    const dst = new Float32Array(10 + 2_100_000).fill(-7);
    readTensorsInto(header, [
      { tensor: header.tensors.get('b_bf16')!, out: dst.subarray(10, 10 + 2_100_000) },
    ]);
    expect(dst[9]).toBe(-7);
    expect(firstDiff(dst.subarray(10), b.subarray(0, 2_100_000))).toBe(-1);
  });
});

describe('safetensors headers', () => {
  it('describe tensors without reading their data (a 500 MB file whose data was never written)', () => {
    const header = Buffer.from(
      JSON.stringify({
        'transformer.wte.weight': { dtype: 'F32', shape: [50257, 768], data_offsets: [0, 50257 * 768 * 4] },
        'transformer.wpe.weight': {
          dtype: 'BF16',
          shape: [1024, 768],
          data_offsets: [50257 * 768 * 4, 50257 * 768 * 4 + 1024 * 768 * 2],
        },
      }),
    );
    const path = join(root, 'sparse.safetensors');
    const fd = openSync(path, 'w');
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(header.length));
    writeSync(fd, len);
    writeSync(fd, header);
    ftruncateSync(fd, 8 + header.length + 50257 * 768 * 4 + 1024 * 768 * 2);
    closeSync(fd);
    const t0 = performance.now();
    const h = readSafetensorsHeader(path);
    expect(performance.now() - t0).toBeLessThan(200);
    expect(h.tensors.get('transformer.wte.weight')).toMatchObject({
      dtype: 'F32',
      shape: [50257, 768],
      size: 50257 * 768,
      byteLength: 50257 * 768 * 4,
      offset: 8 + header.length,
    });
    expect(h.tensors.get('transformer.wpe.weight')).toMatchObject({
      dtype: 'BF16',
      byteLength: 1024 * 768 * 2,
    });
  });

  const headerFile = (json: string, dataBytes = 0): string => {
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(Buffer.byteLength(json)));
    return file(Buffer.concat([len, Buffer.from(json), Buffer.alloc(dataBytes)]));
  };
  const entry = (dtype: string, shape: unknown, offsets: unknown) =>
    JSON.stringify({ 'model.norm.weight': { dtype, shape, data_offsets: offsets } });

  it.each([
    ['a file shorter than 8 bytes', () => file('abc'), /not a valid safetensors file: 3 bytes/],
    [
      'a Git LFS pointer',
      () => file('version https://git-lfs.github.com/spec/v1\noid sha256:abc\nsize 548105171\n'),
      /not a valid safetensors file: header length \d+ does not fit a \d+-byte file/,
    ],
    [
      'a PyTorch zip checkpoint',
      () => file(Buffer.concat([Buffer.from('PK\x03\x04'), Buffer.alloc(200, 7)])),
      /not a valid safetensors file: header length/,
    ],
    ['a header that is not JSON', () => headerFile('{"a": [1, 2'), /header is not JSON/],
    ['a header that is a JSON array', () => headerFile('[1, 2]'), /header does not start with '\{'/],
    [
      'an unknown dtype',
      () => headerFile(entry('F12', [4], [0, 8]), 8),
      /tensor 'model\.norm\.weight': unknown dtype "F12"/,
    ],
    [
      'a bad shape',
      () => headerFile(entry('F32', [4, -1], [0, 16]), 16),
      /tensor 'model\.norm\.weight': shape \[4,-1\] is not a list of non-negative integers/,
    ],
    [
      'offsets past the data (a truncated file)',
      () => headerFile(entry('F32', [4], [0, 16]), 12),
      /tensor 'model\.norm\.weight': data_offsets \[0, 16\] run past the end of the data \(12 bytes; file truncated\?\)/,
    ],
    [
      'reversed offsets',
      () => headerFile(entry('F32', [0], [8, 0]), 8),
      /tensor 'model\.norm\.weight': data_offsets \[8,0\] is not \[begin, end\]/,
    ],
    [
      'a byte count that does not match the shape',
      () => headerFile(entry('BF16', [4], [0, 16]), 16),
      /tensor 'model\.norm\.weight': 16 data bytes for BF16 shape \[4\], expected 8/,
    ],
  ])('refuse %s, naming the file', (_, make, message) => {
    const path = make();
    expect(() => readSafetensorsHeader(path)).toThrow(message);
    expect(() => readSafetensorsHeader(path)).toThrow(path);
  });

  it('refuse to decode a non-float tensor, naming it', () => {
    const path = file(
      safetensorsBytes(raw({ 'h.0.attn.bias': { dtype: 'I64', shape: [2], bytes: new Uint8Array(16) } })),
    );
    expect(readSafetensorsHeader(path).tensors.get('h.0.attn.bias')?.dtype).toBe('I64');
    expect(() => readSafetensors(path)).toThrow(
      /tensor 'h\.0\.attn\.bias' has dtype I64; only F32, F16 and BF16/,
    );
  });
});

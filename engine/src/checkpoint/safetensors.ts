// safetensors reader/writer: 8-byte little-endian header length, a JSON header mapping names to
// {dtype, shape, data_offsets}, then the raw little-endian tensor bytes. The reader validates the header
// before any data is read (so a size estimate or a shape check costs one small read), and decodes F32,
// F16 and BF16 straight into the caller's Float32Array: Hugging Face ships most weights in half precision.
import { closeSync, fstatSync, openSync, readSync, renameSync, writeSync } from 'node:fs';
import { basename } from 'node:path';

export interface NamedTensor {
  name: string;
  shape: readonly number[];
  data: Float32Array;
}

interface HeaderEntry {
  dtype: string;
  shape: number[];
  data_offsets: [number, number];
}

/** Bytes per element of every dtype the safetensors format defines (a header naming another is invalid). */
export const DTYPE_BYTES = {
  BOOL: 1,
  U8: 1,
  I8: 1,
  F8_E5M2: 1,
  F8_E4M3: 1,
  I16: 2,
  U16: 2,
  F16: 2,
  BF16: 2,
  I32: 4,
  U32: 4,
  F32: 4,
  F64: 8,
  I64: 8,
  U64: 8,
} as const;

export type SafetensorsDtype = keyof typeof DTYPE_BYTES;
/** The dtypes the engine decodes into float32. */
export type FloatDtype = 'F32' | 'F16' | 'BF16';
export const FLOAT_DTYPES: readonly FloatDtype[] = ['F32', 'F16', 'BF16'];

export function isFloatDtype(d: string): d is FloatDtype {
  return (FLOAT_DTYPES as readonly string[]).includes(d);
}

/** One tensor as the header describes it; nothing of its data is read. */
export interface TensorInfo {
  name: string;
  dtype: SafetensorsDtype;
  shape: number[];
  /** Elements. */
  size: number;
  /** Absolute byte offset of the tensor's data in the file. */
  offset: number;
  byteLength: number;
}

export interface SafetensorsHeader {
  path: string;
  fileSize: number;
  /** Where the data section starts: 8 + header length. */
  dataOffset: number;
  tensors: Map<string, TensorInfo>;
  metadata: Record<string, string>;
}

/** The format's own cap (the Rust reference rejects larger headers); it also bounds what a corrupt length can make us allocate. */
const MAX_HEADER_BYTES = 100_000_000;

/** Write tensors (F32) to `path` atomically: a temp file renamed into place. */
export function writeSafetensors(
  path: string,
  tensors: readonly NamedTensor[],
  metadata: Record<string, string> = {},
): void {
  const header: Record<string, HeaderEntry | Record<string, string>> = {};
  if (Object.keys(metadata).length) header.__metadata__ = metadata;
  let offset = 0;
  for (const t of tensors) {
    const size = t.shape.reduce((a, b) => a * b, 1);
    if (size !== t.data.length)
      throw new Error(`safetensors: '${t.name}' has ${t.data.length} values for shape [${t.shape}]`);
    header[t.name] = {
      dtype: 'F32',
      shape: [...t.shape],
      data_offsets: [offset, offset + t.data.byteLength],
    };
    offset += t.data.byteLength;
  }
  let json = JSON.stringify(header);
  // Pad the header so tensor data starts 8-byte aligned (readers may map it directly).
  json += ' '.repeat((8 - ((8 + Buffer.byteLength(json)) % 8)) % 8);
  const head = Buffer.alloc(8 + Buffer.byteLength(json));
  head.writeBigUInt64LE(BigInt(Buffer.byteLength(json)), 0);
  head.write(json, 8);
  const tmp = `${path}.tmp-${process.pid}`;
  const fd = openSync(tmp, 'w');
  try {
    writeSync(fd, head);
    for (const t of tensors)
      writeSync(fd, new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
}

/** Fill `buf` from `position`; a short read means the file ended early. */
function readFully(fd: number, path: string, buf: Uint8Array, position: number): void {
  let done = 0;
  while (done < buf.length) {
    const n = readSync(fd, buf, done, buf.length - done, position + done);
    if (n === 0)
      throw new Error(`${path}: file ended at byte ${position + done}, expected ${buf.length - done} more`);
    done += n;
  }
}

const isCount = (x: unknown): x is number => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;

/** Parse and validate a header: every tensor's dtype known, shape sane, data inside the file and sized to match. */
function parseHeader(path: string, json: Uint8Array, fileSize: number): SafetensorsHeader {
  const file = basename(path);
  const bad = (why: string): Error => new Error(`${path}: not a valid safetensors file: ${why}`);
  const dataOffset = 8 + json.length;
  const dataSize = fileSize - dataOffset;
  // A pickle, zip (pytorch_model.bin) or text file gives a header that does not start with '{'.
  if (json[0] !== 0x7b) throw bad(`header does not start with '{' (is this a safetensors file?)`);
  let header: unknown;
  try {
    header = JSON.parse(Buffer.from(json.buffer, json.byteOffset, json.length).toString('utf8'));
  } catch (err) {
    throw bad(`header is not JSON (${(err as Error).message})`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header))
    throw bad('header is not a JSON object');
  const tensors = new Map<string, TensorInfo>();
  let metadata: Record<string, string> = {};
  for (const [name, entry] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (typeof entry !== 'object' || entry === null) throw bad('__metadata__ is not an object');
      metadata = Object.fromEntries(Object.entries(entry).map(([k, v]) => [k, String(v)]));
      continue;
    }
    const where = `${file}: tensor '${name}'`;
    if (typeof entry !== 'object' || entry === null) throw bad(`${where}: entry is not an object`);
    const { dtype, shape, data_offsets: offs } = entry as Record<string, unknown>;
    if (typeof dtype !== 'string' || !(dtype in DTYPE_BYTES))
      throw bad(`${where}: unknown dtype ${JSON.stringify(dtype)}`);
    if (!Array.isArray(shape) || !shape.every(isCount))
      throw bad(`${where}: shape ${JSON.stringify(shape)} is not a list of non-negative integers`);
    if (!Array.isArray(offs) || offs.length !== 2 || !offs.every(isCount) || offs[0] > offs[1])
      throw bad(`${where}: data_offsets ${JSON.stringify(offs)} is not [begin, end] with begin <= end`);
    const [begin, end] = offs as [number, number];
    if (end > dataSize)
      throw bad(
        `${where}: data_offsets [${begin}, ${end}] run past the end of the data (${dataSize} bytes; file truncated?)`,
      );
    const size = (shape as number[]).reduce((a, b) => a * b, 1);
    const bytes = DTYPE_BYTES[dtype as SafetensorsDtype];
    if (end - begin !== size * bytes)
      throw bad(
        `${where}: ${end - begin} data bytes for ${dtype} shape [${shape}], expected ${size * bytes}`,
      );
    tensors.set(name, {
      name,
      dtype: dtype as SafetensorsDtype,
      shape: shape as number[],
      size,
      offset: dataOffset + begin,
      byteLength: end - begin,
    });
  }
  return { path, fileSize, dataOffset, tensors, metadata };
}

function headerFromFd(fd: number, path: string): SafetensorsHeader {
  const fileSize = fstatSync(fd).size;
  if (fileSize < 8)
    throw new Error(
      `${path}: not a valid safetensors file: ${fileSize} bytes, shorter than the 8-byte header length`,
    );
  const len = Buffer.alloc(8);
  readFully(fd, path, len, 0);
  const n = len.readBigUInt64LE(0);
  if (n > BigInt(fileSize - 8) || n > BigInt(MAX_HEADER_BYTES) || n < 2n)
    throw new Error(
      `${path}: not a valid safetensors file: header length ${n} does not fit a ${fileSize}-byte file` +
        ` (is this a safetensors file?)`,
    );
  const json = Buffer.alloc(Number(n));
  readFully(fd, path, json, 8);
  return parseHeader(path, json, fileSize);
}

/** Names, dtypes, shapes and byte ranges of a file's tensors, from its header alone (no tensor data is read). */
export function readSafetensorsHeader(path: string): SafetensorsHeader {
  const fd = openSync(path, 'r');
  try {
    return headerFromFd(fd, path);
  } finally {
    closeSync(fd);
  }
}

/**
 * float16 bits → float32 bits for all 65,536 values: decoding is then one table load per element
 * (~1 ns), where bit-twiddling each value costs branches on subnormals and infinities.
 */
let f16Bits: Uint32Array | undefined;
function f16Table(): Uint32Array {
  if (f16Bits) return f16Bits;
  const f = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = h & 0x8000 ? -1 : 1;
    const e = (h >> 10) & 0x1f;
    const m = h & 0x3ff;
    if (e === 0) f[h] = sign * m * 2 ** -24;
    else if (e === 31) f[h] = m ? Number.NaN : sign * Number.POSITIVE_INFINITY;
    else f[h] = sign * (1 + m / 1024) * 2 ** (e - 15);
  }
  f16Bits = new Uint32Array(f.buffer);
  return f16Bits;
}

/** Decode float16 values into float32 (`dst.length` elements). */
export function f16ToF32(src: Uint16Array, dst: Float32Array): void {
  const t = f16Table();
  const out = new Uint32Array(dst.buffer, dst.byteOffset, dst.length);
  for (let i = 0; i < out.length; i++) out[i] = t[src[i]];
}

/** Decode bfloat16 values into float32: bfloat16 is the top half of a float32's bits. */
export function bf16ToF32(src: Uint16Array, dst: Float32Array): void {
  const out = new Uint32Array(dst.buffer, dst.byteOffset, dst.length);
  for (let i = 0; i < out.length; i++) out[i] = src[i] << 16;
}

/** Half-precision tensors are decoded through a scratch buffer this size, not a copy per tensor. */
const SCRATCH_BYTES = 1 << 22;
/** readSync takes at most 2 GiB per call. */
const MAX_READ = 1 << 30;

export interface TensorRead {
  tensor: TensorInfo;
  /** Receives the first `out.length` elements of the tensor (a prefix when shorter), as float32. */
  out: Float32Array;
}

/**
 * Read tensors of one file into the callers' arrays, in file order. F32 is read by the kernel straight into
 * `out` (no intermediate copy); F16 and BF16 pass through one reused scratch buffer and are decoded into `out`.
 */
export function readTensorsInto(header: SafetensorsHeader, reads: readonly TensorRead[]): void {
  const { path } = header;
  const file = basename(path);
  for (const { tensor: t, out } of reads) {
    if (!isFloatDtype(t.dtype))
      throw new Error(
        `${path}: tensor '${t.name}' has dtype ${t.dtype}; only F32, F16 and BF16 are supported`,
      );
    if (out.length > t.size)
      throw new Error(`${file}: tensor '${t.name}' has ${t.size} elements, ${out.length} requested`);
  }
  let scratch: Uint8Array | undefined;
  const fd = openSync(path, 'r');
  try {
    // The header we validated must still describe the file: a file replaced since would be read as garbage.
    if (fstatSync(fd).size !== header.fileSize)
      throw new Error(`${path}: file changed size since its header was read`);
    for (const { tensor: t, out } of [...reads].sort((a, b) => a.tensor.offset - b.tensor.offset)) {
      if (t.dtype === 'F32') {
        const bytes = new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
        for (let at = 0; at < bytes.length; at += MAX_READ)
          readFully(fd, path, bytes.subarray(at, at + MAX_READ), t.offset + at);
        continue;
      }
      scratch ??= new Uint8Array(SCRATCH_BYTES);
      const decode = t.dtype === 'F16' ? f16ToF32 : bf16ToF32;
      const per = SCRATCH_BYTES / 2;
      for (let i = 0; i < out.length; i += per) {
        const n = Math.min(per, out.length - i);
        const chunk = scratch.subarray(0, 2 * n);
        readFully(fd, path, chunk, t.offset + 2 * i);
        decode(new Uint16Array(chunk.buffer, 0, n), out.subarray(i, i + n));
      }
    }
  } finally {
    closeSync(fd);
  }
}

export interface Safetensors {
  tensors: Map<string, { shape: number[]; data: Float32Array }>;
  metadata: Record<string, string>;
}

/** Every tensor of a file as float32 (F32, F16 or BF16 in the file). */
export function readSafetensors(path: string): Safetensors {
  const header = readSafetensorsHeader(path);
  const tensors = new Map<string, { shape: number[]; data: Float32Array }>();
  const reads: TensorRead[] = [];
  for (const t of header.tensors.values()) {
    const data = new Float32Array(t.size);
    tensors.set(t.name, { shape: t.shape, data });
    reads.push({ tensor: t, out: data });
  }
  readTensorsInto(header, reads);
  return { tensors, metadata: header.metadata };
}

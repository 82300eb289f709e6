// Minimal safetensors reader/writer: 8-byte little-endian header length, a JSON header mapping names to
// {dtype, shape, data_offsets}, then the raw little-endian tensor bytes.
import { closeSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';

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

export interface Safetensors {
  tensors: Map<string, { shape: number[]; data: Float32Array }>;
  metadata: Record<string, string>;
}

export function readSafetensors(path: string): Safetensors {
  const buf = readFileSync(path);
  const n = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.subarray(8, 8 + n).toString('utf8')) as Record<string, unknown>;
  const base = 8 + n;
  const tensors = new Map<string, { shape: number[]; data: Float32Array }>();
  let metadata: Record<string, string> = {};
  for (const [name, entry] of Object.entries(header)) {
    if (name === '__metadata__') {
      metadata = entry as Record<string, string>;
      continue;
    }
    const e = entry as HeaderEntry;
    if (e.dtype !== 'F32')
      throw new Error(`safetensors: '${name}' has dtype ${e.dtype}; only F32 is supported`);
    const [a, b] = e.data_offsets;
    // Copy into an aligned buffer: the file buffer's offset need not be a multiple of 4.
    const bytes = buf.subarray(base + a, base + b);
    const data = new Float32Array((b - a) / 4);
    new Uint8Array(data.buffer).set(bytes);
    tensors.set(name, { shape: e.shape, data });
  }
  return { tensors, metadata };
}

// Quantised decoding weights kept on disk (InferenceOptions.quantCache), so a model is quantised once and
// later loads map the codes instead: GPT-2 small took 3.2–3.4 s to quantise in JavaScript, and mapping the
// cached 139 MB (int8) or 77 MB (int4) costs tens of milliseconds, with pages shared by every process that
// maps them.
//
// One file per model folder, format and block size: `<folder name>-<hash of its real path>-<format>-b<block>.lq`.
// The file records what it was made from: the size, modification and change times (ns), inode and device
// of every weight file and config.json in the folder. A load whose folder no longer matches treats the
// file as stale and quantises again, overwriting it. Why file identity and not a hash of the contents:
// hashing GPT-2 small's 498 MB would cost about as much as what the cache saves, and a hash of the
// safetensors header alone misses new values in the same shapes (a training step rewrites every weight
// and leaves the header as it was). Rewriting a file through rename (saveCheckpoint, writeSafetensors)
// gives a new inode; rewriting in place moves the times.
//
// The identity a file records must describe the weights its codes came from, so a load takes it BEFORE
// reading config.json and the weights, takes it again after quantising, and writes no file when the two
// differ (the folder was rewritten during the load: what was read may be either checkpoint, or both). The
// worker that quantises re-opens model.safetensors by path, so it is told which file the caller mapped and
// refuses another (see quantize-worker.ts).
//
// Layout: 8-byte magic, uint32 LE length of a JSON header, uint32 LE CRC-32, the header, then each
// tensor's codes and scales at 64-byte aligned offsets. The header holds the offsets, each tensor's
// orientation and the file's total size; the CRC covers the length field and everything after the CRC
// field (header, padding and data: 24 ms for 139 MB), so a changed offset is caught as surely as a
// changed code. A file whose size, header or checksum disagrees, or that cannot be read at all, is
// ignored and rewritten, never used, and never fails the load. Files are written under a temporary name
// and renamed into place, so a killed writer leaves at most a stray temporary file, never a half file
// under the real name.
//
// Where files cannot be mapped (mapFile returns null off Linux) there is no cache at all: a file that
// could never be read back would cost a write on every load and save nothing.
import { createHash } from 'node:crypto';
import { closeSync, existsSync, openSync, readdirSync, readSync, realpathSync, statSync } from 'node:fs';
import { mkdir, open, readdir, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { crc32 } from 'node:zlib';
import type { ModelConfig } from '../models/config.ts';
import { paramSpecs } from '../models/model.ts';
import { BITS, type QuantizedTensor } from '../quant/formats.ts';
import { buildDecodeGraph } from './decode-graph.ts';
import { type MappedFile, mapFile } from './mmap.ts';
import type { DecodeFormat, QuantizedWeights } from './quantized.ts';

/** The layout's mark; the files of an older layout (LABQNT01: no header in the checksum) are rewritten. */
const MAGIC = 'LABQNT02';
/** Bumped whenever the codes a format produces change, so older files are quantised again. */
const VERSION = 2;
/** Magic, header length, CRC-32. */
const FIXED = 16;
/** zlib's crc32 takes a 32-bit length: larger regions go through in chunks, the running value chained. */
const CRC_CHUNK = 1 << 30;
const ALIGN = 64;

/** What a weight file was when it was quantised (see the top of this file). */
export interface FileIdentity {
  name: string;
  size: number;
  mtimeNs: string;
  ctimeNs: string;
  ino: string;
  dev: string;
}

interface Entry {
  param: string;
  rows: number;
  cols: number;
  /** Whether the parameter was stored [out, in] (else transposed first): a square weight's shape cannot tell. */
  outIn: boolean;
  blocksPerRow: number;
  codes: number;
  codesBytes: number;
  scales: number;
  scalesBytes: number;
}

interface Header {
  version: number;
  format: DecodeFormat;
  blockSize: number;
  source: FileIdentity[];
  tensors: Entry[];
  size: number;
}

/** CRC-32 of `bytes` continuing from `crc`, in chunks zlib's 32-bit length can take. */
export function crc32Chunked(bytes: Uint8Array, crc = 0, chunk = CRC_CHUNK): number {
  for (let at = 0; at < bytes.byteLength; at += chunk)
    crc = crc32(bytes.subarray(at, Math.min(at + chunk, bytes.byteLength)), crc);
  return crc;
}

/** The weight files of a model folder and config.json, as they are now. */
export function folderIdentity(dir: string): FileIdentity[] {
  const names = readdirSync(dir)
    .filter(
      (n) =>
        n === 'config.json' ||
        ((n.endsWith('.safetensors') || n.endsWith('.safetensors.index.json')) &&
          !n.startsWith('optimizer.')),
    )
    .sort();
  return names.map((name) => {
    const s = statSync(join(dir, name), { bigint: true });
    return {
      name,
      size: Number(s.size),
      mtimeNs: String(s.mtimeNs),
      ctimeNs: String(s.ctimeNs),
      ino: String(s.ino),
      dev: String(s.dev),
    };
  });
}

/** What every cache file of `dir` starts with: its name and a hash of its real path. */
function folderPrefix(dir: string): string {
  // A folder already gone cannot be resolved through its links any more; its path as given is the best guess.
  const real = existsSync(dir) ? realpathSync(dir) : resolve(dir);
  const id = createHash('sha256').update(real).digest('hex').slice(0, 16);
  const name = basename(real)
    .replace(/[^\w.-]+/g, '_')
    .slice(0, 48);
  return `${name}-${id}-`;
}

/** The cache file of `dir`'s weights in `format` with blocks of `blockSize`. */
export function cachePath(cacheDir: string, dir: string, format: DecodeFormat, blockSize: number): string {
  return join(cacheDir, `${folderPrefix(dir)}${format}-b${blockSize}.lq`);
}

/**
 * Remove the cache files of `dir`'s weights in every format but `keep`, any block size (when the lab stops
 * serving the folder in a format: they are derived data, up to a quarter of the weights' size each).
 * Returns the files removed. A model still mapping one keeps its pages until it is released.
 */
export async function removeQuantCache(
  cacheDir: string,
  dir: string,
  keep: readonly DecodeFormat[] = [],
): Promise<string[]> {
  const prefix = folderPrefix(dir);
  const kept = keep.map((f) => `${prefix}${f}-b`);
  const names = await readdir(cacheDir).catch(() => [] as string[]);
  const mine = names
    .filter((n) => n.startsWith(prefix) && n.endsWith('.lq') && !kept.some((k) => n.startsWith(k)))
    .map((n) => join(cacheDir, n));
  await Promise.all(mine.map((f) => rm(f, { force: true })));
  return mine;
}

/** The tensors decoding quantises for `cfg`, [out, in] as MatMulNBits reads them. */
function expectedShapes(cfg: ModelConfig): Map<string, { rows: number; cols: number; outIn: boolean }> {
  const shapes = new Map(paramSpecs(cfg).map((s) => [s.name, s.shape]));
  const out = new Map<string, { rows: number; cols: number; outIn: boolean }>();
  for (const { param, outIn } of buildDecodeGraph(cfg, { fastLayouts: false }).linears) {
    const [a, b] = shapes.get(param) ?? [0, 0];
    out.set(param, outIn ? { rows: a, cols: b, outIn } : { rows: b, cols: a, outIn });
  }
  return out;
}

const align = (n: number) => Math.ceil(n / ALIGN) * ALIGN;

/**
 * Write `q` to `path` atomically: a temporary file in the same folder, renamed into place once complete.
 * Asynchronous (libuv's threads), so the event loop stays free while 100+ MB go out.
 */
export async function writeQuantCache(
  path: string,
  cfg: ModelConfig,
  q: QuantizedWeights,
  source: readonly FileIdentity[],
): Promise<void> {
  const orientation = expectedShapes(cfg);
  const tensors: Entry[] = [];
  const parts: { at: number; bytes: Uint8Array }[] = [];
  // Offsets relative to the data start until the header's length is known.
  let at = 0;
  for (const [param, t] of q.tensors) {
    if (!t.scales) throw new Error(`quantize cache: '${param}' has no float32 scales`);
    const codes = t.codes;
    const scales = new Uint8Array(t.scales.buffer, t.scales.byteOffset, t.scales.byteLength);
    const e: Entry = {
      param,
      rows: t.rows,
      cols: t.cols,
      outIn: orientation.get(param)?.outIn ?? true,
      blocksPerRow: t.blocksPerRow,
      codes: at,
      codesBytes: codes.byteLength,
      scales: align(at + codes.byteLength),
      scalesBytes: scales.byteLength,
    };
    parts.push({ at: e.codes, bytes: codes }, { at: e.scales, bytes: scales });
    at = align(e.scales + e.scalesBytes);
    tensors.push(e);
  }
  const dataBytes = at;
  // The header's own length moves the data: fix it with room for the offsets' digits to grow.
  const header = (start: number): Header => ({
    version: VERSION,
    format: q.format,
    blockSize: q.blockSize,
    source: [...source],
    tensors: tensors.map((e) => ({ ...e, codes: e.codes + start, scales: e.scales + start })),
    size: start + dataBytes,
  });
  let start = align(FIXED + Buffer.byteLength(JSON.stringify(header(0))) + 256);
  let json = Buffer.from(JSON.stringify(header(start)));
  while (FIXED + json.byteLength > start) {
    start = align(FIXED + json.byteLength + 256);
    json = Buffer.from(JSON.stringify(header(start)));
  }
  const head = Buffer.alloc(start);
  head.write(MAGIC, 0, 'latin1');
  head.writeUInt32LE(json.byteLength, 8);
  json.copy(head, FIXED);
  // The checksum covers the file exactly as the reader sees it: length, header, padding, data.
  let crc = crc32Chunked(head.subarray(8, 12));
  crc = crc32Chunked(head.subarray(FIXED), crc);
  let end = 0;
  const zeros = new Uint8Array(ALIGN);
  for (const p of parts) {
    if (p.at > end) crc = crc32Chunked(zeros.subarray(0, p.at - end), crc);
    crc = crc32Chunked(p.bytes, crc);
    end = p.at + p.bytes.byteLength;
  }
  if (dataBytes > end) crc = crc32Chunked(zeros.subarray(0, dataBytes - end), crc);
  head.writeUInt32LE(crc >>> 0, 12);
  const dir = dirname(path);
  await mkdir(dir, { recursive: true });
  await removeStrayTemporaries(dir, basename(path));
  const tmp = `${path}.${process.pid}-${Math.random().toString(36).slice(2, 10)}.tmp`;
  const fh = await open(tmp, 'w');
  try {
    await fh.write(head, 0, head.byteLength, 0);
    for (const p of parts) await fh.write(p.bytes, 0, p.bytes.byteLength, start + p.at);
    await fh.truncate(start + dataBytes);
    await fh.close();
    await rename(tmp, path);
  } catch (e) {
    await fh.close().catch(() => undefined);
    await rm(tmp, { force: true });
    throw e;
  }
}

/** Temporary files of `name` left by writers killed over an hour ago (a live writer takes seconds). */
async function removeStrayTemporaries(dir: string, name: string): Promise<void> {
  const old = Date.now() - 3600_000;
  for (const n of await readdir(dir)) {
    if (!n.startsWith(`${name}.`) || !n.endsWith('.tmp')) continue;
    const p = join(dir, n);
    const s = await stat(p).catch(() => undefined);
    if (s && s.mtimeMs < old) await rm(p, { force: true });
  }
}

export interface CachedWeights extends QuantizedWeights {
  /** The mapping the codes and scales point into; closed when the model is released. */
  file: MappedFile;
}

/**
 * The quantised weights in `path`, mapped, if the file exists, was made from `source` for `cfg` in this
 * format and block size, and is whole (size and checksum); otherwise undefined, with the reason in
 * `why` (missing, stale, corrupt or unreadable), and the caller quantises again. Never throws for the
 * file's sake: a cache is an optimisation, and no state of it may fail a load.
 */
export async function readQuantCache(
  path: string,
  cfg: ModelConfig,
  format: DecodeFormat,
  blockSize: number,
  source: readonly FileIdentity[],
  why: (reason: string) => void = () => {},
): Promise<CachedWeights | undefined> {
  try {
    return await readChecked(path, cfg, format, blockSize, source, why);
  } catch (e) {
    // Removed after the exists check, a directory of that name, no permission, an mmap refused.
    why(`unreadable: ${(e as Error).message}`);
    return undefined;
  }
}

async function readChecked(
  path: string,
  cfg: ModelConfig,
  format: DecodeFormat,
  blockSize: number,
  source: readonly FileIdentity[],
  why: (reason: string) => void,
): Promise<CachedWeights | undefined> {
  const no = (reason: string): undefined => {
    why(reason);
    return undefined;
  };
  if (!existsSync(path)) return no('missing');
  const read = readHeader(path);
  if (typeof read === 'string') return no(read);
  const { header, json } = read;
  if (header.version !== VERSION || header.format !== format || header.blockSize !== blockSize)
    return no('stale: another format, block size or version');
  if (JSON.stringify(header.source) !== JSON.stringify(source)) return no('stale: the weights changed');
  const want = expectedShapes(cfg);
  if (
    header.tensors.length !== want.size ||
    header.tensors.some((e) => {
      const w = want.get(e.param);
      return w?.rows !== e.rows || w.cols !== e.cols || w.outIn !== e.outIn;
    })
  )
    return no('stale: other tensors');
  if (statSync(path).size !== header.size) return no('corrupt: wrong size');
  const file = await mapFile(path);
  if (!file) return no('unmappable');
  try {
    const bytes = file.bytes;
    // The header was read through another descriptor: a file renamed into place since then is another
    // file, checked below against a header that is not its own unless they are byte for byte the same.
    const mappedJson = bytes.subarray(FIXED, FIXED + json.byteLength);
    let crc = crc32Chunked(bytes.subarray(8, 12));
    crc = crc32Chunked(bytes.subarray(FIXED), crc);
    if (
      bytes.byteLength !== header.size ||
      !Buffer.from(mappedJson.buffer, mappedJson.byteOffset, mappedJson.byteLength).equals(json) ||
      crc >>> 0 !== Buffer.from(bytes.buffer, bytes.byteOffset, FIXED).readUInt32LE(12)
    ) {
      file.close();
      return no('corrupt: checksum');
    }
    const bits = BITS[format];
    const tensors = new Map<string, QuantizedTensor>();
    let total = 0;
    let replaced = 0;
    for (const e of header.tensors) {
      const codesBytes = e.rows * e.blocksPerRow * ((blockSize * bits) / 8);
      if (
        e.codesBytes !== codesBytes ||
        e.scalesBytes !== 4 * e.rows * e.blocksPerRow ||
        e.blocksPerRow !== Math.ceil(e.cols / blockSize) ||
        e.scales % 4 !== 0 ||
        e.codes < FIXED + json.byteLength ||
        e.scales < FIXED + json.byteLength ||
        e.codes + e.codesBytes > header.size ||
        e.scales + e.scalesBytes > header.size
      ) {
        file.close();
        return no(`corrupt: entry '${e.param}'`);
      }
      tensors.set(e.param, {
        format,
        rows: e.rows,
        cols: e.cols,
        blockSize,
        blocksPerRow: e.blocksPerRow,
        codes: bytes.subarray(e.codes, e.codes + e.codesBytes),
        scales: new Float32Array(bytes.buffer, bytes.byteOffset + e.scales, e.scalesBytes / 4),
      });
      total += e.codesBytes + e.scalesBytes;
      replaced += 4 * e.rows * e.cols;
    }
    return { format, blockSize, tensors, bytes: total, replaced, file };
  } catch (e) {
    file.close();
    throw e;
  }
}

/** The header and its raw bytes, or why it cannot be read. Reads only the header's bytes. */
function readHeader(path: string): { header: Header; json: Buffer } | string {
  const fd = openSync(path, 'r');
  try {
    const fixed = Buffer.alloc(FIXED);
    if (readSync(fd, fixed, 0, FIXED, 0) !== FIXED) return 'corrupt: not a quantised-weights file';
    const magic = fixed.toString('latin1', 0, 8);
    if (magic !== MAGIC)
      return magic.startsWith('LABQNT') ? 'stale: an older layout' : 'corrupt: not a quantised-weights file';
    const n = fixed.readUInt32LE(8);
    if (n > 16 * 1024 * 1024) return 'corrupt: header length';
    const json = Buffer.alloc(n);
    if (readSync(fd, json, 0, n, FIXED) !== n) return 'corrupt: truncated header';
    try {
      const h = JSON.parse(json.toString('utf8')) as Header;
      if (!Array.isArray(h.tensors) || !Array.isArray(h.source) || typeof h.size !== 'number')
        return 'corrupt: header fields';
      return { header: h, json };
    } catch {
      return 'corrupt: header JSON';
    }
  } finally {
    closeSync(fd);
  }
}

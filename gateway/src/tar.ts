// A model folder as a POSIX ustar archive, streamed: the download behind "Download" on the Train page's
// checkpoints. The folder comes from svc-infer (GetModel), never from the client. What goes in is the Hugging
// Face model (config, weights, tokenizer and generation files, onnx/, a LoRA checkpoint's PEFT adapter/),
// not the lab's resume state (optimizer moments, trainer_state.json, the checkpoint manifest). Every file is
// opened before the first byte is sent, so a checkpoint that retention deletes during the download still
// arrives whole (an open file outlives its unlinking), and the length is known up front.
import { lstatSync, readdirSync, realpathSync } from 'node:fs';
import { type FileHandle, open } from 'node:fs/promises';
import { join, sep } from 'node:path';
import { LabError } from '@lab/common';

const BLOCK = 512;
const CHUNK = 1 << 20;
/** Subfolders deeper than this are not a model's (onnx/, adapter/ are one level down). */
const MAX_DEPTH = 3;

/** Resume state and leftovers that are not part of the model; paths relative to the folder. */
const EXCLUDED = new Set([
  'optimizer.safetensors',
  'trainer_state.json',
  'manifest.json',
  'adapter/adapter_optimizer.safetensors',
]);

/** Whether the relative path `rel` (with `/`) belongs in the download. */
export function isModelFile(rel: string): boolean {
  if (EXCLUDED.has(rel)) return false;
  const base = rel.slice(rel.lastIndexOf('/') + 1);
  return !base.includes('.tmp-');
}

export interface TarFile {
  /** Path inside the archive, with `/`. */
  name: string;
  size: number;
  mtimeSec: number;
  handle: FileHandle;
}

const inside = (real: string, root: string) =>
  real === root || real.startsWith(root.endsWith(sep) ? root : root + sep);

/**
 * Opens the model files of `dir` (regular files, dot-entries left out), each as `<top>/<relative path>`.
 * A symlink is followed only to a file inside the folder or under one of `roots` (the lab's data roots), so
 * a link planted in a registered folder cannot make the gateway send /etc/passwd.
 */
export async function openModelFiles(dir: string, top: string, roots: readonly string[]): Promise<TarFile[]> {
  const rootReal = realpathSync(dir);
  const allowed = [rootReal, ...roots.map((r) => realOr(r))];
  const rels: string[] = [];
  const walk = (abs: string, rel: string, depth: number) => {
    for (const entry of readdirSync(abs).sort()) {
      if (entry.startsWith('.')) continue;
      const a = join(abs, entry);
      const r = rel ? `${rel}/${entry}` : entry;
      const st = lstatSync(a);
      if (st.isDirectory()) {
        if (depth < MAX_DEPTH) walk(a, r, depth + 1);
      } else if (st.isFile() || st.isSymbolicLink()) {
        if (!isModelFile(r)) continue;
        if (st.isSymbolicLink()) {
          const real = realOr(a);
          if (!allowed.some((root) => inside(real, root))) continue;
        }
        rels.push(r);
      }
    }
  };
  walk(rootReal, '', 1);
  const files: TarFile[] = [];
  try {
    for (const rel of rels) {
      const handle = await open(join(rootReal, ...rel.split('/')), 'r');
      const st = await handle.stat().catch(async (err: unknown) => {
        await handle.close();
        throw err;
      });
      if (!st.isFile()) await handle.close();
      else
        files.push({ name: `${top}/${rel}`, size: st.size, mtimeSec: Math.floor(st.mtimeMs / 1000), handle });
    }
  } catch (err) {
    await Promise.all(files.map((f) => f.handle.close().catch(() => {})));
    throw err;
  }
  return files;
}

function realOr(p: string): string {
  try {
    return realpathSync(p);
  } catch {
    return p;
  }
}

/** Bytes the archive of `files` takes: a header and the padded data per file, and two zero blocks. */
export function tarBytes(files: readonly Pick<TarFile, 'size'>[]): number {
  let n = 2 * BLOCK;
  for (const f of files) n += BLOCK + Math.ceil(f.size / BLOCK) * BLOCK;
  return n;
}

function writeString(buf: Uint8Array, offset: number, length: number, s: string) {
  const bytes = Buffer.from(s, 'utf8');
  if (bytes.length > length) throw new Error(`tar: "${s}" is longer than ${length} bytes`);
  buf.set(bytes, offset);
}

/** A number as zero-padded octal with a NUL, or base-256 (GNU, read by every current tar) when too large. */
function writeNumber(buf: Uint8Array, offset: number, length: number, value: number) {
  const octal = value.toString(8);
  if (octal.length <= length - 1) {
    writeString(buf, offset, length, `${octal.padStart(length - 1, '0')}\0`);
    return;
  }
  let v = BigInt(value);
  for (let i = offset + length - 1; i > offset; i--) {
    buf[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  buf[offset] = 0x80;
}

/** A ustar header for a regular file; names over 100 bytes are split into prefix and name at a `/`. */
export function ustarHeader(f: Pick<TarFile, 'name' | 'size' | 'mtimeSec'>): Uint8Array {
  const h = new Uint8Array(BLOCK);
  let name = f.name;
  let prefix = '';
  if (Buffer.byteLength(name) > 100) {
    const cut = [...name.matchAll(/\//g)]
      .map((m) => m.index)
      .find((i) => Buffer.byteLength(name.slice(i + 1)) <= 100 && Buffer.byteLength(name.slice(0, i)) <= 155);
    if (cut === undefined) throw new Error(`tar: path too long for ustar: ${name}`);
    prefix = name.slice(0, cut);
    name = name.slice(cut + 1);
  }
  writeString(h, 0, 100, name);
  writeNumber(h, 100, 8, 0o644);
  writeNumber(h, 108, 8, 0);
  writeNumber(h, 116, 8, 0);
  writeNumber(h, 124, 12, f.size);
  writeNumber(h, 136, 12, f.mtimeSec);
  h.fill(0x20, 148, 156); // the checksum counts its own field as spaces
  h[156] = 0x30; // '0': regular file
  writeString(h, 257, 6, 'ustar\0');
  writeString(h, 263, 2, '00');
  writeString(h, 345, 155, prefix);
  let sum = 0;
  for (const b of h) sum += b;
  writeString(h, 148, 8, `${sum.toString(8).padStart(6, '0')}\0 `);
  return h;
}

/**
 * The archive as a byte stream, produced as it is read (one chunk of at most 1 MiB per pull, so a slow client
 * holds no more than that). The handles are closed at the end or when the reader cancels. A file that is
 * shorter than when it was opened errors the stream rather than sending a corrupt archive.
 */
export function tarStream(files: readonly TarFile[]): ReadableStream<Uint8Array> {
  let index = 0;
  let position = -1; // -1: the current file's header is next
  const closeAll = () => Promise.all(files.map((f) => f.handle.close().catch(() => {})));
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const f = files[index];
        if (!f) {
          controller.enqueue(new Uint8Array(2 * BLOCK));
          controller.close();
          await closeAll();
          return;
        }
        if (position < 0) {
          controller.enqueue(ustarHeader(f));
          position = 0;
          if (f.size === 0) {
            await f.handle.close().catch(() => {});
            index++;
            position = -1;
          }
          return;
        }
        const padded = Math.ceil(f.size / BLOCK) * BLOCK;
        const want = Math.min(CHUNK, padded - position);
        const buf = new Uint8Array(want);
        const dataLeft = Math.max(0, Math.min(want, f.size - position));
        let got = 0;
        while (got < dataLeft) {
          const { bytesRead } = await f.handle.read(buf, got, dataLeft - got, position + got);
          if (bytesRead === 0) throw new Error(`${f.name} became shorter while it was being sent`);
          got += bytesRead;
        }
        position += want;
        if (position >= padded) {
          await f.handle.close().catch(() => {});
          index++;
          position = -1;
        }
        controller.enqueue(buf);
      } catch (err) {
        await closeAll();
        controller.error(err);
      }
    },
    async cancel() {
      await closeAll();
    },
  });
}

/** A file-name-safe form of a model name (checkpoints are `<job>@<step>`). */
export function archiveName(model: string): string {
  const safe = model
    .replace(/[^A-Za-z0-9._@-]/g, '_')
    .replace(/^\.+/, '_')
    .slice(0, 90);
  if (!safe) throw new LabError('INVALID_ARGUMENT', 'name: required', 'name');
  return safe;
}

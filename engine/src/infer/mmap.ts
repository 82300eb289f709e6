// Memory from libc's mmap through koffi (Linux): read-only maps of weight files, and anonymous memory in
// huge pages. Why: on this VM the first touch of fresh memory costs ~2.6 ms per MB (the host backs guest
// pages lazily), so reading GPT-2 small's 498 MB into a new buffer took 1.4–2.2 s, while mapping the
// file, whose pages the page cache already holds, took 26 ms with MAP_POPULATE; the mapped bytes are
// handed to ONNX Runtime as they are. Where the engine does need new memory for weights (a transposed
// head), 2 MB pages halve the cost: 154 MB transposed in 0.39–0.60 s against 0.85–1.45 s into a new
// Float32Array, interleaved.
import { closeSync, fstatSync, openSync } from 'node:fs';

type Pointer = unknown;

interface Libc {
  mmap(addr: null, length: number, prot: number, flags: number, fd: number, offset: number): Pointer;
  munmap(addr: Pointer, length: number): number;
  madvise(addr: Pointer, length: number, advice: number): number;
  view(ptr: Pointer, length: number): ArrayBuffer;
  address(ptr: Pointer): bigint;
}

const PROT_READ = 1;
const PROT_WRITE = 2;
const MAP_PRIVATE = 2;
const MAP_ANONYMOUS = 0x20;
const MAP_NORESERVE = 0x4000;
const MAP_POPULATE = 0x8000;
const MADV_HUGEPAGE = 14;
const MAP_FAILED = (1n << 64n) - 1n;

let libc: Libc | null | undefined;

async function loadLibc(): Promise<Libc | null> {
  if (libc !== undefined) return libc;
  try {
    if (process.platform !== 'linux') throw new Error(`not on ${process.platform}`);
    const koffi = (await import('koffi')).default;
    const lib = koffi.load('libc.so.6');
    const mmap = lib.func('void * mmap(void *, size_t, int, int, int, int64_t)');
    const munmap = lib.func('int munmap(void *, size_t)');
    const madvise = lib.func('int madvise(void *, size_t, int)');
    libc = {
      mmap: (...a) => mmap(...a) as Pointer,
      munmap: (p, n) => munmap(p, n) as number,
      madvise: (p, n, a) => madvise(p, n, a) as number,
      view: (p, n) => koffi.view(p, n),
      address: (p) => koffi.address(p),
    };
  } catch {
    libc = null;
  }
  return libc;
}

export interface MappedFile {
  /** The whole file. Valid until close(); touching it afterwards crashes the process. */
  readonly bytes: Uint8Array;
  /**
   * Which file was mapped, from the descriptor mapped rather than the path: the path may name another file
   * by the time anyone asks (a checkpoint renamed into place).
   */
  readonly id: MappedFileId;
  close(): void;
}

/** A file's identity as fstat gives it (strings, so it crosses to worker threads and into JSON). */
export interface MappedFileId {
  dev: string;
  ino: string;
  size: number;
  mtimeNs: string;
}

/** Whether mapFile can map files here (Linux with koffi); elsewhere it always returns null. */
export async function mappingAvailable(): Promise<boolean> {
  return (await loadLibc()) !== null;
}

/** The file mapped read-only with its pages populated, or null where mapping is unavailable. */
export async function mapFile(path: string): Promise<MappedFile | null> {
  const c = await loadLibc();
  if (!c) return null;
  const fd = openSync(path, 'r');
  try {
    const st = fstatSync(fd, { bigint: true });
    const size = Number(st.size);
    if (size === 0) return null;
    const id = { dev: String(st.dev), ino: String(st.ino), size, mtimeNs: String(st.mtimeNs) };
    const ptr = c.mmap(null, size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
    if (!ptr || c.address(ptr) === MAP_FAILED) return null;
    let open = true;
    return {
      bytes: new Uint8Array(c.view(ptr, size)),
      id,
      close: () => {
        if (open) c.munmap(ptr, size);
        open = false;
      },
    };
  } finally {
    // The mapping keeps the file's pages; the descriptor is not needed after mmap.
    closeSync(fd);
  }
}

export interface Pages {
  /** Zeroed memory; valid until free(). */
  readonly array: Float32Array;
  /** Whether the memory is a mapping (pages touched only when first written) rather than a Float32Array. */
  readonly mapped: boolean;
  free(): void;
}

/** Whether allocPagesSync maps memory now (pagesAvailable() has loaded libc). */
export function pagesLoaded(): boolean {
  return !!libc;
}

/** Load libc for allocPagesSync; false where it is unavailable (allocPagesSync then makes Float32Arrays). */
export async function pagesAvailable(): Promise<boolean> {
  return (await loadLibc()) !== null;
}

/** `length` floats of anonymous memory in huge pages where the kernel allows, else a plain Float32Array. */
export async function allocPages(length: number): Promise<Pages> {
  await loadLibc();
  return allocPagesSync(length, true);
}

/**
 * `length` floats of anonymous memory (after pagesAvailable()), else a Float32Array. Ordinary pages are
 * touched, and so cost, only where written: a KV buffer for the whole context costs what its tokens use.
 * MAP_NORESERVE keeps a large, mostly unused buffer from counting against the commit limit.
 */
export function allocPagesSync(length: number, huge: boolean): Pages {
  const c = libc;
  const bytes = 4 * length;
  const flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE;
  const ptr = c && bytes > 0 ? c.mmap(null, bytes, PROT_READ | PROT_WRITE, flags, -1, 0) : null;
  if (!c || !ptr || c.address(ptr) === MAP_FAILED)
    return { array: new Float32Array(length), mapped: false, free: () => {} };
  // Advice only: without transparent huge pages the memory is ordinary pages.
  if (huge) c.madvise(ptr, bytes, MADV_HUGEPAGE);
  return { array: new Float32Array(c.view(ptr, bytes)), mapped: true, free: unmapper(c, ptr, bytes) };
}

/** A once-only munmap that holds no reference to the memory's views (a finalizer may call it). */
function unmapper(c: Libc, ptr: Pointer, bytes: number): () => void {
  let live = true;
  return () => {
    if (live) c.munmap(ptr, bytes);
    live = false;
  };
}

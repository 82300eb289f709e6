// KV-cache states as immutable snapshots over shared, append-only buffers. A snapshot is (store, length):
// the store's first `length` positions of every layer. Continuing the snapshot that ends where its store's
// writes end appends in place; continuing any other (an older state, a second branch of a beam) copies its
// prefix into a new store first, so no snapshot ever sees another's tokens. A store that is full is
// replaced the same way, by one twice its size.
// Stores are anonymous mappings where libc is at hand (mmap.ts): pages cost only once written, so a store
// can hold the whole context from the start. A new GPT-2 small request otherwise zeroed 4.7 MB of fresh
// memory for a 64-position buffer, ~2.6 ms per MB on this VM; a 16-token prompt writes a quarter of that.
// Even so each fresh page costs 17–45 µs here (the host backs it): a 16-token GPT-2 small prompt touches
// 288 (one per layer, key/value and head), 5–13 ms, and decoding as many every 16 tokens. So the mapping
// of a collected store goes to a pool, and new stores of its size take it, pages already backed.
import { headDim, type ModelConfig } from '../models/config.ts';
import { allocPagesSync, type Pages } from './mmap.ts';

/** Mappings of collected stores by byte size, stale contents and all (a store reads only what it wrote). */
const pool = new Map<number, Pages[]>();
let pooled = 0;
/** The pool keeps at most this many bytes; mappings beyond are unmapped. */
const POOL_BYTES = 512 * 1024 * 1024;

/** Pools (or unmaps) a store's memory once nothing can reach the store (a run in flight holds its store). */
const recycle = new FinalizationRegistry<Pages>((pages) => {
  const bytes = pages.array.byteLength;
  if (pooled + bytes > POOL_BYTES) return pages.free();
  const free = pool.get(bytes) ?? [];
  free.push(pages);
  pool.set(bytes, free);
  pooled += bytes;
});

function take(length: number): Pages {
  const reused = pool.get(4 * length)?.pop();
  if (!reused) return allocPagesSync(length, false);
  pooled -= reused.array.byteLength;
  return reused;
}

/** A model's KV cache after some tokens: cheap to keep, safe to continue more than once. */
export interface KvCache {
  /** Tokens the cache holds. */
  readonly length: number;
}

/** Keys and values of every layer, each [1, kvHeads, capacity, headDim]. */
export class KvStore {
  /** Positions written (or claimed by a run in flight): only a snapshot this long may append in place. */
  end = 0;

  constructor(
    readonly keys: readonly Float32Array[],
    readonly values: readonly Float32Array[],
    readonly capacity: number,
    /** Whether the memory is touched only where written (see capacityFor). */
    readonly lazy = false,
  ) {}

  static alloc(cfg: ModelConfig, capacity: number): KvStore {
    const n = cfg.nKvHead * capacity * headDim(cfg);
    const pages = take(2 * cfg.nLayer * n);
    const part = (k: number) => pages.array.subarray(k * n, (k + 1) * n);
    const store = new KvStore(
      Array.from({ length: cfg.nLayer }, (_, i) => part(i)),
      Array.from({ length: cfg.nLayer }, (_, i) => part(cfg.nLayer + i)),
      capacity,
      pages.mapped,
    );
    if (pages.mapped) recycle.register(store, pages);
    return store;
  }

  /** A new store of `capacity` holding this one's first `length` positions. */
  copyPrefix(cfg: ModelConfig, length: number, capacity: number): KvStore {
    const to = KvStore.alloc(cfg, capacity);
    const d = headDim(cfg);
    const rows = length * d;
    const copy = (src: Float32Array, dst: Float32Array) => {
      for (let h = 0; h < cfg.nKvHead; h++)
        dst.set(src.subarray(h * this.capacity * d, h * this.capacity * d + rows), h * capacity * d);
    };
    for (let i = 0; i < cfg.nLayer; i++) {
      copy(this.keys[i], to.keys[i]);
      copy(this.values[i], to.values[i]);
    }
    to.end = length;
    return to;
  }
}

/** The engine's KvCache: which model made it, its store, and how many of the store's positions are its own. */
export class Snapshot implements KvCache {
  constructor(
    readonly owner: object,
    readonly store: KvStore,
    readonly length: number,
  ) {}
}

/**
 * Capacity of a new store for `total` positions: a power of two from 64, capped at the context; from 4,096
 * where pages cost only once written (`lazy`), which for GPT-2's and nanoGPT's contexts is all of it.
 */
export function capacityFor(total: number, blockSize: number, lazy: boolean): number {
  let cap = lazy ? 4096 : 64;
  while (cap < total) cap *= 2;
  return Math.min(cap, blockSize);
}

/** Bytes the KV cache of one token takes (keys and values of every layer, float32). */
export function kvBytesPerToken(cfg: ModelConfig): number {
  return 2 * cfg.nLayer * cfg.nKvHead * headDim(cfg) * 4;
}

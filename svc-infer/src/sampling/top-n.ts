/**
 * The n best (key, id) pairs out of a stream, in O(stream · log n) and without sorting the stream: a
 * 50,257-token vocabulary is scanned every token, and only its head (top-k, top logprobs, the beam
 * candidates) is ever needed in order.
 *
 * Order: larger key first; equal keys → smaller id first, so every selection in this package breaks
 * ties the same way (lowest token id wins, as greedy's argmax does).
 */
export class TopN {
  private keys: Float64Array;
  private ids: Float64Array;
  private size = 0;
  private limit = 0;

  constructor(capacity: number) {
    this.keys = new Float64Array(Math.max(1, capacity));
    this.ids = new Float64Array(Math.max(1, capacity));
  }

  /** Start a new selection of at most `n` entries (grows the buffers if needed). */
  reset(n: number): void {
    if (n > this.keys.length) {
      this.keys = new Float64Array(n);
      this.ids = new Float64Array(n);
    }
    this.size = 0;
    this.limit = n;
  }

  get count(): number {
    return this.size;
  }

  /**
   * Whether `key` could enter the selection; callers test this inline before `offer` so the common case
   * (a token far below the head) costs one comparison and no call.
   */
  wants(key: number): boolean {
    return this.size < this.limit || key > this.keys[0];
  }

  /** Offer one entry; ids must be offered in increasing order for ties to favour the smaller id. */
  offer(key: number, id: number): void {
    if (this.limit === 0 || !(key > Number.NEGATIVE_INFINITY)) return;
    const keys = this.keys;
    const ids = this.ids;
    if (this.size < this.limit) {
      // sift up a new leaf
      let i = this.size++;
      while (i > 0) {
        const p = (i - 1) >> 1;
        if (!worse(key, id, keys[p], ids[p])) break;
        keys[i] = keys[p];
        ids[i] = ids[p];
        i = p;
      }
      keys[i] = key;
      ids[i] = id;
      return;
    }
    if (!worse(keys[0], ids[0], key, id)) return;
    this.siftDown(0, key, id, this.size);
  }

  /**
   * Empties the selection into `outIds` / `outKeys` best first; returns how many. Heap-sorts in place:
   * popping the worst entry into the freed last slot leaves the array best first.
   */
  drain(outIds: Int32Array | Float64Array | number[], outKeys?: Float64Array | number[]): number {
    const n = this.size;
    const keys = this.keys;
    const ids = this.ids;
    for (let end = n - 1; end > 0; end--) {
      const k = keys[0];
      const id = ids[0];
      this.siftDown(0, keys[end], ids[end], end);
      keys[end] = k;
      ids[end] = id;
    }
    for (let i = 0; i < n; i++) {
      outIds[i] = ids[i];
      if (outKeys) outKeys[i] = keys[i];
    }
    this.size = 0;
    return n;
  }

  private siftDown(start: number, key: number, id: number, size: number): void {
    const keys = this.keys;
    const ids = this.ids;
    let i = start;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= size) break;
      const r = l + 1;
      const c = r < size && worse(keys[r], ids[r], keys[l], ids[l]) ? r : l;
      if (!worse(keys[c], ids[c], key, id)) break;
      keys[i] = keys[c];
      ids[i] = ids[c];
      i = c;
    }
    keys[i] = key;
    ids[i] = id;
  }
}

/** The heap keeps its worst entry at the root. */
function worse(ka: number, ia: number, kb: number, ib: number): boolean {
  return ka < kb || (ka === kb && ia > ib);
}

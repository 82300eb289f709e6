// Token shards: plain little-endian uint16 (vocabulary ≤ 65,536) or uint32 arrays in `<split>_<k>.bin`
// files with an `index.json`. The files are raw arrays, so numpy.memmap / np.fromfile read them as is; the
// reader here streams or samples batches with positioned reads, never loading a whole split.
//
// Used by svc-train: `openShards(dir).split('train').batch(batchSize, seqLen, rng)`.
import { closeSync, mkdirSync, openSync, readFileSync, readSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';

export type Dtype = 'uint16' | 'uint32';

export interface ShardIndexJson {
  format: 'lab-shards/1';
  dtype: Dtype;
  /** Always little-endian. */
  endianness: 'little';
  tokenizer: string;
  vocabSize: number;
  /** Token between documents, or -1. */
  separatorId: number;
  /** Splits in order (train, val, test, or "all"). */
  splits: { name: string; tokens: number; documents: number; files: { file: string; tokens: number }[] }[];
  tokens: number;
  /** Where the tokens came from. */
  source?: { datasetId: string; version: number };
  createdAt: string;
}

export const dtypeFor = (vocabSize: number): Dtype => (vocabSize <= 65_536 ? 'uint16' : 'uint32');
const bytesOf = (d: Dtype) => (d === 'uint16' ? 2 : 4);

/** Writes shards: `add(split, ids)` per document, then `finish()` writes index.json. */
export class ShardWriter {
  readonly dtype: Dtype;
  private readonly splits = new Map<
    string,
    {
      fd: number;
      fileTokens: number;
      files: { file: string; tokens: number }[];
      documents: number;
      tokens: number;
    }
  >();

  constructor(
    readonly dir: string,
    private readonly o: {
      tokenizer: string;
      vocabSize: number;
      separatorId: number;
      shardTokens: number;
      source?: { datasetId: string; version: number };
    },
  ) {
    this.dtype = dtypeFor(o.vocabSize);
    mkdirSync(dir, { recursive: true });
  }

  private open(name: string, k: number) {
    const file = `${name}_${String(k).padStart(4, '0')}.bin`;
    return { file, fd: openSync(join(this.dir, file), 'w') };
  }

  /** Appends one document's ids (and the separator, when there is one) to a split. */
  add(split: string, ids: ArrayLike<number>): void {
    let s = this.splits.get(split);
    if (!s) {
      const { file, fd } = this.open(split, 0);
      s = { fd, fileTokens: 0, files: [{ file, tokens: 0 }], documents: 0, tokens: 0 };
      this.splits.set(split, s);
    }
    s.documents++;
    const sep = this.o.separatorId >= 0 ? 1 : 0;
    const all = new (this.dtype === 'uint16' ? Uint16Array : Uint32Array)(ids.length + sep);
    for (let i = 0; i < ids.length; i++) all[i] = ids[i]!;
    if (sep) all[ids.length] = this.o.separatorId;
    let pos = 0;
    while (pos < all.length) {
      if (s.fileTokens >= this.o.shardTokens) {
        closeSync(s.fd);
        const next = this.open(split, s.files.length);
        s.fd = next.fd;
        s.fileTokens = 0;
        s.files.push({ file: next.file, tokens: 0 });
      }
      const take = Math.min(all.length - pos, this.o.shardTokens - s.fileTokens);
      const part = all.subarray(pos, pos + take);
      // Typed arrays are in the platform's byte order; every platform Node runs on is little-endian.
      writeSync(s.fd, new Uint8Array(part.buffer, part.byteOffset, part.byteLength));
      s.fileTokens += take;
      s.files.at(-1)!.tokens += take;
      s.tokens += take;
      pos += take;
    }
  }

  finish(): ShardIndexJson {
    const order = ['train', 'val', 'test', 'all'];
    const names = [...this.splits.keys()].sort(
      (a, b) => (order.indexOf(a) + 1 || 99) - (order.indexOf(b) + 1 || 99) || a.localeCompare(b),
    );
    const splits = names.map((name) => {
      const s = this.splits.get(name)!;
      closeSync(s.fd);
      return { name, tokens: s.tokens, documents: s.documents, files: s.files };
    });
    const index: ShardIndexJson = {
      format: 'lab-shards/1',
      dtype: this.dtype,
      endianness: 'little',
      tokenizer: this.o.tokenizer,
      vocabSize: this.o.vocabSize,
      separatorId: this.o.separatorId,
      splits,
      tokens: splits.reduce((a, s) => a + s.tokens, 0),
      ...(this.o.source ? { source: this.o.source } : {}),
      createdAt: new Date().toISOString(),
    };
    writeFileSync(join(this.dir, 'index.json'), `${JSON.stringify(index, null, 2)}\n`);
    return index;
  }
}

/** A batch for next-token prediction: `targets` is `inputs` shifted by one; both batchSize × seqLen. */
export interface Batch {
  inputs: Int32Array;
  targets: Int32Array;
  batchSize: number;
  seqLen: number;
}

/** Reads one split's tokens across its files with positioned reads. */
export class ShardSplit {
  readonly tokens: number;
  readonly documents: number;
  private readonly fds: number[] = [];
  private readonly starts: number[] = [];
  private readonly width: number;

  constructor(
    readonly dir: string,
    readonly name: string,
    readonly dtype: Dtype,
    readonly files: { file: string; tokens: number }[],
    documents: number,
  ) {
    this.width = bytesOf(dtype);
    let start = 0;
    for (const f of files) {
      this.starts.push(start);
      start += f.tokens;
    }
    this.tokens = start;
    this.documents = documents;
  }

  private fd(i: number): number {
    this.fds[i] ??= openSync(join(this.dir, this.files[i]!.file), 'r');
    return this.fds[i]!;
  }

  /** Tokens [start, start + length) as a Uint32Array (spanning files as needed). */
  read(start: number, length: number, out = new Uint32Array(length)): Uint32Array {
    if (start < 0 || length < 0 || start + length > this.tokens)
      throw new RangeError(`read(${start}, ${length}) is outside the ${this.tokens} tokens of ${this.name}`);
    let f = 0;
    while (f + 1 < this.files.length && this.starts[f + 1]! <= start) f++;
    let done = 0;
    while (done < length) {
      const inFile = start + done - this.starts[f]!;
      const take = Math.min(length - done, this.files[f]!.tokens - inFile);
      const buf = Buffer.alloc(take * this.width);
      readSync(this.fd(f), buf, 0, buf.length, inFile * this.width);
      for (let i = 0; i < take; i++)
        out[done + i] = this.width === 2 ? buf.readUInt16LE(i * 2) : buf.readUInt32LE(i * 4);
      done += take;
      f++;
    }
    return out;
  }

  /** Streams the split in chunks of `chunkTokens`. */
  *chunks(chunkTokens = 1 << 20): Generator<Uint32Array> {
    for (let pos = 0; pos < this.tokens; pos += chunkTokens)
      yield this.read(pos, Math.min(chunkTokens, this.tokens - pos));
  }

  /** A random batch of windows of seqLen + 1 tokens; `random` returns [0, 1) (pass a seeded one for repeatability). */
  batch(batchSize: number, seqLen: number, random: () => number = Math.random): Batch {
    if (this.tokens < seqLen + 1)
      throw new RangeError(
        `split ${this.name} has ${this.tokens} tokens, fewer than seqLen + 1 = ${seqLen + 1}`,
      );
    const inputs = new Int32Array(batchSize * seqLen);
    const targets = new Int32Array(batchSize * seqLen);
    const win = new Uint32Array(seqLen + 1);
    for (let b = 0; b < batchSize; b++) {
      const start = Math.floor(random() * (this.tokens - seqLen));
      this.read(start, seqLen + 1, win);
      inputs.set(win.subarray(0, seqLen), b * seqLen);
      targets.set(win.subarray(1), b * seqLen);
    }
    return { inputs, targets, batchSize, seqLen };
  }

  close(): void {
    for (const fd of this.fds) if (fd !== undefined) closeSync(fd);
    this.fds.length = 0;
  }
}

export interface ShardSet {
  index: ShardIndexJson;
  /** Names of the splits present. */
  names: string[];
  /** A split's reader; throws listing the splits present when there is no such split. */
  split(name: string): ShardSplit;
  close(): void;
}

/** Opens a shard folder written by svc-data (its index.json). */
export function openShards(dir: string): ShardSet {
  let index: ShardIndexJson;
  try {
    index = JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8')) as ShardIndexJson;
  } catch (err) {
    throw new Error(`no shard index at ${join(dir, 'index.json')}: ${(err as Error).message}`);
  }
  if (index.format !== 'lab-shards/1')
    throw new Error(`${dir}: unknown shard format ${String(index.format)}`);
  const open = new Map<string, ShardSplit>();
  return {
    index,
    names: index.splits.map((s) => s.name),
    split(name: string) {
      const s = index.splits.find((x) => x.name === name);
      if (!s)
        throw new Error(
          `no split "${name}" in ${dir} (splits: ${index.splits.map((x) => x.name).join(', ')})`,
        );
      let r = open.get(name);
      if (!r) {
        r = new ShardSplit(dir, name, index.dtype, s.files, s.documents);
        open.set(name, r);
      }
      return r;
    },
    close() {
      for (const r of open.values()) r.close();
    },
  };
}

/** A whole shard file as a typed array (for small files, or to hand to something that wants an array). */
export function loadShardFile(path: string, dtype: Dtype): Uint16Array | Uint32Array {
  const b = readFileSync(path);
  const copy = b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength);
  return dtype === 'uint16' ? new Uint16Array(copy) : new Uint32Array(copy);
}

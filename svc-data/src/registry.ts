// Datasets and their immutable versions. Documents live on disk under
// `<home>/data/datasets/<id>/v<N>/` as `docs.jsonl` (one {"text", "split"?, "fields"?} per line) with `offsets.bin`
// (little-endian float64 byte offsets of each line, plus the end) for paging; metadata and step reports live
// in the service's lmdb store. A version is written to a temporary folder and renamed into place before its
// metadata is stored, so a failed ingest or transform leaves nothing behind.
import { randomBytes } from 'node:crypto';
import {
  closeSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  renameSync,
  rmSync,
  statSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { LabError, type Store } from '@lab/common';
import { DOCUMENT_KINDS, type DocumentKind } from './quality.ts';

export interface Doc {
  text: string;
  split?: string;
  /** The source record's other scalar fields (labels, ids), carried through every step. */
  fields?: Record<string, string>;
}

/** One step's report, as stored (the proto StepReport in plain form). */
export interface StepReportRecord {
  kind: string;
  paramsJson: string;
  documentsIn: number;
  documentsOut: number;
  /** Absent in reports stored before characters were counted. */
  charactersIn: number;
  charactersOut: number;
  removed: Record<string, number>;
  counts: Record<string, number>;
  examples: {
    reason: string;
    before: string;
    after: string;
    index: number;
    keptIndex: number;
    similarity: number;
    measure: string;
    value: number;
    limit: number;
    limitKind: string;
  }[];
  clusters: number;
  durationMs: number;
  warnings: string[];
}

export interface VersionRecord {
  version: number;
  parent: number;
  step: string;
  paramsJson: string;
  documents: number;
  characters: number;
  bytes: number;
  splits: Record<string, number>;
  createdAt: string;
}

export interface DatasetRecord {
  id: string;
  name: string;
  source: string;
  format: string;
  createdAt: string;
  versions: VersionRecord[];
  /** What one document is; absent in records made before it was kept (then read from v1's parameters). */
  documentKind?: DocumentKind;
  /**
   * The highest version number ever given: numbers of deleted versions are not reused, so a job that names
   * `id@3` never silently reads other data. Absent before the first deletion.
   */
  lastVersion?: number;
}

export interface ReportRecord {
  reports: StepReportRecord[];
  warnings: string[];
}

/** What one document of a dataset is, from how it was read (txt: its document split; others: a record). */
export function documentKindOf(d: DatasetRecord): DocumentKind {
  if (d.documentKind) return d.documentKind;
  try {
    const p = JSON.parse(d.versions[0]?.paramsJson ?? '{}') as { format?: string; documentSplit?: string };
    if (p.format !== 'txt') return 'record';
    return (DOCUMENT_KINDS as readonly string[]).includes(p.documentSplit ?? '')
      ? (p.documentSplit as DocumentKind)
      : 'paragraph';
  } catch {
    return 'record';
  }
}

/** Bytes of the files under a folder. */
export function folderBytes(path: string): number {
  let total = 0;
  try {
    for (const e of readdirSync(path, { withFileTypes: true })) {
      const p = join(path, e.name);
      total += e.isDirectory() ? folderBytes(p) : statSync(p).size;
    }
  } catch {}
  return total;
}

const STALE_TMP_MS = 6 * 60 * 60 * 1000;
const ID_RE = /^[a-z0-9][a-z0-9-]{0,80}$/;
const dsKey = (id: string) => `dataset:${id}`;
const reportKey = (id: string, v: number) => `report:${id}:${v}`;

/** A version written to a temporary folder, ready to commit. */
export interface FinishedVersion {
  tmp: string;
  documents: number;
  characters: number;
  bytes: number;
  splits: Record<string, number>;
}

/** Writes one version's documents into a temporary folder; `commit` moves it into place. */
export class VersionWriter {
  readonly tmp: string;
  private readonly fd: number;
  private buf: string[] = [];
  private bufLen = 0;
  private offsets: number[] = [0];
  private pos = 0;
  documents = 0;
  characters = 0;
  splits: Record<string, number> = {};

  constructor(root: string) {
    mkdirSync(root, { recursive: true });
    this.tmp = join(root, `.tmp-${randomBytes(6).toString('hex')}`);
    mkdirSync(this.tmp);
    this.fd = openSync(join(this.tmp, 'docs.jsonl'), 'w');
  }

  add(doc: Doc): void {
    const line = `${JSON.stringify({
      text: doc.text,
      ...(doc.split ? { split: doc.split } : {}),
      ...(doc.fields ? { fields: doc.fields } : {}),
    })}\n`;
    const bytes = Buffer.byteLength(line);
    this.pos += bytes;
    this.offsets.push(this.pos);
    this.documents++;
    this.characters += doc.text.length;
    if (doc.split) this.splits[doc.split] = (this.splits[doc.split] ?? 0) + 1;
    this.buf.push(line);
    this.bufLen += bytes;
    if (this.bufLen > 1 << 20) this.flush();
  }

  private flush(): void {
    if (!this.buf.length) return;
    writeSync(this.fd, this.buf.join(''));
    this.buf = [];
    this.bufLen = 0;
  }

  /** Closes the files; the result is what `DatasetRegistry.commit` takes. */
  finish(): FinishedVersion {
    const bytes = this.close();
    return {
      tmp: this.tmp,
      documents: this.documents,
      characters: this.characters,
      bytes,
      splits: this.splits,
    };
  }

  private close(): number {
    this.flush();
    closeSync(this.fd);
    const off = Buffer.from(new Float64Array(this.offsets).buffer);
    const fd = openSync(join(this.tmp, 'offsets.bin'), 'w');
    writeSync(fd, off);
    closeSync(fd);
    return this.pos;
  }

  abort(): void {
    try {
      closeSync(this.fd);
    } catch {}
    rmSync(this.tmp, { recursive: true, force: true });
  }
}

export class DatasetRegistry {
  readonly root: string;

  constructor(
    private readonly store: Store,
    home: string,
  ) {
    this.root = join(home, 'data', 'datasets');
    mkdirSync(this.root, { recursive: true });
    // Leftovers of a run that died mid-write. Only old ones: a CLI working in-process on the same home must
    // not delete what a running server is writing now.
    for (const d of readdirSync(this.root)) {
      if (!d.startsWith('.tmp-')) continue;
      const path = join(this.root, d);
      try {
        if (Date.now() - statSync(path).mtimeMs > STALE_TMP_MS)
          rmSync(path, { recursive: true, force: true });
      } catch {}
    }
  }

  newId(name: string): string {
    const slug =
      name
        .toLowerCase()
        .replace(/\.[a-z0-9]+(\.gz)?$/, '')
        .replace(/[^a-z0-9]+/g, '-')
        .replace(/^-+|-+$/g, '')
        .slice(0, 40) || 'dataset';
    return `${slug}-${randomBytes(3).toString('hex')}`;
  }

  list(): DatasetRecord[] {
    const out: DatasetRecord[] = [];
    for (const { value } of this.store.getRange({ start: 'dataset:', end: 'dataset;' }))
      out.push(value as DatasetRecord);
    return out.sort((a, b) => b.createdAt.localeCompare(a.createdAt) || b.id.localeCompare(a.id));
  }

  get(id: string, field = 'id'): DatasetRecord {
    const rec = ID_RE.test(id) ? (this.store.get(dsKey(id)) as DatasetRecord | undefined) : undefined;
    if (!rec) throw new LabError('NOT_FOUND', `${field}: no dataset "${id}"`, field);
    return rec;
  }

  /** A version (0 = latest) of a dataset, or NOT_FOUND naming `version`. */
  version(
    id: string,
    version: number,
    field = 'datasetId',
  ): { dataset: DatasetRecord; version: VersionRecord } {
    const dataset = this.get(id, field);
    const v = version === 0 ? dataset.versions.at(-1) : dataset.versions.find((x) => x.version === version);
    if (!v) {
      throw new LabError(
        'NOT_FOUND',
        `version: dataset "${id}" has no version ${version} (versions: ${dataset.versions.map((x) => x.version).join(', ')})`,
        'version',
      );
    }
    return { dataset, version: v };
  }

  dir(id: string, version: number): string {
    return join(this.root, id, `v${version}`);
  }

  writer(): VersionWriter {
    return new VersionWriter(this.root);
  }

  /** Drops a temporary folder of a version that will not be committed. */
  discard(tmp: string): void {
    if (tmp.startsWith(join(this.root, '.tmp-'))) rmSync(tmp, { recursive: true, force: true });
  }

  /** Moves a finished version into place and records it; the version number is taken here. */
  commit(
    w: FinishedVersion,
    meta: {
      id: string;
      dataset?: Omit<DatasetRecord, 'versions'>;
      parent: number;
      step: string;
      paramsJson: string;
      report: ReportRecord;
    },
  ): { dataset: DatasetRecord; version: VersionRecord } {
    const bytes = w.bytes;
    const existing = meta.dataset ? undefined : this.get(meta.id);
    const dataset: DatasetRecord = existing ?? { ...meta.dataset!, versions: [] };
    const number = Math.max(dataset.lastVersion ?? 0, ...dataset.versions.map((v) => v.version)) + 1;
    const version: VersionRecord = {
      version: number,
      parent: meta.parent,
      step: meta.step,
      paramsJson: meta.paramsJson,
      documents: w.documents,
      characters: w.characters,
      bytes,
      splits: w.splits,
      createdAt: new Date().toISOString(),
    };
    const dir = this.dir(meta.id, number);
    mkdirSync(join(this.root, meta.id), { recursive: true });
    rmSync(dir, { recursive: true, force: true });
    renameSync(w.tmp, dir);
    const next = { ...dataset, versions: [...dataset.versions, version] };
    this.store.putSync(reportKey(meta.id, number), meta.report);
    this.store.putSync(dsKey(meta.id), next);
    return { dataset: next, version };
  }

  /**
   * Deletes one version, or the whole dataset when `version` is undefined; returns the versions deleted and
   * the bytes freed. The record changes first, so a crash part-way leaves only files nothing refers to, in a
   * `.tmp-` folder the next start removes.
   */
  remove(id: string, version?: number): { versions: number[]; bytes: number } {
    const dataset = this.get(id, 'datasetId');
    const gone =
      version === undefined ? dataset.versions : dataset.versions.filter((v) => v.version === version);
    const dirs = version === undefined ? [join(this.root, id)] : gone.map((v) => this.dir(id, v.version));
    const bytes = dirs.reduce((n, d) => n + folderBytes(d), 0);
    if (version === undefined) this.store.removeSync(dsKey(id));
    else {
      const versions = dataset.versions.filter((v) => v.version !== version);
      const lastVersion = Math.max(dataset.lastVersion ?? 0, ...dataset.versions.map((v) => v.version));
      this.store.putSync(dsKey(id), { ...dataset, versions, lastVersion });
    }
    for (const v of gone) this.store.removeSync(reportKey(id, v.version));
    for (const d of dirs) {
      const aside = join(this.root, `.tmp-deleted-${randomBytes(6).toString('hex')}`);
      try {
        renameSync(d, aside);
      } catch {
        continue;
      }
      rmSync(aside, { recursive: true, force: true });
    }
    return { versions: gone.map((v) => v.version), bytes };
  }

  report(id: string, version: number): ReportRecord {
    return (
      (this.store.get(reportKey(id, version)) as ReportRecord | undefined) ?? { reports: [], warnings: [] }
    );
  }

  private offsets(id: string, version: number): Float64Array {
    const b = readFileSync(join(this.dir(id, version), 'offsets.bin'));
    return new Float64Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
  }

  /** All documents of a version, streamed from disk. */
  documents(id: string, version: number): Generator<Doc> {
    return readDocs(this.dir(id, version));
  }

  /** Documents [offset, offset + limit) of a version, read by byte range; with `split`, of that split only. */
  page(
    id: string,
    version: number,
    offset: number,
    limit: number,
    split: string,
  ): { total: number; docs: (Doc & { index: number })[] } {
    const off = this.offsets(id, version);
    const n = off.length - 1;
    const fd = openSync(join(this.dir(id, version), 'docs.jsonl'), 'r');
    const read = (i: number): Doc => {
      const len = off[i + 1]! - off[i]!;
      const b = Buffer.alloc(len);
      readSync(fd, b, 0, len, off[i]!);
      return JSON.parse(b.toString('utf8')) as Doc;
    };
    try {
      if (!split) {
        const docs = [];
        for (let i = offset; i < Math.min(n, offset + limit); i++) docs.push({ index: i, ...read(i) });
        return { total: n, docs };
      }
      const docs = [];
      let seen = 0;
      for (let i = 0; i < n; i++) {
        const d = read(i);
        if (d.split !== split) continue;
        if (seen >= offset && docs.length < limit) docs.push({ index: i, ...d });
        seen++;
      }
      return { total: seen, docs };
    } finally {
      closeSync(fd);
    }
  }
}

/** Documents of a version folder, streamed. */
export function* readDocs(dir: string): Generator<Doc> {
  const fd = openSync(join(dir, 'docs.jsonl'), 'r');
  try {
    const buf = Buffer.alloc(4 << 20);
    let rest = Buffer.alloc(0);
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      // Decode only up to the last newline, so no multi-byte character is cut in two.
      const chunk = rest.length ? Buffer.concat([rest, buf.subarray(0, n)]) : buf.subarray(0, n);
      const end = chunk.lastIndexOf(10);
      rest = Buffer.from(chunk.subarray(end + 1));
      if (end < 0) continue;
      for (const l of chunk.toString('utf8', 0, end).split('\n')) if (l) yield JSON.parse(l) as Doc;
    }
    if (rest.length) yield JSON.parse(rest.toString('utf8')) as Doc;
  } finally {
    closeSync(fd);
  }
}

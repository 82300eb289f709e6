import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createWriteStream, existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { basename, join } from 'node:path';
import {
  bindService,
  type CallContext,
  confinePath,
  fetchTokenizerJson,
  LabError,
  type ServiceBinding,
  type ServiceDeps,
  type ServiceImpl,
} from '@lab/common';
import {
  DataServiceService,
  type Dataset,
  type DatasetVersion,
  type IngestEvent,
  type ShardIndex,
  type StepReport,
  type TokenChunk,
  type TokenizeEvent,
  type TransformEvent,
  type UploadChunk,
} from '@lab/proto/data';
import { isBuiltinName } from '@lab/tokenizer';
import { findDependents, listTrainJobs } from './dependents.ts';
import {
  checkFile,
  DEFAULT_MAX_BYTES,
  DOCUMENT_SPLITS,
  type DocumentSplit,
  type Format,
  formatOf,
  type ReadState,
  readDocuments,
} from './ingest.ts';
import type { TokenizerSpec, TransformResult } from './jobs.ts';
import { qualityDefaults } from './quality.ts';
import {
  type DatasetRecord,
  DatasetRegistry,
  documentKindOf,
  folderBytes,
  type StepReportRecord,
  type VersionRecord,
} from './registry.ts';
import { resultOf, runInWorker } from './run-worker.ts';
import { openShards, type ShardIndexJson } from './shards.ts';
import type { Stats } from './stats.ts';
import { parseSteps, stepDefaults } from './steps.ts';

type Impl = ServiceImpl<typeof DataServiceService>;
const invalid = (field: string, message: string) =>
  new LabError('INVALID_ARGUMENT', `${field}: ${message}`, field);
/** Progress events at most this often. */
const PROGRESS_MS = 200;

export function toVersion(v: VersionRecord): DatasetVersion {
  return { ...v };
}

export function toDataset(d: DatasetRecord): Dataset {
  return {
    id: d.id,
    name: d.name,
    source: d.source,
    format: d.format,
    createdAt: d.createdAt,
    versions: d.versions.map(toVersion),
    documentSplit: documentKindOf(d),
  };
}

/** Reports stored before characters, warnings and measures were recorded lack them. */
function toReport(r: StepReportRecord): StepReport {
  const old = r as Partial<StepReportRecord>;
  return {
    ...r,
    charactersIn: old.charactersIn ?? 0,
    charactersOut: old.charactersOut ?? 0,
    warnings: old.warnings ?? [],
    examples: r.examples.map((e) => {
      const o = e as Partial<typeof e>;
      return {
        ...e,
        measure: o.measure ?? '',
        value: o.value ?? 0,
        limit: o.limit ?? 0,
        limitKind: o.limitKind ?? '',
      };
    }),
  };
}

/**
 * Which datasets and versions are being read or written by a call in progress, so they are not deleted
 * under it. Keys: `<id>` (any use) and `<id>@<version>`.
 */
class InUse {
  private readonly n = new Map<string, number>();

  /** Marks a version (and its dataset) as in use until the returned function is called. */
  enter(id: string, version: number): () => void {
    const keys = [id, `${id}@${version}`];
    for (const k of keys) this.n.set(k, (this.n.get(k) ?? 0) + 1);
    let left = true;
    return () => {
      if (!left) return;
      left = false;
      for (const k of keys) {
        const n = (this.n.get(k) ?? 1) - 1;
        if (n) this.n.set(k, n);
        else this.n.delete(k);
      }
    };
  }

  has(id: string, version?: number): boolean {
    return this.n.has(version === undefined ? id : `${id}@${version}`);
  }
}

function toShardIndex(dir: string, i: ShardIndexJson): ShardIndex {
  return {
    dir,
    dtype: i.dtype,
    tokenizer: i.tokenizer,
    vocabSize: i.vocabSize,
    separatorId: i.separatorId,
    tokens: i.tokens,
    splits: i.splits.map((s) => ({ ...s, files: s.files.map((f) => ({ ...f })) })),
  };
}

/**
 * The messages of a client stream. On the server the stream is the call itself, a Duplex: its default async
 * iterator destroys it at the end of the input, which would also end the response side before the answer
 * is written, so read it without that.
 */
function messages<T>(requests: AsyncIterable<T>): AsyncIterator<T> {
  const r = requests as unknown as { iterator?: (o: { destroyOnReturn: boolean }) => AsyncIterator<T> };
  return typeof r.iterator === 'function'
    ? r.iterator({ destroyOnReturn: false })
    : requests[Symbol.asyncIterator]();
}

interface IngestOptions {
  name: string;
  /** The name the format is guessed from (the path, or an upload's file name). */
  filename: string;
  format: string;
  textField: string;
  documentSplit: string;
  maxBytes: number;
  source: string;
  /** Field named in errors about the input: "path" or "file". */
  field: string;
}

function checkIngestOptions(o: IngestOptions): { format: Format; documentSplit: DocumentSplit } {
  const format = formatOf(o.filename, o.format);
  const documentSplit = (o.documentSplit || 'paragraph') as DocumentSplit;
  if (!DOCUMENT_SPLITS.includes(documentSplit))
    throw invalid('documentSplit', `must be one of ${DOCUMENT_SPLITS.join(', ')} (got "${o.documentSplit}")`);
  if (o.name.length > 200) throw invalid('name', 'at most 200 characters');
  if (o.textField.length > 200) throw invalid('textField', 'at most 200 characters');
  return { format, documentSplit };
}

/** The data service: datasets with versions, transforms, stats, shards. Used by the gRPC server and the CLI. */
export function createDataImpl(deps: Pick<ServiceDeps, 'bus' | 'store' | 'config' | 'log'>): Impl {
  const registry = new DatasetRegistry(deps.store, deps.config.home);
  const inUse = new InUse();
  const serviceMax = deps.config.dataMaxBytes ?? DEFAULT_MAX_BYTES;
  const maxOf = (requested: number) => (requested > 0 ? requested : serviceMax);
  const publish = (id: string, state: string, extra: Record<string, unknown>) =>
    deps.bus
      .publish(`lab.job.data-${id}.state`, { kind: 'data', datasetId: id, state, ...extra })
      .catch(() => {});

  /** Reads a file into a new dataset; nothing is stored unless it succeeds. */
  async function* ingestFile(path: string, o: IngestOptions, ctx: CallContext): AsyncGenerator<IngestEvent> {
    const { format, documentSplit } = checkIngestOptions(o);
    const maxBytes = maxOf(o.maxBytes);
    const total = checkFile(path, { maxBytes, field: o.field });
    const state: ReadState = { bytes: 0, total, warnings: [], warningCount: 0 };
    const w = registry.writer();
    let last = Date.now();
    let empty = 0;
    try {
      yield { progress: { done: 0, total, message: `reading ${format}` }, dataset: undefined, warnings: [] };
      for await (const doc of readDocuments(
        path,
        { format, textField: o.textField, documentSplit, maxBytes, field: o.field },
        state,
      )) {
        if (ctx.signal.aborted) throw new LabError('CANCELLED', 'ingest cancelled');
        if (!doc.text.trim()) {
          empty++;
          continue;
        }
        w.add(doc);
        if (Date.now() - last > PROGRESS_MS) {
          last = Date.now();
          yield {
            progress: { done: state.bytes, total, message: `${w.documents} documents` },
            dataset: undefined,
            warnings: [],
          };
        }
      }
      if (w.documents === 0) {
        const why = state.warnings[0] ? ` (${state.warnings[0]})` : '';
        throw new LabError(
          'INVALID_ARGUMENT',
          `${o.textField ? 'textField' : o.field}: no documents found in the file${why}`,
          o.textField ? 'textField' : o.field,
        );
      }
      const warnings = [...state.warnings];
      if (state.warningCount > warnings.length)
        warnings.push(`… and ${state.warningCount - warnings.length} more problems like these`);
      if (empty) warnings.push(`${empty} empty documents skipped`);
      const name = o.name || basename(o.filename);
      const id = registry.newId(name);
      const { dataset } = registry.commit(w.finish(), {
        id,
        dataset: {
          id,
          name,
          source: o.source,
          format,
          createdAt: new Date().toISOString(),
          documentKind: format === 'txt' ? documentSplit : 'record',
        },
        parent: 0,
        step: 'ingest',
        paramsJson: JSON.stringify({ source: o.source, format, textField: o.textField, documentSplit }),
        report: { reports: [], warnings },
      });
      await publish(id, 'done', { step: 'ingest', version: 1 });
      yield { progress: { done: total, total, message: 'done' }, dataset: toDataset(dataset), warnings };
    } catch (err) {
      w.abort();
      throw err;
    }
  }

  /** A built-in, `char`, a tokenizer.json path, or a name of svc-tokenize's registry (asked over gRPC). */
  async function resolveTokenizer(name: string): Promise<TokenizerSpec> {
    if (!name) throw invalid('tokenizer', 'name a tokenizer');
    if (name === 'char') return { name, char: true };
    if (isBuiltinName(name)) return { name };
    if (/[/\\]|\.json$/.test(name)) {
      if (!existsSync(name))
        throw new LabError('NOT_FOUND', `tokenizer: no tokenizer file at ${name}`, 'tokenizer');
      return { name: basename(name).replace(/\.json$/, ''), path: name };
    }
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(name))
      throw invalid('tokenizer', `"${name}" is not a tokenizer name`);
    try {
      return { name, json: await fetchTokenizerJson(deps.config.addresses.tokenize, name) };
    } catch (err) {
      if ((err as LabError).code !== 'NOT_FOUND') throw err;
      throw new LabError(
        'NOT_FOUND',
        `tokenizer: unknown tokenizer "${name}" (char, gpt2, cl100k_base, o200k_base, a tokenizer.json path, or a name from svc-tokenize)`,
        'tokenizer',
      );
    }
  }

  /** What deleting a dataset (version undefined) or one version would affect. */
  async function dependentsOf(id: string, version: number | undefined) {
    const dataset = registry.get(id, 'datasetId');
    if (version !== undefined) registry.version(id, version);
    const jobs = await listTrainJobs(deps.config.addresses.train);
    const dirOf = (v: number) => registry.dir(dataset.id, v);
    const versions = dataset.versions
      .filter((v) => version === undefined || v.version === version)
      .map((v) => v.version);
    return {
      dependents: findDependents(dataset, version, jobs, dirOf),
      versions,
      bytes: versions.reduce((n, v) => n + folderBytes(dirOf(v)), 0),
    };
  }

  return {
    ingest: (req, ctx) => {
      if (!req.path) throw invalid('path', 'give a server-side file path');
      confinePath(req.path, 'path', deps.config.dataRoots);
      return ingestFile(
        req.path,
        {
          name: req.name,
          filename: req.path,
          format: req.format,
          textField: req.textField,
          documentSplit: req.documentSplit,
          maxBytes: req.maxBytes,
          source: req.path,
          field: 'path',
        },
        ctx,
      );
    },

    upload: async function* (requests: AsyncIterable<UploadChunk>, ctx): AsyncGenerator<IngestEvent> {
      const it = messages(requests);
      const first = await it.next();
      const header = first.done ? undefined : first.value.header;
      if (!header) throw invalid('header', 'the first message of an upload must carry the header');
      if (!header.filename) throw invalid('filename', 'give the file name (its extension picks the format)');
      const o: IngestOptions = {
        name: header.name,
        filename: header.filename,
        format: header.format,
        textField: header.textField,
        documentSplit: header.documentSplit,
        maxBytes: header.maxBytes,
        source: `upload:${basename(header.filename)}`,
        field: 'file',
      };
      checkIngestOptions(o);
      const maxBytes = maxOf(header.maxBytes);
      if (header.size > maxBytes)
        throw new LabError(
          'RESOURCE_EXHAUSTED',
          `file: the file is ${header.size} bytes, above the limit of ${maxBytes} bytes`,
          'file',
        );
      const dir = join(registry.root, `.tmp-upload-${randomBytes(6).toString('hex')}`);
      mkdirSync(dir, { recursive: true });
      const path = join(dir, basename(header.filename).replace(/[^\w.-]/g, '_') || 'upload');
      try {
        const out = createWriteStream(path);
        let received = 0;
        let last = Date.now();
        try {
          const consume = async (chunk: UploadChunk) => {
            if (!chunk.data.length) return;
            received += chunk.data.length;
            if (received > maxBytes)
              throw new LabError(
                'RESOURCE_EXHAUSTED',
                `file: the upload is larger than the limit of ${maxBytes} bytes`,
                'file',
              );
            if (!out.write(chunk.data)) await once(out, 'drain');
          };
          if (!first.done) await consume(first.value);
          for (;;) {
            const n = await it.next();
            if (n.done) break;
            await consume(n.value);
            if (Date.now() - last > PROGRESS_MS) {
              last = Date.now();
              yield {
                progress: { done: received, total: header.size, message: 'uploading' },
                dataset: undefined,
                warnings: [],
              };
            }
          }
        } finally {
          out.end();
          await once(out, 'close');
        }
        if (ctx.signal.aborted) throw new LabError('CANCELLED', 'upload cancelled');
        if (received === 0) throw invalid('file', 'the file is empty (0 bytes)');
        yield* ingestFile(path, o, ctx);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },

    listDatasets: async (req) => {
      const all = registry.list();
      const offset = req.page?.offset ?? 0;
      const limit = req.page?.limit || 100;
      if (limit > 1000) throw invalid('limit', 'at most 1000 datasets per page');
      return { datasets: all.slice(offset, offset + limit).map(toDataset), total: all.length };
    },

    getDataset: async (req) => toDataset(registry.get(req.id)),

    transform: async function* (req, ctx): AsyncGenerator<TransformEvent> {
      if (!req.steps.length) throw invalid('steps', 'give at least one step');
      const { dataset, version } = registry.version(req.datasetId, req.version);
      const steps = parseSteps(req.steps, documentKindOf(dataset));
      const progressEvent = (done: number, total: number, message: string): TransformEvent => ({
        progress: { done, total, message },
        version: undefined,
        reports: [],
        documents: 0,
        characters: 0,
      });
      const release = inUse.enter(dataset.id, version.version);
      let result: TransformResult | undefined;
      try {
        yield progressEvent(0, version.documents, `step 1/${steps.length}: ${steps[0]!.kind}`);
        for await (const e of runInWorker<TransformResult>(
          {
            type: 'transform',
            job: {
              srcDir: registry.dir(dataset.id, version.version),
              root: registry.root,
              steps,
              dryRun: req.dryRun,
            },
          },
          ctx.signal,
        )) {
          if (e.type === 'done') result = e.result;
          else yield progressEvent(e.done, e.total, e.message);
        }
      } finally {
        release();
      }
      if (!result) throw new LabError('INTERNAL', 'transform ended without a result');
      if (ctx.signal.aborted) {
        if (result.version) registry.discard(result.version.tmp);
        throw new LabError('CANCELLED', 'transform cancelled');
      }
      if (!result.version) {
        yield {
          progress: { done: result.documents, total: result.documents, message: 'dry run done' },
          version: undefined,
          reports: result.reports.map(toReport),
          documents: result.documents,
          characters: result.characters,
        };
        return;
      }
      const committed = registry.commit(result.version, {
        id: dataset.id,
        parent: version.version,
        step: steps.map((s) => s.kind).join('+'),
        paramsJson: JSON.stringify(steps),
        report: { reports: result.reports, warnings: [] },
      });
      await publish(dataset.id, 'done', { step: 'transform', version: committed.version.version });
      yield {
        progress: { done: committed.version.documents, total: committed.version.documents, message: 'done' },
        version: toVersion(committed.version),
        reports: result.reports.map(toReport),
        documents: committed.version.documents,
        characters: committed.version.characters,
      };
    },

    getStats: async (req, ctx) => {
      const { dataset, version } = registry.version(req.datasetId, req.version);
      const ngram = req.ngram || 2;
      const topK = req.topK || 20;
      if (ngram > 10) throw invalid('ngram', 'at most 10');
      if (topK > 1000) throw invalid('topK', 'at most 1000');
      const tokenizer = req.tokenizer ? await resolveTokenizer(req.tokenizer) : undefined;
      const release = inUse.enter(dataset.id, version.version);
      const s = await resultOf<Stats>(
        runInWorker(
          {
            type: 'stats',
            job: { srcDir: registry.dir(dataset.id, version.version), tokenizer, ngram, topK },
          },
          ctx.signal,
        ),
      ).finally(release);
      return { ...s, tokenizer: tokenizer?.name ?? '', version: version.version };
    },

    listDocuments: async (req) => {
      const { dataset, version } = registry.version(req.datasetId, req.version);
      const offset = req.page?.offset ?? 0;
      const limit = req.page?.limit || 20;
      if (limit > 1000) throw invalid('limit', 'at most 1000 documents per page');
      if (req.split && !version.splits[req.split]) {
        const have = Object.keys(version.splits);
        throw invalid(
          'split',
          have.length
            ? `no split "${req.split}" (splits: ${have.join(', ')})`
            : 'this version has no splits; run a split step first',
        );
      }
      const page = registry.page(dataset.id, version.version, offset, limit, req.split);
      return {
        total: page.total,
        documents: page.docs.map((d) => ({
          index: d.index,
          text: d.text,
          split: d.split ?? '',
          fields: d.fields ?? {},
        })),
      };
    },

    getReport: async (req) => {
      const { dataset, version } = registry.version(req.datasetId, req.version);
      const r = registry.report(dataset.id, version.version);
      return { version: toVersion(version), reports: r.reports.map(toReport), warnings: r.warnings };
    },

    getStepDefaults: async (req) => {
      const dataset = registry.get(req.datasetId, 'datasetId');
      const kind = documentKindOf(dataset);
      return {
        documentSplit: kind,
        steps: stepDefaults(kind).map((st) => ({ kind: st.kind, paramsJson: JSON.stringify(st.params) })),
        note: qualityDefaults(kind).note,
      };
    },

    getDependents: async (req) => dependentsOf(req.datasetId, req.version),

    deleteDataset: async (req) => {
      const dataset = registry.get(req.datasetId, 'datasetId');
      const version = req.version;
      const what = version === undefined ? `dataset ${dataset.id}` : `v${version} of ${dataset.id}`;
      if (version !== undefined) {
        registry.version(dataset.id, version);
        if (dataset.versions.length === 1)
          throw invalid(
            'version',
            `v${version} is the only version of ${dataset.id}: delete the dataset instead`,
          );
      }
      const busy = () => {
        if (inUse.has(dataset.id, version))
          throw new LabError(
            'FAILED_PRECONDITION',
            `datasetId: ${what} is being read or written (a transform, tokenization or statistics run); try again when it ends`,
            'datasetId',
          );
      };
      busy();
      const { dependents } = await dependentsOf(dataset.id, version);
      const blocking = dependents.filter((d) => d.blocking);
      if (blocking.length)
        throw new LabError(
          'FAILED_PRECONDITION',
          `datasetId: ${what} cannot be deleted: ${blocking.map((d) => d.description).join('; ')}`,
          'datasetId',
        );
      const confirm = dependents.filter((d) => d.needsForce);
      if (confirm.length && !req.force)
        throw new LabError(
          'FAILED_PRECONDITION',
          `force: ${confirm.map((d) => d.description).join('; ')}; delete with force to go ahead`,
          'force',
        );
      // Asking svc-train took time: a transform may have started on it meanwhile.
      busy();
      const removed = registry.remove(dataset.id, version);
      await publish(dataset.id, 'deleted', { versions: removed.versions, dataset: version === undefined });
      return {
        deletedVersions: removed.versions,
        datasetDeleted: version === undefined,
        bytesFreed: removed.bytes,
        dependents: confirm,
      };
    },

    readTokens: async function* (req): AsyncGenerator<TokenChunk> {
      const { dataset, version } = registry.version(req.datasetId, req.version);
      if (!req.tokenizer) throw invalid('tokenizer', 'name the tokenizer the version was tokenized with');
      const dir = join(
        registry.dir(dataset.id, version.version),
        'shards',
        req.tokenizer.replace(/[^\w.-]/g, '_'),
      );
      if (!existsSync(join(dir, 'index.json'))) {
        throw new LabError(
          'FAILED_PRECONDITION',
          // The command names the version: without --version it would tokenize the latest one, which may
          // not be the version asked for.
          `Version ${version.version} of ${dataset.id} has no shards for the "${req.tokenizer}" tokenizer; tokenize it first (lab-data tokenize ${dataset.id} --version ${version.version} --tokenizer ${req.tokenizer}).`,
          'tokenizer',
        );
      }
      const shards = openShards(dir);
      const release = inUse.enter(dataset.id, version.version);
      try {
        yield {
          split: '',
          tokens: Buffer.alloc(0),
          tokenizerJson: readFileSync(join(dir, 'tokenizer.json'), 'utf8'),
          vocabSize: shards.index.vocabSize,
          splitTokens: Object.fromEntries(shards.index.splits.map((s) => [s.name, s.tokens])),
        };
        for (const name of shards.names) {
          for (const chunk of shards.split(name).chunks(1 << 20)) {
            // Little-endian on every platform Node runs on; the proto documents it.
            yield {
              split: name,
              tokens: Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength),
              tokenizerJson: '',
              vocabSize: 0,
              splitTokens: {},
            };
          }
        }
      } finally {
        release();
        shards.close();
      }
    },

    tokenize: async function* (req, ctx): AsyncGenerator<TokenizeEvent> {
      const { dataset, version } = registry.version(req.datasetId, req.version);
      const tokenizer = await resolveTokenizer(req.tokenizer);
      const shardTokens = req.shardTokens || 1 << 24;
      if (shardTokens < 1024) throw invalid('shardTokens', 'at least 1024 tokens per shard');
      const outDir = join(
        registry.dir(dataset.id, version.version),
        'shards',
        tokenizer.name.replace(/[^\w.-]/g, '_'),
      );
      yield { progress: { done: 0, total: version.documents, message: 'tokenizing' }, index: undefined };
      let index: ShardIndexJson | undefined;
      const release = inUse.enter(dataset.id, version.version);
      try {
        for await (const e of runInWorker<ShardIndexJson>(
          {
            type: 'tokenize',
            job: {
              srcDir: registry.dir(dataset.id, version.version),
              outDir,
              tokenizer,
              shardTokens,
              noSeparator: req.noSeparator,
              documents: version.documents,
              source: { datasetId: dataset.id, version: version.version },
            },
          },
          ctx.signal,
        )) {
          if (e.type === 'done') index = e.result;
          else yield { progress: { done: e.done, total: e.total, message: e.message }, index: undefined };
        }
      } finally {
        release();
      }
      if (!index) throw new LabError('INTERNAL', 'tokenize ended without a result');
      await publish(dataset.id, 'done', { step: 'tokenize', version: version.version, dir: outDir });
      yield {
        progress: { done: version.documents, total: version.documents, message: 'done' },
        index: toShardIndex(outDir, index),
      };
    },
  };
}

export function buildDataService(deps: ServiceDeps): ServiceBinding {
  return bindService(DataServiceService, createDataImpl(deps));
}

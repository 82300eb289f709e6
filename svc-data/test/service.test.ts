import {
  closeSync,
  existsSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type BusEvent,
  callUnary,
  checkHealth,
  createClient,
  createLogger,
  datasetPath,
  fromServiceError,
  loadConfig,
  MemoryBus,
  openStore,
  type RunningGrpcServer,
  readVersionDocuments,
  remoteImpl,
  type ServiceImpl,
  type Store,
  startGrpcServer,
  withServiceInfo,
} from '@lab/common';
import {
  DataServiceClient,
  DataServiceService,
  type IngestEvent,
  type IngestRequest,
  type UploadChunk,
} from '@lab/proto/data';
import { getTokenizer } from '@lab/tokenizer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTokenizeService } from '../../svc-tokenize/src/service.ts';
import { buildDataService } from '../src/service.ts';
import { openShards } from '../src/shards.ts';

const shakespeare = datasetPath('tinyshakespeare', 'input.txt');
let server: RunningGrpcServer;
let tokenize: RunningGrpcServer;
let tokenizeStore: Store;
let client: DataServiceClient;
let svc: Required<ServiceImpl<typeof DataServiceService>>;
let address: string;
let home: string;
const bus = new MemoryBus();
const events: BusEvent[] = [];

beforeAll(async () => {
  home = mkdtempSync(join(tmpdir(), 'lab-data-'));
  // A real svc-tokenize beside it: registry tokenizers are asked for over gRPC.
  tokenizeStore = openStore(home, 'tokenize');
  const tokLog = createLogger('tokenize', 'error');
  const tokDeps = {
    name: 'tokenize' as const,
    config: loadConfig({ LAB_DATA_ROOTS: process.env.LAB_DATA_ROOTS, LAB_HOME: home }),
    bus,
    store: tokenizeStore,
    log: tokLog,
  };
  tokenize = await startGrpcServer({
    host: '127.0.0.1',
    port: 0,
    services: [buildTokenizeService(tokDeps)],
    log: tokLog,
  });
  // No svc-train answers here (port 1 refuses connections): its jobs cannot be checked, which a deletion must
  // be told about.
  const config = loadConfig({
    LAB_DATA_ROOTS: process.env.LAB_DATA_ROOTS,
    LAB_HOME: home,
    LAB_TOKENIZE_ADDR: `127.0.0.1:${tokenize.port}`,
    LAB_TRAIN_ADDR: '127.0.0.1:1',
  });
  const deps = {
    name: 'data' as const,
    config,
    bus,
    store: openStore(home, 'data'),
    log: createLogger('data', 'error'),
  };
  server = await startGrpcServer({
    host: '127.0.0.1',
    port: 0,
    services: [withServiceInfo(deps, buildDataService(deps))],
    log: deps.log,
  });
  address = `127.0.0.1:${server.port}`;
  client = createClient(DataServiceClient, address);
  svc = remoteImpl(DataServiceService, client) as typeof svc;
  await bus.subscribe('lab.job.>', (e) => events.push(e));
});

afterAll(async () => {
  client?.close();
  await server?.shutdown(100);
  await tokenize?.shutdown(100);
  await tokenizeStore?.close();
});

const ctx = { signal: new AbortController().signal } as never;

async function rejection(p: Promise<unknown>) {
  try {
    await p;
  } catch (err) {
    return fromServiceError(err);
  }
  throw new Error('expected the call to fail');
}

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const e of it) out.push(e);
  return out;
}

const ingest = (req: Partial<IngestRequest>) =>
  collect(
    svc.ingest(
      { name: '', path: '', format: '', textField: '', maxBytes: 0, documentSplit: '', ...req },
      ctx,
    ),
  );

/** Uploads bytes through the bidirectional Upload stream in 64 KiB chunks. */
function upload(header: Partial<NonNullable<UploadChunk['header']>>, bytes: Buffer): Promise<IngestEvent[]> {
  const call = client.upload();
  const out: IngestEvent[] = [];
  return new Promise((resolve, reject) => {
    call.on('data', (e: IngestEvent) => out.push(e));
    call.on('error', reject);
    call.on('end', () => resolve(out));
    call.write({
      header: {
        name: '',
        filename: '',
        format: '',
        textField: '',
        maxBytes: 0,
        documentSplit: '',
        size: bytes.length,
        ...header,
      },
      data: Buffer.alloc(0),
    });
    for (let i = 0; i < bytes.length; i += 65536)
      call.write({ header: undefined, data: bytes.subarray(i, i + 65536) });
    call.end();
  });
}

/** The first bytes of a binary that is always there: the node executable (an ELF file on Linux). */
function binaryHead(bytes = 128 * 1024): Buffer {
  const fd = openSync(process.execPath, 'r');
  try {
    const b = Buffer.alloc(bytes);
    return b.subarray(0, readSync(fd, b, 0, bytes, 0));
  } finally {
    closeSync(fd);
  }
}

const datasetDirs = () => readdirSync(join(home, 'data', 'datasets')).filter((d) => !d.startsWith('.'));

describe('svc-data over gRPC', () => {
  let bardId = '';

  it('ingests a text file from a path with progress and stores version 1 on disk', async () => {
    const evs = await ingest({ path: shakespeare, name: 'bard' });
    const last = evs.at(-1)!;
    expect(evs[0]!.progress!.total).toBeGreaterThan(1_000_000);
    const ds = last.dataset!;
    bardId = ds.id;
    expect(ds).toMatchObject({ name: 'bard', format: 'txt', source: shakespeare });
    expect(ds.versions).toHaveLength(1);
    expect(ds.versions[0]).toMatchObject({ version: 1, parent: 0, step: 'ingest', documents: 7222 });
    expect(existsSync(join(home, 'data', 'datasets', ds.id, 'v1', 'docs.jsonl'))).toBe(true);
    const page = await svc.listDocuments(
      { datasetId: ds.id, version: 1, page: { offset: 0, limit: 2 }, split: '' },
      ctx,
    );
    expect(page.total).toBe(7222);
    expect(page.documents.map((d) => d.text)).toEqual([
      'First Citizen:\nBefore we proceed any further, hear me speak.',
      'All:\nSpeak, speak.',
    ]);
  });

  it('uploads a JSONL file over the Upload stream, keeping good lines and warning about a bad one', async () => {
    const lines = Array.from({ length: 3000 }, (_, i) =>
      JSON.stringify({ body: `Document ${i} from alice${i}@example.com` }),
    );
    lines.splice(10, 0, '{"body": "broken');
    const evs = await upload(
      { filename: 'notes.jsonl', textField: 'body', name: 'notes' },
      Buffer.from(lines.join('\n')),
    );
    const last = evs.at(-1)!;
    expect(last.dataset!.versions[0]!.documents).toBe(3000);
    expect(last.dataset!.source).toBe('upload:notes.jsonl');
    expect(last.warnings[0]).toMatch(/^line 11: not valid JSON/);
    const report = await svc.getReport({ datasetId: last.dataset!.id, version: 1 }, ctx);
    expect(report.warnings[0]).toMatch(/^line 11/);
    // Other services read a version page by page (@lab/common's readVersionDocuments): three pages, or a limit.
    const all = await readVersionDocuments(address, { datasetId: last.dataset!.id, version: 1 });
    expect([all.total, all.documents.length]).toEqual([3000, 3000]);
    expect(all.documents.map((d) => Number(d.index))).toEqual(Array.from({ length: 3000 }, (_, i) => i));
    expect(all.documents[2999]!.text).toBe('Document 2999 from alice2999@example.com');
    const some = await readVersionDocuments(address, {
      datasetId: last.dataset!.id,
      version: 0,
      limit: 1500,
    });
    expect([some.total, some.documents.length, Number(some.documents.at(-1)!.index)]).toEqual([
      3000, 1500, 1499,
    ]);
    await expect(readVersionDocuments(address, { datasetId: 'no-such', version: 0 })).rejects.toMatchObject({
      code: 'NOT_FOUND',
      field: 'datasetId',
    });
    // The temporary upload file is gone.
    expect(readdirSync(join(home, 'data', 'datasets')).filter((d) => d.startsWith('.tmp'))).toEqual([]);
  });

  it('keeps a JSONL record’s other fields on its document, through a transform’s new version', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lab-data-fields-'));
    const recs = Array.from({ length: 40 }, (_, i) => ({
      text: `Sentence number ${i} says something ${i % 2 ? 'kind' : 'unkind'}.`,
      label: i % 2 ? 'pos' : 'neg',
      id: i,
    }));
    writeFileSync(join(dir, 'labelled.jsonl'), recs.map((r) => JSON.stringify(r)).join('\n'));
    const ds = (await ingest({ path: join(dir, 'labelled.jsonl') })).at(-1)!.dataset!;
    const v1 = await svc.listDocuments(
      { datasetId: ds.id, version: 1, page: { offset: 0, limit: 100 }, split: '' },
      ctx,
    );
    expect(v1.documents.map((d) => d.fields)).toEqual(
      recs.map((r) => ({ label: r.label, id: String(r.id) })),
    );
    const done = (
      await collect(
        svc.transform(
          {
            datasetId: ds.id,
            version: 1,
            dryRun: false,
            steps: [
              { kind: 'clean', paramsJson: '' },
              { kind: 'split', paramsJson: '{"seed": 1}' },
            ],
          },
          ctx,
        ),
      )
    ).at(-1)!;
    const v2 = await svc.listDocuments(
      { datasetId: ds.id, version: done.version!.version, page: { offset: 0, limit: 100 }, split: '' },
      ctx,
    );
    expect(v2.documents.length).toBe(40);
    for (const d of v2.documents) {
      const i = Number(d.fields.id);
      expect([d.text, d.fields.label, d.split !== '']).toEqual([recs[i]!.text, recs[i]!.label, true]);
    }
  });

  it('uploads a gzipped JSONL (hh-rlhf) and a ShareGPT JSON', async () => {
    const hh = readFileSync(datasetPath('preference-hh-rlhf', 'harmless-base_test.jsonl.gz'));
    const evs = await upload({ filename: 'hh.jsonl.gz', textField: 'chosen' }, hh);
    expect(evs.at(-1)!.dataset!.versions[0]!.documents).toBeGreaterThan(1000);
    const share = JSON.stringify([
      {
        conversations: [
          { from: 'human', value: 'Hi' },
          { from: 'gpt', value: 'Hello!' },
        ],
      },
    ]);
    const s = await upload({ filename: 'chat.json', format: 'sharegpt' }, Buffer.from(share));
    const id = s.at(-1)!.dataset!.id;
    const docs = await svc.listDocuments({ datasetId: id, version: 0, page: undefined, split: '' }, ctx);
    expect(docs.documents[0]!.text).toContain('<|im_start|>assistant\nHello!<|im_end|>');
  });

  it('transforms with a report per step, records lineage, and publishes a job event', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lab-dirty-'));
    const para = readFileSync(shakespeare, 'utf8').split('\n\n').slice(0, 40);
    const dirty = [
      ...para,
      para[3]!, // exact duplicate
      `${para[5]!.replace(/,/g, '')}`, // near duplicate
      '<p>Contact  me at  bob@example.org or 555-123-4567</p>',
      '   ',
    ];
    writeFileSync(join(dir, 'dirty.jsonl'), dirty.map((text) => JSON.stringify({ text })).join('\n'));
    const ds = (await ingest({ path: join(dir, 'dirty.jsonl') })).at(-1)!.dataset!;
    expect(ds.versions[0]!.documents).toBe(dirty.length - 1); // the blank one is skipped
    const evs = await collect(
      svc.transform(
        {
          datasetId: ds.id,
          version: 1,
          dryRun: false,
          steps: [
            { kind: 'clean', paramsJson: '{"stripHtml": true}' },
            { kind: 'pii', paramsJson: '' },
            { kind: 'dedup_exact', paramsJson: '' },
            { kind: 'dedup_near', paramsJson: '{"threshold": 0.6, "ngram": 3}' },
            { kind: 'split', paramsJson: '{"seed": 3}' },
          ],
        },
        ctx,
      ),
    );
    expect(evs.filter((e) => !e.version).length).toBeGreaterThan(0);
    const last = evs.at(-1)!;
    expect(last.version).toMatchObject({
      version: 2,
      parent: 1,
      step: 'clean+pii+dedup_exact+dedup_near+split',
    });
    const [clean, pii, exact, near, split] = last.reports;
    expect(clean!.counts.documents_changed).toBeGreaterThan(0);
    expect(pii!.counts).toMatchObject({ email: 1, phone: 1, documents_changed: 1 });
    expect(pii!.examples.find((e) => e.reason === 'email')!.after).toContain('[EMAIL]');
    expect(exact!.removed).toEqual({ exact_duplicate: 1 });
    expect(exact!.clusters).toBe(1);
    expect(near!.removed).toEqual({ near_duplicate: 1 });
    expect(near!.examples[0]).toMatchObject({ keptIndex: 5 });
    expect(split!.documentsOut).toBe(last.version!.documents);
    expect(Object.values(last.version!.splits).reduce((a, b) => a + b, 0)).toBe(last.version!.documents);

    const got = await callUnary(client.getDataset.bind(client), { id: ds.id });
    expect(got.versions.map((v) => [v.version, v.parent])).toEqual([
      [1, 0],
      [2, 1],
    ]);
    expect(JSON.parse(got.versions[1]!.paramsJson)[3]).toMatchObject({
      kind: 'dedup_near',
      params: { threshold: 0.6, numPerm: 128 },
    });
    const report = await svc.getReport({ datasetId: ds.id, version: 2 }, ctx);
    expect(report.reports.map((r) => r.kind)).toEqual(['clean', 'pii', 'dedup_exact', 'dedup_near', 'split']);
    const train = await svc.listDocuments(
      { datasetId: ds.id, version: 2, page: { offset: 0, limit: 1000 }, split: 'train' },
      ctx,
    );
    expect(train.total).toBe(last.version!.splits.train);
    expect(train.documents.every((d) => d.split === 'train')).toBe(true);
    expect(events.some((e) => e.subject === `lab.job.data-${ds.id}.state`)).toBe(true);
  });

  it('computes stats with a token count, and tokenizes into shards the reader opens', async () => {
    const stats = await svc.getStats(
      { datasetId: bardId, version: 0, tokenizer: 'gpt2', ngram: 1, topK: 5 },
      ctx,
    );
    expect(stats.documents).toBe(7222);
    expect(stats.tokenizer).toBe('gpt2');
    expect(stats.tokens).toBeGreaterThan(250_000);
    expect(stats.topNgrams).toHaveLength(5);
    expect(stats.lengthBucketCounts.reduce((a, b) => a + b, 0)).toBe(7222);

    const evs = await collect(
      svc.tokenize(
        { datasetId: bardId, version: 1, tokenizer: 'gpt2', shardTokens: 100_000, noSeparator: false },
        ctx,
      ),
    );
    const index = evs.at(-1)!.index!;
    expect(index).toMatchObject({ dtype: 'uint16', tokenizer: 'gpt2', vocabSize: 50257, separatorId: 50256 });
    expect(index.tokens).toBe(stats.tokens + 7222);
    expect(index.splits[0]!.name).toBe('all');
    expect(index.splits[0]!.files.length).toBe(Math.ceil(index.tokens / 100_000));
    const set = openShards(index.dir);
    const first = set.split('all').read(0, 12);
    const gpt2 = getTokenizer('gpt2');
    expect(gpt2.decode([...first])).toBe(
      'First Citizen:\nBefore we proceed any further, hear me speak.<|endoftext|>'.slice(
        0,
        gpt2.decode([...first]).length,
      ),
    );
    set.close();
    // o200k does not fit 16 bits.
    const big = await collect(
      svc.tokenize(
        { datasetId: bardId, version: 1, tokenizer: 'o200k_base', shardTokens: 0, noSeparator: true },
        ctx,
      ),
    );
    expect(big.at(-1)!.index).toMatchObject({ dtype: 'uint32', separatorId: -1 });
  });

  it('keeps answering health checks while a transform runs', async () => {
    const running = collect(
      svc.transform(
        {
          datasetId: bardId,
          version: 1,
          dryRun: false,
          steps: [{ kind: 'dedup_near', paramsJson: '{"numPerm": 512}' }],
        },
        ctx,
      ),
    );
    const t0 = performance.now();
    expect(await checkHealth(address, '', 1000)).toBe('SERVING');
    expect(performance.now() - t0).toBeLessThan(1000);
    expect((await running).at(-1)!.version!.version).toBeGreaterThan(1);
  });

  it.each([
    [{ path: join(tmpdir(), 'no', 'such', 'file.txt') }, 'INVALID_ARGUMENT', 'path', /no such file/],
    [
      { path: datasetPath('gpt2-tokenizer', 'vocab.bpe') },
      'INVALID_ARGUMENT',
      'format',
      /unsupported file type "\.bpe"/,
    ],
    [{ path: shakespeare, maxBytes: 1000 }, 'RESOURCE_EXHAUSTED', 'path', /above the limit of 1000 bytes/],
    [
      { path: shakespeare, documentSplit: 'sentence' },
      'INVALID_ARGUMENT',
      'documentSplit',
      /paragraph, line, file/,
    ],
    [
      { path: datasetPath('arc', 'arc_easy_test.jsonl'), textField: 'nope' },
      'INVALID_ARGUMENT',
      'textField',
      /no documents/,
    ],
  ])('rejects a bad ingest %j and creates nothing', async (req, code, field, message) => {
    const before = datasetDirs().length;
    const err = await rejection(ingest(req));
    expect(err).toMatchObject({ code, field });
    expect(err.message).toMatch(message);
    expect(datasetDirs().length).toBe(before);
  });

  it('rejects a 0-byte upload, an unsupported one and one above the limit, creating nothing', async () => {
    const before = (await svc.listDatasets({ page: undefined }, ctx)).total;
    const empty = await rejection(upload({ filename: 'empty.txt' }, Buffer.alloc(0)));
    expect(empty).toMatchObject({ code: 'INVALID_ARGUMENT', field: 'file' });
    expect(empty.message).toMatch(/empty \(0 bytes\)/);
    const exe = await rejection(upload({ filename: 'tool.exe' }, Buffer.from('MZ')));
    expect(exe).toMatchObject({ code: 'INVALID_ARGUMENT', field: 'format' });
    const big = await rejection(
      upload({ filename: 'big.txt', maxBytes: 100_000, size: 0 }, Buffer.alloc(300_000, 97)),
    );
    expect(big).toMatchObject({ code: 'RESOURCE_EXHAUSTED', field: 'file' });
    expect((await svc.listDatasets({ page: undefined }, ctx)).total).toBe(before);
    expect(readdirSync(join(home, 'data', 'datasets')).filter((d) => d.startsWith('.tmp'))).toEqual([]);
  });

  it('answers unknown ids and versions with NOT_FOUND, and bad steps naming the field', async () => {
    expect(await rejection(callUnary(client.getDataset.bind(client), { id: 'nope' }))).toMatchObject({
      code: 'NOT_FOUND',
      field: 'id',
    });
    expect(
      await rejection(
        collect(
          svc.transform(
            { datasetId: bardId, version: 99, dryRun: false, steps: [{ kind: 'clean', paramsJson: '' }] },
            ctx,
          ),
        ),
      ),
    ).toMatchObject({ code: 'NOT_FOUND', field: 'version' });
    const bad = await rejection(
      collect(
        svc.transform(
          {
            datasetId: bardId,
            version: 1,
            dryRun: false,
            steps: [{ kind: 'dedup_near', paramsJson: '{"threshold": 2}' }],
          },
          ctx,
        ),
      ),
    );
    expect(bad).toMatchObject({ code: 'INVALID_ARGUMENT', field: 'steps[0].threshold' });
    expect(
      await rejection(
        svc.getStats({ datasetId: bardId, version: 0, tokenizer: 'nope', ngram: 0, topK: 0 }, ctx),
      ),
    ).toMatchObject({ code: 'NOT_FOUND', field: 'tokenizer' });
    expect(
      await rejection(
        svc.listDocuments({ datasetId: bardId, version: 1, page: undefined, split: 'train' }, ctx),
      ),
    ).toMatchObject({ code: 'INVALID_ARGUMENT', field: 'split' });
  });

  it('refuses a binary file renamed .txt, naming the offset of its first NUL byte, and keeps nothing', async () => {
    const before = datasetDirs();
    const err = await rejection(upload({ filename: 'ls.txt' }, binaryHead()));
    expect(err).toMatchObject({ code: 'INVALID_ARGUMENT', field: 'file' });
    expect(err.message).toMatch(/^file: not a text file: NUL byte at byte offset \d+/);
    // Under the lab's home: server-side paths must lie inside its data roots.
    const dir = mkdtempSync(join(home, 'latin-'));
    // Latin-1 text is not UTF-8: refused when much of it is invalid, read with a warning when a byte or two is.
    writeFileSync(join(dir, 'latin.txt'), Buffer.from('café crème brûlée\n\n'.repeat(200), 'latin1'));
    const latin = await rejection(ingest({ path: join(dir, 'latin.txt') }));
    expect(latin).toMatchObject({ code: 'INVALID_ARGUMENT', field: 'path' });
    expect(latin.message).toMatch(/not UTF-8 text: \d+ of the first \d+ bytes .* first at byte offset 3/);
    expect(datasetDirs()).toEqual(before);
    const few = Buffer.concat([
      Buffer.from('caf\xe9\n\n', 'latin1'),
      Buffer.from('plain words here\n\n'.repeat(50)),
    ]);
    writeFileSync(join(dir, 'few.txt'), few);
    const ok = (await ingest({ path: join(dir, 'few.txt') })).at(-1)!;
    expect(ok.dataset!.versions[0]!.documents).toBe(51);
    expect(ok.warnings[0]).toMatch(/1 byte\(s\) are not valid UTF-8 \(the first at byte offset 3\)/);
  });

  it('fills quality defaults that fit what a document is, and dry-runs steps without making a version', async () => {
    const defaults = await svc.getStepDefaults({ datasetId: bardId }, ctx);
    expect(defaults.documentSplit).toBe('paragraph');
    expect(defaults.note).toMatch(/paragraph/);
    const quality = JSON.parse(defaults.steps.find((st) => st.kind === 'quality')!.paramsJson);
    expect(quality).toMatchObject({ minWords: 3, minStopWords: 0, maxWords: 100_000 });
    const before = (await svc.getDataset({ id: bardId }, ctx)).versions.length;
    const evs = await collect(
      svc.transform(
        {
          datasetId: bardId,
          version: 1,
          dryRun: true,
          steps: [
            { kind: 'quality', paramsJson: '' },
            { kind: 'quality', paramsJson: '{"minWords": 50}' },
          ],
        },
        ctx,
      ),
    );
    const last = evs.at(-1)!;
    expect(last.version).toBeUndefined();
    const [fit, gopher] = last.reports;
    expect(JSON.parse(fit!.paramsJson)).toMatchObject({ minWords: 3, minStopWords: 0 });
    expect(fit!.documentsOut / fit!.documentsIn).toBeGreaterThan(0.9);
    expect(fit!.warnings).toEqual([]);
    expect(gopher!.documentsOut / gopher!.documentsIn).toBeLessThan(0.25);
    expect(gopher!.warnings[0]).toMatch(
      /^quality removes \d+ % of the documents \(\d+ of \d+\), most by min_words/,
    );
    expect(gopher!.charactersIn).toBe(fit!.charactersOut);
    expect(last.documents).toBe(gopher!.documentsOut);
    // Each removal names its own measure: a word count is not a similarity.
    const ex = gopher!.examples.find((e) => e.reason === 'min_words')!;
    expect(ex).toMatchObject({ measure: 'words', limit: 50, limitKind: 'min', similarity: 0 });
    expect(ex.value).toBeLessThan(50);
    expect((await svc.getDataset({ id: bardId }, ctx)).versions.length).toBe(before);
    expect(readdirSync(join(home, 'data', 'datasets')).filter((d) => d.startsWith('.tmp'))).toEqual([]);
  });

  it('deletes a version or a dataset only after what depends on it is confirmed, touching nothing else', async () => {
    // Under the lab's home: server-side paths must lie inside its data roots.
    const dir = mkdtempSync(join(home, 'del-'));
    const text = readFileSync(shakespeare, 'utf8').split('\n\n').slice(0, 300).join('\n\n');
    writeFileSync(join(dir, 'a.txt'), text);
    writeFileSync(join(dir, 'b.txt'), text);
    const a = (await ingest({ path: join(dir, 'a.txt'), name: 'a' })).at(-1)!.dataset!;
    const b = (await ingest({ path: join(dir, 'b.txt'), name: 'b' })).at(-1)!.dataset!;
    const step = (datasetId: string, version: number) =>
      collect(
        svc.transform({ datasetId, version, dryRun: false, steps: [{ kind: 'clean', paramsJson: '' }] }, ctx),
      ).then((e) => e.at(-1)!.version!.version);
    expect(await step(a.id, 1)).toBe(2);
    await collect(
      svc.tokenize(
        { datasetId: a.id, version: 1, tokenizer: 'char', shardTokens: 0, noSeparator: false },
        ctx,
      ),
    );

    const deps = await svc.getDependents({ datasetId: a.id, version: 1 }, ctx);
    expect(deps.versions).toEqual([1]);
    expect(deps.bytes).toBeGreaterThan(text.length);
    expect(deps.dependents.map((d) => [d.kind, d.id, d.blocking, d.needsForce])).toEqual([
      ['unknown', 'svc-train', false, true],
      ['version', '2', false, true],
      ['shards', 'v1/char', false, false],
    ]);
    const refused = await rejection(svc.deleteDataset({ datasetId: a.id, version: 1, force: false }, ctx));
    expect(refused).toMatchObject({ code: 'FAILED_PRECONDITION', field: 'force' });
    expect(refused.message).toMatch(/v2 was made from v1/);
    expect(existsSync(join(home, 'data', 'datasets', a.id, 'v1'))).toBe(true);

    const gone = await svc.deleteDataset({ datasetId: a.id, version: 1, force: true }, ctx);
    expect(gone).toMatchObject({ deletedVersions: [1], datasetDeleted: false });
    expect(gone.bytesFreed).toBe(deps.bytes);
    expect(existsSync(join(home, 'data', 'datasets', a.id, 'v1'))).toBe(false);
    const left = await svc.getDataset({ id: a.id }, ctx);
    expect(left.versions.map((v) => [v.version, v.parent])).toEqual([[2, 1]]);
    // What is left still reads, keeps its kind of document, and version numbers are never given twice.
    const docs = await svc.listDocuments({ datasetId: a.id, version: 2, page: undefined, split: '' }, ctx);
    expect(docs.total).toBe(left.versions[0]!.documents);
    expect(left.documentSplit).toBe('paragraph');
    expect(await step(a.id, 2)).toBe(3);
    await svc.deleteDataset({ datasetId: a.id, version: 3, force: true }, ctx);
    expect(await step(a.id, 2)).toBe(4);
    expect(await rejection(svc.getReport({ datasetId: a.id, version: 3 }, ctx))).toMatchObject({
      code: 'NOT_FOUND',
      field: 'version',
    });

    expect(
      await rejection(svc.deleteDataset({ datasetId: b.id, version: 1, force: true }, ctx)),
    ).toMatchObject({
      code: 'INVALID_ARGUMENT',
      field: 'version',
    });
    expect(await rejection(svc.deleteDataset({ datasetId: 'nope', force: true }, ctx))).toMatchObject({
      code: 'NOT_FOUND',
      field: 'datasetId',
    });
    const all = await svc.getDependents({ datasetId: a.id }, ctx);
    expect(all.versions).toEqual([2, 4]);
    const deleted = await svc.deleteDataset({ datasetId: a.id, force: true }, ctx);
    expect(deleted).toMatchObject({ deletedVersions: [2, 4], datasetDeleted: true });
    expect(await rejection(svc.getDataset({ id: a.id }, ctx))).toMatchObject({ code: 'NOT_FOUND' });
    expect(datasetDirs()).not.toContain(a.id);
    // The other datasets are whole.
    expect(datasetDirs()).toEqual(expect.arrayContaining([b.id, bardId]));
    const bDocs = await svc.listDocuments({ datasetId: b.id, version: 1, page: undefined, split: '' }, ctx);
    expect(bDocs.total).toBe(b.versions[0]!.documents);
    expect(
      events.some(
        (e) =>
          e.subject === `lab.job.data-${a.id}.state` && (e.data as { state: string }).state === 'deleted',
      ),
    ).toBe(true);
  });

  it('lists datasets newest first and reports what it implements', async () => {
    const { datasets, total } = await svc.listDatasets({ page: { offset: 0, limit: 100 } }, ctx);
    expect(total).toBe(datasets.length);
    expect(datasets.map((d) => d.id)).toContain(bardId);
    const info = await callUnary(client.getInfo.bind(client), {});
    expect(info.name).toBe('data');
    expect(info.implementedMethods).toEqual(
      expect.arrayContaining([
        'lab.v1.DataService/Upload',
        'lab.v1.DataService/Transform',
        'lab.v1.DataService/Tokenize',
      ]),
    );
  });
});

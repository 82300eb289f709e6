// Linear probes over a svc-data dataset version end to end: a real svc-data over gRPC holding JSONL records
// ingested here, svc-infer reading their documents from it, the gateway over real HTTP, real ORT sessions
// of a char model. Each Shakespeare line's class is how it ends (? ! .): its last token's identity, so the
// label is linearly present in the last token's residual stream.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  bindService,
  createClient,
  createLogger,
  datasetPath,
  loadConfig,
  MemoryBus,
  openStore,
  type RunningGrpcServer,
  remoteImpl,
  type Store,
  startGrpcServer,
} from '@lab/common';
import { DataServiceClient, DataServiceService, type IngestEvent } from '@lab/proto/data';
import type { ModelInfo } from '@lab/proto/infer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDataImpl } from '../../svc-data/src/service.ts';
import { type InferFixture, postJson, SHAKESPEARE, startInfer, writeCharModel } from './fixture.ts';

interface ProbeJson {
  tokens: number;
  train: number;
  test: number;
  classes: number;
  baseline: number;
  layers: { stream: number; accuracy: number; trainAccuracy: number; control: number }[];
  classCounts: number[];
  classNames: string[];
  documents: number;
  truncated: number;
  pool: string;
}

const KINDS: Record<string, string> = { '?': 'question', '!': 'exclamation', '.': 'statement' };
const CONTEXT = 64;
const PER_KIND = 150;

let fx: InferFixture;
let data: RunningGrpcServer;
let dataStore: Store;
let dataClient: DataServiceClient;
let endings = '';
let partial = '';
let records: { text: string; kind: string }[] = [];

/** Ingests JSONL records into svc-data over gRPC; returns the dataset id. */
async function ingestRecords(name: string, recs: object[]): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'lab-probe-data-'));
  const path = join(dir, `${name}.jsonl`);
  writeFileSync(path, recs.map((r) => JSON.stringify(r)).join('\n'));
  const svc = remoteImpl(DataServiceService, dataClient);
  let last: IngestEvent | undefined;
  for await (const e of svc.ingest!(
    { name, path, format: '', textField: '', maxBytes: 0, documentSplit: '' },
    undefined as never,
  ))
    last = e;
  return last!.dataset!.id;
}

beforeAll(async () => {
  const home = mkdtempSync(join(tmpdir(), 'lab-probe-svc-data-'));
  dataStore = openStore(home, 'data');
  const log = createLogger('data', 'error');
  const config = loadConfig({ LAB_DATA_ROOTS: process.env.LAB_DATA_ROOTS, LAB_HOME: home });
  data = await startGrpcServer({
    host: '127.0.0.1',
    port: 0,
    services: [
      bindService(
        DataServiceService,
        createDataImpl({ bus: new MemoryBus(), store: dataStore, config, log }),
      ),
    ],
    log,
  });
  dataClient = createClient(DataServiceClient, `127.0.0.1:${data.port}`);
  fx = await startInfer({}, { LAB_DATA_ADDR: `127.0.0.1:${data.port}` });
  const model = writeCharModel(join(fx.home, 'models', 'bard'));
  const r = await postJson<ModelInfo>(`${fx.url}/api/infer/models`, { name: 'bard', path: model.dir });
  expect(r.status).toBe(201);

  // The whole play text for enough lines of each kind (held-out noise shrinks with them), only those the
  // char model's vocabulary (the first 50,000 characters') can spell.
  const vocab = new Set(SHAKESPEARE);
  const lines = readFileSync(datasetPath('tinyshakespeare', 'input.txt'), 'utf8')
    .split('\n')
    .filter((l) => l.trim() && [...l].every((c) => vocab.has(c)));
  const take = (end: string, n: number) => lines.filter((l) => l.endsWith(end)).slice(0, n);
  records = [...take('?', PER_KIND), ...take('!', PER_KIND), ...take('.', PER_KIND)].map((text) => ({
    text,
    kind: KINDS[text.at(-1)!]!,
  }));
  // Six documents longer than the context: cut to their first 64 characters, their ending is lost.
  for (let i = 0; i < 6; i++) {
    const text = `${lines[2 * i]} ${records[i * 60]!.text}`.padStart(CONTEXT + 5, '-');
    records.push({ text, kind: KINDS[text.at(-1)!]! });
  }
  // Interleaved, as a real file would be; `numbered` is another text to run, one that says nothing of the kind.
  records = records
    .map((r, i) => ({ r, k: (i * 37) % records.length }))
    .sort((a, b) => a.k - b.k)
    .map((x) => x.r);
  endings = await ingestRecords(
    'endings',
    records.map((r, i) => ({
      ...r,
      source: 'bard',
      numbered: `Line number ${'abcdefg'[i % 7]}`,
      digits: `Line ${i}`,
    })),
  );
  partial = await ingestRecords(
    'partial',
    records.slice(0, 12).map((r, i) => (i % 4 === 1 ? { text: r.text } : r)),
  );
}, 120_000);

afterAll(async () => {
  await fx?.close();
  dataClient?.close();
  await data?.shutdown(200);
  await dataStore?.close();
});

const probe = (body: Record<string, unknown>) =>
  postJson<ProbeJson>(`${fx.url}/api/infer/probe`, {
    model: 'bard',
    datasetId: endings,
    labelField: 'kind',
    ...body,
  });

describe('POST /api/infer/probe with a dataset version', () => {
  it('reads how a line ends off its last token’s residual stream; the shuffled-label control stays near chance', async () => {
    const r = await probe({ control: true, seed: 1 });
    expect(r.status).toBe(200);
    const b = r.body;
    expect(b.documents).toBe(records.length);
    expect(b.truncated).toBe(6);
    expect(b.pool).toBe('last');
    expect(b.tokens).toBe(records.reduce((n, x) => n + Math.min(CONTEXT, x.text.length), 0));
    expect(b.classNames).toEqual(['exclamation', 'question', 'statement']);
    expect(b.classCounts).toEqual(b.classNames.map((k) => records.filter((x) => x.kind === k).length));
    expect(b.train + b.test).toBe(records.length);
    expect(b.layers.map((l) => l.stream)).toEqual([0, 1, 2]);
    // The embeddings hold the last character itself: a linear probe reads it almost perfectly.
    expect(b.layers[0]!.accuracy).toBeGreaterThan(0.9);
    // Shuffled labels leave nothing to find: chance is a third (three even classes), 90 held out.
    for (const l of b.layers) expect(l.control).toBeLessThan(1 / 3 + 0.15);
    expect(b.baseline).toBeLessThan(0.45);
  }, 120_000);

  it('pools by the mean on request, names the version, and stops at maxDocuments', async () => {
    const last = (await probe({ seed: 1 })).body;
    const v1 = await probe({ seed: 1, datasetVersion: 1 });
    expect(v1.body).toEqual(last);
    const mean = await probe({ seed: 1, pool: 'mean' });
    expect(mean.status).toBe(200);
    expect(mean.body.pool).toBe('mean');
    expect(mean.body.layers.map((l) => l.accuracy)).not.toEqual(last.layers.map((l) => l.accuracy));
    const few = await probe({ maxDocuments: 30 });
    expect([few.status, few.body.documents, few.body.train + few.body.test]).toEqual([200, 30, 30]);
  }, 120_000);

  it('runs another field as the text when told: a text that says nothing of the class reads at chance', async () => {
    const r = await probe({ textField: 'numbered', seed: 1 });
    expect(r.status).toBe(200);
    expect(r.body.truncated).toBe(0);
    expect(r.body.tokens).toBe(records.length * 'Line number 0'.length);
    for (const l of r.body.layers) expect(l.accuracy).toBeLessThan(1 / 3 + 0.15);
  }, 120_000);

  it('refuses bad input naming the field', async () => {
    const n = records.length;
    const cases: [Record<string, unknown>, number, string, RegExp][] = [
      [{ datasetId: 'no-such-data' }, 404, 'datasetId', /no dataset "no-such-data"/],
      [{ datasetVersion: 9 }, 404, 'datasetVersion', /9/],
      [
        { datasetId: partial },
        400,
        'labelField',
        /3 of 12 documents have no "kind" field \(the first is document 1\)/,
      ],
      [
        { labelField: 'colour' },
        400,
        'labelField',
        new RegExp(
          `${n} of ${n} documents have no "colour".*fields on these documents: digits, kind, numbered, source`,
        ),
      ],
      [
        { labelField: 'source' },
        400,
        'labelField',
        /every document’s "source" is "bard": a probe needs two classes/,
      ],
      [{ maxDocuments: 5 }, 400, 'maxDocuments', new RegExp(`5 documents of ${n}; a probe needs 10 or more`)],
      [{ labelField: '' }, 400, 'labelField', /name the document field/],
      [{ textField: 'nothing' }, 400, 'textField', new RegExp(`${n} of ${n} documents have no "nothing"`)],
      // The char model knows no digits.
      [
        { textField: 'digits' },
        400,
        'textField',
        /document 0: contains '0' \(U\+0030\), which is not in the character vocabulary/,
      ],
      [{ text: 'To be' }, 400, 'datasetId', /not both/],
      [{ label: 'vowel' }, 400, 'label', /labelField/],
      [{ pool: 'max' }, 400, 'pool', /./],
      [{ datasetId: undefined, text: 'To be, or not', label: 'vowel' }, 400, 'labelField', /give datasetId/],
    ];
    for (const [body, status, field, message] of cases) {
      const r = await probe(body);
      const err = (r.body as unknown as { error: { field: string; message: string } }).error;
      expect([JSON.stringify(body), r.status, err?.field]).toEqual([JSON.stringify(body), status, field]);
      expect(err.message).toMatch(message);
    }
  }, 120_000);
});

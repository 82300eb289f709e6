import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
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
  remoteImpl,
  startGrpcServer,
  withServiceInfo,
} from '@lab/common';
import { DataServiceClient, DataServiceService } from '@lab/proto/data';
import { TokenizeServiceClient, type TrainTokenizerEvent } from '@lab/proto/tokenize';
import { getTokenizer } from '@lab/tokenizer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildDataService } from '../../svc-data/src/service.ts';
import { buildTokenizeService } from '../src/service.ts';

const shakespeare = datasetPath('tinyshakespeare', 'input.txt');
let server: RunningGrpcServer;
/** A real svc-data beside it: datasets to train on are asked for over gRPC. */
let data: RunningGrpcServer;
let dataClient: DataServiceClient;
let client: TokenizeServiceClient;
let address: string;
const bus = new MemoryBus();
const events: BusEvent[] = [];

beforeAll(async () => {
  const home = mkdtempSync(join(tmpdir(), 'lab-tok-'));
  const dataDeps = {
    name: 'data' as const,
    config: loadConfig({ LAB_DATA_ROOTS: process.env.LAB_DATA_ROOTS, LAB_HOME: home }),
    bus,
    store: openStore(home, 'data'),
    log: createLogger('data', 'error'),
  };
  data = await startGrpcServer({
    host: '127.0.0.1',
    port: 0,
    services: [buildDataService(dataDeps)],
    log: dataDeps.log,
  });
  dataClient = createClient(DataServiceClient, `127.0.0.1:${data.port}`);
  const config = loadConfig({
    LAB_DATA_ROOTS: process.env.LAB_DATA_ROOTS,
    LAB_HOME: home,
    LAB_DATA_ADDR: `127.0.0.1:${data.port}`,
  });
  const deps = {
    name: 'tokenize' as const,
    config,
    bus,
    store: openStore(home, 'tokenize'),
    log: createLogger('tokenize', 'error'),
  };
  server = await startGrpcServer({
    host: '127.0.0.1',
    port: 0,
    services: [withServiceInfo(deps, buildTokenizeService(deps))],
    log: deps.log,
  });
  address = `127.0.0.1:${server.port}`;
  client = createClient(TokenizeServiceClient, address);
  await bus.subscribe('lab.job.>', (e) => events.push(e));
});

afterAll(async () => {
  client?.close();
  dataClient?.close();
  await server?.shutdown(100);
  await data?.shutdown(100);
});

const call = <Req, Res>(
  fn: (r: Req, m: never, o: never, cb: (e: Error | null, r: Res) => void) => unknown,
  req: Req,
) => callUnary(fn.bind(client) as never, req) as Promise<Res>;

async function rejection(p: Promise<unknown>) {
  try {
    await p;
  } catch (err) {
    return fromServiceError(err);
  }
  throw new Error('expected the call to fail');
}

async function trainEvents(
  req: Partial<Parameters<TokenizeServiceClient['train']>[0]>,
): Promise<TrainTokenizerEvent[]> {
  const out: TrainTokenizerEvent[] = [];
  const stream = client.train({
    name: '',
    vocabSize: 0,
    text: '',
    path: '',
    datasetId: '',
    datasetVersion: 0,
    minFrequency: 0,
    specialTokens: [],
    pattern: '',
    kind: '',
    ...req,
  });
  for await (const e of stream) out.push(e as TrainTokenizerEvent);
  return out;
}

describe('svc-tokenize over gRPC', () => {
  it('lists the built-in tokenizers with their vocabulary and special tokens', async () => {
    const { tokenizers } = await call(client.listTokenizers, {});
    const byName = Object.fromEntries(tokenizers.map((t) => [t.name, t]));
    expect(byName.gpt2).toMatchObject({
      vocabSize: 50257,
      builtin: true,
      kind: 'bpe',
      specialTokens: { '<|endoftext|>': 50256 },
    });
    expect(byName.cl100k_base!.vocabSize).toBe(100277);
    expect(byName.o200k_base!.vocabSize).toBe(200019);
  });

  it('encodes like the library and returns spans that tile the text', async () => {
    const text = 'Tokenizers split text: 日本語, emoji 🎉, and   spaces.\n';
    const res = await call(client.encode, {
      tokenizer: 'cl100k_base',
      text,
      withTokens: true,
      allowedSpecial: [],
    });
    expect(res.ids).toEqual(getTokenizer('cl100k_base').encode(text));
    expect(res.tokens.map((t) => t.id)).toEqual(res.ids);
    expect(res.tokens[0]!.start).toBe(0);
    expect(res.tokens.at(-1)!.end).toBe(text.length);
    for (const t of res.tokens) expect(text.slice(t.start, t.end)).toBe(t.text);
    const bytes = Buffer.concat(res.tokens.map((t) => Buffer.from(t.bytesHex, 'hex')));
    expect(bytes.toString('utf8')).toBe(text);
  });

  it('decodes ids back to the text and rejects ids outside the vocabulary naming the field', async () => {
    const ids = getTokenizer('gpt2').encode('round trip ✓');
    expect((await call(client.decode, { tokenizer: 'gpt2', ids })).text).toBe('round trip ✓');
    const err = await rejection(call(client.decode, { tokenizer: 'gpt2', ids: [1, 60000] }));
    expect(err.code).toBe('INVALID_ARGUMENT');
    expect(err.field).toBe('ids');
    expect(err.message).toContain('ids[1] = 60000');
  });

  it('answers an unknown tokenizer with NOT_FOUND naming the field and the known names', async () => {
    const err = await rejection(
      call(client.encode, { tokenizer: 'gpt5', text: 'x', withTokens: false, allowedSpecial: [] }),
    );
    expect(err.code).toBe('NOT_FOUND');
    expect(err.field).toBe('tokenizer');
    expect(err.message).toContain('cl100k_base');
  });

  it('refuses a special token in user text unless it is allowed', async () => {
    const err = await rejection(
      call(client.encode, {
        tokenizer: 'gpt2',
        text: 'a<|endoftext|>',
        withTokens: false,
        allowedSpecial: [],
      }),
    );
    expect(err.code).toBe('INVALID_ARGUMENT');
    expect(err.message).toContain('<|endoftext|>');
    const ok = await call(client.encode, {
      tokenizer: 'gpt2',
      text: 'a<|endoftext|>',
      withTokens: false,
      allowedSpecial: ['all'],
    });
    expect(ok.ids.at(-1)).toBe(50256);
  });

  it('encodes empty text to no ids', async () => {
    expect(
      (await call(client.encode, { tokenizer: 'o200k_base', text: '', withTokens: true, allowedSpecial: [] }))
        .ids,
    ).toEqual([]);
  });

  it('compares tokenizers with characters and bytes per token', async () => {
    const text = 'def main():\n    print("héllo")\n';
    const { results } = await call(client.compare, { tokenizers: ['gpt2', 'o200k_base'], text });
    expect(results.map((r) => r.tokenizer)).toEqual(['gpt2', 'o200k_base']);
    for (const r of results) {
      expect(r.tokens).toBe(getTokenizer(r.tokenizer).encode(text).length);
      expect(r.charsPerToken).toBeCloseTo([...text].length / r.tokens, 6);
      expect(r.bytesPerToken).toBeCloseTo(Buffer.byteLength(text) / r.tokens, 6);
    }
    const err = await rejection(call(client.compare, { tokenizers: [], text }));
    expect(err.field).toBe('tokenizers');
  });

  it('estimates cost from the token count', async () => {
    const text = 'The quick brown fox jumps over the lazy dog. '.repeat(50);
    const res = await call(client.estimateCost, { tokenizer: 'cl100k_base', text, pricePer1k: 0.5 });
    expect(res.tokens).toBe(getTokenizer('cl100k_base').encode(text).length);
    expect(res.cost).toBeCloseTo((res.tokens / 1000) * 0.5, 9);
    expect(
      (await rejection(call(client.estimateCost, { tokenizer: 'gpt2', text, pricePer1k: -1 }))).field,
    ).toBe('pricePer1k');
  });

  it('trains a tokenizer from a file with progress, registers it, and publishes job events', async () => {
    const evs = await trainEvents({
      name: 'shakespeare-512',
      vocabSize: 512,
      path: shakespeare,
      specialTokens: ['<|eot|>'],
    });
    const progress = evs.filter((e) => !e.done).map((e) => e.progress!.done);
    expect(progress.length).toBeGreaterThan(0);
    for (let i = 1; i < progress.length; i++) expect(progress[i]).toBeGreaterThanOrEqual(progress[i - 1]!);
    expect(progress.at(-1)).toBe(512 - 256 - 1);
    const done = evs.at(-1)!.done!;
    expect(done).toMatchObject({ name: 'shakespeare-512', vocabSize: 512, kind: 'bpe', builtin: false });
    expect(done.specialTokens['<|eot|>']).toBe(511);

    const { tokenizers } = await call(client.listTokenizers, {});
    expect(tokenizers.map((t) => t.name)).toContain('shakespeare-512');
    const text = 'ROMEO: But soft, what light through yonder window breaks?';
    const enc = await call(client.encode, {
      tokenizer: 'shakespeare-512',
      text,
      withTokens: false,
      allowedSpecial: [],
    });
    expect(enc.ids.length).toBeLessThan(Buffer.byteLength(text));
    expect((await call(client.decode, { tokenizer: 'shakespeare-512', ids: enc.ids })).text).toBe(text);

    const states = events
      .filter((e) => e.subject === 'lab.job.tokenize-shakespeare-512.state')
      .map((e) => (e.data as { state: string }).state);
    expect(states[0]).toBe('running');
    expect(states.at(-1)).toBe('done');

    const vocab = await call(client.getVocab, {
      tokenizer: 'shakespeare-512',
      page: { offset: 0, limit: 300 },
    });
    expect(vocab.total).toBe(512);
    expect(vocab.merges.length).toBe(300 - 256);
    const first = vocab.merges[0]!;
    expect(first.left + first.right).toBe(vocab.entries[256]!.text);
    expect(vocab.entries[256]!.merge).toEqual(first);
    expect(vocab.entries[255]!.merge).toBeUndefined();
    expect(evs.at(-1)!.summary).toMatchObject({
      mergesLearned: 255,
      mergesRequested: 255,
      stopReason: 'vocab_size',
    });
  });

  it('reports the merges a small text allows, and why training stopped there', async () => {
    // 183 characters and a vocabulary of 1,024, as in the issue that found "done · 768 / 768 merges".
    const text =
      'A tokenizer learns merges from the text it is given. ' +
      'From a sentence or two, so few pairs of its symbols repeat that it stops long, long before the vocabulary of 1,024 tokens is full.';
    expect(text.length).toBe(183);
    const evs = await trainEvents({ name: 'small-text', vocabSize: 1024, text });
    const last = evs.at(-1)!;
    const learned = last.summary!.mergesLearned;
    expect(learned).toBeGreaterThan(0);
    expect(learned).toBeLessThan(768);
    expect(last.summary).toMatchObject({ mergesRequested: 768, stopReason: 'min_frequency' });
    expect(last.summary!.message).toContain(`learned ${learned} of 768 merges`);
    expect(last.summary!.message).toContain('no pair of tokens occurs twice');
    expect(last.done!.vocabSize).toBe(256 + learned);
    expect(last.progress!.message).toBe(last.summary!.message);
  });

  it('trains on a dataset version streamed from svc-data, reporting documents read, then merges', async () => {
    const svcData = remoteImpl(DataServiceService, dataClient);
    const ctx = { signal: new AbortController().signal } as never;
    let datasetId = '';
    for await (const e of svcData.ingest!(
      { name: 'bard', path: shakespeare, format: '', textField: '', maxBytes: 0, documentSplit: '' },
      ctx,
    )) {
      if (e.dataset) datasetId = e.dataset.id;
    }
    expect(datasetId).not.toBe('');
    const dataset = await callUnary(dataClient.getDataset.bind(dataClient), { id: datasetId });
    const docs = Number(dataset.versions[0]!.documents);
    expect(docs).toBeGreaterThan(1000);

    const evs = await trainEvents({ name: 'bard-ds', vocabSize: 600, datasetId, datasetVersion: 1 });
    const reading = evs.filter((e) => e.phase === 'reading');
    expect(reading.length).toBeGreaterThan(1);
    expect(reading[0]!.progress).toMatchObject({ done: 0, total: docs });
    expect(reading.at(-1)!.progress).toMatchObject({ done: docs, total: docs });
    const merging = evs.filter((e) => e.phase === 'merging');
    expect(merging.length).toBeGreaterThan(0);
    expect(evs.indexOf(merging[0]!)).toBeGreaterThan(evs.indexOf(reading.at(-1)!));
    const last = evs.at(-1)!;
    expect(last.done).toMatchObject({ name: 'bard-ds', vocabSize: 600 });
    expect(last.summary).toMatchObject({ mergesLearned: 344, documents: docs, stopReason: 'vocab_size' });

    const probe = 'First Citizen:\nBefore we proceed any further, hear me speak.';
    const enc = await call(client.encode, {
      tokenizer: 'bard-ds',
      text: probe,
      withTokens: false,
      allowedSpecial: [],
    });
    expect(enc.ids.length).toBeLessThan(probe.length / 2);

    const chars = (await trainEvents({ name: 'bard-ds-char', kind: 'char', datasetId })).at(-1)!;
    expect(chars.done).toMatchObject({
      kind: 'char',
      vocabSize: new Set(readFileSync(shakespeare, 'utf8')).size,
    });
    expect(chars.summary).toMatchObject({ mergesLearned: 0, documents: docs });

    const noSuch = await rejection(trainEvents({ name: 'ds-x', vocabSize: 300, datasetId: 'nope' }));
    expect(noSuch).toMatchObject({ code: 'NOT_FOUND', field: 'datasetId' });
    const noVersion = await rejection(
      trainEvents({ name: 'ds-y', vocabSize: 300, datasetId, datasetVersion: 9 }),
    );
    expect(noVersion).toMatchObject({ code: 'NOT_FOUND', field: 'datasetVersion' });
    expect(noVersion.message).toContain('versions: 1');
  });

  it('answers a vocabulary page past the last id with INVALID_ARGUMENT naming offset, and gives each o200k entry its merge', async () => {
    const err = await rejection(
      call(client.getVocab, { tokenizer: 'gpt2', page: { offset: 50_257, limit: 100 } }),
    );
    expect(err).toMatchObject({ code: 'INVALID_ARGUMENT', field: 'offset' });
    // How fast a page comes is bench:ui's to measure (vocab.bench.ts); here, that pages anywhere carry merges.
    for (const offset of [256, 100_000, 199_900]) {
      const page = await call(client.getVocab, { tokenizer: 'o200k_base', page: { offset, limit: 100 } });
      expect(page.entries.filter((e) => e.merge).length).toBeGreaterThan(0);
    }
  });

  it('keeps answering health checks while a large training run is busy', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lab-corpus-'));
    const { readFileSync } = await import('node:fs');
    const path = join(dir, 'big.txt');
    writeFileSync(path, readFileSync(shakespeare, 'utf8').repeat(4));
    const training = trainEvents({ name: 'big', vocabSize: 4096, path });
    const t0 = performance.now();
    expect(await checkHealth(address, '', 1000)).toBe('SERVING');
    expect(performance.now() - t0).toBeLessThan(1000);
    expect((await training).at(-1)!.done?.vocabSize).toBe(4096);
  });

  it.each([
    [{ name: 'bad name!', vocabSize: 300, text: 'abc' }, 'INVALID_ARGUMENT', 'name'],
    [{ name: 'gpt2', vocabSize: 300, text: 'abc' }, 'ALREADY_EXISTS', 'name'],
    [
      { name: 'small', vocabSize: 257, text: 'abc', specialTokens: ['<a>', '<b>'] },
      'INVALID_ARGUMENT',
      'vocabSize',
    ],
    [{ name: 'nosrc', vocabSize: 300 }, 'INVALID_ARGUMENT', 'text'],
    [
      { name: 'missing', vocabSize: 300, path: join(tmpdir(), 'no', 'such', 'file.txt') },
      'INVALID_ARGUMENT',
      'path',
    ],
    [{ name: 'badre', vocabSize: 300, text: 'abc', pattern: '([a-z' }, 'INVALID_ARGUMENT', 'pattern'],
  ])('rejects bad training input %j', async (req, code, field) => {
    const err = await rejection(trainEvents(req));
    expect(err.code).toBe(code);
    expect(err.field).toBe(field);
    const { tokenizers } = await call(client.listTokenizers, {});
    expect(tokenizers.map((t) => t.name)).not.toContain(req.name === 'gpt2' ? 'none' : req.name);
  });

  it('trains a char-level tokenizer: one id per distinct character', async () => {
    const evs = await trainEvents({ name: 'bard-char', path: shakespeare, kind: 'char' });
    expect(evs.at(-1)!.done).toMatchObject({ name: 'bard-char', kind: 'char', vocabSize: 65 });
    const enc = await call(client.encode, {
      tokenizer: 'bard-char',
      text: 'To be',
      withTokens: false,
      allowedSpecial: [],
    });
    expect(enc.ids).toHaveLength(5);
    const err = await rejection(
      call(client.encode, { tokenizer: 'bard-char', text: 'émoji', withTokens: false, allowedSpecial: [] }),
    );
    expect(err.code).toBe('INVALID_ARGUMENT');
  });

  it('imports a Hugging Face tokenizer.json, exports one that re-imports to the same ids', async () => {
    const { readFileSync } = await import('node:fs');
    const gpt2Json = readFileSync(datasetPath('gpt2-tokenizer', 'tokenizer.json'), 'utf8');
    const info = await call(client.importTokenizer, { name: 'hf-gpt2', json: gpt2Json, path: '' });
    expect(info).toMatchObject({ name: 'hf-gpt2', kind: 'hf', vocabSize: 50257 });
    const text = "Hugging Face's GPT-2 tokenizer: same ids as ours?";
    const ids = (t: string) =>
      call(client.encode, { tokenizer: t, text, withTokens: false, allowedSpecial: [] }).then((r) => r.ids);
    expect(await ids('hf-gpt2')).toEqual(await ids('gpt2'));
    const { json } = await call(client.exportTokenizer, { tokenizer: 'shakespeare-512' });
    expect(JSON.parse(json).model.type).toBe('BPE');
    await call(client.importTokenizer, { name: 'bard-again', json, path: '' });
    const sample = 'What light through yonder window breaks?';
    const a = await call(client.encode, {
      tokenizer: 'shakespeare-512',
      text: sample,
      withTokens: false,
      allowedSpecial: [],
    });
    const b = await call(client.encode, {
      tokenizer: 'bard-again',
      text: sample,
      withTokens: false,
      allowedSpecial: [],
    });
    expect(b.ids).toEqual(a.ids);
    const taken = await rejection(
      call(client.importTokenizer, { name: 'hf-gpt2', json: gpt2Json, path: '' }),
    );
    expect(taken).toMatchObject({ code: 'ALREADY_EXISTS', field: 'name' });
    const broken = await rejection(
      call(client.importTokenizer, { name: 'broken', json: '{"model": ', path: '' }),
    );
    expect(broken.code).toBe('INVALID_ARGUMENT');
  });

  it('reports vocabulary coverage of a corpus, with byte fallback for SentencePiece-style models', async () => {
    await call(client.importTokenizer, {
      name: 'phi3',
      json: '',
      path: datasetPath('hf-tokenizer-phi3-mini', 'tokenizer.json'),
    });
    const text = 'Plain English words. 🦜 and 東京 need byte fallback in a 32k vocabulary.';
    const r = await call(client.coverage, { tokenizer: 'phi3', text, path: '', top: 3 });
    expect(r.totalTokens).toBeGreaterThan(10);
    expect(r.byteFallbackRate).toBeGreaterThan(0);
    expect(r.topTokens).toHaveLength(3);
    expect(r.unusedTokens).toBeGreaterThan(31_000);
    const g = await call(client.coverage, { tokenizer: 'gpt2', text, path: '', top: 3 });
    expect(g.byteFallbackRate).toBe(0);
  });

  it('reports what it implements', async () => {
    const info = await call(client.getInfo, {});
    expect(info.name).toBe('tokenize');
    expect(info.implementedMethods).toEqual(
      expect.arrayContaining(['lab.v1.TokenizeService/Encode', 'lab.v1.TokenizeService/Train']),
    );
  });
});

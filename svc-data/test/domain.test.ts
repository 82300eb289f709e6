import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { datasetPath, mulberry32 } from '@lab/common';
import type { Job } from '@lab/proto/train';
import { describe, expect, it } from 'vitest';
import { luhnValid, normalizeText, scrubPii, stripHtml } from '../src/clean.ts';
import { exactDedup, lshParams, MinHasher, nearDedup } from '../src/dedup.ts';
import { findDependents } from '../src/dependents.ts';
import { formatOf, type ReadState, readDocuments } from '../src/ingest.ts';
import { GOPHER_DEFAULTS, qualityCheck, qualityDefaults } from '../src/quality.ts';
import type { DatasetRecord } from '../src/registry.ts';
import { dtypeFor, loadShardFile, openShards, ShardWriter } from '../src/shards.ts';
import { computeStats } from '../src/stats.ts';
import { parseSteps, runStep, splitOf } from '../src/steps.ts';
import { TextChecker } from '../src/text-check.ts';
import { writeParquet } from './parquet-writer.ts';

const tmp = () => mkdtempSync(join(tmpdir(), 'lab-data-'));
const wiki = readFileSync(datasetPath('wikitext-2', 'wiki.test.tokens'), 'utf8');
/** Real paragraphs of at least 60 words. */
const paragraphs = wiki
  .split('\n')
  .map((l) => l.trim())
  .filter((l) => !l.startsWith('=') && l.split(' ').length >= 60);

describe('normalisation', () => {
  it('composes NFC, drops control characters, collapses whitespace, keeps paragraphs', () => {
    const t = normalizeText('Cafe\u0301 \u0007 bar\t\t baz  \r\n\r\n\r\n\r\nnext\u200b line  ', {
      nfc: true,
      controlChars: true,
      whitespace: true,
      stripHtml: false,
    });
    expect(t).toBe('Café bar baz\n\nnext line');
  });

  it('strips HTML: scripts, styles, comments, tags and entities', () => {
    const html =
      '<html><head><style>p{color:red}</style><script>alert(1)</script></head><body><p>Fish &amp; chips</p><!-- x --><div>caf&eacute;? &#233;&#x21;</div></body></html>';
    const t = normalizeText(stripHtml(html), {
      nfc: true,
      controlChars: true,
      whitespace: true,
      stripHtml: false,
    });
    expect(t).toBe('Fish & chips\n\ncaf&eacute;? é!');
    expect(t).not.toMatch(/alert|color/);
  });
});

describe('PII scrubbing', () => {
  it('checks credit cards with Luhn', () => {
    expect(luhnValid('4111 1111 1111 1111')).toBe(true);
    expect(luhnValid('4111-1111-1111-1112')).toBe(false);
    expect(luhnValid('378282246310005')).toBe(true);
    expect(luhnValid('1234')).toBe(false);
  });

  it('replaces each kind with a tag and counts them', () => {
    const text = [
      'Mail jane.doe+lab@example.co.uk or bob@test.org.',
      'Card 4111 1111 1111 1111, not 4111 1111 1111 1112.',
      'Call (555) 123-4567 or +44 20 7946 0958.',
      'Servers 192.168.0.1 and 2001:db8::8a2e:370:7334, but not 999.1.1.1 or 12:30:45.',
      'SSN 123-45-6789; not 000-12-3456.',
    ].join('\n');
    const r = scrubPii(text);
    expect(r.counts).toEqual({ email: 2, creditCard: 1, phone: 2, ipv4: 1, ipv6: 1, ssn: 1 });
    expect(r.text).toContain('Mail [EMAIL] or [EMAIL].');
    expect(r.text).toContain('Card [CREDIT_CARD], not 4111 1111 1111 1112.');
    expect(r.text).toContain('Call [PHONE] or [PHONE].');
    expect(r.text).toContain('Servers [IP] and [IP], but not 999.1.1.1 or 12:30:45.');
    expect(r.text).toContain('SSN [SSN]; not 000-12-3456.');
  });

  it('leaves ordinary numbers and years alone', () => {
    const t =
      'In 1999 the 3 teams scored 12, 45 and 1,024 points; version 1.2.3 shipped on 2024-05-01. Left: 960-480-120 = 360, 1200-400-3000=500.';
    expect(scrubPii(t).text).toBe(t);
  });
});

describe('quality rules (Gopher)', () => {
  const good = paragraphs[0]!;
  it('keeps a real paragraph and names the rule a bad document fails', () => {
    expect(qualityCheck(good, GOPHER_DEFAULTS)).toBeUndefined();
    expect(qualityCheck('too short to keep', GOPHER_DEFAULTS)?.rule).toBe('min_words');
    expect(qualityCheck(`${'#tag '.repeat(60)}the of and`, GOPHER_DEFAULTS)?.rule).toBe('symbol_word_ratio');
    const repeated = Array.from(
      { length: 20 },
      () => 'the same line of text that repeats with the words',
    ).join('\n');
    expect(qualityCheck(repeated, GOPHER_DEFAULTS)?.rule).toBe('duplicate_lines');
    const ngrams = `${'buy cheap pills now and '.repeat(30)} the of that`;
    expect(qualityCheck(ngrams, GOPHER_DEFAULTS)?.rule).toMatch(/top_\dgram|duplicate_\d+grams/);
    expect(qualityCheck('1234 5678 '.repeat(40), GOPHER_DEFAULTS)?.rule).toBe('alpha_words');
    expect(qualityCheck(good, { ...GOPHER_DEFAULTS, minWords: 100_000, maxWords: 200_000 })?.rule).toBe(
      'min_words',
    );
  });

  it('reports removed counts per rule with examples', () => {
    const docs = [good, 'short', 'also short', paragraphs[1]!].map((text) => ({ text }));
    const r = runStep(parseSteps([{ kind: 'quality', paramsJson: '' }])[0]!, docs);
    expect(r.docs.length).toBe(2);
    expect(r.report.removed).toEqual({ min_words: 2 });
    expect(r.report.examples.map((e) => e.index)).toEqual([1, 2]);
    expect(r.report.examples[0]).toMatchObject({ measure: 'words', value: 1, limit: 50, similarity: 0 });
  });
});

describe('quality defaults for what a document is', () => {
  const bard = readFileSync(datasetPath('tinyshakespeare', 'input.txt'), 'utf8')
    .split(/\n\s*\n/)
    .filter((p) => p.trim())
    .map((text) => ({ text }));

  it("keeps most of tiny Shakespeare's paragraphs, where Gopher's web-page thresholds remove most, and warns", () => {
    const fit = runStep(parseSteps([{ kind: 'quality', paramsJson: '' }], 'paragraph')[0]!, bard);
    expect(fit.report.documentsOut / fit.report.documentsIn).toBeGreaterThan(0.9);
    expect(fit.report.charactersOut / fit.report.charactersIn).toBeGreaterThan(0.95);
    expect(fit.report.warnings).toEqual([]);
    const web = runStep(parseSteps([{ kind: 'quality', paramsJson: '' }], 'record')[0]!, bard);
    expect(web.report.removed.min_words).toBe(6142);
    expect(web.report.warnings).toEqual([
      'quality removes 85 % of the documents (6146 of 7222), most by min_words (6142): check that its thresholds fit these documents',
      expect.stringMatching(/^quality removes 49 % of the characters/),
    ]);
  });

  it('names the measure and threshold of every removal', () => {
    expect(qualityCheck('too short to keep', GOPHER_DEFAULTS)).toEqual({
      rule: 'min_words',
      measure: 'words',
      value: 4,
      limit: 50,
      limitKind: 'min',
    });
    expect(qualityCheck(`${'#tag '.repeat(60)}the of and`, GOPHER_DEFAULTS)).toMatchObject({
      measure: '# and ellipses per word',
      limit: 0.1,
      limitKind: 'max',
    });
    // A whole book is one document of a "file" dataset: no web-page maximum length.
    const book = bard.map((d) => d.text).join('\n\n');
    expect(qualityCheck(book, GOPHER_DEFAULTS)?.rule).toBe('max_words');
    expect(qualityCheck(book, qualityDefaults('file').options)).toBeUndefined();
    expect(qualityDefaults('line').options).toMatchObject({ minWords: 1, minStopWords: 0 });
  });
});

describe('text check', () => {
  it('reads UTF-8 cut anywhere between chunks, and refuses NUL bytes naming their offset', () => {
    const bytes = Buffer.from('héllo wörld ✓ 𝄞 '.repeat(20));
    const c = new TextChecker('file');
    for (let i = 0; i < bytes.length; i++) c.push(bytes.subarray(i, i + 1));
    c.end();
    expect(c.invalid).toBe(0);
    const bin = new TextChecker('file');
    bin.push(Buffer.from('ELF'));
    expect(() => bin.push(Buffer.from([0x41, 0x00]))).toThrow(
      /^file: not a text file: NUL byte at byte offset 4 /,
    );
  });

  it('lets a stray invalid byte through with a warning, refuses more than 1 %, and a cut-off last character', () => {
    const few = new TextChecker('path');
    few.push(Buffer.concat([Buffer.from('caf'), Buffer.from([0xe9]), Buffer.from(' au lait '.repeat(20))]));
    few.end();
    expect(few.warning()).toMatch(/^1 byte\(s\) are not valid UTF-8 \(the first at byte offset 3\)/);
    const many = new TextChecker('path');
    many.push(Buffer.from('café '.repeat(50), 'latin1'));
    expect(() => many.end()).toThrow(/^path: not UTF-8 text: 50 of the first 250 bytes .* at byte offset 3 /);
    const cut = new TextChecker('file');
    cut.push(Buffer.from([0x61, 0xe2, 0x9c]));
    expect(() => cut.end()).toThrow(/the first at byte offset 1 /);
    // Overlong encodings and surrogates are not UTF-8 either.
    const overlong = new TextChecker('file');
    overlong.push(Buffer.from([0xc0, 0xaf, 0xed, 0xa0, 0x80]));
    expect(() => overlong.end()).toThrow(/5 of the first 5 bytes/);
  });
});

describe('what depends on a dataset', () => {
  const dataset: DatasetRecord = {
    id: 'bard-1a2b3c',
    name: 'bard',
    source: 'x',
    format: 'txt',
    createdAt: '',
    versions: [1, 2, 3].map((version) => ({
      version,
      parent: version - 1,
      step: version === 1 ? 'ingest' : 'clean',
      paramsJson: '{}',
      documents: 1,
      characters: 1,
      bytes: 1,
      splits: {},
      createdAt: '',
    })),
  };
  const job = (id: string, state: string, datasetId: string, datasetVersion: number) =>
    ({ id, name: id, state, request: { datasetId, datasetVersion } }) as Job;
  const jobs = [
    job('run', 'running', dataset.id, 2),
    job('old', 'completed', dataset.id, 2),
    job('latest', 'paused', dataset.id, 0),
    job('other', 'running', 'other-000000', 2),
  ];
  const dirOf = () => '/nonexistent';

  it('blocks on jobs that will still read it, asks to confirm finished ones and later versions', () => {
    const v2 = findDependents(dataset, 2, jobs, dirOf);
    expect(v2.map((d) => [d.kind, d.id, d.blocking, d.needsForce])).toEqual([
      ['job', 'run', true, false],
      ['job', 'old', false, true],
      ['version', '3', false, true],
    ]);
    expect(v2[0]!.description).toMatch(/is running and reads v2: cancel it or let it finish first/);
    // A job that asked for "the latest" reads v3.
    expect(findDependents(dataset, 3, jobs, dirOf).map((d) => d.id)).toEqual(['latest']);
    expect(findDependents(dataset, undefined, jobs, dirOf).map((d) => d.id)).toEqual([
      'run',
      'latest',
      'old',
    ]);
    expect(findDependents(dataset, 1, { error: 'down' }, dirOf).map((d) => [d.kind, d.needsForce])).toEqual([
      ['unknown', true],
      ['version', true],
    ]);
  });
});

describe('deduplication', () => {
  it('finds exact duplicates after normalising case and whitespace', () => {
    const r = exactDedup(['A b  c', 'x', 'a B c', 'x', 'y']);
    expect([...r.keep]).toEqual([1, 1, 0, 0, 1]);
    expect(r.clusters).toBe(2);
    expect(r.duplicates).toEqual([
      { index: 2, keptIndex: 0, similarity: 1 },
      { index: 3, keptIndex: 1, similarity: 1 },
    ]);
  });

  it('estimates Jaccard similarity with MinHash', () => {
    const h = new MinHasher({ numPerm: 256, ngram: 1, seed: 3 });
    const a = Array.from({ length: 400 }, (_, i) => `w${i}`);
    const b = [...a.slice(0, 300), ...Array.from({ length: 100 }, (_, i) => `v${i}`)];
    const sa = new Uint32Array(256);
    const sb = new Uint32Array(256);
    h.signature(h.shingles(a.join(' ')), sa);
    h.signature(h.shingles(b.join(' ')), sb);
    const est = sa.filter((v, i) => v === sb[i]).length / 256;
    expect(est).toBeGreaterThan(0.6 - 0.1); // true Jaccard 300/500 = 0.6
    expect(est).toBeLessThan(0.6 + 0.1);
  });

  it('chooses LSH bands whose threshold is near the asked one', () => {
    for (const t of [0.5, 0.7, 0.8, 0.9]) {
      const { bands, rows } = lshParams(t, 128);
      expect(bands * rows).toBeLessThanOrEqual(128);
      expect((1 / bands) ** (1 / rows)).toBeGreaterThan(t - 0.2);
      expect((1 / bands) ** (1 / rows)).toBeLessThan(t + 0.1);
    }
  });

  it('finds planted near duplicates of real paragraphs and no false ones', () => {
    const rnd = mulberry32(7);
    const base = paragraphs.slice(0, 300);
    const docs = [...base];
    const planted = new Map<number, number>();
    for (let k = 0; k < 60; k++) {
      const src = Math.floor(rnd() * base.length);
      const words = base[src]!.split(' ');
      // About 3% of the words changed: a swap, a deletion and an insertion per 100 words.
      for (let e = 0; e < Math.max(1, Math.round(words.length * 0.01)); e++) {
        const i = Math.floor(rnd() * (words.length - 1));
        [words[i], words[i + 1]] = [words[i + 1]!, words[i]!];
        words.splice(Math.floor(rnd() * words.length), 1);
        words.splice(Math.floor(rnd() * words.length), 0, 'inserted');
      }
      planted.set(docs.length, src);
      docs.push(words.join(' '));
    }
    const o = { threshold: 0.7, numPerm: 128, ngram: 5, seed: 1 };
    const r = nearDedup(docs, o);
    const h = new MinHasher(o);
    const jaccard = (a: string, b: string) => {
      const x = new Set(h.shingles(a));
      const y = new Set(h.shingles(b));
      let inter = 0;
      for (const v of x) if (y.has(v)) inter++;
      return inter / (x.size + y.size - inter);
    };
    const found = new Map(r.duplicates.map((d) => [d.index, d]));
    const clear = [...planted].filter(([i, src]) => jaccard(docs[i]!, base[src]!) >= o.threshold + 0.05);
    expect(clear.length).toBeGreaterThan(20);
    const recall = clear.filter(([i]) => found.has(i)).length / clear.length;
    expect(recall).toBeGreaterThanOrEqual(0.95);
    // Every pair reported is really similar (no unrelated paragraphs).
    for (const d of r.duplicates) expect(jaccard(docs[d.index]!, docs[d.keptIndex]!)).toBeGreaterThan(0.5);
    expect(r.clusters).toBeGreaterThan(0);
  });
});

describe('split', () => {
  it('is deterministic by seed, close to the fractions, and keeps identical texts together', () => {
    const docs = paragraphs.slice(0, 1000).map((text) => ({ text }));
    const [step] = parseSteps([
      { kind: 'split', paramsJson: '{"train":0.8,"val":0.1,"test":0.1,"seed":42}' },
    ]);
    const a = runStep(step!, docs).docs.map((d) => d.split);
    const b = runStep(step!, [...docs].reverse())
      .docs.map((d) => d.split)
      .reverse();
    expect(a).toEqual(b);
    const counts = (xs: (string | undefined)[]) => {
      const m: Record<string, number> = {};
      for (const x of xs) m[x!] = (m[x!] ?? 0) + 1;
      return m;
    };
    const c = counts(a);
    expect(c.train).toBeGreaterThan(740);
    expect(c.train).toBeLessThan(860);
    expect(c.val! + c.test!).toBe(1000 - c.train!);
    const [other] = parseSteps([
      { kind: 'split', paramsJson: '{"train":0.8,"val":0.1,"test":0.1,"seed":43}' },
    ]);
    expect(runStep(other!, docs).docs.map((d) => d.split)).not.toEqual(a);
    expect(splitOf('same', { train: 0.5, val: 0.25, seed: 1 })).toBe(
      splitOf('same', { train: 0.5, val: 0.25, seed: 1 }),
    );
  });

  it('keeps each document’s fields through every step, split included', () => {
    const docs = paragraphs
      .slice(0, 50)
      .map((text, i) => ({ text: `${text}  `, fields: { label: `c${i}` } }));
    let out = docs;
    for (const step of parseSteps([
      { kind: 'clean', paramsJson: '' },
      { kind: 'pii', paramsJson: '' },
      { kind: 'dedup_exact', paramsJson: '' },
      { kind: 'split', paramsJson: '{"train":0.5,"val":0.25,"test":0.25,"seed":1}' },
    ]))
      out = runStep(step, out).docs as typeof docs;
    expect(out.length).toBeGreaterThan(40);
    for (const d of out) {
      const i = Number(d.fields.label.slice(1));
      expect(d.text).toBe(docs[i]!.text.trim());
    }
    expect(out.every((d) => (d as { split?: string }).split)).toBe(true);
  });
});

describe('step parameters', () => {
  it.each([
    [[{ kind: 'scrub', paramsJson: '' }], 'steps[0].kind', /unknown step "scrub"/],
    [[{ kind: 'dedup_near', paramsJson: '{"threshold": 1.5}' }], 'steps[0].threshold', /threshold/],
    [
      [
        { kind: 'clean', paramsJson: '' },
        { kind: 'split', paramsJson: '{"train":0.5}' },
      ],
      'steps[1].train',
      /add up to 1/,
    ],
    [[{ kind: 'pii', paramsJson: '{"kinds":["email","dna"]}' }], 'steps[0].kinds.1', /./],
    [[{ kind: 'quality', paramsJson: '{"minWords":5,"bogus":1}' }], 'steps[0]', /bogus/],
    [[{ kind: 'clean', paramsJson: '{not json' }], 'steps[0]', /not valid JSON/],
    [[], 'steps', /at least one/],
  ])('rejects %j naming %s', (steps, field, message) => {
    try {
      parseSteps(steps);
      expect.unreachable();
    } catch (err) {
      expect((err as { field: string }).field).toBe(field);
      expect((err as Error).message).toMatch(message);
    }
  });
});

describe('shards', () => {
  it.each([
    [1000, 'uint16'],
    [70_000, 'uint32'],
  ])('round-trips tokens with vocabulary %i as %s across shard files', (vocab, dtype) => {
    const dir = join(tmp(), 'shards');
    expect(dtypeFor(vocab)).toBe(dtype);
    const w = new ShardWriter(dir, {
      tokenizer: 't',
      vocabSize: vocab,
      separatorId: vocab - 1,
      shardTokens: 1024,
    });
    const rnd = mulberry32(1);
    const all: Record<string, number[]> = { train: [], val: [] };
    for (let d = 0; d < 200; d++) {
      const ids = Array.from({ length: 1 + Math.floor(rnd() * 40) }, () => Math.floor(rnd() * (vocab - 1)));
      const split = d % 5 === 0 ? 'val' : 'train';
      w.add(split, ids);
      all[split]!.push(...ids, vocab - 1);
    }
    const index = w.finish();
    expect(index.dtype).toBe(dtype);
    expect(index.splits.map((s) => s.name)).toEqual(['train', 'val']);
    const train = index.splits[0]!;
    expect(train.files.length).toBeGreaterThan(1);
    expect(train.tokens).toBe(all.train!.length);
    // Plain little-endian arrays: file size is tokens × width, and the bytes read back as the array.
    const width = dtype === 'uint16' ? 2 : 4;
    expect(statSync(join(dir, train.files[0]!.file)).size).toBe(train.files[0]!.tokens * width);
    expect([...loadShardFile(join(dir, train.files[0]!.file), dtype as 'uint16')]).toEqual(
      all.train!.slice(0, train.files[0]!.tokens),
    );

    const set = openShards(dir);
    const r = set.split('train');
    expect([...r.read(0, r.tokens)]).toEqual(all.train);
    expect([...r.read(1000, 100)]).toEqual(all.train!.slice(1000, 1100)); // spans two files
    expect([...[...r.chunks(333)].flatMap((c) => [...c])]).toEqual(all.train);
    const batch = r.batch(4, 16, mulberry32(9));
    expect(batch.inputs.length).toBe(64);
    for (let b = 0; b < 4; b++) {
      const x = [...batch.inputs.subarray(b * 16, b * 16 + 16)];
      const y = [...batch.targets.subarray(b * 16, b * 16 + 16)];
      expect(x.slice(1)).toEqual(y.slice(0, 15));
      const at = all.train!.findIndex((_, i) => x.every((v, j) => all.train![i + j] === v));
      expect(at).toBeGreaterThanOrEqual(0);
    }
    expect(() => set.split('test')).toThrow(/splits: train, val/);
    set.close();
  });
});

describe('ingest formats', () => {
  const read = async (
    name: string,
    content: string | Buffer,
    o: Partial<Parameters<typeof readDocuments>[1]> = {},
  ) => {
    const path = join(tmp(), name);
    writeFileSync(path, content);
    const state: ReadState = { bytes: 0, total: 0, warnings: [], warningCount: 0 };
    const docs: string[] = [];
    const fields: (Record<string, string> | undefined)[] = [];
    for await (const d of readDocuments(
      path,
      {
        format: formatOf(name, ''),
        textField: '',
        documentSplit: 'paragraph',
        maxBytes: 1e9,
        field: 'path',
        ...o,
      },
      state,
    )) {
      docs.push(d.text);
      fields.push(d.fields);
    }
    return { docs, fields, warnings: state.warnings };
  };

  it('reads text by paragraph or line', async () => {
    expect((await read('a.txt', 'one\ntwo\n\n\nthree\n')).docs).toEqual(['one\ntwo', 'three']);
    expect((await read('a.txt', 'one\ntwo\n\nthree', { documentSplit: 'line' })).docs).toEqual([
      'one',
      'two',
      'three',
    ]);
  });

  it('keeps good JSONL lines and warns about a malformed one with its line number', async () => {
    const r = await read('a.jsonl', '{"text":"a"}\n{"text": broken\n\n{"body":"x"}\n{"text":"b"}\n');
    expect(r.docs).toEqual(['a', 'b']);
    expect(r.warnings[0]).toMatch(/^line 2: not valid JSON/);
    expect(r.warnings[1]).toMatch(/^line 4: no "text" field \(fields: body\)/);
    expect((await read('a.jsonl', '{"body":"x"}\n', { textField: 'body' })).docs).toEqual(['x']);
  });

  it('keeps the scalar fields of JSONL, JSON and CSV records besides the text (labels travel with documents)', async () => {
    const jsonl = await read(
      'l.jsonl',
      '{"text":"a","label":"pos","score":3,"ok":true,"meta":{"x":1},"tags":["t"],"none":null}\n{"text":"b"}\n',
    );
    expect(jsonl.docs).toEqual(['a', 'b']);
    expect(jsonl.fields).toEqual([{ label: 'pos', score: '3', ok: 'true' }, undefined]);
    const named = await read('n.json', JSON.stringify([{ body: 'x', text: 'not the text', label: 0 }]), {
      textField: 'body',
    });
    expect(named.fields).toEqual([{ text: 'not the text', label: '0' }]);
    const csv = await read('c.csv', 'label,text,id\nneg,"one, two",7\npos,three,8\n');
    expect(csv.docs).toEqual(['one, two', 'three']);
    expect(csv.fields).toEqual([
      { label: 'neg', id: '7' },
      { label: 'pos', id: '8' },
    ]);
    // Rendered instruction records have no fields of their own: theirs became the text.
    expect((await read('a.jsonl', '{"instruction":"Add","output":"4"}\n')).fields).toEqual([undefined]);
  });

  it('reads CSV with quoted fields holding commas, quotes and newlines', async () => {
    const r = await read('a.csv', 'id,text\n1,"hello, ""world""\nsecond line"\r\n2,plain\n');
    expect(r.docs).toEqual(['hello, "world"\nsecond line', 'plain']);
    await expect(read('a.csv', 'id,body\n1,x\n')).rejects.toMatchObject({ field: 'textField' });
  });

  it('reads Parquet string columns', async () => {
    const r = await read(
      'a.parquet',
      writeParquet({ id: ['1', '2'], text: ['first doc', 'zweites Dokument'] }),
    );
    expect(r.docs).toEqual(['first doc', 'zweites Dokument']);
    await expect(read('a.parquet', writeParquet({ body: ['x'] }))).rejects.toMatchObject({
      field: 'textField',
    });
  });

  it('normalises Alpaca, ShareGPT and ChatML records', async () => {
    const alpaca = await read(
      'a.json',
      JSON.stringify([
        { instruction: 'Add', input: '2 and 2', output: '4' },
        { instruction: 'Greet', input: '', output: 'Hi' },
      ]),
    );
    expect(alpaca.docs).toEqual([
      '### Instruction:\nAdd\n\n### Input:\n2 and 2\n\n### Response:\n4',
      '### Instruction:\nGreet\n\n### Response:\nHi',
    ]);
    const share = await read(
      'b.jsonl',
      `${JSON.stringify({
        conversations: [
          { from: 'human', value: 'Hi?' },
          { from: 'gpt', value: 'Hello.' },
        ],
      })}\n`,
      { format: 'sharegpt' },
    );
    expect(share.docs).toEqual(['<|im_start|>user\nHi?<|im_end|>\n<|im_start|>assistant\nHello.<|im_end|>']);
    const chat = await read(
      'c.json',
      JSON.stringify([
        {
          messages: [
            { role: 'system', content: 'Be brief.' },
            { role: 'user', content: 'Q' },
          ],
        },
      ]),
      { format: 'chatml' },
    );
    expect(chat.docs[0]).toBe('<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nQ<|im_end|>');
  });

  it('rejects unsupported file types naming the format', () => {
    expect(() => formatOf('model.bin', '')).toThrow(/unsupported file type "\.bin"/);
    expect(() => formatOf('x.txt', 'xml')).toThrow(/unsupported format "xml"/);
    expect(formatOf('h.jsonl.gz', '')).toBe('jsonl');
  });
});

describe('stats', () => {
  it('counts documents, words, a histogram and top n-grams', () => {
    const s = computeStats(
      [
        { text: 'the cat sat on the mat' },
        { text: 'the cat ran', split: 'train' },
        { text: 'x'.repeat(100) },
      ],
      { ngram: 2, topK: 2 },
    );
    expect(s.documents).toBe(3);
    expect(s.words).toBe(10);
    expect(s.topNgrams[0]).toEqual({ ngram: 'the cat', count: 2 });
    expect(s.lengthBucketCounts[0]).toBe(2);
    expect(s.lengthBucketCounts[1]).toBe(1);
    expect(s.splits).toEqual({ train: 1 });
    expect(s.minLength).toBe(11);
    expect(s.maxLength).toBe(100);
  });
});

describe('version storage', () => {
  it('writes and reads back documents across read-buffer boundaries, multi-byte characters intact', async () => {
    const { VersionWriter, readDocs } = await import('../src/registry.ts');
    const root = tmp();
    const w = new VersionWriter(root);
    const docs = Array.from({ length: 3000 }, (_, i) => ({
      text: `${i} 東京 🧪 naïve ${'é'.repeat(i % 997)} ${'x'.repeat(1000)}\n"quoted"`,
      ...(i % 3 ? { split: 'train' } : {}),
      ...(i % 2 ? { fields: { label: `l${i % 5}`, note: 'ü "q"' } } : {}),
    }));
    for (const d of docs) w.add(d);
    const v = w.finish();
    expect(v.bytes).toBeGreaterThan(4 << 20);
    expect(v.documents).toBe(3000);
    expect(v.splits).toEqual({ train: 2000 });
    expect([...readDocs(v.tmp)]).toEqual(docs);
  });
});

// Reading files into documents: plain text, JSONL, JSON arrays, CSV, Parquet, and instruction formats
// (Alpaca, ShareGPT, ChatML messages) rendered as text. Everything streams except JSON arrays and Parquet
// row groups, which are bounded by the size limit.
import { createReadStream, statSync } from 'node:fs';
import { basename } from 'node:path';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { LabError } from '@lab/common';
import { asyncBufferFromFile, parquetMetadataAsync, parquetRead, parquetSchema } from 'hyparquet';
import { textOnly } from './text-check.ts';

export const FORMATS = ['txt', 'jsonl', 'json', 'csv', 'parquet', 'alpaca', 'sharegpt', 'chatml'] as const;
export type Format = (typeof FORMATS)[number];
export const DOCUMENT_SPLITS = ['paragraph', 'line', 'file'] as const;
export type DocumentSplit = (typeof DOCUMENT_SPLITS)[number];

/** Size limit when a request names none and LAB_DATA_MAX_BYTES is not set. */
export const DEFAULT_MAX_BYTES = 1024 ** 3;

const EXTENSIONS: Record<string, Format> = {
  txt: 'txt',
  text: 'txt',
  md: 'txt',
  jsonl: 'jsonl',
  ndjson: 'jsonl',
  json: 'json',
  csv: 'csv',
  parquet: 'parquet',
};

/** The format a file name stands for (`.gz` is looked through), or a clear error naming `field`. */
export function formatOf(filename: string, format: string, field = 'format'): Format {
  if (format) {
    if (!(FORMATS as readonly string[]).includes(format)) {
      throw new LabError(
        'INVALID_ARGUMENT',
        `${field}: unsupported format "${format}" (supported: ${FORMATS.join(', ')})`,
        field,
      );
    }
    return format as Format;
  }
  const name = basename(filename).toLowerCase().replace(/\.gz$/, '');
  const ext = name.includes('.') ? name.slice(name.lastIndexOf('.') + 1) : '';
  const f = EXTENSIONS[ext];
  if (!f) {
    throw new LabError(
      'INVALID_ARGUMENT',
      `${field}: unsupported file type "${ext ? `.${ext}` : basename(filename)}" (supported: .txt, .md, .jsonl, .json, .csv, .parquet, optionally .gz; or name the format)`,
      field,
    );
  }
  return f;
}

export interface ReadOptions {
  format: Format;
  textField: string;
  documentSplit: DocumentSplit;
  maxBytes: number;
  /** Name of the input in messages and errors ("path" for a server file, "file" for an upload). */
  field: string;
}

/** Mutable state a reader updates while it runs: for progress and warnings. */
export interface ReadState {
  bytes: number;
  total: number;
  warnings: string[];
  /** Warnings beyond the kept ones are only counted. */
  warningCount: number;
}

const MAX_WARNINGS = 100;

function warn(state: ReadState, message: string): void {
  state.warningCount++;
  if (state.warnings.length < MAX_WARNINGS) state.warnings.push(message);
}

const tooLarge = (field: string, size: number, max: number) =>
  new LabError(
    'RESOURCE_EXHAUSTED',
    `${field}: the file is ${size} bytes, above the limit of ${max} bytes (raise maxBytes or LAB_DATA_MAX_BYTES)`,
    field,
  );

/** Checks the file exists, is not empty and is under the limit; returns its size. */
export function checkFile(path: string, o: Pick<ReadOptions, 'maxBytes' | 'field'>): number {
  let size: number;
  try {
    const st = statSync(path);
    if (!st.isFile()) throw new Error('not a file');
    size = st.size;
  } catch {
    throw new LabError('INVALID_ARGUMENT', `${o.field}: no such file: ${path}`, o.field);
  }
  if (size === 0) throw new LabError('INVALID_ARGUMENT', `${o.field}: the file is empty (0 bytes)`, o.field);
  if (size > o.maxBytes) throw tooLarge(o.field, size, o.maxBytes);
  return size;
}

/**
 * A byte stream of the file (gunzipped for .gz) that counts bytes and enforces the limit; for text formats it
 * also refuses bytes that are not text (see text-check.ts).
 */
function byteStream(path: string, o: ReadOptions, state: ReadState): Readable {
  const raw = createReadStream(path, { highWaterMark: 1 << 20 });
  raw.on('data', (c) => {
    state.bytes += c.length;
  });
  let bytes: Readable = raw;
  if (path.endsWith('.gz')) {
    const gunzip = createGunzip();
    let out = 0;
    gunzip.on('data', (c: Buffer) => {
      out += c.length;
      if (out > o.maxBytes) gunzip.destroy(tooLarge(o.field, out, o.maxBytes));
    });
    raw.on('error', (e) => gunzip.destroy(e));
    bytes = raw.pipe(gunzip);
  }
  if (o.format === 'parquet') return bytes;
  const text = textOnly(o.field, bytes === raw ? '' : ' of the gunzipped data', (w) => warn(state, w));
  bytes.on('error', (e) => text.destroy(e));
  // Readers stop early by destroying what they read; the file must close with it.
  text.on('close', () => raw.destroy());
  return bytes.pipe(text);
}

async function* lines(stream: Readable): AsyncGenerator<string> {
  const rl = createInterface({ input: stream.setEncoding('utf8'), crlfDelay: Number.POSITIVE_INFINITY });
  try {
    for await (const line of rl) yield line;
  } catch (err) {
    if (err instanceof LabError) throw err;
    throw new LabError('INVALID_ARGUMENT', `could not read the file: ${(err as Error).message}`);
  } finally {
    rl.close();
    stream.destroy();
  }
}

type Rec = Record<string, unknown>;
const ROLE: Record<string, string> = {
  human: 'user',
  user: 'user',
  gpt: 'assistant',
  assistant: 'assistant',
  bot: 'assistant',
  chatgpt: 'assistant',
  model: 'assistant',
  system: 'system',
  tool: 'tool',
};

/** An Alpaca record as one document. */
export function renderAlpaca(r: Rec): string | undefined {
  if (typeof r.instruction !== 'string' || typeof r.output !== 'string') return undefined;
  const input = typeof r.input === 'string' && r.input.trim() ? `\n\n### Input:\n${r.input}` : '';
  return `### Instruction:\n${r.instruction}${input}\n\n### Response:\n${r.output}`;
}

/** A conversation (ShareGPT `conversations` of {from, value}, or ChatML `messages` of {role, content}) in ChatML. */
export function renderChat(turns: unknown): string | undefined {
  if (!Array.isArray(turns) || !turns.length) return undefined;
  const parts: string[] = [];
  for (const t of turns as Rec[]) {
    const role = String(t?.role ?? t?.from ?? '').toLowerCase();
    const content = t?.content ?? t?.value;
    if (typeof content !== 'string' || !role) return undefined;
    parts.push(`<|im_start|>${ROLE[role] ?? role}\n${content}<|im_end|>`);
  }
  return parts.join('\n');
}

/** A document as read: its text and the record's other scalar fields (labels, ids, metadata). */
export interface ReadDoc {
  text: string;
  fields?: Record<string, string>;
}

/**
 * The scalar fields of a record besides its text, as strings: kept so that labels travel with the
 * document (probes, filters). Nested values are left out: they are structure, not a label.
 */
function otherFields(entries: Iterable<[string, unknown]>, textField: string): ReadDoc['fields'] {
  let out: Record<string, string> | undefined;
  for (const [k, v] of entries) {
    if (k === textField || !['string', 'number', 'boolean'].includes(typeof v)) continue;
    out ??= {};
    out[k] = String(v);
  }
  return out;
}

/** The document of one record, or a reason it has none. */
function recordText(rec: unknown, format: Format, textField: string): ReadDoc | { problem: string } {
  if (typeof rec !== 'object' || rec === null || Array.isArray(rec)) return { problem: 'not a JSON object' };
  const r = rec as Rec;
  const rendered = (text: string | undefined, problem: string) =>
    text === undefined ? { problem } : { text };
  if (format === 'alpaca') return rendered(renderAlpaca(r), 'no "instruction" and "output" strings');
  if (format === 'sharegpt')
    return rendered(renderChat(r.conversations), 'no "conversations" list of {from, value}');
  if (format === 'chatml') return rendered(renderChat(r.messages), 'no "messages" list of {role, content}');
  const field = textField || 'text';
  const v = r[field];
  if (typeof v === 'string') {
    const fields = otherFields(Object.entries(r), field);
    return fields ? { text: v, fields } : { text: v };
  }
  if (v !== undefined && v !== null) return { problem: `field "${field}" is not a string` };
  if (!textField) {
    const t = renderAlpaca(r) ?? renderChat(r.conversations) ?? renderChat(r.messages);
    if (t !== undefined) return { text: t };
  }
  return { problem: `no "${field}" field (fields: ${Object.keys(r).slice(0, 12).join(', ')})` };
}

async function* textDocs(path: string, o: ReadOptions, state: ReadState): AsyncGenerator<ReadDoc> {
  if (o.documentSplit === 'file') {
    const chunks: string[] = [];
    for await (const l of lines(byteStream(path, o, state))) chunks.push(l);
    yield { text: chunks.join('\n') };
    return;
  }
  let para: string[] = [];
  for await (const line of lines(byteStream(path, o, state))) {
    if (o.documentSplit === 'line') {
      if (line.trim()) yield { text: line };
    } else if (line.trim()) para.push(line);
    else if (para.length) {
      yield { text: para.join('\n') };
      para = [];
    }
  }
  if (para.length) yield { text: para.join('\n') };
}

async function* jsonlDocs(path: string, o: ReadOptions, state: ReadState): AsyncGenerator<ReadDoc> {
  yield* jsonlFromLines(lines(byteStream(path, o, state)), o, state);
}

async function* jsonlFromLines(
  input: AsyncIterable<string> | Iterable<string>,
  o: ReadOptions,
  state: ReadState,
): AsyncGenerator<ReadDoc> {
  let n = 0;
  for await (const line of input) {
    n++;
    if (!line.trim()) continue;
    let rec: unknown;
    try {
      rec = JSON.parse(line);
    } catch (err) {
      warn(state, `line ${n}: not valid JSON (${(err as Error).message}); skipped`);
      continue;
    }
    const t = recordText(rec, o.format === 'jsonl' ? 'jsonl' : o.format, o.textField);
    if ('problem' in t) warn(state, `line ${n}: ${t.problem}; skipped`);
    else yield t;
  }
}

async function* jsonDocs(path: string, o: ReadOptions, state: ReadState): AsyncGenerator<ReadDoc> {
  const chunks: Buffer[] = [];
  for await (const c of byteStream(path, o, state)) chunks.push(c as Buffer);
  const body = Buffer.concat(chunks).toString('utf8');
  // Instruction formats also come as JSONL: treat a body that is not one JSON value as lines.
  const trimmed = body.trimStart();
  if (o.format !== 'json' && !trimmed.startsWith('[')) {
    yield* jsonlFromLines(body.split(/\r?\n/), o, state);
    return;
  }
  let data: unknown;
  try {
    data = JSON.parse(body);
  } catch (err) {
    throw new LabError('INVALID_ARGUMENT', `${o.field}: not valid JSON (${(err as Error).message})`, o.field);
  }
  const records = Array.isArray(data) ? data : [data];
  for (let i = 0; i < records.length; i++) {
    const t = recordText(records[i], o.format === 'json' ? 'json' : o.format, o.textField);
    if ('problem' in t) warn(state, `record ${i}: ${t.problem}; skipped`);
    else yield t;
  }
}

/** RFC 4180 CSV rows from text chunks (quoted fields may hold commas, quotes and newlines). */
export async function* csvRows(chunks: AsyncIterable<string>): AsyncGenerator<string[]> {
  let row: string[] = [];
  let field = '';
  let quoted = false;
  let afterQuote = false;
  for await (const chunk of chunks) {
    for (let i = 0; i < chunk.length; i++) {
      const ch = chunk[i]!;
      if (quoted) {
        if (ch === '"') {
          quoted = false;
          afterQuote = true;
        } else field += ch;
        continue;
      }
      if (ch === '"') {
        if (afterQuote) field += '"';
        quoted = true;
        afterQuote = false;
        continue;
      }
      afterQuote = false;
      if (ch === ',') {
        row.push(field);
        field = '';
      } else if (ch === '\n') {
        row.push(field.endsWith('\r') ? field.slice(0, -1) : field);
        yield row;
        row = [];
        field = '';
      } else field += ch;
    }
  }
  if (field || row.length) {
    row.push(field);
    yield row;
  }
}

async function* csvDocs(path: string, o: ReadOptions, state: ReadState): AsyncGenerator<ReadDoc> {
  const stream = byteStream(path, o, state).setEncoding('utf8');
  let header: string[] | undefined;
  let col = -1;
  let n = 0;
  for await (const row of csvRows(stream as AsyncIterable<string>)) {
    n++;
    if (!header) {
      header = row.map((h) => h.replace(/^\uFEFF/, '').trim());
      const field = o.textField || 'text';
      col = header.indexOf(field);
      if (col < 0) {
        stream.destroy();
        throw new LabError(
          'INVALID_ARGUMENT',
          `textField: the CSV has no column "${field}" (columns: ${header.join(', ')})`,
          'textField',
        );
      }
      continue;
    }
    if (row.length === 1 && row[0] === '') continue;
    const v = row[col];
    if (v === undefined)
      warn(state, `row ${n}: has ${row.length} columns, expected ${header.length}; skipped`);
    else {
      const fields = otherFields(
        header.map((h, i): [string, unknown] => [h, row[i]]),
        header[col]!,
      );
      yield fields ? { text: v, fields } : { text: v };
    }
  }
}

async function* parquetDocs(path: string, o: ReadOptions, state: ReadState): AsyncGenerator<ReadDoc> {
  const file = await asyncBufferFromFile(path);
  let metadata: Awaited<ReturnType<typeof parquetMetadataAsync>>;
  try {
    metadata = await parquetMetadataAsync(file);
  } catch (err) {
    throw new LabError(
      'INVALID_ARGUMENT',
      `${o.field}: not a Parquet file (${(err as Error).message})`,
      o.field,
    );
  }
  const columns = parquetSchema(metadata).children.map((c) => c.element.name);
  const field = o.textField || 'text';
  if (!columns.includes(field)) {
    throw new LabError(
      'INVALID_ARGUMENT',
      `textField: the Parquet file has no column "${field}" (columns: ${columns.join(', ')})`,
      'textField',
    );
  }
  const total = Number(metadata.num_rows);
  // One row group at a time bounds memory by the largest group.
  let start = 0;
  for (const rg of metadata.row_groups) {
    const end = start + Number(rg.num_rows);
    let rows: unknown[][] = [];
    try {
      await parquetRead({
        file,
        metadata,
        columns: [field],
        rowStart: start,
        rowEnd: end,
        onComplete: (r: unknown[][]) => {
          rows = r;
        },
      });
    } catch (err) {
      throw new LabError(
        'INVALID_ARGUMENT',
        `${o.field}: cannot read the Parquet file: ${(err as Error).message}`,
        o.field,
      );
    }
    for (let i = 0; i < rows.length; i++) {
      const v = rows[i]![0];
      if (typeof v === 'string') yield { text: v };
      else if (v !== null && v !== undefined)
        warn(state, `row ${start + i}: "${field}" is not a string; skipped`);
    }
    start = end;
    state.bytes = Math.round((state.total * start) / Math.max(1, total));
  }
}

/**
 * Documents of a file (JSONL/JSON records and CSV rows keep their other scalar fields). Malformed records become warnings in `state` and are skipped; problems
 * with the whole file (type, size, a missing column) throw a LabError naming the field.
 */
export function readDocuments(path: string, o: ReadOptions, state: ReadState): AsyncGenerator<ReadDoc> {
  switch (o.format) {
    case 'txt':
      return textDocs(path, o, state);
    case 'jsonl':
      return jsonlDocs(path, o, state);
    case 'csv':
      return csvDocs(path, o, state);
    case 'parquet':
      return parquetDocs(path, o, state);
    default:
      return jsonDocs(path, o, state);
  }
}

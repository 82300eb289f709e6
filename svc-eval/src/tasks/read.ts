import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { invalidArgument, LabError } from '@lab/common';
import type { LoadOptions, McItem, TaskSpec } from './types.ts';

/** lm-eval's defaults: between a prompt and its answer, and between few-shot examples. */
export const TARGET_DELIMITER = ' ';
export const FEWSHOT_DELIMITER = '\n\n';

/** fewshotOrder of the tasks that sample their examples from their own file. */
export const SAMPLED_ORDER =
  'seeded random (mulberry32(seed), one stream through the docs in order) from the other docs of the same file, ' +
  'excluding the doc itself and docs with the same prompt; joined by "\\n\\n", each answered after " "';

/** A doc after the task's preprocessing: its prompt, its choice texts (no delimiter) and the gold index. */
export interface Doc {
  query: string;
  choices: string[];
  gold: number;
}

/** A bad file on disk is not the caller's argument, so FAILED_PRECONDITION; the message says where. */
export function badFile(file: string, line: number, why: string): LabError {
  return new LabError('FAILED_PRECONDITION', `datasets: ${file}:${line}: ${why}`, 'datasets');
}

export function readText(datasets: string, rel: string): { file: string; text: string } {
  const file = join(datasets, rel);
  if (!existsSync(file)) throw new LabError('FAILED_PRECONDITION', `datasets: ${file} not found`, 'datasets');
  // A BOM would otherwise end up in the first field name or the first question.
  return { file, text: readFileSync(file, 'utf8').replace(/^\uFEFF/, '') };
}

/** Objects of a JSON Lines file with their 1-based line numbers; blank lines are skipped. */
export function readJsonl(
  datasets: string,
  rel: string,
): { file: string; rows: { line: number; doc: unknown }[] } {
  const { file, text } = readText(datasets, rel);
  const rows: { line: number; doc: unknown }[] = [];
  text.split('\n').forEach((raw, i) => {
    if (raw.trim() === '') return;
    try {
      rows.push({ line: i + 1, doc: JSON.parse(raw) });
    } catch (err) {
      throw badFile(file, i + 1, `not JSON (${(err as Error).message})`);
    }
  });
  return { file, rows };
}

/**
 * RFC 4180 CSV (quoted fields may hold commas, newlines and "" escapes). Strict where the files here are
 * regular: text after a closing quote, an unterminated quote or a row whose width differs from the
 * header's is an error naming the line it starts on.
 */
export function readCsv(
  datasets: string,
  rel: string,
): { file: string; header: string[]; rows: { line: number; fields: string[] }[] } {
  const { file, text } = readText(datasets, rel);
  const rows: { line: number; fields: string[] }[] = [];
  let fields: string[] = [];
  let field = '';
  let line = 1;
  let rowLine = 1;
  let i = 0;
  const endRow = () => {
    fields.push(field);
    if (!(fields.length === 1 && fields[0] === '')) rows.push({ line: rowLine, fields });
    fields = [];
    field = '';
    rowLine = line;
  };
  while (i < text.length) {
    const c = text[i];
    if (c === '"' && field === '') {
      const start = line;
      i++;
      for (;;) {
        if (i >= text.length) throw badFile(file, start, 'unterminated quoted field');
        if (text[i] === '"') {
          if (text[i + 1] === '"') {
            field += '"';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        if (text[i] === '\n') line++;
        field += text[i++];
      }
      const next = text[i];
      if (next !== undefined && next !== ',' && next !== '\n' && next !== '\r') {
        throw badFile(file, line, 'text after a closing quote');
      }
    } else if (c === ',') {
      fields.push(field);
      field = '';
      i++;
    } else if (c === '\n' || c === '\r') {
      i += c === '\r' && text[i + 1] === '\n' ? 2 : 1;
      line++;
      endRow();
    } else {
      field += c;
      i++;
    }
  }
  if (field !== '' || fields.length > 0) endRow();
  if (rows.length === 0) throw badFile(file, 1, 'empty file');
  const [head, ...body] = rows;
  for (const r of body) {
    if (r.fields.length !== head.fields.length) {
      throw badFile(file, r.line, `${r.fields.length} fields, header has ${head.fields.length}`);
    }
  }
  return { file, header: head.fields, rows: body };
}

/** Python's str.isspace() set: lm-eval strips with it, and it differs from JS trim() (no BOM, has \x1c-\x1f, \x85). */
const PY_SPACE = new Set([
  0x09,
  0x0a,
  0x0b,
  0x0c,
  0x0d,
  0x1c,
  0x1d,
  0x1e,
  0x1f,
  0x20,
  0x85,
  0xa0,
  0x1680,
  ...Array.from({ length: 11 }, (_, i) => 0x2000 + i),
  0x2028,
  0x2029,
  0x202f,
  0x205f,
  0x3000,
]);

export function pyStrip(s: string): string {
  let a = 0;
  let b = s.length;
  while (a < b && PY_SPACE.has(s.charCodeAt(a))) a++;
  while (b > a && PY_SPACE.has(s.charCodeAt(b - 1))) b--;
  return s.slice(a, b);
}

/** Checks the load options every task shares, then builds: no task can forget one. */
export function defineTask(spec: Omit<TaskSpec, 'load'>, build: (opts: LoadOptions) => McItem[]): TaskSpec {
  return {
    ...spec,
    load(opts) {
      const { limit, fewshot } = opts;
      if (limit !== undefined && !(Number.isInteger(limit) && limit > 0)) {
        throw invalidArgument('limit', `must be a positive integer, got ${limit}`);
      }
      if (!Number.isInteger(fewshot) || fewshot < 0 || fewshot > spec.maxFewshot) {
        throw invalidArgument('fewshot', `${spec.name} takes 0..${spec.maxFewshot} examples, got ${fewshot}`);
      }
      if (!Number.isFinite(opts.seed)) throw invalidArgument('seed', `must be a number, got ${opts.seed}`);
      return build(opts);
    },
  };
}

/** lm-eval's plain-text fewshot_context: description, then each example answered and delimited, then the query. */
export function renderContext(description: string, shots: Doc[], query: string): string {
  const examples = shots.map((s) => s.query + TARGET_DELIMITER + s.choices[s.gold] + FEWSHOT_DELIMITER);
  return description + examples.join('') + query;
}

export function toItem(task: string, index: number, doc: Doc, context: string, subject?: string): McItem {
  return {
    id: `${task}/${index}`,
    task,
    ...(subject ? { subject } : {}),
    context,
    choices: doc.choices.map((c) => TARGET_DELIMITER + c),
    targetDelimiter: TARGET_DELIMITER,
    gold: doc.gold,
  };
}

/**
 * Where lm-eval samples few-shot examples from a train split that is absent here, draw them from the
 * other docs of the same file, never the doc itself nor a doc with the same prompt (lm-eval drops
 * the eval doc by equality). One RNG runs through the docs in order, as lm-eval's sampler does, so a doc's
 * examples do not depend on `limit`.
 */
export function sampledItems(task: string, docs: Doc[], opts: LoadOptions, rng: () => number): McItem[] {
  const n = opts.fewshot;
  const count = Math.min(docs.length, opts.limit ?? docs.length);
  const items: McItem[] = [];
  for (let i = 0; i < count; i++) {
    let shots: Doc[] = [];
    if (n > 0) {
      const pool = docs.filter((d, j) => j !== i && d.query !== docs[i].query);
      if (pool.length < n)
        throw invalidArgument('fewshot', `${n} examples requested, ${pool.length} available`);
      // Partial Fisher-Yates: n draws per doc, whatever the pool.
      for (let k = 0; k < n; k++) {
        const j = k + Math.floor(rng() * (pool.length - k));
        [pool[k], pool[j]] = [pool[j], pool[k]];
      }
      shots = pool.slice(0, n);
    }
    items.push(toItem(task, i, docs[i], renderContext('', shots, docs[i].query)));
  }
  return items;
}

/** Field readers that name the file and line of a record that lacks the field. */
export function field<T>(
  doc: unknown,
  key: string,
  ok: (v: unknown) => v is T,
  file: string,
  line: number,
  want: string,
): T {
  const v = typeof doc === 'object' && doc !== null ? (doc as Record<string, unknown>)[key] : undefined;
  if (!ok(v)) throw badFile(file, line, `"${key}" must be ${want}`);
  return v;
}
export const isString = (v: unknown): v is string => typeof v === 'string';
export const isStrings = (v: unknown): v is string[] => Array.isArray(v) && v.length > 0 && v.every(isString);
export const isIndex = (v: unknown): v is number => Number.isInteger(v) && (v as number) >= 0;

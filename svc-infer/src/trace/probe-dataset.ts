// A probe's examples from a svc-data dataset version: one example per document, its class the value of a
// document field (a JSONL/JSON/CSV field svc-data kept at ingest). The documents are read over gRPC before
// the model is taken from the pool; checks name the request's field.
import { LabError, type VersionDocumentsRequest } from '@lab/common';
import type { Document } from '@lab/proto/data';
import type { ProbeRequest } from '@lab/proto/infer';

export const PROBE_POOLS = ['last', 'mean'] as const;
export type ProbePool = (typeof PROBE_POOLS)[number];
/** Documents read when the request names no limit. */
export const DEFAULT_PROBE_DOCUMENTS = 1000;
/** Each document is a forward pass of its own: this bounds one request's work. */
export const MAX_PROBE_DOCUMENTS = 5000;
/** Below this a held-out accuracy says nothing: a fifth of 10 is two documents. */
export const MIN_PROBE_DOCUMENTS = 10;
/** The classes a probe tells apart (as with token labels). */
export const MAX_PROBE_CLASSES = 256;

/** Reads a version's documents (svc-data's ListDocuments, paged). */
export type ReadDocuments = (
  req: VersionDocumentsRequest,
) => Promise<{ documents: Document[]; total: number }>;

/** The examples of a dataset probe, before tokenizing. */
export interface DatasetExamples {
  texts: string[];
  /** Each text's document index in the version (for messages). */
  indices: number[];
  /** The request field errors about a text name: textField, or datasetId for documents' own texts. */
  textField: string;
  /** Class of each text, an index into classNames. */
  labels: Int32Array;
  classNames: string[];
  pool: ProbePool;
}

const bad = (field: string, message: string) =>
  new LabError('INVALID_ARGUMENT', `${field}: ${message}`, field);

const quoted = (s: string) => JSON.stringify(s);

/** Checks what needs neither the model nor the documents (of a text probe too: no stray dataset fields). */
export function checkProbeSource(req: ProbeRequest): void {
  if (!req.datasetId) {
    const stray = (['labelField', 'textField', 'datasetVersion', 'maxDocuments', 'pool'] as const).find(
      (k) => req[k],
    );
    if (stray) throw bad(stray, 'belongs to a dataset probe: give datasetId too (or leave it out)');
    return;
  }
  if (req.text || req.tokens.length) throw bad('datasetId', 'give datasetId or text/tokens, not both');
  if (req.label || req.labels.length)
    throw bad('label', 'a dataset probe takes its classes from labelField: leave label and labels out');
  if (!req.labelField) throw bad('labelField', 'name the document field that holds each document’s class');
  if (req.pool && !(PROBE_POOLS as readonly string[]).includes(req.pool))
    throw bad('pool', `${quoted(req.pool)}: "last" (the last token) or "mean" (over the tokens)`);
  if (req.maxDocuments > MAX_PROBE_DOCUMENTS)
    throw bad('maxDocuments', `${req.maxDocuments}; at most ${MAX_PROBE_DOCUMENTS}`);
}

/** Class names in a stable order: numerically when every value is a number ("2" before "10"). */
function classOrder(values: Iterable<string>): string[] {
  const names = [...new Set(values)];
  const numeric = names.every((v) => v.trim() !== '' && Number.isFinite(Number(v)));
  return numeric ? names.sort((a, b) => Number(a) - Number(b)) : names.sort();
}

/** Names the documents lacking `key` (how many, which first) and the fields they do have. */
function missing(docs: readonly Document[], key: string, field: string): LabError | undefined {
  const without = docs.filter((d) => d.fields[key] === undefined);
  if (!without.length) return undefined;
  const have = [...new Set(docs.flatMap((d) => Object.keys(d.fields)))].sort();
  const fields = have.length
    ? `fields on these documents: ${have.join(', ')}`
    : 'these documents have no fields (plain text, or records ingested before svc-data kept them: ingest the file again)';
  return bad(
    field,
    `${without.length} of ${docs.length} documents have no ${quoted(key)} field (the first is document ${without[0]!.index}); ${fields}`,
  );
}

/** Reads the version and maps each document to its text and class. */
export async function datasetExamples(
  read: ReadDocuments,
  req: ProbeRequest,
  signal?: AbortSignal,
): Promise<DatasetExamples> {
  const limit = req.maxDocuments || DEFAULT_PROBE_DOCUMENTS;
  let docs: Document[];
  let total: number;
  try {
    ({ documents: docs, total } = await read({
      datasetId: req.datasetId,
      version: req.datasetVersion,
      limit,
      signal,
    }));
  } catch (err) {
    if (!(err instanceof LabError) || err.code === 'CANCELLED') throw err;
    // svc-data names its own fields (datasetId, version): say them as this request does.
    const field = err.field === 'version' ? 'datasetVersion' : 'datasetId';
    const why = err.message.replace(/^\w+: /, '');
    const message = err.code === 'UNAVAILABLE' ? `svc-data did not answer (${why})` : why;
    throw new LabError(err.code, `${field}: ${message}`, field);
  }
  const noun = `${req.datasetId}${req.datasetVersion ? ` v${req.datasetVersion}` : ''}`;
  if (!docs.length) throw bad('datasetId', `${noun} has no documents`);
  const problem =
    missing(docs, req.labelField, 'labelField') ??
    (req.textField && missing(docs, req.textField, 'textField'));
  if (problem) throw problem;
  const texts = docs.map((d) => (req.textField ? d.fields[req.textField]! : d.text));
  const empty = texts.filter((t) => !t.trim()).length;
  if (empty)
    throw bad(
      req.textField ? 'textField' : 'datasetId',
      `${empty} of ${docs.length} documents have an empty text: a probe needs a token to read`,
    );
  if (docs.length < MIN_PROBE_DOCUMENTS) {
    const capped = total > docs.length;
    throw bad(
      capped ? 'maxDocuments' : 'datasetId',
      `${docs.length} documents${capped ? ` of ${total}` : ` in ${noun}`}; a probe needs ${MIN_PROBE_DOCUMENTS} or more (more for a held-out accuracy worth reading)`,
    );
  }
  const values = docs.map((d) => d.fields[req.labelField]!);
  const classNames = classOrder(values);
  if (classNames.length < 2)
    throw bad(
      'labelField',
      `every document’s ${quoted(req.labelField)} is ${quoted(classNames[0]!)}: a probe needs two classes or more`,
    );
  if (classNames.length > MAX_PROBE_CLASSES)
    throw bad(
      'labelField',
      `${classNames.length} distinct values; at most ${MAX_PROBE_CLASSES} classes (is ${quoted(req.labelField)} a label?)`,
    );
  const index = new Map(classNames.map((c, k) => [c, k]));
  return {
    texts,
    indices: docs.map((d) => Number(d.index)),
    textField: req.textField ? 'textField' : 'datasetId',
    labels: Int32Array.from(values, (v) => index.get(v)!),
    classNames,
    pool: (req.pool || 'last') as ProbePool,
  };
}

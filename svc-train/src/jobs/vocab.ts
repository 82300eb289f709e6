// The vocabulary a job would get, known before the job exists: the estimate sizes the embeddings with it.
// A job's model takes its vocabulary from its tokenizer and data (resolve-tokens.ts), not from the preset;
// an estimate that used the preset's showed a parameter count the job never had (804,096 for 803,968).
import { readFileSync, statSync } from 'node:fs';
import { fromServiceError } from '@lab/common';
import { getTokenizer, isBuiltinName, parseTokenizerJson } from '@lab/tokenizer';
import { CharCodec } from '../commands/char-codec.ts';
import { fieldError } from './field-error.ts';

/** Where a vocabulary size came from, as ModelEstimate.vocab_source says. */
export type VocabSource = 'request' | 'data' | 'tokenizer' | 'preset';

export interface JobVocab {
  /** Undefined: the preset's (a data-dependent tokenizer with no data chosen yet). */
  vocabSize?: number;
  source: VocabSource;
}

export interface VocabRequest {
  vocabSize: number;
  tokenizer: string;
  dataPath: string;
  datasetId: string;
  datasetVersion: number;
}

export interface VocabDeps {
  /** The tokenizer.json a dataset version's shards for `tokenizer` were made with (svc-data, over gRPC). */
  shardTokenizer(datasetId: string, version: number, tokenizer: string): Promise<string>;
  /** A tokenizer.json of svc-tokenize's registry. */
  fetchTokenizer(name: string): Promise<string>;
}

// The char vocabulary of a file, by path and the file's identity: the form asks for an estimate on every
// change, and a large corpus should be read once.
const charVocab = new Map<string, { key: string; size: number }>();

function fileCharVocab(path: string): number {
  const st = statSync(path);
  const key = `${st.size}:${st.mtimeMs}`;
  const hit = charVocab.get(path);
  if (hit?.key === key) return hit.size;
  // The same codec the job builds (resolve-tokens.ts), so the count is the job's.
  const size = CharCodec.fromText(readFileSync(path, 'utf8')).vocabSize;
  if (charVocab.size > 64) charVocab.clear();
  charVocab.set(path, { key, size });
  return size;
}

/**
 * The vocabulary size a job with this tokenizer and data would train with, resolved the way the job resolves
 * it: a dataset version's shards carry their tokenizer; `char` on a file is the file's distinct characters;
 * a built-in or registry tokenizer has its own size. Data-dependent cases without data say so (`preset`).
 */
export async function jobVocab(req: VocabRequest, deps: VocabDeps): Promise<JobVocab> {
  if (req.vocabSize) return { vocabSize: req.vocabSize, source: 'request' };
  const tokenizer = req.tokenizer || 'char';
  if (req.datasetId) {
    try {
      const json = await deps.shardTokenizer(req.datasetId, req.datasetVersion, tokenizer);
      return { vocabSize: parseTokenizerJson(json, tokenizer).vocabSize, source: 'data' };
    } catch {
      // No shards yet (or svc-data is away): the tokenizer's own size is what the shards will have, except
      // for char, whose vocabulary the data decides.
    }
  } else if (tokenizer === 'char' && req.dataPath) {
    try {
      return { vocabSize: fileCharVocab(req.dataPath), source: 'data' };
    } catch (err) {
      throw fieldError('dataPath', `The data file cannot be read (${(err as Error).message}).`);
    }
  }
  if (tokenizer === 'char') return { source: 'preset' };
  if (isBuiltinName(tokenizer)) return { vocabSize: getTokenizer(tokenizer).vocabSize, source: 'tokenizer' };
  let json: string;
  try {
    json = await deps.fetchTokenizer(tokenizer);
  } catch (err) {
    const e = fromServiceError(err);
    if (e.code === 'NOT_FOUND')
      throw fieldError('tokenizer', `Unknown tokenizer "${tokenizer}" (${e.message}).`);
    return { source: 'preset' };
  }
  return { vocabSize: parseTokenizerJson(json, tokenizer).vocabSize, source: 'tokenizer' };
}

// Where a job's training tokens come from:
// - a version of a svc-data dataset, tokenized there into shards: the job manager reads them over gRPC at
//   submit time (with the tokenizer they were made with) into the job's folder — train split first, then
//   val — so the worker, and a resumed job, read local files;
// - or a UTF-8 text file the service can read, tokenized with `char` (sorted distinct characters of the file,
//   as `lab-train pretrain` does), a built-in of @lab/tokenizer, or a tokenizer of svc-tokenize's registry
//   (fetched over gRPC at submit time into the job's folder).
import { accessSync, constants, existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { SubmitJobRequest } from '@lab/proto/train';
import { isBuiltinName, loadTokenizer, type Tokenizer } from '@lab/tokenizer';
import { CharCodec } from '../commands/char-codec.ts';
import { fieldError, invalid } from './field-error.ts';
import type { DataSource, TextSource } from './types.ts';

/** The file of a file source; fine-tuning and text jobs read a path only from one (validateSubmit sees to it). */
export function sourcePath(source: DataSource): string {
  if (source.kind !== 'file') throw new Error(`a ${source.kind} source has no data file`);
  return source.path;
}

/** Submit-time checks of the data source and tokenizer: cheap, no tokenizing. */
export function checkSource(req: SubmitJobRequest): TextSource {
  const given = [req.dataPath ? 'dataPath' : '', req.datasetId ? 'datasetId' : ''].filter(Boolean);
  if (given.length !== 1)
    throw fieldError(
      'dataPath',
      'Give either a data file or a dataset version, not both (exactly one of dataPath or datasetId).',
    );
  if (req.datasetId) return { kind: 'dataset', datasetId: req.datasetId, version: req.datasetVersion };
  const path = req.dataPath;
  if (!existsSync(path)) throw invalid('dataPath', `${path} does not exist (no such file)`);
  const st = statSync(path);
  if (!st.isFile()) throw invalid('dataPath', `${path} is not a regular file`);
  try {
    accessSync(path, constants.R_OK);
  } catch {
    throw invalid('dataPath', `${path} cannot be read by the service`);
  }
  if (st.size === 0) throw invalid('dataPath', `${path} is empty`);
  const tok = req.tokenizer || 'char';
  if (tok !== 'char' && !isBuiltinName(tok) && !/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(tok)) {
    throw invalid('tokenizer', `"${tok}" is not a tokenizer name`);
  }
  return { kind: 'file', path };
}

export interface ResolvedTokens {
  /** Token ids of the whole corpus. */
  tokens: Int32Array;
  vocabSize: number;
  /** Turns generated ids back into text (for samples). */
  decode(ids: readonly number[]): string;
  /** Ids of a prompt for samples. */
  encode(text: string): number[];
  /** Where the validation tokens start, when the data comes with its own split. */
  valStart?: number;
  /** The tokenizer itself, for the Hugging Face files of checkpoints (see hf-model.ts). */
  tokenizer: Tokenizer;
}

/** Files a dataset job keeps in its folder: the tokens (int32 LE, train then val) and where val starts. */
export const DATASET_TOKENS = 'tokens.bin';
export const DATASET_META = 'tokens.json';

/**
 * Token ids for a job. `dir` is the job's directory: a char vocabulary is built once and saved there as
 * tokenizer.json (Hugging Face's format, which `lab-train sample` reads too; jobs started before it keep
 * their older file), so a resumed job keeps the vocabulary it started with.
 */
export function resolveTokens(source: TextSource, tokenizer: string, opts: { dir: string }): ResolvedTokens {
  if (source.kind === 'dataset') {
    const buf = readFileSync(join(opts.dir, DATASET_TOKENS));
    const tokens = new Int32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4);
    const meta = JSON.parse(readFileSync(join(opts.dir, DATASET_META), 'utf8')) as { valStart?: number };
    const tok = loadTokenizer(opts.dir);
    return {
      tokens,
      vocabSize: tok.vocabSize,
      decode: (ids) => tok.decode(ids),
      encode: (t) => tok.encode(t, { disallowedSpecial: [] }),
      valStart: meta.valStart,
      tokenizer: tok,
    };
  }
  const text = readFileSync(source.path, 'utf8');
  if (tokenizer === 'char') {
    const saved = join(opts.dir, 'tokenizer.json');
    const codec = existsSync(saved) ? CharCodec.load(saved) : CharCodec.fromText(text);
    if (!existsSync(saved)) codec.save(saved);
    return {
      tokens: codec.encode(text),
      vocabSize: codec.vocabSize,
      decode: (ids) => codec.decode(ids),
      encode: (t) => [...codec.encode(t)],
      tokenizer: codec.toTokenizer(),
    };
  }
  // Registry tokenizers were fetched from svc-tokenize into the job's folder at submit time.
  const tok: Tokenizer = loadTokenizer(isBuiltinName(tokenizer) ? tokenizer : opts.dir);
  return {
    tokens: Int32Array.from(tok.encode(text)),
    vocabSize: tok.vocabSize,
    decode: (ids) => tok.decode(ids),
    encode: (t) => tok.encode(t),
    tokenizer: tok,
  };
}

// The heavy work of the service as plain functions: run in a worker thread by the service (so health checks
// and other calls are answered meanwhile), or directly by tests and the benchmark.
import { existsSync, renameSync, rmSync } from 'node:fs';
import {
  CharTokenizer,
  getTokenizer,
  isBuiltinName,
  loadTokenizer,
  parseTokenizerJson,
  saveTokenizer,
  type Tokenizer,
} from '@lab/tokenizer';
import {
  type Doc,
  type FinishedVersion,
  readDocs,
  type StepReportRecord,
  VersionWriter,
} from './registry.ts';
import { type ShardIndexJson, ShardWriter } from './shards.ts';
import { computeStats, type Stats } from './stats.ts';
import { type ParsedStep, runStep } from './steps.ts';

export type Progress = (done: number, total: number, message: string) => void;

/** A tokenizer by built-in name or by path (a tokenizer.json, or a folder holding one). */
/**
 * Which tokenizer a job uses: a built-in by name, a tokenizer.json the user pointed at (`path`), one of
 * svc-tokenize's registry (its tokenizer.json text, fetched over gRPC), or `char` — one id per distinct
 * character of the version's own text.
 */
export type TokenizerSpec = { name: string; path?: string; json?: string; char?: boolean };

export function loadTokenizerSpec(spec: TokenizerSpec, srcDir: string): Tokenizer {
  if (spec.char) {
    const chars = new Set<string>();
    for (const d of readDocs(srcDir)) for (const ch of d.text) chars.add(ch);
    return new CharTokenizer([...chars].sort(), 'char');
  }
  if (spec.json !== undefined) return parseTokenizerJson(spec.json, spec.name);
  if (isBuiltinName(spec.name) && !spec.path) return getTokenizer(spec.name);
  return loadTokenizer(spec.path!, { name: spec.name });
}

export interface TransformJob {
  srcDir: string;
  root: string;
  steps: ParsedStep[];
  /** Report what the steps would do without writing anything. */
  dryRun?: boolean;
}

export interface TransformResult {
  /** Absent for a dry run. */
  version?: FinishedVersion;
  reports: StepReportRecord[];
  documents: number;
  characters: number;
}

/**
 * Applies steps to a version's documents and writes the result to a temporary folder under `root` (unless it
 * is a dry run).
 */
export function runTransform(job: TransformJob, progress?: Progress): TransformResult {
  let docs: Doc[] = [...readDocs(job.srcDir)];
  const reports: StepReportRecord[] = [];
  job.steps.forEach((step, i) => {
    const label = `step ${i + 1}/${job.steps.length}: ${step.kind}`;
    progress?.(0, docs.length, label);
    const r = runStep(step, docs, (done, total) => progress?.(done, total, label));
    docs = r.docs;
    reports.push(r.report);
  });
  const documents = docs.length;
  const characters = reports.at(-1)?.charactersOut ?? 0;
  if (job.dryRun) return { reports, documents, characters };
  const w = new VersionWriter(job.root);
  try {
    for (const d of docs) w.add(d);
    return { version: w.finish(), reports, documents, characters };
  } catch (err) {
    w.abort();
    throw err;
  }
}

export interface TokenizeJob {
  srcDir: string;
  outDir: string;
  tokenizer: TokenizerSpec;
  shardTokens: number;
  noSeparator: boolean;
  documents: number;
  source?: { datasetId: string; version: number };
}

const SEPARATORS = ['<|endoftext|>', '<|eot|>', '</s>', '<eos>', '<|end_of_text|>'];

/** Tokenizes a version into shards in a temporary folder, then moves it to `outDir` (replacing it). */
export function runTokenize(job: TokenizeJob, progress?: Progress): ShardIndexJson {
  const tok = loadTokenizerSpec(job.tokenizer, job.srcDir);
  const sepName = SEPARATORS.find((s) => tok.specialTokens.has(s));
  const separatorId = job.noSeparator || !sepName ? -1 : tok.specialTokens.get(sepName)!;
  const tmp = `${job.outDir}.tmp-${process.pid}-${Date.now()}`;
  const w = new ShardWriter(tmp, {
    tokenizer: job.tokenizer.name,
    vocabSize: tok.vocabSize,
    separatorId,
    shardTokens: job.shardTokens,
    source: job.source,
  });
  try {
    let i = 0;
    for (const d of readDocs(job.srcDir)) {
      w.add(d.split ?? 'all', tok.encodeOrdinary(d.text));
      if (++i % 500 === 0) progress?.(i, job.documents, 'tokenizing');
    }
    const index = w.finish();
    // The exact vocabulary travels with the shards: a trainer decodes samples with it.
    saveTokenizer(tok, tmp);
    if (existsSync(job.outDir)) rmSync(job.outDir, { recursive: true, force: true });
    renameSync(tmp, job.outDir);
    progress?.(i, job.documents, 'tokenized');
    return index;
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    throw err;
  }
}

export interface StatsJob {
  srcDir: string;
  tokenizer?: TokenizerSpec;
  ngram: number;
  topK: number;
}

export function runStats(job: StatsJob): Stats {
  return computeStats(readDocs(job.srcDir), {
    tokenizer: job.tokenizer ? loadTokenizerSpec(job.tokenizer, job.srcDir) : undefined,
    ngram: job.ngram,
    topK: job.topK,
  });
}

import { createReadStream, existsSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  bindService,
  confinePath,
  LabError,
  type ServiceBinding,
  type ServiceDeps,
  type ServiceImpl,
} from '@lab/common';
import type { TrainTokenizerEvent, TrainTokenizerSummary } from '@lab/proto/tokenize';
import { TokenizeServiceService } from '@lab/proto/tokenize';
import {
  BUILTIN_PATTERNS,
  byteStringOrHole,
  CharTokenizer,
  compareTokenizers,
  compilePattern,
  describeTrainReport,
  estimateCost,
  inspectTokens,
  loadTokenizer,
  parseTokenizerJson,
  type SpecialSelection,
  serializeTokenizer,
  type TrainReport,
  vocabPage,
  vocabularyCoverage,
} from '@lab/tokenizer';
import { type DatasetSource, resolveDatasetVersion } from './dataset-source.ts';
import { TokenizerRegistry, type TokenizerSummary } from './registry.ts';
import { type TrainUpdate, trainInWorker } from './training.ts';

/** Texts above this go through `encodeStream` in the library or a file path, not one RPC. */
const MAX_TEXT_CHARS = 16 * 1024 * 1024;
/** The inspector renders each token; beyond this the answer would be too large to be useful. */
const MAX_INSPECT_TOKENS = 200_000;

const invalid = (field: string, message: string) =>
  new LabError('INVALID_ARGUMENT', `${field}: ${message}`, field);

function checkText(text: string, field = 'text'): void {
  if (text.length > MAX_TEXT_CHARS) {
    throw invalid(
      field,
      `is ${text.length} characters; the limit per call is ${MAX_TEXT_CHARS} (train from a file path for more)`,
    );
  }
}

function toInfo(t: TokenizerSummary) {
  return {
    name: t.name,
    kind: t.kind,
    vocabSize: t.vocabSize,
    builtin: t.builtin,
    specialTokens: t.specialTokens,
  };
}

/** The tokenizer service: registry, encode/decode, inspector, training. Used by the gRPC server and the CLI. */
export function createTokenizeImpl(
  deps: Pick<ServiceDeps, 'bus' | 'store' | 'config' | 'log'>,
): ServiceImpl<typeof TokenizeServiceService> {
  const registry = new TokenizerRegistry(deps.store, join(deps.config.home, 'tokenize', 'tokenizers'));
  const active = new Set<string>();

  return {
    listTokenizers: async () => ({ tokenizers: registry.list().map(toInfo) }),

    encode: async (req) => {
      const tok = registry.get(req.tokenizer);
      checkText(req.text);
      const allowed: SpecialSelection = req.allowedSpecial.includes('all') ? 'all' : req.allowedSpecial;
      if (!req.withTokens) return { ids: tok.encode(req.text, { allowedSpecial: allowed }), tokens: [] };
      const tokens = inspectTokens(tok, req.text, { allowedSpecial: allowed });
      if (tokens.length > MAX_INSPECT_TOKENS) {
        throw invalid(
          'text',
          `has ${tokens.length} tokens; the inspector shows at most ${MAX_INSPECT_TOKENS}`,
        );
      }
      return {
        ids: tokens.map((t) => t.id),
        tokens: tokens.map((t) => ({
          id: t.id,
          text: req.text.slice(t.start, t.end),
          start: t.start,
          end: t.end,
          bytesHex: t.bytesHex,
        })),
      };
    },

    decode: async (req) => {
      const tok = registry.get(req.tokenizer);
      const bad = req.ids.findIndex((id) => byteStringOrHole(tok, id) === undefined);
      if (bad >= 0)
        throw invalid(
          'ids',
          `ids[${bad}] = ${req.ids[bad]} is not in the vocabulary of ${tok.name} (size ${tok.vocabSize})`,
        );
      return { text: tok.decode(req.ids) };
    },

    compare: async (req) => {
      if (!req.tokenizers.length) throw invalid('tokenizers', 'name at least one tokenizer');
      if (req.tokenizers.length > 8) throw invalid('tokenizers', 'compare at most 8 tokenizers at once');
      checkText(req.text);
      const toks = req.tokenizers.map((n, i) => registry.get(n, `tokenizers[${i}]`));
      const rows = compareTokenizers(toks, req.text);
      const characters = [...req.text].length;
      const bytes = Buffer.byteLength(req.text, 'utf8');
      return {
        results: rows.map((r, i) => ({
          tokenizer: req.tokenizers[i]!,
          tokens: r.tokens,
          characters,
          bytes,
          charsPerToken: r.charsPerToken,
          bytesPerToken: r.bytesPerToken,
        })),
      };
    },

    getVocab: async (req) => {
      const tok = registry.get(req.tokenizer);
      const offset = req.page?.offset ?? 0;
      const limit = req.page?.limit || 100;
      if (limit > 1000) throw invalid('limit', 'at most 1000 entries per page');
      // Past the end is a mistake to report (a typed id), not an empty page that looks like a short vocabulary.
      if (offset >= tok.vocabSize)
        throw invalid('offset', `${offset} is past the last id of ${tok.name} (${tok.vocabSize - 1})`);
      const rows = vocabPage(tok, offset, limit);
      const merge = (m: [string, string] | undefined) => (m ? { left: m[0], right: m[1] } : undefined);
      return {
        total: tok.vocabSize,
        entries: rows.map((r) => ({ id: r.id, text: r.text, bytesHex: r.bytesHex, merge: merge(r.merge) })),
        merges: rows.flatMap((r) => (r.merge ? [merge(r.merge)!] : [])),
      };
    },

    estimateCost: async (req) => {
      if (!(req.pricePer1k >= 0) || !Number.isFinite(req.pricePer1k))
        throw invalid('pricePer1k', 'must be a number >= 0');
      checkText(req.text);
      const est = estimateCost(registry.get(req.tokenizer), req.text, req.pricePer1k);
      return { tokens: est.tokens, cost: est.cost };
    },

    coverage: async (req) => {
      const tok = registry.get(req.tokenizer);
      if (!!req.text === !!req.path) throw invalid('text', 'give exactly one of text or path');
      if (req.path) confinePath(req.path, 'path', deps.config.dataRoots);
      if (req.path && (!existsSync(req.path) || !statSync(req.path).isFile()))
        throw invalid('path', `no such file: ${req.path}`);
      if (req.text) checkText(req.text);
      // Encoding line by line keeps each encode call (and its offsets scratch) small.
      const corpus = req.text ? [req.text] : await readLines(req.path);
      const r = vocabularyCoverage(tok, corpus, req.top || 20);
      return {
        totalTokens: r.totalTokens,
        distinctTokens: r.distinctTokens,
        unusedTokens: r.unusedTokens,
        byteFallbackRate: r.byteFallbackRate,
        topTokens: r.topTokens.map((t) => ({ id: t.id, text: t.text, count: t.count })),
      };
    },

    importTokenizer: async (req) => {
      if (!!req.json === !!req.path) throw invalid('json', 'give exactly one of json or path');
      registry.assertNewName(req.name);
      if (req.path) confinePath(req.path, 'path', deps.config.dataRoots);
      if (req.path && !existsSync(req.path)) throw invalid('path', `no such file: ${req.path}`);
      const tok = req.json
        ? parseTokenizerJson(req.json, req.name)
        : loadTokenizer(req.path, { name: req.name });
      return toInfo(await registry.add(tok, req.name, { imported: req.path || 'json' }));
    },

    exportTokenizer: async (req) => ({
      json: JSON.stringify(serializeTokenizer(registry.get(req.tokenizer))),
    }),

    train: async function* (req, ctx): AsyncGenerator<TrainTokenizerEvent> {
      registry.assertNewName(req.name);
      if (active.has(req.name))
        throw new LabError('ALREADY_EXISTS', `name: "${req.name}" is being trained now`, 'name');
      const sources = [
        req.text ? 'text' : '',
        req.path ? 'path' : '',
        req.datasetId ? 'datasetId' : '',
      ].filter(Boolean);
      if (sources.length !== 1) throw invalid('text', 'give exactly one of text, path or datasetId');
      if (req.datasetVersion && !req.datasetId)
        throw invalid('datasetVersion', 'goes with datasetId (the dataset it is a version of)');
      if (req.path) confinePath(req.path, 'path', deps.config.dataRoots);
      if (req.path && (!existsSync(req.path) || !statSync(req.path).isFile()))
        throw invalid('path', `no such file: ${req.path}`);
      if (req.text) checkText(req.text);
      const kind = req.kind || 'bpe';
      if (kind !== 'bpe' && kind !== 'char') throw invalid('kind', `must be "bpe" or "char" (got "${kind}")`);
      const specials = kind === 'bpe' ? req.specialTokens : [];
      if (kind === 'bpe') {
        if (req.vocabSize < 256 + specials.length) {
          throw invalid(
            'vocabSize',
            `must be at least 256 + ${specials.length} special tokens = ${256 + specials.length} (got ${req.vocabSize})`,
          );
        }
        if (req.vocabSize > 1_000_000) throw invalid('vocabSize', 'must be at most 1,000,000');
      }
      const pattern = req.pattern || 'gpt2';
      // A bad pattern must fail this call, not a run that has already read a whole dataset.
      compilePattern(BUILTIN_PATTERNS[pattern] ?? pattern);
      // Checked before the first event, so a wrong id or version answers the call that named it.
      const dataset = req.datasetId
        ? await resolveDatasetVersion(deps.config.addresses.data, req.datasetId, req.datasetVersion)
        : undefined;
      const source = dataset
        ? { dataset: { id: dataset.datasetId, version: dataset.version, name: dataset.name } }
        : req.path
          ? { path: req.path }
          : { textChars: req.text.length };

      if (kind === 'char' && !dataset) {
        // One id per distinct character: nothing to learn, so no worker and no progress to report.
        const text = req.text || (await readFile(req.path, 'utf8'));
        const info = await registry.add(CharTokenizer.fromText(text, req.name), req.name, {
          kind: 'char',
          source,
        });
        await deps.bus
          .publish(`lab.job.tokenize-${req.name}.state`, {
            kind: 'tokenizer-train',
            name: req.name,
            state: 'done',
            vocabSize: info.vocabSize,
          })
          .catch(() => {});
        yield doneEvent(info, charSummary(info.vocabSize, 0));
        return;
      }

      active.add(req.name);
      const subject = `lab.job.tokenize-${req.name}.state`;
      const publish = (state: string, extra: Record<string, unknown>) =>
        deps.bus
          .publish(subject, { kind: 'tokenizer-train', name: req.name, state, ...extra })
          .catch(() => {});
      try {
        const requested = kind === 'bpe' ? req.vocabSize - 256 - specials.length : 0;
        await publish('running', { done: 0, total: requested });
        if (dataset) yield progressEvent(readingUpdate(dataset), dataset);
        const job = {
          name: req.name,
          outDir: registry.prepareDir(req.name),
          kind: kind as 'bpe' | 'char',
          vocabSize: req.vocabSize,
          minFrequency: req.minFrequency || 2,
          specialTokens: specials,
          pattern,
          ...(dataset ? { dataset } : req.path ? { path: req.path } : { text: req.text }),
        };
        let report: TrainReport | undefined;
        let documents = 0;
        for await (const u of trainInWorker(job, ctx.signal)) {
          if (u.phase === 'done') {
            report = u.report;
            documents = u.documents;
            continue;
          }
          await publish('running', { phase: u.phase, done: u.done, total: u.total });
          yield progressEvent(u, dataset);
        }
        const info = await registry.register(
          req.name,
          {
            vocabSize: req.vocabSize,
            minFrequency: job.minFrequency,
            pattern,
            specialTokens: specials,
            source,
            ...(report ? { merges: report.merges, stopReason: report.stopReason } : {}),
          },
          kind,
        );
        const summary = report
          ? {
              mergesLearned: report.merges,
              mergesRequested: report.requested,
              stopReason: report.stopReason,
              message: describeTrainReport(report),
              documents,
            }
          : charSummary(info.vocabSize, documents);
        await publish('done', {
          vocabSize: info.vocabSize,
          merges: summary.mergesLearned,
          stopReason: summary.stopReason,
        });
        yield doneEvent(info, summary);
      } catch (err) {
        await publish('failed', { error: (err as Error).message });
        throw err;
      } finally {
        active.delete(req.name);
      }
    },
  };
}

/** The first event of a dataset run, before its worker has read anything. */
function readingUpdate(d: DatasetSource): TrainUpdate & { phase: 'reading' } {
  return { phase: 'reading', done: 0, total: d.documents };
}

function progressEvent(
  u: TrainUpdate & { phase: 'reading' | 'merging' },
  d?: DatasetSource,
): TrainTokenizerEvent {
  const message =
    u.phase === 'reading'
      ? `read ${u.done.toLocaleString('en-US')} of ${u.total.toLocaleString('en-US')} documents of ${d?.name ?? 'the dataset'} v${d?.version ?? ''} from svc-data`
      : `learned ${u.done.toLocaleString('en-US')} of ${u.total.toLocaleString('en-US')} merges`;
  return {
    phase: u.phase,
    progress: { done: u.done, total: u.total, message },
    done: undefined,
    summary: undefined,
  };
}

function charSummary(vocabSize: number, documents: number): TrainTokenizerSummary {
  return {
    mergesLearned: 0,
    mergesRequested: 0,
    stopReason: '',
    message: `one id per distinct character: ${vocabSize.toLocaleString('en-US')} characters`,
    documents,
  };
}

function doneEvent(info: TokenizerSummary, summary: TrainTokenizerSummary): TrainTokenizerEvent {
  return {
    phase: '',
    progress: { done: 1, total: 1, message: summary.message },
    done: toInfo(info),
    summary,
  };
}

/** A text file as lines (each with its newline), read in chunks. */
async function readLines(path: string): Promise<string[]> {
  const lines: string[] = [];
  let rest = '';
  for await (const chunk of createReadStream(path, { encoding: 'utf8', highWaterMark: 1 << 20 })) {
    const parts = (rest + chunk).split(/(?<=\n)/);
    rest = parts.pop() ?? '';
    lines.push(...parts);
  }
  if (rest) lines.push(rest);
  return lines;
}

export function buildTokenizeService(deps: ServiceDeps): ServiceBinding {
  return bindService(TokenizeServiceService, createTokenizeImpl(deps));
}

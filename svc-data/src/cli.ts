import { createReadStream, statSync } from 'node:fs';
import { basename } from 'node:path';
import {
  type CliValues,
  cliBackend,
  infoCommand,
  intFlag,
  LabError,
  localCallContext,
  remoteOption,
  runCli,
  serveCommand,
} from '@lab/common';
import {
  DataServiceClient,
  DataServiceService,
  type Dataset,
  type IngestEvent,
  type StepExample,
  type StepReport,
  type TransformStep,
  type UploadChunk,
} from '@lab/proto/data';
import { createDataImpl } from './service.ts';

/** The service's implementation in this process, or a client of a running server with --remote. */
const backend = (values: CliValues) =>
  cliBackend(values, 'data', DataServiceService, DataServiceClient, createDataImpl);

const out = (s: string): void => {
  process.stdout.write(`${s}\n`);
};
const ctx = localCallContext();

function positional(positionals: string[], what: string): string {
  const v = positionals[0];
  if (!v) throw new LabError('INVALID_ARGUMENT', `give the ${what} as the first argument`, what);
  return v;
}

function progressLine(p: { done: number; total: number; message: string } | undefined): void {
  if (!p || !process.stderr.isTTY) return;
  const pct = p.total > 0 ? ` ${Math.min(100, Math.round((p.done / p.total) * 100))}%` : '';
  process.stderr.write(`\r\x1b[K${p.message}${pct}`);
}

function printDataset(d: Dataset): void {
  out(`${d.id}  ${d.name}  (${d.format}, from ${d.source})`);
  for (const v of d.versions) {
    const splits = Object.entries(v.splits)
      .map(([k, n]) => `${k} ${n}`)
      .join(', ');
    out(
      `  v${v.version}${v.parent ? ` <- v${v.parent}` : ''}  ${v.step.padEnd(20)} ${String(v.documents).padStart(9)} docs ${String(v.characters).padStart(12)} chars${splits ? `  [${splits}]` : ''}`,
    );
  }
}

function printReports(reports: StepReport[]): void {
  for (const r of reports) {
    const removed = Object.entries(r.removed)
      .sort((a, b) => b[1] - a[1])
      .map(([k, n]) => `${k} ${n}`)
      .join(', ');
    const counts = Object.entries(r.counts)
      .map(([k, n]) => `${k} ${n}`)
      .join(', ');
    out(
      `${r.kind.padEnd(12)} ${r.documentsIn} -> ${r.documentsOut} docs (${r.durationMs.toFixed(0)} ms)${removed ? `; removed: ${removed}` : ''}${counts ? `; ${counts}` : ''}${r.clusters ? `; ${r.clusters} clusters` : ''}`,
    );
    for (const w of r.warnings) out(`  warning: ${w}`);
  }
}

/** "words 10 (at least 50)": the measure a removal was judged by. */
function measured(e: StepExample): string {
  if (!e.measure) return '';
  const limit =
    e.limitKind === 'min' ? `at least ${e.limit}` : e.limitKind === 'max' ? `at most ${e.limit}` : '';
  return `${e.measure} ${Number(e.value.toFixed(3))}${limit ? ` (${limit})` : ''}`;
}

async function* chunksOf(path: string, header: UploadChunk['header']): AsyncGenerator<UploadChunk> {
  yield { header, data: Buffer.alloc(0) };
  for await (const data of createReadStream(path, { highWaterMark: 256 * 1024 }))
    yield { header: undefined, data: data as Buffer };
}

async function finishIngest(events: AsyncIterable<IngestEvent>, values: CliValues): Promise<void> {
  for await (const e of events) {
    progressLine(e.progress);
    if (!e.dataset) continue;
    if (process.stderr.isTTY) process.stderr.write('\n');
    for (const w of e.warnings) process.stderr.write(`warning: ${w}\n`);
    if (values.json) out(JSON.stringify(e.dataset));
    else {
      const v = e.dataset.versions[0]!;
      out(`ingested ${e.dataset.id}: ${v.documents} documents, ${v.characters} characters`);
    }
  }
}

/** `--step kind` or `--step kind={"param": …}`, repeatable. */
function parseStepFlags(values: string[]): TransformStep[] {
  return values.map((s) => {
    const eq = s.indexOf('=');
    return eq < 0 ? { kind: s, paramsJson: '' } : { kind: s.slice(0, eq), paramsJson: s.slice(eq + 1) };
  });
}

async function runTransform(values: CliValues, id: string, steps: TransformStep[]): Promise<void> {
  const version = intFlag(values, 'version', 0);
  const dryRun = !!values['dry-run'];
  for await (const e of backend(values).transform({ datasetId: id, version, steps, dryRun }, ctx)) {
    progressLine(e.progress);
    if (!e.version && !e.reports.length) continue;
    if (process.stderr.isTTY) process.stderr.write('\n');
    if (values.json)
      return void out(
        JSON.stringify({
          version: e.version,
          reports: e.reports,
          documents: e.documents,
          characters: e.characters,
        }),
      );
    printReports(e.reports);
    if (e.version) out(`created ${id} v${e.version.version}: ${e.version.documents} documents`);
    else out(`dry run: would make ${e.documents} documents, ${e.characters} characters; nothing written`);
  }
}

const versionFlag = { version: { type: 'string' as const } };
const dryRunFlag = { 'dry-run': { type: 'boolean' as const } };
const versionHelp = { version: 'version number (default: the latest)', json: 'print JSON' };

await runCli('lab-data', 'datasets: ingest, clean, deduplicate, split, tokenize into shards', {
  ingest: {
    summary: 'Ingest a file (txt, jsonl, json, csv, parquet; Alpaca, ShareGPT, ChatML) into a new dataset',
    usage:
      'ingest FILE [--name N] [--format F] [--text-field F] [--document-split paragraph|line|file] [--max-bytes N] [--upload]',
    help: {
      name: 'display name (default: the file name)',
      format: 'txt, jsonl, json, csv, parquet, alpaca, sharegpt, chatml (default: from the extension)',
      'text-field': 'field or column holding the text (default "text")',
      'document-split': 'for txt: paragraph (default), line or file',
      'max-bytes': 'size limit in bytes (default: the service limit, 1 GiB)',
      upload: 'with --remote: send the file over the Upload stream instead of a server-side path',
      json: 'print the dataset as JSON',
    },
    options: {
      name: { type: 'string' },
      format: { type: 'string' },
      'text-field': { type: 'string' },
      'document-split': { type: 'string' },
      'max-bytes': { type: 'string' },
      upload: { type: 'boolean' },
      json: { type: 'boolean' },
      ...remoteOption,
    },
    run: async (values, positionals) => {
      const path = positional(positionals, 'file');
      const common = {
        name: (values.name as string | undefined) ?? '',
        format: (values.format as string | undefined) ?? '',
        textField: (values['text-field'] as string | undefined) ?? '',
        maxBytes: intFlag(values, 'max-bytes', 0, 1),
        documentSplit: (values['document-split'] as string | undefined) ?? '',
      };
      if (values.upload) {
        let size = 0;
        try {
          size = statSync(path).size;
        } catch {
          throw new LabError('INVALID_ARGUMENT', `file: no such file: ${path}`, 'file');
        }
        const header = { ...common, filename: basename(path), size };
        return finishIngest(backend(values).upload(chunksOf(path, header), ctx), values);
      }
      return finishIngest(backend(values).ingest({ ...common, path }, ctx), values);
    },
  },
  list: {
    summary: 'List datasets',
    usage: 'list [--json]',
    options: { json: { type: 'boolean' }, ...remoteOption },
    run: async (values) => {
      const { datasets } = await backend(values).listDatasets({ page: { offset: 0, limit: 1000 } }, ctx);
      if (values.json) return void out(JSON.stringify(datasets));
      for (const d of datasets) {
        const v = d.versions.at(-1)!;
        out(`${d.id.padEnd(32)} ${d.name.padEnd(24)} v${v.version} ${String(v.documents).padStart(9)} docs`);
      }
    },
  },
  show: {
    summary: 'Show a dataset with its versions (lineage), or one version with its cleaning report',
    usage: 'show ID [--version N] [--json]',
    help: versionHelp,
    options: { ...versionFlag, json: { type: 'boolean' }, ...remoteOption },
    run: async (values, positionals) => {
      const id = positional(positionals, 'id');
      const b = backend(values);
      if (values.version !== undefined) {
        const r = await b.getReport({ datasetId: id, version: intFlag(values, 'version', 0, 1) }, ctx);
        if (values.json) return void out(JSON.stringify(r));
        out(
          `v${r.version!.version} (from v${r.version!.parent}): ${r.version!.step} ${r.version!.paramsJson}`,
        );
        printReports(r.reports);
        for (const rep of r.reports)
          for (const e of rep.examples)
            out(
              `  [${rep.kind}/${e.reason}] #${e.index}${e.measure ? ` ${measured(e)}` : ''}: ${JSON.stringify(e.before.slice(0, 120))}${e.after ? ` -> ${JSON.stringify(e.after.slice(0, 120))}` : ''}`,
            );
        for (const w of r.warnings) out(`warning: ${w}`);
        return;
      }
      const d = await b.getDataset({ id }, ctx);
      if (values.json) return void out(JSON.stringify(d));
      printDataset(d);
    },
  },
  docs: {
    summary: 'Print a page of documents of a version',
    usage: 'docs ID [--version N] [--offset N] [--limit N] [--split S] [--json]',
    options: {
      ...versionFlag,
      offset: { type: 'string' },
      limit: { type: 'string' },
      split: { type: 'string' },
      json: { type: 'boolean' },
      ...remoteOption,
    },
    run: async (values, positionals) => {
      const res = await backend(values).listDocuments(
        {
          datasetId: positional(positionals, 'id'),
          version: intFlag(values, 'version', 0),
          page: { offset: intFlag(values, 'offset', 0), limit: intFlag(values, 'limit', 10, 1, 1000) },
          split: (values.split as string | undefined) ?? '',
        },
        ctx,
      );
      if (values.json) return void out(JSON.stringify(res));
      for (const d of res.documents) out(`--- #${d.index}${d.split ? ` (${d.split})` : ''}\n${d.text}`);
      out(`(${res.total} documents)`);
    },
  },
  transform: {
    summary: 'Apply transform steps to a version, making a new version',
    usage: "transform ID --step KIND[='{json params}']... [--version N] [--json]",
    help: {
      step: 'clean, pii, quality, dedup_exact, dedup_near or split, with optional JSON parameters (repeatable)',
      'dry-run': 'report what the steps would do (counts, examples, warnings) without making a version',
      ...versionHelp,
    },
    options: {
      step: { type: 'string', multiple: true },
      ...dryRunFlag,
      ...versionFlag,
      json: { type: 'boolean' },
      ...remoteOption,
    },
    run: async (values, positionals) => {
      const steps = parseStepFlags((values.step as string[] | undefined) ?? []);
      await runTransform(values, positional(positionals, 'id'), steps);
    },
  },
  clean: {
    summary: 'Clean a version: normalise, scrub PII, optional quality filter and deduplication',
    usage:
      'clean ID [--html] [--no-pii] [--quality] [--dedup] [--threshold J] [--dry-run] [--version N] [--json]',
    help: {
      html: 'strip HTML tags',
      'no-pii': 'keep emails, phone numbers, cards, IPs and SSNs',
      quality: 'apply the Gopher quality rules',
      dedup: 'remove exact and near duplicates',
      threshold: 'Jaccard threshold for near duplicates (default 0.8)',
      'dry-run': 'report what the steps would do without making a version',
      ...versionHelp,
    },
    options: {
      ...dryRunFlag,
      html: { type: 'boolean' },
      'no-pii': { type: 'boolean' },
      quality: { type: 'boolean' },
      dedup: { type: 'boolean' },
      threshold: { type: 'string' },
      ...versionFlag,
      json: { type: 'boolean' },
      ...remoteOption,
    },
    run: async (values, positionals) => {
      const steps: TransformStep[] = [
        { kind: 'clean', paramsJson: JSON.stringify({ stripHtml: !!values.html }) },
      ];
      if (!values['no-pii']) steps.push({ kind: 'pii', paramsJson: '' });
      if (values.quality) steps.push({ kind: 'quality', paramsJson: '' });
      if (values.dedup) {
        const threshold = values.threshold === undefined ? 0.8 : Number(values.threshold);
        steps.push({ kind: 'dedup_exact', paramsJson: '' });
        steps.push({ kind: 'dedup_near', paramsJson: JSON.stringify({ threshold }) });
      }
      await runTransform(values, positional(positionals, 'id'), steps);
    },
  },
  split: {
    summary: 'Split a version into train/val/test deterministically by seed (a new version)',
    usage: 'split ID [--train F] [--val F] [--test F] [--seed N] [--version N] [--json]',
    options: {
      train: { type: 'string' },
      val: { type: 'string' },
      test: { type: 'string' },
      seed: { type: 'string' },
      ...versionFlag,
      json: { type: 'boolean' },
      ...remoteOption,
    },
    run: async (values, positionals) => {
      const num = (k: string, d: number) => (values[k] === undefined ? d : Number(values[k]));
      const params = {
        train: num('train', 0.9),
        val: num('val', 0.05),
        test: num('test', 0.05),
        seed: intFlag(values, 'seed', 0),
      };
      await runTransform(values, positional(positionals, 'id'), [
        { kind: 'split', paramsJson: JSON.stringify(params) },
      ]);
    },
  },
  stats: {
    summary: 'Statistics of a version: documents, characters, tokens, length histogram, top n-grams',
    usage: 'stats ID [--tokenizer NAME] [--ngram N] [--top K] [--version N] [--json]',
    options: {
      tokenizer: { type: 'string' },
      ngram: { type: 'string' },
      top: { type: 'string' },
      ...versionFlag,
      json: { type: 'boolean' },
      ...remoteOption,
    },
    run: async (values, positionals) => {
      const s = await backend(values).getStats(
        {
          datasetId: positional(positionals, 'id'),
          version: intFlag(values, 'version', 0),
          tokenizer: (values.tokenizer as string | undefined) ?? '',
          ngram: intFlag(values, 'ngram', 2, 1, 10),
          topK: intFlag(values, 'top', 10, 1, 1000),
        },
        ctx,
      );
      if (values.json) return void out(JSON.stringify(s));
      out(
        `v${s.version}: ${s.documents} documents, ${s.words} words, ${s.characters} characters, ${s.bytes} bytes`,
      );
      if (s.tokenizer) out(`${s.tokens} tokens (${s.tokenizer})`);
      out(`length: min ${s.minLength}, mean ${s.meanLength.toFixed(1)}, max ${s.maxLength}`);
      if (Object.keys(s.splits).length) out(`splits: ${JSON.stringify(s.splits)}`);
      s.lengthBucketCounts.forEach((n, i) => {
        if (n)
          out(
            `  <= ${String(s.lengthBucketBounds[i] === Number.MAX_SAFE_INTEGER ? 'inf' : s.lengthBucketBounds[i]).padStart(8)}  ${n}`,
          );
      });
      for (const g of s.topNgrams) out(`  ${String(g.count).padStart(8)}  ${g.ngram}`);
    },
  },
  tokenize: {
    summary: 'Tokenize a version into binary shards (uint16/uint32) with an index.json',
    usage: 'tokenize ID --tokenizer NAME [--shard-tokens N] [--no-separator] [--version N] [--json]',
    options: {
      tokenizer: { type: 'string' },
      'shard-tokens': { type: 'string' },
      'no-separator': { type: 'boolean' },
      ...versionFlag,
      json: { type: 'boolean' },
      ...remoteOption,
    },
    run: async (values, positionals) => {
      const req = {
        datasetId: positional(positionals, 'id'),
        version: intFlag(values, 'version', 0),
        tokenizer: (values.tokenizer as string | undefined) ?? '',
        shardTokens: intFlag(values, 'shard-tokens', 0, 1024),
        noSeparator: !!values['no-separator'],
      };
      if (!req.tokenizer) throw new LabError('INVALID_ARGUMENT', '--tokenizer is required', 'tokenizer');
      for await (const e of backend(values).tokenize(req, ctx)) {
        progressLine(e.progress);
        if (!e.index) continue;
        if (process.stderr.isTTY) process.stderr.write('\n');
        if (values.json) return void out(JSON.stringify(e.index));
        out(`${e.index.tokens} tokens (${e.index.dtype}) in ${e.index.dir}`);
        for (const s of e.index.splits)
          out(`  ${s.name.padEnd(6)} ${s.tokens} tokens in ${s.files.length} files`);
      }
    },
  },
  delete: {
    summary: 'Delete a dataset, or one version, after checking what depends on it',
    usage: 'delete ID [--version N] [--force] [--json]',
    help: {
      version: 'only this version (not the only one left)',
      force: 'delete although finished training jobs or later versions refer to it',
      json: 'print JSON',
    },
    options: { ...versionFlag, force: { type: 'boolean' }, json: { type: 'boolean' }, ...remoteOption },
    run: async (values, positionals) => {
      const datasetId = positional(positionals, 'id');
      const version = values.version === undefined ? undefined : intFlag(values, 'version', 0, 1);
      const r = await backend(values).deleteDataset({ datasetId, version, force: !!values.force }, ctx);
      if (values.json) return void out(JSON.stringify(r));
      for (const d of r.dependents) out(`confirmed: ${d.description}`);
      out(
        `deleted ${r.datasetDeleted ? datasetId : `${datasetId} ${r.deletedVersions.map((v) => `v${v}`).join(', ')}`} (${r.bytesFreed} bytes freed)`,
      );
    },
  },
  serve: serveCommand(async () => (await import('./server.ts')).start()),
  info: infoCommand('data', DataServiceClient),
});

import { createReadStream, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  type CliValues,
  cliBackend,
  infoCommand,
  intFlag,
  LabError,
  loadConfig,
  localCallContext,
  openStore,
  remoteOption,
  requireString,
  runCli,
  serveCommand,
} from '@lab/common';
import { TokenizeServiceClient, TokenizeServiceService } from '@lab/proto/tokenize';
import { TokenizerRegistry } from './registry.ts';
import { createTokenizeImpl } from './service.ts';

/** The service's implementation in this process, or a client of a running server with --remote. */
const backend = (values: CliValues) =>
  cliBackend(values, 'tokenize', TokenizeServiceService, TokenizeServiceClient, createTokenizeImpl);

/** TEXT from the positional argument or --file. */
function inputText(values: CliValues, positionals: string[]): string {
  if (typeof values.file === 'string') return readFileSync(values.file, 'utf8');
  if (positionals.length) return positionals.join(' ');
  throw new LabError('INVALID_ARGUMENT', 'give the text as an argument or with --file F', 'text');
}

const textFlags = { file: { type: 'string' as const }, ...remoteOption };
const textHelp = { file: 'read the text from this file instead of the argument' };
const out = (s: string): void => {
  process.stdout.write(`${s}\n`);
};
const ctx = localCallContext();

/**
 * Encodes a file of any size with bounded memory: chunks stream through the library and ids are written
 * as they come (the JSON array is written piece by piece).
 */
async function encodeFile(tokenizer: string, file: string, values: CliValues): Promise<void> {
  const config = loadConfig();
  const tok = new TokenizerRegistry(
    openStore(config.home, 'tokenize'),
    join(config.home, 'tokenize', 'tokenizers'),
  ).get(tokenizer);
  const chunks = tok.encodeStream(createReadStream(file), {
    allowedSpecial: values['allow-special'] ? 'all' : [],
  });
  let count = 0;
  const write = (s: string) =>
    process.stdout.write(s) ? undefined : new Promise((r) => process.stdout.once('drain', r));
  if (!values.count) await write(values.json ? '[' : '');
  for await (const ids of chunks) {
    if (!values.count && ids.length)
      await write((count ? (values.json ? ',' : ' ') : '') + ids.join(values.json ? ',' : ' '));
    count += ids.length;
  }
  if (values.count) out(String(count));
  else await write(values.json ? ']\n' : '\n');
}

// Six readable background colours, cycled, like the web inspector.
const COLOURS = [43, 46, 45, 42, 44, 41].map((c) => `\x1b[30;${c}m`);

await runCli('lab-tokenize', 'tokenizers: train, encode, decode, inspect, compare', {
  encode: {
    summary: 'Encode text to token ids',
    usage: 'encode --tokenizer NAME|PATH (--file F | TEXT) [--json] [--allow-special]',
    help: {
      tokenizer: 'gpt2, cl100k_base, o200k_base, a trained name, or a tokenizer.json path',
      json: 'print only the ids as one JSON array',
      count: 'print only the number of tokens',
      'allow-special': 'encode special tokens in the text as themselves',
      ...textHelp,
    },
    options: {
      tokenizer: { type: 'string' },
      json: { type: 'boolean' },
      count: { type: 'boolean' },
      'allow-special': { type: 'boolean' },
      ...textFlags,
    },
    run: async (values, positionals) => {
      const tokenizer = requireString(values, 'tokenizer');
      if (typeof values.file === 'string' && typeof values.remote !== 'string')
        return encodeFile(tokenizer, values.file, values);
      const allowedSpecial = values['allow-special'] ? ['all'] : [];
      const { ids } = await backend(values).encode(
        { tokenizer, text: inputText(values, positionals), withTokens: false, allowedSpecial },
        ctx,
      );
      if (values.count) out(String(ids.length));
      else if (values.json) out(JSON.stringify(ids));
      else out(`${ids.length} tokens\n${ids.join(' ')}`);
    },
  },
  decode: {
    summary: 'Decode token ids to text',
    usage: "decode --tokenizer NAME|PATH --json-ids '[1,2,3]'",
    help: { tokenizer: 'tokenizer name or path', 'json-ids': 'the ids as a JSON array' },
    options: { tokenizer: { type: 'string' }, 'json-ids': { type: 'string' }, ...remoteOption },
    run: async (values) => {
      const tokenizer = requireString(values, 'tokenizer');
      let ids: unknown;
      try {
        ids = JSON.parse(requireString(values, 'json-ids'));
      } catch {
        throw new LabError('INVALID_ARGUMENT', '--json-ids must be a JSON array of integers', 'json-ids');
      }
      if (!Array.isArray(ids) || !ids.every((i) => Number.isInteger(i) && i >= 0)) {
        throw new LabError(
          'INVALID_ARGUMENT',
          '--json-ids must be a JSON array of non-negative integers',
          'json-ids',
        );
      }
      process.stdout.write((await backend(values).decode({ tokenizer, ids }, ctx)).text);
      if (process.stdout.isTTY) process.stdout.write('\n');
    },
  },
  train: {
    summary: 'Train a byte-level BPE tokenizer on a text file or a dataset version and register it',
    usage:
      'train (--input F | --dataset ID[@VERSION]) --vocab-size N --name NAME [--min-frequency N] [--special TOK]... [--pattern gpt2|cl100k|o200k|REGEX]',
    help: {
      input: 'UTF-8 text file (read by the service with --remote)',
      dataset:
        'a dataset of svc-data, optionally @VERSION (default the latest); its documents are read from svc-data',
      'vocab-size': 'vocabulary size including 256 byte tokens and specials',
      name: 'registry name of the result',
      'min-frequency': 'pairs seen fewer times are not merged (default 2)',
      special: 'a special token (repeatable)',
      pattern: 'pre-tokenisation regex or a built-in pattern name (default gpt2)',
      kind: 'bpe (default) or char (one id per distinct character)',
    },
    options: {
      input: { type: 'string' },
      dataset: { type: 'string' },
      'vocab-size': { type: 'string' },
      name: { type: 'string' },
      'min-frequency': { type: 'string' },
      special: { type: 'string', multiple: true },
      pattern: { type: 'string' },
      kind: { type: 'string' },
      ...remoteOption,
    },
    run: async (values) => {
      const [datasetId = '', version = '0'] =
        typeof values.dataset === 'string' ? values.dataset.split('@', 2) : [];
      if (!/^\d+$/.test(version))
        throw new LabError('INVALID_ARGUMENT', `--dataset: version "${version}" is not a number`, 'dataset');
      const req = {
        name: requireString(values, 'name'),
        vocabSize: intFlag(values, 'vocab-size', 0, 1),
        // Both given: the service answers that exactly one source may be named.
        path: datasetId && values.input === undefined ? '' : requireString(values, 'input'),
        text: '',
        datasetId,
        datasetVersion: Number(version),
        minFrequency: intFlag(values, 'min-frequency', 2, 1),
        specialTokens: (values.special as string[] | undefined) ?? [],
        pattern: (values.pattern as string | undefined) ?? 'gpt2',
        kind: (values.kind as string | undefined) ?? 'bpe',
      };
      // A char tokenizer's vocabulary is the text's characters: only BPE needs a size.
      if (!values['vocab-size'] && req.kind !== 'char')
        throw new LabError('INVALID_ARGUMENT', '--vocab-size is required', 'vocab-size');
      const t0 = performance.now();
      for await (const ev of backend(values).train(req, ctx)) {
        const p = ev.progress!;
        if (ev.done) {
          process.stderr.write('\n');
          out(
            `trained ${ev.done.name}: vocabulary ${ev.done.vocabSize} in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
          );
          if (ev.summary?.message) out(ev.summary.message);
        } else if (p.total > 0) {
          const width = 30;
          const filled = Math.round((p.done / p.total) * width);
          const unit = ev.phase === 'reading' ? 'documents' : 'merges';
          process.stderr.write(
            `\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${p.done}/${p.total} ${unit}`,
          );
        }
      }
    },
  },
  inspect: {
    summary: 'Show each token of a text: coloured spans, ids and bytes',
    usage: 'inspect --tokenizer NAME|PATH (--file F | TEXT) [--json]',
    help: { tokenizer: 'tokenizer name or path', json: 'print the tokens as JSON', ...textHelp },
    options: { tokenizer: { type: 'string' }, json: { type: 'boolean' }, ...textFlags },
    run: async (values, positionals) => {
      const tokenizer = requireString(values, 'tokenizer');
      const text = inputText(values, positionals);
      const res = await backend(values).encode(
        { tokenizer, text, withTokens: true, allowedSpecial: [] },
        ctx,
      );
      if (values.json) return void out(JSON.stringify(res.tokens));
      out(res.tokens.map((t, i) => `${COLOURS[i % COLOURS.length]}${t.text}\x1b[0m`).join(''));
      out(`${res.tokens.length} tokens, ${[...text].length} characters`);
      for (const t of res.tokens)
        out(`${String(t.id).padStart(7)}  ${t.bytesHex.padEnd(16)} ${JSON.stringify(t.text)}`);
    },
  },
  compare: {
    summary: 'Compare tokenizers on one text (tokens, characters/token, bytes/token)',
    usage: 'compare --tokenizers a,b,c (--file F | TEXT) [--json]',
    help: { tokenizers: 'comma-separated names', json: 'print JSON', ...textHelp },
    options: { tokenizers: { type: 'string' }, json: { type: 'boolean' }, ...textFlags },
    run: async (values, positionals) => {
      const tokenizers = requireString(values, 'tokenizers')
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
      const { results } = await backend(values).compare(
        { tokenizers, text: inputText(values, positionals) },
        ctx,
      );
      if (values.json) return void out(JSON.stringify(results));
      out(
        `${'tokenizer'.padEnd(16)} ${'tokens'.padStart(9)} ${'chars/token'.padStart(12)} ${'bytes/token'.padStart(12)}`,
      );
      for (const r of results) {
        out(
          `${r.tokenizer.padEnd(16)} ${String(r.tokens).padStart(9)} ${r.charsPerToken.toFixed(2).padStart(12)} ${r.bytesPerToken.toFixed(2).padStart(12)}`,
        );
      }
    },
  },
  list: {
    summary: 'List built-in and trained tokenizers',
    usage: 'list [--json]',
    options: { json: { type: 'boolean' }, ...remoteOption },
    run: async (values) => {
      const { tokenizers } = await backend(values).listTokenizers({}, ctx);
      if (values.json) return void out(JSON.stringify(tokenizers));
      for (const t of tokenizers)
        out(
          `${t.name.padEnd(20)} ${t.kind.padEnd(5)} ${String(t.vocabSize).padStart(7)}${t.builtin ? '  built-in' : ''}`,
        );
    },
  },
  vocab: {
    summary: 'Page through a vocabulary and its merges',
    usage: 'vocab --tokenizer NAME [--offset N] [--limit N]',
    options: {
      tokenizer: { type: 'string' },
      offset: { type: 'string' },
      limit: { type: 'string' },
      ...remoteOption,
    },
    run: async (values) => {
      const res = await backend(values).getVocab(
        {
          tokenizer: requireString(values, 'tokenizer'),
          page: { offset: intFlag(values, 'offset', 0), limit: intFlag(values, 'limit', 50, 1, 1000) },
        },
        ctx,
      );
      for (const e of res.entries)
        out(`${String(e.id).padStart(7)}  ${e.bytesHex.padEnd(16)} ${JSON.stringify(e.text)}`);
      out(`(${res.total} entries in all)`);
    },
  },
  cost: {
    summary: 'Estimate the cost of a text at a price per 1,000 tokens',
    usage: 'cost --tokenizer NAME --price USD_PER_1K (--file F | TEXT)',
    options: { tokenizer: { type: 'string' }, price: { type: 'string' }, ...textFlags },
    run: async (values, positionals) => {
      const price = Number(requireString(values, 'price'));
      const res = await backend(values).estimateCost(
        {
          tokenizer: requireString(values, 'tokenizer'),
          text: inputText(values, positionals),
          pricePer1k: price,
        },
        ctx,
      );
      out(`${res.tokens} tokens, $${res.cost.toFixed(6)}`);
    },
  },
  coverage: {
    summary: 'How a corpus uses a vocabulary (unused ids, byte-fallback rate, most frequent tokens)',
    usage: 'coverage --tokenizer NAME --input F [--top N] [--json]',
    options: {
      tokenizer: { type: 'string' },
      input: { type: 'string' },
      top: { type: 'string' },
      json: { type: 'boolean' },
      ...remoteOption,
    },
    run: async (values) => {
      const r = await backend(values).coverage(
        {
          tokenizer: requireString(values, 'tokenizer'),
          path: requireString(values, 'input'),
          text: '',
          top: intFlag(values, 'top', 20, 1, 1000),
        },
        ctx,
      );
      if (values.json) return void out(JSON.stringify(r));
      out(
        `${r.totalTokens} tokens, ${r.distinctTokens} distinct, ${r.unusedTokens} never used, byte fallback ${(r.byteFallbackRate * 100).toFixed(2)}%`,
      );
      for (const t of r.topTokens)
        out(`${String(t.count).padStart(10)}  ${String(t.id).padStart(7)}  ${JSON.stringify(t.text)}`);
    },
  },
  import: {
    summary: 'Register a Hugging Face tokenizer.json or a tiktoken rank file under a name',
    usage: 'import --file PATH --name NAME',
    options: { file: { type: 'string' }, name: { type: 'string' }, ...remoteOption },
    run: async (values) => {
      // A file on this machine travels as its text, so --remote works across machines too.
      const path = requireString(values, 'file');
      const isJson = path.endsWith('.json');
      const req = {
        name: requireString(values, 'name'),
        json: isJson ? readFileSync(path, 'utf8') : '',
        path: isJson ? '' : path,
      };
      const info = await backend(values).importTokenizer(req, ctx);
      out(`imported ${info.name}: ${info.kind}, vocabulary ${info.vocabSize}`);
    },
  },
  export: {
    summary: 'Write a tokenizer as tokenizer.json (Hugging Face format for BPE kinds)',
    usage: 'export --tokenizer NAME --out FILE',
    options: { tokenizer: { type: 'string' }, out: { type: 'string' }, ...remoteOption },
    run: async (values) => {
      const { json } = await backend(values).exportTokenizer(
        { tokenizer: requireString(values, 'tokenizer') },
        ctx,
      );
      const file = requireString(values, 'out');
      writeFileSync(file, json);
      out(`wrote ${file}`);
    },
  },
  serve: serveCommand(async () => (await import('./server.ts')).start()),
  info: infoCommand('tokenize', TokenizeServiceClient),
});

/**
 * Throughput benchmark: ours vs tiktoken (wasm) vs js-tiktoken on >= 10 MB of text, plus BPE training time.
 * Run: npm run bench:tokenize   (single-threaded; each encoder gets one warm-up pass on 1 MB first)
 */
import { readFileSync } from 'node:fs';
import { datasetPath } from '@lab/common';
import { getEncoding } from 'js-tiktoken';
import { get_encoding } from 'tiktoken';
import { getTokenizer, RankTokenizer, trainBpe } from '../src/index.ts';

const base = readFileSync(datasetPath('tinyshakespeare', 'input.txt'), 'utf8');
let text = '';
while (text.length < 10_000_000) text += base;
const mb = Buffer.byteLength(text, 'utf8') / 1e6;
console.log(`text: ${mb.toFixed(2)} MB (tiny Shakespeare x${Math.round(text.length / base.length)})`);

interface Result {
  label: string;
  seconds: number;
  tokens: number;
  ids: ArrayLike<number>;
}

function time(label: string, encode: (s: string) => ArrayLike<number>): Result {
  encode(text.slice(0, 1_000_000)); // warm-up (JIT, caches, wasm instantiation)
  const t0 = performance.now();
  const ids = encode(text);
  const seconds = (performance.now() - t0) / 1000;
  const r = { label, seconds, tokens: ids.length, ids };
  console.log(
    `${label.padEnd(26)} ${seconds.toFixed(3).padStart(7)} s  ${(mb / seconds).toFixed(2).padStart(7)} MB/s  ` +
      `${(ids.length / seconds / 1e6).toFixed(2).padStart(6)} M tokens/s  (${ids.length} tokens)`,
  );
  return r;
}

function same(a: ArrayLike<number>, b: ArrayLike<number>): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

for (const name of ['cl100k_base', 'gpt2'] as const) {
  console.log(`\n== ${name}`);
  const t0 = performance.now();
  const ours = getTokenizer(name);
  ours.encode('warm');
  console.log(`ours: lazy load of ranks ${(performance.now() - t0).toFixed(0)} ms`);
  const wasm = get_encoding(name);
  const js = getEncoding(name);
  const a = time(`ours ${name}`, (s) => ours.encode(s));
  const b = time(`tiktoken (wasm) ${name}`, (s) => wasm.encode(s));
  const c = time(`js-tiktoken ${name}`, (s) => js.encode(s));
  wasm.free();
  console.log(`ids identical: tiktoken ${same(a.ids, b.ids)}, js-tiktoken ${same(a.ids, c.ids)}`);
  console.log(
    `ratio ours/tiktoken ${(b.seconds / a.seconds).toFixed(2)}x, ours/js-tiktoken ${(c.seconds / a.seconds).toFixed(2)}x`,
  );
  if (!same(a.ids, b.ids) || !same(a.ids, c.ids)) process.exitCode = 1;
}

// Repeated Shakespeare flatters our piece cache; also measure unseen, non-repeating text with a fresh cache.
{
  const dir = datasetPath('wikitext-2');
  const wiki = ['wiki.test.raw.crlf-nonempty-lines', 'wiki.valid.tokens', 'wiki.test.tokens']
    .map((f) => readFileSync(`${dir}/${f}`, 'utf8'))
    .join('\n');
  const wmb = Buffer.byteLength(wiki, 'utf8') / 1e6;
  console.log(
    `\n== cl100k_base on unseen text: wikitext-2 files, ${wmb.toFixed(2)} MB, no repetition, cold cache`,
  );
  const base = getTokenizer('cl100k_base');
  const fresh = new RankTokenizer({
    name: 'cl100k_base',
    ranks: base.ranks,
    specialTokens: base.specialTokens,
    pattern: base.pattern!,
  });
  const wasm = get_encoding('cl100k_base');
  wasm.encode('warm up');
  let t = performance.now();
  const a = fresh.encode(wiki);
  const ours = (performance.now() - t) / 1000;
  t = performance.now();
  const b = wasm.encode(wiki);
  const theirs = (performance.now() - t) / 1000;
  wasm.free();
  console.log(`ours (cold cache)          ${ours.toFixed(3)} s  ${(wmb / ours).toFixed(2)} MB/s`);
  console.log(`tiktoken (wasm)            ${theirs.toFixed(3)} s  ${(wmb / theirs).toFixed(2)} MB/s`);
  console.log(`ids identical: ${same(a, b)}; ratio ours/tiktoken ${(theirs / ours).toFixed(2)}x`);
}

console.log('\n== training: 8,192 vocab on the same text');
const t0 = performance.now();
const trained = await trainBpe(text, { vocabSize: 8192, specialTokens: ['<|endoftext|>'] });
const trainSeconds = (performance.now() - t0) / 1000;
console.log(`trained ${trained.vocabSize} ids in ${trainSeconds.toFixed(2)} s (target < 10 s)`);

{
  const dir = datasetPath('wikitext-2');
  const unique = [
    base,
    ...['wiki.test.raw.crlf-nonempty-lines', 'wiki.valid.tokens', 'wiki.test.tokens'].map((f) =>
      readFileSync(`${dir}/${f}`, 'utf8'),
    ),
  ].join('\n');
  const umb = Buffer.byteLength(unique, 'utf8') / 1e6;
  const t1 = performance.now();
  await trainBpe(unique, { vocabSize: 8192 });
  console.log(
    `trained 8192 on ${umb.toFixed(2)} MB of non-repeating text (Shakespeare + wikitext-2) in ` +
      `${((performance.now() - t1) / 1000).toFixed(2)} s`,
  );
}

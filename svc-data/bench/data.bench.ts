// Benchmark of svc-data's cleaning and deduplication (run: `npx tsx svc-data/bench/data.bench.ts [MB]`).
//
// 1. Throughput: a corpus of at least 50 MB built from the shared datasets (wikitext-2, tinyshakespeare,
//    GSM8K paragraphs), repeated with variations (word swaps, deletions, insertions, case, exact copies),
//    through clean (normalise + PII), the Gopher quality rules, exact dedup and MinHash near dedup.
// 2. Quality of near-duplicate detection: real paragraphs with planted near duplicates at several edit
//    rates; precision and recall at several thresholds.
import { readFileSync } from 'node:fs';
import { datasetPath, mulberry32 } from '@lab/common';
import { jaccardSorted, MinHasher, nearDedup } from '../src/dedup.ts';
import type { Doc } from '../src/registry.ts';
import { parseSteps, runStep } from '../src/steps.ts';

const D = datasetPath();
const targetMB = Number(process.argv[2] ?? 50);

function baseParagraphs(): string[] {
  const wiki = ['wiki.test.tokens', 'wiki.valid.tokens'].flatMap((f) =>
    readFileSync(`${D}/wikitext-2/${f}`, 'utf8')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('=')),
  );
  const bard = readFileSync(`${D}/tinyshakespeare/input.txt`, 'utf8').split('\n\n');
  const gsm = (
    JSON.parse(readFileSync(`${D}/alpaca/gsm8k_train_alpaca.json`, 'utf8')) as {
      instruction: string;
      output: string;
    }[]
  ).map((r) => `${r.instruction}\n${r.output}`);
  return [...wiki, ...bard, ...gsm].filter((p) => p.length > 20);
}

const FILLERS = ['indeed', 'also', 'however', 'the', 'very', 'new', 'old', 'perhaps', 'often', 'then'];

/** Edits a fraction `rate` of the words: swaps, deletions, insertions and substitutions in equal parts. */
function edit(text: string, rate: number, rnd: () => number): string {
  const w = text.split(' ');
  const edits = Math.max(1, Math.round(w.length * rate));
  for (let e = 0; e < edits && w.length > 2; e++) {
    const i = Math.floor(rnd() * (w.length - 1));
    const op = e % 4;
    if (op === 0) [w[i], w[i + 1]] = [w[i + 1]!, w[i]!];
    else if (op === 1) w.splice(i, 1);
    else if (op === 2) w.splice(i, 0, FILLERS[Math.floor(rnd() * FILLERS.length)]!);
    else w[i] = FILLERS[Math.floor(rnd() * FILLERS.length)]!;
  }
  return w.join(' ');
}

function buildCorpus(base: string[], bytes: number): Doc[] {
  const rnd = mulberry32(2026);
  const docs: Doc[] = [];
  let size = 0;
  for (let round = 0; size < bytes; round++) {
    for (const p of base) {
      const r = rnd();
      // Round 0 is the originals; later rounds are variations: a third light edits, a third exact copies
      // with whitespace or case changes, a third heavier rewrites (distinct documents).
      const t =
        round === 0
          ? p
          : r < 0.33
            ? edit(p, 0.03, rnd)
            : r < 0.66
              ? rnd() < 0.5
                ? p.toUpperCase()
                : `  ${p.replace(/ /g, '  ')}\t`
              : `${edit(p, 0.4, rnd)} (${round})`;
      docs.push({ text: t });
      size += Buffer.byteLength(t);
      if (size >= bytes) break;
    }
  }
  return docs;
}

const mb = (docs: Doc[]) => docs.reduce((a, d) => a + Buffer.byteLength(d.text), 0) / 1e6;

function time<T>(label: string, docs: Doc[], f: () => T): T {
  const size = mb(docs);
  const t0 = performance.now();
  const r = f();
  const s = (performance.now() - t0) / 1000;
  console.log(
    `${label.padEnd(24)} ${size.toFixed(1).padStart(6)} MB in ${s.toFixed(2).padStart(6)} s = ${(size / s).toFixed(1).padStart(6)} MB/s`,
  );
  return r;
}

const base = baseParagraphs();
console.log(`# svc-data benchmark (node ${process.version}, ${process.platform}/${process.arch})\n`);
console.log(`## Throughput on ${targetMB} MB built from ${base.length} real paragraphs\n`);
const corpus = buildCorpus(base, targetMB * 1e6);
console.log(`corpus: ${corpus.length} documents, ${mb(corpus).toFixed(1)} MB\n`);
const step = (kind: string, params = {}) => parseSteps([{ kind, paramsJson: JSON.stringify(params) }])[0]!;
const t0 = performance.now();
const total = mb(corpus);
let docs = time('clean (normalise)', corpus, () => runStep(step('clean'), corpus).docs);
docs = time('pii', docs, () => runStep(step('pii'), docs).docs);
const exact = time('dedup_exact', docs, () => runStep(step('dedup_exact'), docs));
docs = exact.docs;
const near = time('dedup_near (0.8, 128)', docs, () => runStep(step('dedup_near', { threshold: 0.8 }), docs));
const all = (performance.now() - t0) / 1000;
console.log(
  `${'clean+pii+exact+near'.padEnd(24)} ${total.toFixed(1).padStart(6)} MB in ${all.toFixed(2).padStart(6)} s = ${(total / all).toFixed(1).padStart(6)} MB/s`,
);
console.log(
  `\nremoved: ${exact.report.removed.exact_duplicate ?? 0} exact (${exact.report.clusters} clusters), ${near.report.removed.near_duplicate ?? 0} near (${near.report.clusters} clusters); ${near.docs.length} documents left`,
);
time('quality (Gopher rules)', near.docs, () => runStep(step('quality'), near.docs));

console.log('\n## Near-duplicate detection: planted near duplicates of real paragraphs\n');
const rnd = mulberry32(7);
const seen = new Set<string>();
const pool = base.filter((p) => {
  const n = p.split(' ').length;
  if (n < 50 || n > 400 || seen.has(p)) return false;
  seen.add(p);
  return true;
});
// Shuffle, then take originals and plant copies of some of them.
for (let i = pool.length - 1; i > 0; i--) {
  const j = Math.floor(rnd() * (i + 1));
  [pool[i], pool[j]] = [pool[j]!, pool[i]!];
}
const originals = pool.slice(0, 4000);
const rates = [0.01, 0.03, 0.05, 0.1, 0.2, 0.3];
const texts = [...originals];
const plantedFrom = new Map<number, number>();
const rateOf = new Map<number, number>();
for (const rate of rates) {
  for (let k = 0; k < 200; k++) {
    const src = Math.floor(rnd() * 2000); // copies of the first half only
    plantedFrom.set(texts.length, src);
    rateOf.set(texts.length, rate);
    texts.push(edit(originals[src]!, rate, rnd));
  }
}
const hasher = new MinHasher({ numPerm: 128, ngram: 5, seed: 1 });
const sets = texts.map((t) => {
  const s = hasher.shingles(t).sort();
  return s.filter((v, i) => i === 0 || v !== s[i - 1]);
});
const trueJ = new Map([...plantedFrom].map(([i, src]) => [i, jaccardSorted(sets[i]!, sets[src]!)]));
console.log(`${originals.length} originals + ${plantedFrom.size} planted copies (200 per edit rate)\n`);
console.log('edit rate | mean true Jaccard (5-gram shingles)');
for (const rate of rates) {
  const js = [...trueJ].filter(([i]) => rateOf.get(i) === rate).map(([, j]) => j);
  console.log(
    `${`${(rate * 100).toFixed(0)}%`.padStart(9)} | ${(js.reduce((a, b) => a + b, 0) / js.length).toFixed(3)}`,
  );
}
console.log(
  '\nthreshold | precision | recall (true J >= threshold) | recall per edit rate (all planted copies)',
);
for (const threshold of [0.5, 0.7, 0.8, 0.9]) {
  const r = nearDedup(texts, { threshold, numPerm: 128, ngram: 5, seed: 1 });
  const flagged = new Set(r.duplicates.map((d) => d.index));
  const truePos = [...flagged].filter((i) => plantedFrom.has(i)).length;
  const precision = flagged.size ? truePos / flagged.size : 1;
  const relevant = [...trueJ].filter(([, j]) => j >= threshold).map(([i]) => i);
  const recall = relevant.filter((i) => flagged.has(i)).length / Math.max(1, relevant.length);
  const perRate = rates
    .map((rate) => {
      const ids = [...rateOf].filter(([, x]) => x === rate).map(([i]) => i);
      return `${(rate * 100).toFixed(0)}%: ${((ids.filter((i) => flagged.has(i)).length / ids.length) * 100).toFixed(0)}%`;
    })
    .join(', ');
  console.log(
    `${threshold.toFixed(2).padStart(9)} | ${precision.toFixed(3).padStart(9)} | ${recall.toFixed(3)} of ${relevant.length}`.padEnd(
      58,
    ) + ` | ${perRate}`,
  );
}

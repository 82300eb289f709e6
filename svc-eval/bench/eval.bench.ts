// bench:eval — HellaSwag scoring speed on this machine, for two model shapes with random weights:
// nanogpt-shakespeare (6×384, character vocabulary — here the characters HellaSwag uses) and gpt2-small
// (12×768 with GPT-2's tokenizer). For each: items/s, the forward FLOPs of the tokens run, the GFLOP/s
// that makes, its ratio to ONNX Runtime's matmul rate measured here (the best of the two models' MLP
// projection shapes, 256 rows), and the speed-up of the shared context (one context pass,
// then each choice continues its KV cache) over scoring each choice with its own full pass.
//
//   npm run bench:eval            (ITEMS=… to change the 40 items of nanogpt / 12 of gpt2-small)
import { readFileSync } from 'node:fs';
import { datasetPath } from '@lab/common';
import {
  createSession,
  estimateModel,
  Graph,
  InferenceModel,
  type ModelConfig,
  ops as op,
  ort,
  paramLayout,
  preset,
} from '@lab/engine';
import { CharTokenizer, parseTokenizerJson, type Tokenizer } from '@lab/tokenizer';
import { type ContinuationScore, type ScoringModel, scoreContinuations } from '../src/score/loglik.ts';
import { getTask } from '../src/tasks/index.ts';
import type { McItem } from '../src/tasks/types.ts';

/** ORT's MatMul rate here: the best of the projection shapes the two models run (FLOP/s). */
async function matmulRate(): Promise<number> {
  let best = 0;
  for (const [M, K, N] of [
    [256, 384, 1536],
    [256, 1536, 384],
    [256, 768, 3072],
    [256, 3072, 768],
  ] as const) {
    const g = new Graph('mm');
    const a = g.input('a', 'float32', [M, K]);
    const b = g.input('b', 'float32', [K, N]);
    g.output(op.matmul(g, a, b), 'y');
    const s = await createSession(g.toBytes());
    const feeds = {
      a: new ort.Tensor(
        'float32',
        Float32Array.from({ length: M * K }, () => Math.random()),
        [M, K],
      ),
      b: new ort.Tensor(
        'float32',
        Float32Array.from({ length: K * N }, () => Math.random()),
        [K, N],
      ),
    };
    for (let i = 0; i < 3; i++) await s.run(feeds);
    let fastest = Infinity;
    for (let i = 0; i < 15; i++) {
      const t = performance.now();
      await s.run(feeds);
      fastest = Math.min(fastest, performance.now() - t);
    }
    await s.release();
    best = Math.max(best, (2 * M * K * N) / (fastest / 1000));
  }
  return best;
}

async function bench(label: string, cfg: ModelConfig, tokenizer: Tokenizer, items: McItem[], rate: number) {
  const params = paramLayout(cfg).init(3);
  const lm = await InferenceModel.create(cfg, params);
  await lm.ready();
  const m: ScoringModel = { lm, tokenizer, emptyContextToken: 0 };
  // Warm-up: the first runs size ORT's buffers.
  await scoreContinuations(m, items[0]!.context, items[0]!.choices);

  const shared = { tokensRun: 0 };
  let t = performance.now();
  const a: ContinuationScore[][] = [];
  for (const it of items) a.push(await scoreContinuations(m, it.context, it.choices, shared));
  const sharedS = (performance.now() - t) / 1000;

  // Each choice on its own: a context of its own per choice, so nothing is shared.
  const separate = { tokensRun: 0 };
  t = performance.now();
  const b: ContinuationScore[][] = [];
  for (const it of items) {
    const row: ContinuationScore[] = [];
    for (const c of it.choices) row.push(...(await scoreContinuations(m, it.context, [c], separate)));
    b.push(row);
  }
  const separateS = (performance.now() - t) / 1000;
  let maxDiff = 0;
  for (const [i, r] of a.entries())
    for (const [j, s] of r.entries()) maxDiff = Math.max(maxDiff, Math.abs(s.loglik - b[i]![j]!.loglik));

  // Forward FLOPs of what ran: weights' matmuls per token, and attention over the average length.
  const est = estimateModel(cfg, 1, Math.round(shared.tokensRun / items.length / 2));
  const gflops = (shared.tokensRun * est.flopsPerToken.forward) / sharedS / 1e9;
  console.log(
    `${label.padEnd(20)} ${(items.length / sharedS).toFixed(2).padStart(7)} items/s  ` +
      `${(shared.tokensRun / items.length).toFixed(0)} tokens/item  ${(est.flopsPerToken.forward / 1e6).toFixed(1)} MFLOP/token  ` +
      `${gflops.toFixed(1)} GFLOP/s = ${((100 * gflops * 1e9) / rate).toFixed(0)}% of the matmul rate  ` +
      `shared context ${(separateS / sharedS).toFixed(2)}× faster than separate (${(items.length / separateS).toFixed(2)} items/s; ` +
      `max |Δloglik| ${maxDiff.toExponential(1)})`,
  );
  await lm.release();
}

const rate = await matmulRate();
console.log(
  `ONNX Runtime MatMul, best of the models' projection shapes at 256 rows: ${(rate / 1e9).toFixed(1)} GFLOP/s`,
);
const items = getTask('hellaswag').load({ datasets: datasetPath(), fewshot: 0, seed: 0 });

const n1 = Number(process.env.ITEMS ?? 40);
const chars = [
  ...new Set(items.slice(0, n1).flatMap((it) => [...it.context, ...it.choices.join('')])),
].sort();
await bench(
  'nanogpt-shakespeare',
  preset('nanogpt-shakespeare', { vocabSize: chars.length, dropout: 0 }),
  new CharTokenizer(chars, 'hellaswag-chars'),
  items.slice(0, n1),
  rate,
);

const gpt2 = parseTokenizerJson(readFileSync(datasetPath('gpt2-tokenizer', 'tokenizer.json'), 'utf8'));
const n2 = Number(process.env.ITEMS ?? 12);
await bench('gpt2-small', preset('gpt2-small'), gpt2, items.slice(0, n2), rate);

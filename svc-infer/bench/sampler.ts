// The sampler chain's cost per token over GPT-2's vocabulary (it runs on every generated token), beside
// one full sort of the vocabulary, which is what a naive top-k/top-p would pay each token.
import { Rng } from '@lab/engine';
import { SAMPLING_DEFAULTS } from '../src/sampling/params.ts';
import { type SampleOptions, Sampler, type SamplerSettings } from '../src/sampling/sampler.ts';

export const V = 50_257;

/** Logits shaped like a language model's: a broad background with a few dozen strong candidates. */
function lmLogits(seed: number): Float32Array {
  const rng = new Rng(seed);
  const l = Float32Array.from({ length: V }, () => rng.normal() * 2 - 5);
  for (let i = 0; i < 40; i++) l[rng.int(V)] += 6 + rng.normal() * 2;
  return l;
}

function msPerToken(settings: SamplerSettings, options: SampleOptions, tokens: number): number {
  const rows = Array.from({ length: 8 }, (_, i) => lmLogits(i + 1));
  const rng = new Rng(5);
  const prompt = Array.from({ length: 512 }, () => rng.int(V));
  const generated: number[] = [];
  const sampler = new Sampler(settings, V);
  for (let i = 0; i < 20; i++) sampler.sample(rows[i % rows.length], { prompt, generated }, options); // warm-up
  const t0 = performance.now();
  for (let i = 0; i < tokens; i++) {
    const r = sampler.sample(rows[i % rows.length], { prompt, generated }, options);
    generated.push(r.id);
  }
  return (performance.now() - t0) / tokens;
}

function msPerFullSort(reps: number): number {
  const l = lmLogits(99);
  const ids = new Int32Array(V);
  const t0 = performance.now();
  for (let r = 0; r < reps; r++) {
    for (let i = 0; i < V; i++) ids[i] = i;
    ids.sort((a, b) => l[b] - l[a] || a - b);
  }
  return (performance.now() - t0) / reps;
}

const allKnobs: SamplerSettings = {
  ...SAMPLING_DEFAULTS,
  temperature: 0.8,
  topK: 50,
  topP: 0.95,
  minP: 0.05,
  repetitionPenalty: 1.2,
  frequencyPenalty: 0.5,
  presencePenalty: 0.5,
  logitBias: { 11: 5, 13: -100, 198: -2, 50256: -100 },
  seed: 1,
  topLogprobs: 20,
};

/** ms per token for each setting, and one full sort, as printable lines. */
export function benchSampler(): string[] {
  const sort = msPerFullSort(10);
  const cases: [string, number][] = [
    [
      'all knobs (T 0.8, top-k 50, top-p 0.95, min-p 0.05, penalties, bias, 20 logprobs)',
      msPerToken(allKnobs, {}, 200),
    ],
    ['all knobs, traced (sampler view)', msPerToken(allKnobs, { trace: true }, 100)],
    ['top-p without top-k', msPerToken({ ...allKnobs, topK: 0 }, {}, 200)],
    ['greedy', msPerToken({ ...allKnobs, temperature: 0 }, {}, 200)],
  ];
  return [
    ...cases.map(([k, v]) => `  ${k.padEnd(84)} ${v.toFixed(3)} ms/token`),
    `  ${'one full sort of the vocabulary, for scale'.padEnd(84)} ${sort.toFixed(3)} ms`,
  ];
}

import { Rng } from '@lab/engine';
import { describe, expect, it } from 'vitest';
import { nucleusCut } from '../src/sampling/nucleus.ts';
import {
  resolveSamplingParams,
  SAMPLING_DEFAULTS,
  type SamplingParams,
  SamplingParamsError,
  validateSamplingParams,
} from '../src/sampling/params.ts';
import {
  Sampler,
  type SamplerSettings,
  type SamplerStage,
  type SamplerStageName,
  type TokenContext,
} from '../src/sampling/sampler.ts';
import { TopN } from '../src/sampling/top-n.ts';

// ---- the chain written the obvious way (full sorts, plain arrays), to hold the fast one against ----

const settings = (over: Partial<SamplerSettings> = {}): SamplerSettings => ({
  ...SAMPLING_DEFAULTS,
  seed: 1,
  ...over,
});

function softmax(xs: readonly number[]): number[] {
  const m = Math.max(...xs);
  const e = xs.map((x) => Math.exp(x - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
}

function logSoftmax(xs: ArrayLike<number>): number[] {
  const a = Array.from(xs);
  const m = Math.max(...a);
  const lse = m + Math.log(a.reduce((s, x) => s + Math.exp(x - m), 0));
  return a.map((x) => x - lse);
}

function penalised(logits: Float32Array, ctx: TokenContext, s: SamplerSettings): number[] {
  const z = Array.from(logits);
  for (const id of new Set([...ctx.prompt, ...ctx.generated]))
    z[id] = z[id] > 0 ? z[id] / s.repetitionPenalty : z[id] * s.repetitionPenalty;
  const counts = new Map<number, number>();
  for (const id of ctx.generated) counts.set(id, (counts.get(id) ?? 0) + 1);
  for (const [id, c] of counts) z[id] -= c * s.frequencyPenalty + s.presencePenalty;
  for (const [k, b] of Object.entries(s.logitBias)) z[Number(k)] = b === -100 ? -Infinity : z[Number(k)] + b;
  return z;
}

/** Each stage's full distribution (0 = removed), by the definitions in the brief. */
function referenceChain(logits: Float32Array, ctx: TokenContext, s: SamplerSettings) {
  const V = logits.length;
  const z = penalised(logits, ctx, s);
  const order = [...z.keys()].filter((i) => z[i] > -Infinity).sort((a, b) => z[b] - z[a] || a - b);
  const dist = (keep: number[], scale: number) => {
    const p = new Array<number>(V).fill(0);
    const probs = softmax(keep.map((i) => z[i] * scale));
    keep.forEach((id, j) => {
      p[id] = probs[j];
    });
    return p;
  };
  const out = new Map<SamplerStageName, number[]>();
  out.set('raw', softmax(Array.from(logits)));
  out.set('penalties', dist(order, 1));
  if (s.temperature === 0) {
    const onehot = new Array<number>(V).fill(0);
    onehot[order[0]] = 1;
    for (const n of ['temperature', 'top_k', 'top_p', 'min_p'] as const) out.set(n, onehot);
    return out;
  }
  const scale = 1 / s.temperature;
  let keep = order;
  out.set('temperature', dist(keep, scale));
  if (s.topK > 0) keep = keep.slice(0, s.topK);
  out.set('top_k', dist(keep, scale));
  if (s.topP < 1) {
    const p = softmax(keep.map((i) => z[i] * scale));
    let cum = 0;
    let n = 0;
    while (n < keep.length && cum < s.topP) cum += p[n++];
    keep = keep.slice(0, n);
  }
  out.set('top_p', dist(keep, scale));
  if (s.minP > 0) {
    const p = softmax(keep.map((i) => z[i] * scale));
    keep = keep.filter((_, j) => p[j] >= s.minP * p[0]);
  }
  out.set('min_p', dist(keep, scale));
  return out;
}

function randomLogits(V: number, seed: number, scale = 2): Float32Array {
  const rng = new Rng(seed);
  return Float32Array.from({ length: V }, () => rng.normal() * scale);
}

const noContext: TokenContext = { prompt: [], generated: [] };

function traced(
  s: SamplerSettings,
  logits: Float32Array,
  ctx = noContext,
): Map<SamplerStageName, SamplerStage> {
  const r = new Sampler(s, logits.length).sample(logits, ctx, { trace: true, traceTopN: logits.length });
  return new Map(r.trace!.map((st) => [st.name, st]));
}

/** The stage's probabilities as a full vector, to compare with the reference. */
function stageProbs(stage: SamplerStage, V: number): number[] {
  const p = new Array<number>(V).fill(0);
  for (const t of stage.top) p[t.id] = t.prob;
  return p;
}

function expectClose(actual: number[], expected: number[], digits = 12) {
  expect(actual.length).toBe(expected.length);
  actual.forEach((a, i) => {
    expect(a, `index ${i}`).toBeCloseTo(expected[i], digits);
  });
}

const argmax = (xs: ArrayLike<number>) => {
  let best = 0;
  for (let i = 1; i < xs.length; i++) if (xs[i] > xs[best]) best = i;
  return best;
};

describe('sampler chain on a fixed distribution', () => {
  const V = 40;
  const logits = randomLogits(V, 7);

  it('greedy picks the argmax, the lowest id on ties, and uses no randomness', () => {
    const s = new Sampler(settings({ temperature: 0 }), V);
    expect(s.sample(logits, noContext).id).toBe(argmax(logits));
    const tied = Float32Array.from([0, 2, 5, 1, 5, 5]);
    const g = new Sampler(settings({ temperature: 0, seed: 99 }), tied.length);
    for (let i = 0; i < 5; i++) expect(g.sample(tied, noContext).id).toBe(2);
  });

  it('temperature gives exactly softmax(logits / T): lower T sharpens, higher T flattens', () => {
    const maxProb = new Map<number, number>();
    for (const T of [0.25, 0.7, 1, 1.8, 4]) {
      const stage = traced(settings({ temperature: T }), logits).get('temperature')!;
      const expected = softmax(Array.from(logits, (l) => l / T));
      expectClose(stageProbs(stage, V), expected);
      expect(stage.allowed).toBe(V);
      maxProb.set(T, stage.top[0].prob);
    }
    expect(maxProb.get(0.25)!).toBeGreaterThan(maxProb.get(1)!);
    expect(maxProb.get(4)!).toBeLessThan(maxProb.get(1)!);
  });

  it('top-k keeps exactly the k most likely tokens (ties to the lower id), renormalised', () => {
    for (const k of [1, 3, 17]) {
      const s = settings({ topK: k, temperature: 0.9 });
      const st = traced(s, logits).get('top_k')!;
      expect(st.allowed).toBe(k);
      expect(st.top.length).toBe(k);
      expectClose(stageProbs(st, V), referenceChain(logits, noContext, s).get('top_k')!);
    }
    const tied = Float32Array.from([1, 3, 3, 3, 0]);
    const st = traced(settings({ topK: 2 }), tied).get('top_k')!;
    expect(st.top.map((t) => t.id)).toEqual([1, 2]);
  });

  it('top-p keeps the smallest prefix of the sorted probabilities that reaches p', () => {
    const probs = softmax(Array.from(logits));
    const sorted = [...probs].sort((a, b) => b - a);
    for (const p of [0.05, 0.3, 0.5, 0.9, 0.99]) {
      // the smallest n with sorted[0] + … + sorted[n-1] ≥ p, away from rounding ties
      let cum = 0;
      let n = 0;
      while (cum < p) cum += sorted[n++];
      expect(Math.abs(cum - p)).toBeGreaterThan(1e-9);
      const s = settings({ topP: p });
      const st = traced(s, logits).get('top_p')!;
      expect(st.allowed, `p=${p}`).toBe(n);
      const kept = new Set(st.top.map((t) => t.id));
      for (let i = 0; i < V; i++) expect(kept.has(i)).toBe(probs[i] >= sorted[n - 1]);
      expectClose(stageProbs(st, V), referenceChain(logits, noContext, s).get('top_p')!);
    }
  });

  it('top-p after top-k works on the renormalised top k, up to keeping all k', () => {
    for (const k of [3, 17])
      for (const p of [0.3, 0.8, 0.9999]) {
        const s = settings({ topK: k, topP: p, temperature: 1.2 });
        const st = traced(s, logits).get('top_p')!;
        const expected = referenceChain(logits, noContext, s).get('top_p')!;
        expect(st.allowed, `k=${k} p=${p}`).toBe(expected.filter((x) => x > 0).length);
        expectClose(stageProbs(st, V), expected);
      }
    expect(traced(settings({ topK: 17, topP: 0.9999, temperature: 1.2 }), logits).get('top_p')!.allowed).toBe(
      17,
    );
  });

  it('top-p splits tokens tied at the cut by id, in the trace and in the draws', () => {
    // weights e, e, e, e, 1, 1, 1, e²: at p = 0.5 the nucleus needs e² and two of the four e's (also
    // after top-7 drops one of the 1s: 1 + e⁻¹ = 1.368 < 0.5 · 2.740); the best token comes last, so a
    // draw that walked the excluded e's would reach them before it
    const tied = Float32Array.from([1, 1, 1, 1, 0, 0, 0, 2]);
    for (const topK of [0, 7]) {
      const s = settings({ topP: 0.5, topK, seed: 4 });
      const st = traced(s, tied).get('top_p')!;
      expect(st.allowed).toBe(3);
      expect(st.top.map((t) => t.id)).toEqual([7, 0, 1]);
      const sampler = new Sampler(s, tied.length);
      const seen = new Set<number>();
      for (let i = 0; i < 3000; i++) seen.add(sampler.sample(tied, noContext).id);
      expect([...seen].sort()).toEqual([0, 1, 7]);
    }
  });

  it('min-p keeps the tokens with p ≥ minP · pmax', () => {
    const probs = softmax(Array.from(logits));
    const pmax = Math.max(...probs);
    for (const m of [0.01, 0.1, 0.5]) {
      const st = traced(settings({ minP: m }), logits).get('min_p')!;
      const expected = probs.flatMap((p, id) => (p >= m * pmax ? [id] : []));
      expect(st.allowed).toBe(expected.length);
      expect(st.top.map((t) => t.id).sort((a, b) => a - b)).toEqual(expected);
    }
  });

  it('applies the stages in order raw → penalties → temperature → top-k → top-p → min-p', () => {
    const ctx: TokenContext = { prompt: [0, 1, 2, 3], generated: [4, 4, 5, argmax(logits)] };
    const s = settings({
      temperature: 0.6,
      topK: 12,
      topP: 0.8,
      minP: 0.3,
      repetitionPenalty: 1.3,
      frequencyPenalty: 0.4,
      presencePenalty: 0.3,
      logitBias: { 6: 2.5, 7: -1 },
    });
    const trace = new Sampler(s, V).sample(logits, ctx, { trace: true, traceTopN: V }).trace!;
    expect(trace.map((st) => st.name)).toEqual([
      'raw',
      'penalties',
      'temperature',
      'top_k',
      'top_p',
      'min_p',
    ]);
    expect(trace.every((st) => st.enabled)).toBe(true);
    const ref = referenceChain(logits, ctx, s);
    for (const st of trace) {
      const expected = ref.get(st.name)!;
      expectClose(stageProbs(st, V), expected);
      expect(st.allowed, st.name).toBe(expected.filter((p) => p > 0).length);
    }
    // the knobs bite in this setting: each filter removes something
    const allowed = trace.map((st) => st.allowed);
    expect(allowed[3]).toBeLessThan(allowed[2]);
    expect(allowed[4]).toBeLessThan(allowed[3]);
    expect(allowed[5]).toBeLessThan(allowed[4]);
  });

  it('greedy traces the T → 0 limit: every stage after temperature is all on the argmax', () => {
    const s = settings({ temperature: 0, topK: 5, presencePenalty: 1 });
    const ctx: TokenContext = { prompt: [], generated: [argmax(logits)] };
    const trace = new Sampler(s, V).sample(logits, ctx, { trace: true }).trace!;
    const best = argmax(penalised(logits, ctx, s));
    expect(trace[1].top[0].id).toBe(best);
    for (const st of trace.slice(2)) {
      expect(st.allowed).toBe(1);
      expect(st.top).toEqual([{ id: best, logit: trace[1].top[0].logit, prob: 1 }]);
    }
  });

  it('stages that are off repeat the previous distribution and say so', () => {
    const trace = new Sampler(settings(), V).sample(logits, noContext, { trace: true, traceTopN: 5 }).trace!;
    expect(trace.map((st) => st.enabled)).toEqual([true, false, false, false, false, false]);
    for (const st of trace) {
      expect(st.allowed).toBe(V);
      expect(st.top.map((t) => t.id)).toEqual(trace[0].top.map((t) => t.id));
      st.top.forEach((t, i) => {
        expect(t.prob).toBeCloseTo(trace[0].top[i].prob, 12);
      });
    }
  });
});

describe('penalties and logit bias', () => {
  const V = 12;
  // positive and negative logits, so both branches of the repetition penalty show
  const logits = Float32Array.from([2, -1, 0.5, -3, 1, 4, -0.5, 0, 3, -2, 1.5, -4]);
  const penalisedStage = (s: SamplerSettings, ctx: TokenContext) => {
    const st = traced(s, logits, ctx).get('penalties')!;
    const z = new Array<number>(V).fill(Number.NaN);
    for (const t of st.top) z[t.id] = t.logit;
    return { z, st };
  };

  it('repetition penalty divides positive and multiplies negative logits of context tokens, once each', () => {
    const ctx: TokenContext = { prompt: [0, 1, 1, 7], generated: [3, 0, 8] };
    const { z } = penalisedStage(settings({ repetitionPenalty: 2 }), ctx);
    const touched = new Set([0, 1, 7, 3, 8]);
    for (let i = 0; i < V; i++) {
      const l = logits[i];
      const expected = touched.has(i) ? (l > 0 ? l / 2 : l * 2) : l;
      expect(z[i], `token ${i}`).toBeCloseTo(expected, 12);
    }
  });

  it('frequency and presence penalties count generated tokens only', () => {
    const ctx: TokenContext = { prompt: [5, 6], generated: [2, 2, 2, 4, 9] };
    const { z } = penalisedStage(settings({ frequencyPenalty: 0.5, presencePenalty: 0.25 }), ctx);
    const counts: Record<number, number> = { 2: 3, 4: 1, 9: 1 };
    for (let i = 0; i < V; i++) {
      const c = counts[i] ?? 0;
      expect(z[i], `token ${i}`).toBeCloseTo(logits[i] - c * 0.5 - (c > 0 ? 0.25 : 0), 12);
    }
    // negative penalties encourage repetition
    const { z: z2 } = penalisedStage(settings({ frequencyPenalty: -1 }), ctx);
    expect(z2[2]).toBeCloseTo(logits[2] + 3, 12);
  });

  it('logit bias adds to the logit, and −100 bans the token even when it was the best', () => {
    const { z, st } = penalisedStage(settings({ logitBias: { 3: 7.5, 10: -2 } }), noContext);
    expect(z[3]).toBeCloseTo(logits[3] + 7.5, 12);
    expect(z[10]).toBeCloseTo(logits[10] - 2, 12);
    expect(z[4]).toBe(logits[4]);
    expect(st.allowed).toBe(V);

    const best = argmax(logits);
    const ban = settings({ logitBias: { [best]: -100 }, temperature: 1.5, seed: 3 });
    const banned = traced(ban, logits).get('penalties')!;
    expect(banned.allowed).toBe(V - 1);
    expect(banned.top.some((t) => t.id === best)).toBe(false);
    const sampler = new Sampler(ban, V);
    for (let i = 0; i < 2000; i++) expect(sampler.sample(logits, noContext).id).not.toBe(best);
    const greedy = new Sampler({ ...ban, temperature: 0 }, V).sample(logits, noContext);
    expect(greedy.id).toBe(argmax(logits.map((l, i) => (i === best ? -Infinity : l))));
  });

  it('penalties steer greedy decoding away from what was generated', () => {
    const best = argmax(logits);
    const s = settings({ temperature: 0, presencePenalty: 2 });
    expect(new Sampler(s, V).sample(logits, { prompt: [], generated: [best] }).id).toBe(
      argmax(penalised(logits, { prompt: [], generated: [best] }, s)),
    );
    expect(new Sampler(s, V).sample(logits, { prompt: [], generated: [best] }).id).not.toBe(best);
  });

  it('refuses a bias that bans every token, and context ids outside the vocabulary', () => {
    const all = Object.fromEntries(Array.from({ length: V }, (_, i) => [String(i), -100]));
    expect(() => new Sampler(settings({ logitBias: all }), V).sample(logits, noContext)).toThrow(
      /logitBias: bans every token/,
    );
    expect(() =>
      new Sampler(settings({ repetitionPenalty: 1.2 }), V).sample(logits, { prompt: [V], generated: [] }),
    ).toThrow(/outside the vocabulary/);
    expect(() => new Sampler(settings(), V).sample(new Float32Array(V + 1), noContext)).toThrow(/logits/);
    expect(() =>
      new Sampler(settings(), V).sample(
        logits.map((l, i) => (i ? l : Number.NaN)),
        noContext,
      ),
    ).toThrow(/finite/);
  });
});

describe('draws', () => {
  const V = 50;
  const logits = randomLogits(V, 11, 1);
  const draws = (s: SamplerSettings, n: number, index = 0) => {
    const sampler = new Sampler(s, V, index);
    return Array.from({ length: n }, () => sampler.sample(logits, noContext).id);
  };

  it('the same seed reproduces the draws; another seed or sample index gives others', () => {
    const a = draws(settings({ seed: 42 }), 100);
    expect(draws(settings({ seed: 42 }), 100)).toEqual(a);
    expect(draws(settings({ seed: 43 }), 100)).not.toEqual(a);
    const second = draws(settings({ seed: 42 }), 100, 1);
    expect(second).not.toEqual(a);
    expect(draws(settings({ seed: 42 }), 100, 1)).toEqual(second);
    expect(new Set(a).size).toBeGreaterThan(10); // actually random, not stuck on one token
  });

  it('same seed and settings give the same text through a whole generation', () => {
    // a toy model whose next logits depend on what was generated, so the context matters
    const step = (generated: number[]) => {
      const rng = Rng.derive(generated.length, generated.at(-1) ?? 0);
      return Float32Array.from({ length: V }, () => rng.normal() * 2);
    };
    const generate = (seed: number) => {
      const s = settings({
        seed,
        temperature: 0.9,
        topP: 0.95,
        repetitionPenalty: 1.2,
        presencePenalty: 0.5,
      });
      const sampler = new Sampler(s, V);
      const generated: number[] = [];
      for (let i = 0; i < 40; i++)
        generated.push(sampler.sample(step(generated), { prompt: [1, 2], generated }).id);
      return generated;
    };
    expect(generate(7)).toEqual(generate(7));
    expect(generate(8)).not.toEqual(generate(7));
  });

  // χ² critical value at p = 0.001 (Wilson–Hilferty, within 1% for df ≥ 2): a correct sampler fails one
  // seed in 1,000, and the seed is fixed.
  const chi2Critical = (df: number) => df * (1 - 2 / (9 * df) + 3.09 * Math.sqrt(2 / (9 * df))) ** 3;

  it.each([
    ['top-k, top-p and min-p', { temperature: 0.8, topK: 12, topP: 0.9, minP: 0.05 }],
    ['top-p alone', { temperature: 1.3, topP: 0.6 }],
    ['min-p alone', { temperature: 1.1, minP: 0.1 }],
    ['plain temperature', { temperature: 0.5 }],
  ] as const)('empirical frequencies match the final distribution (%s)', (_name, over) => {
    const s = settings({ ...over, seed: 2024 });
    const expected = referenceChain(logits, noContext, s).get('min_p')!;
    const n = 20_000;
    const counts = new Array<number>(V).fill(0);
    for (const id of draws(s, n)) counts[id]++;
    let chi2 = 0;
    let bins = 0;
    let rest = 0;
    let restCount = 0;
    for (let i = 0; i < V; i++) {
      if (expected[i] === 0) expect(counts[i], `token ${i} was filtered out`).toBe(0);
      else if (expected[i] * n < 5) {
        rest += expected[i] * n; // pool rare tokens, as χ² needs ≥ 5 expected per bin
        restCount += counts[i];
      } else {
        chi2 += (counts[i] - expected[i] * n) ** 2 / (expected[i] * n);
        bins++;
      }
    }
    if (rest > 0) {
      chi2 += (restCount - rest) ** 2 / rest;
      bins++;
    }
    expect(bins).toBeGreaterThan(2);
    expect(chi2).toBeLessThan(chi2Critical(bins - 1));
  });
});

describe('log-probabilities', () => {
  it('are the log-softmax of the raw logits, whatever the knobs, with the top alternatives', () => {
    const V = 300;
    const logits = randomLogits(V, 5, 3);
    const expected = logSoftmax(logits);
    const ranked = [...expected.keys()].sort((a, b) => expected[b] - expected[a] || a - b);
    const s = settings({
      temperature: 0.7,
      topK: 30,
      topP: 0.9,
      repetitionPenalty: 1.5,
      logitBias: { [ranked[0]]: -100 },
      topLogprobs: 20,
      seed: 9,
    });
    const sampler = new Sampler(s, V);
    const generated: number[] = [];
    for (let i = 0; i < 20; i++) {
      const r = sampler.sample(logits, { prompt: [ranked[1]], generated });
      generated.push(r.id);
      expect(r.logprob).toBeCloseTo(expected[r.id], 10);
      expect(r.topLogprobs.map((t) => t.id)).toEqual(ranked.slice(0, 20));
      r.topLogprobs.forEach((t) => {
        expect(t.logprob).toBeCloseTo(expected[t.id], 10);
      });
    }
    // the banned most-likely token is still reported as the model's favourite
    expect(generated).not.toContain(ranked[0]);
  });

  it('lists no alternatives unless asked, and at most 20', () => {
    const logits = randomLogits(64, 1);
    expect(new Sampler(settings(), 64).sample(logits, noContext).topLogprobs).toEqual([]);
    expect(new Sampler(settings({ topLogprobs: 3 }), 64).sample(logits, noContext).topLogprobs).toHaveLength(
      3,
    );
    expect(() => new Sampler(settings({ topLogprobs: 21 }), 64)).toThrow(
      /topLogprobs: must be an integer in \[0, 20\]/,
    );
  });
});

describe('a GPT-2-sized vocabulary', () => {
  const V = 50_257;

  it.each([
    [0.9, 0.7, 1],
    [0.5, 1.5, 2],
    [0.99, 3, 0.5],
  ])('top-p = %s at T = %s (logit scale %s) matches a full sort', (p, T, scale) => {
    const logits = randomLogits(V, 77, scale);
    const s = settings({ topP: p, temperature: T, topLogprobs: 20 });
    const trace = traced(s, logits);
    const probs = softmax(Array.from(logits, (l) => l / T));
    const sorted = [...probs].sort((a, b) => b - a);
    let cum = 0;
    let n = 0;
    while (cum < p) cum += sorted[n++];
    expect(trace.get('top_p')!.allowed).toBe(n);
    expect(trace.get('top_p')!.top.length).toBe(n);
    expect(new Sampler(s, V).sample(logits, noContext).logprob).toBeLessThan(0);
  });
});

describe('top-n selection', () => {
  it('returns the n largest best first, ties to the lower id, skipping -Infinity and NaN', () => {
    const rng = new Rng(12);
    const heap = new TopN(4);
    for (let trial = 0; trial < 500; trial++) {
      const len = rng.int(80);
      const keys = Array.from({ length: len }, () => {
        const r = rng.int(12);
        return r === 0 ? -Infinity : r === 1 ? Number.NaN : rng.int(6); // many ties
      });
      const n = rng.int(12);
      heap.reset(n);
      keys.forEach((k, id) => {
        if (heap.wants(k)) heap.offer(k, id);
      });
      const ids: number[] = [];
      const got = heap.drain(ids);
      const expected = [...keys.keys()]
        .filter((i) => keys[i] > -Infinity)
        .sort((a, b) => keys[b] - keys[a] || a - b)
        .slice(0, n);
      expect(ids.slice(0, got)).toEqual(expected);
    }
  });
});

describe('top-p cut-off by quickselect', () => {
  /** The definition: sort, and take the smallest prefix whose sum reaches the target. */
  function bySorting(weights: number[], target: number) {
    const sorted = [...weights].sort((a, b) => b - a);
    let cum = 0;
    let n = 0;
    while (n < sorted.length && cum < target) cum += sorted[n++];
    const cut = sorted[n - 1];
    return { cut, ties: sorted.slice(0, n).filter((w) => w === cut).length };
  }

  it('finds the same cut and number of ties as sorting, ties and exact boundaries included', () => {
    const rng = new Rng(3);
    for (let trial = 0; trial < 2000; trial++) {
      // small integers: many ties, and sums that are exact, so boundaries are exact too
      // small lists go straight to quickselect, long ones through the buckets first
      const n = trial % 4 === 0 ? 1025 + rng.int(3000) : 1 + rng.int(60);
      const weights = Array.from({ length: n }, () => 1 + rng.int(trial % 2 ? 4 : 1000));
      const total = weights.reduce((a, b) => a + b, 0);
      const target = trial % 3 === 0 ? 1 + rng.int(total) : rng.uniform() * total;
      if (target <= 0) continue;
      const got = nucleusCut(Float64Array.from(weights), n, target);
      expect(got, JSON.stringify({ weights, target })).toEqual(bySorting(weights, target));
    }
  });

  it('finds a cut that falls exactly on a boundary between weight buckets', () => {
    const rng = new Rng(6);
    const weights = [...Array(100).fill(8), ...Array(300).fill(4), ...Array(1600).fill(1)];
    for (let i = weights.length - 1; i > 0; i--) {
      const j = rng.int(i + 1);
      [weights[i], weights[j]] = [weights[j], weights[i]];
    }
    for (const target of [800, 2000, 2000.5, 3600])
      expect(nucleusCut(Float64Array.from(weights), weights.length, target), `target ${target}`).toEqual(
        bySorting(weights, target),
      );
    expect(bySorting(weights, 2000)).toEqual({ cut: 4, ties: 300 });
  });

  it('agrees with sorting on real-valued weights of a large vocabulary', () => {
    const rng = new Rng(8);
    const weights = Array.from({ length: 50_257 }, () => Math.exp(rng.normal() * 2));
    const total = weights.reduce((a, b) => a + b, 0);
    for (const p of [0.1, 0.5, 0.9, 0.99]) {
      const got = nucleusCut(Float64Array.from(weights), weights.length, p * total);
      expect(got).toEqual(bySorting(weights, p * total));
    }
  });
});

describe('sampling parameters', () => {
  it('name the field and its range in each error', () => {
    const cases: [Partial<SamplingParams>, string][] = [
      [{ temperature: -0.5 }, 'temperature: must be a number ≥ 0 (0 = greedy), got -0.5'],
      [{ topK: 2.5 }, 'topK: must be an integer ≥ 0 (0 = off), got 2.5'],
      [{ topP: 1.5 }, 'topP: must be in (0, 1], got 1.5'],
      [{ topP: 0 }, 'topP: must be in (0, 1], got 0'],
      [{ minP: 1 }, 'minP: must be in [0, 1), got 1'],
      [{ repetitionPenalty: 0 }, 'repetitionPenalty: must be a number > 0 (1 = off), got 0'],
      [{ frequencyPenalty: 2.5 }, 'frequencyPenalty: must be in [-2, 2], got 2.5'],
      [{ presencePenalty: -3 }, 'presencePenalty: must be in [-2, 2], got -3'],
      [{ seed: -1 }, 'seed: must be an integer in [0, 2^53), got -1'],
      [{ maxTokens: 0 }, 'maxTokens: must be an integer ≥ 1, got 0'],
      [{ n: 0 }, 'n: must be an integer in [1, 128], got 0'],
      [{ topLogprobs: 21 }, 'topLogprobs: must be an integer in [0, 20], got 21'],
      [{ logitBias: { 5: 150 } }, 'logitBias.5: must be in [-100, 100], got 150'],
      [{ logitBias: { x: 1 } }, 'logitBias: keys must be token ids ≥ 0, got "x"'],
      [{ stop: ['ok', ''] }, 'stop.1: must be a non-empty string, got ""'],
      [{ temperature: Number.NaN }, 'temperature: must be a number ≥ 0 (0 = greedy), got NaN'],
    ];
    for (const [p, message] of cases)
      expect(validateSamplingParams(p).map((i) => i.message)).toEqual([message]);
    expect(validateSamplingParams({ logitBias: { 100: 1 } }, 100)[0].message).toBe(
      'logitBias: keys must be token ids in [0, 100), got "100"',
    );
  });

  it('accept the edges of each range and report every problem at once', () => {
    const edges: Partial<SamplingParams> = {
      temperature: 0,
      topK: 0,
      topP: 1,
      minP: 0,
      repetitionPenalty: 0.01,
      frequencyPenalty: -2,
      presencePenalty: 2,
      logitBias: { 0: -100, 7: 100 },
      seed: 0,
      topLogprobs: 20,
    };
    expect(validateSamplingParams(edges)).toEqual([]);
    const issues = validateSamplingParams({ topP: 2, minP: -1 });
    expect(issues.map((i) => i.field)).toEqual(['topP', 'minP']);
  });

  it('resolve with defaults and a reported seed, or throw an error carrying the field', () => {
    const r = resolveSamplingParams({ topK: 40 });
    expect(r).toMatchObject({ ...SAMPLING_DEFAULTS, topK: 40 });
    expect(Number.isSafeInteger(r.seed)).toBe(true);
    expect(resolveSamplingParams({ seed: 5, temperature: undefined }).temperature).toBe(1);
    try {
      resolveSamplingParams({ topP: 1.5 });
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(SamplingParamsError);
      expect((e as SamplingParamsError).field).toBe('topP');
      expect((e as Error).message).toBe('topP: must be in (0, 1], got 1.5');
    }
    expect(() => new Sampler(settings({ minP: 2 }), 10)).toThrow(SamplingParamsError);
    expect(() => new Sampler(settings({ logitBias: { 10: 1 } }), 10)).toThrow(/logitBias/);
  });
});

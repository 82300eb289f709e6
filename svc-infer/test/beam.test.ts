import { Rng } from '@lab/engine';
import { describe, expect, it } from 'vitest';
import {
  type BeamExpand,
  type BeamNode,
  type BeamOptions,
  type BeamRequest,
  type BeamSearchResult,
  beamSearch,
  type EarlyStopping,
} from '../src/sampling/beam.ts';

type Model = (prefix: readonly number[]) => Float32Array;

/** A toy language model: log-softmax of logits drawn from a stream seeded by the whole prefix. */
function randomModel(V: number, seed: number): Model {
  return (prefix) => {
    const rng = Rng.derive(seed, prefix.length, ...prefix);
    const logits = Array.from({ length: V }, () => rng.normal() * 1.5);
    const m = Math.max(...logits);
    const lse = m + Math.log(logits.reduce((s, l) => s + Math.exp(l - m), 0));
    return Float32Array.from(logits, (l) => l - lse);
  };
}

/** A model given by a table of next-token probabilities. */
const tableModel =
  (table: (prefix: readonly number[]) => number[]): Model =>
  (prefix) =>
    Float32Array.from(table(prefix), Math.log);

const key = (tokens: readonly number[]) => ['prompt', ...tokens].join('.');

/**
 * Expands with the model and checks the state contract: each request's parentState must be the state
 * returned when its parent (its tokens minus the last) was expanded, the root's the initial state.
 */
function expander(model: Model, calls: BeamRequest<string>[][] = []): BeamExpand<string> {
  return async (hyps) => {
    calls.push([...hyps]);
    return hyps.map((h) => {
      const parent = h.tokens.length === 0 ? 'initial' : key(h.tokens.slice(0, -1));
      if (h.parentState !== parent) throw new Error(`state ${h.parentState} handed for ${key(h.tokens)}`);
      return { logprobs: model(h.tokens), state: key(h.tokens) };
    });
  };
}

const search = (
  model: Model,
  opts: Omit<BeamOptions<string>, 'initialState'>,
  calls?: BeamRequest<string>[][],
) => beamSearch(expander(model, calls), { ...opts, initialState: 'initial' });

const sumOf = (model: Model, tokens: readonly number[]) => {
  let s = 0;
  for (let i = 0; i < tokens.length; i++) s += model(tokens.slice(0, i))[tokens[i]];
  return s;
};

interface Finished {
  tokens: number[];
  sumLogprob: number;
  score: number;
  finishReason: 'stop' | 'length';
}

/** Every sequence the model can end with (EOS, or maxTokens reached), best score first. */
function exhaustive(
  model: Model,
  V: number,
  eos: number,
  maxTokens: number,
  lengthPenalty: number,
): Finished[] {
  const out: Finished[] = [];
  const walk = (prefix: number[], sum: number) => {
    const lp = model(prefix);
    for (let t = 0; t < V; t++) {
      const tokens = [...prefix, t];
      const s = sum + lp[t];
      if (t === eos || tokens.length === maxTokens)
        out.push({
          tokens,
          sumLogprob: s,
          score: s / tokens.length ** lengthPenalty,
          finishReason: t === eos ? 'stop' : 'length',
        });
      else walk(tokens, s);
    }
  };
  walk([], 0);
  return out.sort((a, b) => b.score - a.score);
}

const strip = (r: BeamSearchResult) =>
  r.best.map(({ tokens, sumLogprob, score, finishReason }) => ({ tokens, sumLogprob, score, finishReason }));

describe('beam search', () => {
  const V = 4;
  const EOS = 0;
  const maxTokens = 4;
  // 1 + 3 + 9 + 27 sequences end in EOS and 81 more reach the length limit: 121 in all, and no step
  // ranks more than 27 × 4 candidates, so 128 beams keep every one of them.
  const allBeams = 128;

  it.each([false, true, 'never'] as EarlyStopping[])(
    'with enough beams finds the exhaustive n-best, for any length penalty (earlyStopping %s)',
    async (earlyStopping) => {
      for (const seed of [1, 2, 3])
        for (const lengthPenalty of [-1, 0, 0.5, 1, 2]) {
          const model = randomModel(V, seed);
          const expected = exhaustive(model, V, EOS, maxTokens, lengthPenalty);
          expect(expected.length).toBe(121);
          const r = await search(model, {
            numBeams: allBeams,
            maxTokens,
            lengthPenalty,
            earlyStopping,
            eosTokenIds: [EOS],
            nBest: 5,
          });
          expect(strip(r), `seed ${seed}, lengthPenalty ${lengthPenalty}`).toEqual(expected.slice(0, 5));
        }
    },
  );

  it('with few beams can miss the optimum, which is why the comparison above means something', async () => {
    let missed = 0;
    for (const seed of [1, 2, 3])
      for (const lengthPenalty of [0, 1]) {
        const model = randomModel(V, seed);
        const best = exhaustive(model, V, EOS, maxTokens, lengthPenalty)[0];
        const r = await search(model, { numBeams: 1, maxTokens, lengthPenalty, eosTokenIds: [EOS] });
        expect(r.best[0].score).toBeLessThanOrEqual(best.score);
        if (r.best[0].score < best.score) missed++;
      }
    expect(missed).toBeGreaterThan(0);
  });

  describe('early stopping', () => {
    // Tokens: 0 = EOS, 1 = A, 2 = B; 2 beams, so 4 candidates a step; length penalty 1.
    //
    // Scenario "long": EOS is likely right away, but after "A A" a cheap run of A's leads to an EOS at
    // length 10, whose sum ≈ ln .3 + ln .06 + 8 ln .98 spread over 10 tokens beats every short answer.
    // Step 1 finishes "E" (−0.69); step 2 finishes "A E" (−1.31 / 2 = −0.65) and keeps "A A" (−4.02)
    // running. true: 2 finished → stop. false: −4.02 / 2 ≤ −0.69 → stop. 'never': −4.02 / 10 > −0.69 →
    // go on to length 10.
    const long = tableModel((p) => {
      const k = p.join('');
      if (k === '') return [0.5, 0.3, 0.2];
      if (k === '1') return [0.9, 0.06, 0.04];
      if (k === '2') return [0.9, 0.05, 0.05];
      return p.length < 9 ? [0.01, 0.98, 0.01] : [0.98, 0.01, 0.01];
    });
    // Scenario "three ways": step 1 finishes "E" (ln .25 = −1.39) at rank 1, step 2 "A E" (−0.60),
    // keeping "A A" (−1.72) and "A B" (−2.12). true stops there. false: −1.72 / 2 > −1.39 → step 3
    // finishes "A A E" (−0.65) and stops (−3.51 / 3 ≤ −0.65). 'never' (up to 6 tokens): −3.51 / 6 > −0.65
    // → step 4, whose finishers (−0.90) don't make it, then −6.50 / 6 ≤ −0.65 → stop.
    const threeWays = tableModel((p) => {
      const k = p.join('');
      if (k === '') return [0.25, 0.6, 0.15];
      if (k === '1') return [0.5, 0.3, 0.2];
      if (k === '2') return [0.1, 0.45, 0.45];
      if (k === '11') return [0.8, 0.1, 0.1];
      if (k === '12') return [0.5, 0.25, 0.25];
      return [0.9, 0.05, 0.05];
    });
    const opts = (earlyStopping: EarlyStopping, maxTokens: number) => ({
      numBeams: 2,
      maxTokens,
      lengthPenalty: 1,
      earlyStopping,
      eosTokenIds: [0],
      nBest: 2,
    });
    const scored = (model: Model, tokens: number[]) => {
      const sumLogprob = sumOf(model, tokens);
      return { tokens, sumLogprob, score: sumLogprob / tokens.length, finishReason: 'stop' };
    };

    it('true and false stop on the short answer; never finds the long one, the true optimum', async () => {
      const short = [scored(long, [1, 0]), scored(long, [0])];
      for (const es of [true, false]) {
        const r = await search(long, opts(es, 10));
        expect(r.steps, `earlyStopping ${es}`).toBe(2);
        expect(strip(r)).toEqual(short);
      }
      const r = await search(long, opts('never', 10));
      expect(r.steps).toBe(10);
      const nine = [1, 1, 1, 1, 1, 1, 1, 1, 1, 0];
      expect(strip(r)[0]).toEqual(scored(long, nine));
      expect(r.best[0].score).toBeGreaterThan(short[0].score);
      const optimum = exhaustive(long, 3, 0, 10, 1)[0];
      expect(r.best[0].tokens).toEqual(optimum.tokens);
      expect(r.best[0].score).toBe(optimum.score);
    });

    it('true, false and never stop at three different steps', async () => {
      const t = await search(threeWays, opts(true, 6));
      expect(t.steps).toBe(2);
      expect(strip(t)).toEqual([scored(threeWays, [1, 0]), scored(threeWays, [0])]);

      const f = await search(threeWays, opts(false, 6));
      expect(f.steps).toBe(3);
      expect(strip(f)).toEqual([scored(threeWays, [1, 0]), scored(threeWays, [1, 1, 0])]);

      const n = await search(threeWays, opts('never', 6));
      expect(n.steps).toBe(4);
      expect(strip(n)).toEqual(strip(f));
      // step 4's finishers were scored but turned away
      const late = n.tree.filter((x) => x.step === 4 && x.finished);
      expect(late.length).toBeGreaterThan(0);
      for (const x of late) {
        expect(x.kept).toBe(false);
        expect(x.score).toBeCloseTo(x.cumulative / 4, 12);
        expect(x.score!).toBeLessThan(n.best[1].score);
      }
    });
  });

  it('builds a tree whose nodes chain to the root, accumulate logprobs and match the model', async () => {
    const model = randomModel(5, 9);
    const numBeams = 3;
    const lengthPenalty = 1.2;
    const calls: BeamRequest<string>[][] = [];
    const r = await search(
      model,
      { numBeams, maxTokens: 6, lengthPenalty, earlyStopping: 'never', eosTokenIds: [0], nBest: numBeams },
      calls,
    );
    const { tree } = r;
    expect(tree.length).toBeGreaterThan(10);
    const tokensOf = (node: BeamNode): number[] =>
      node.parent < 0 ? [node.token] : [...tokensOf(tree[node.parent]), node.token];
    tree.forEach((node, i) => {
      expect(node.id).toBe(i);
      if (node.parent === -1) {
        expect(node.step).toBe(1);
        expect(node.cumulative).toBe(0 + node.logprob);
      } else {
        const parent = tree[node.parent];
        expect(node.parent).toBeLessThan(node.id);
        expect(parent.kept && !parent.finished).toBe(true);
        expect(node.step).toBe(parent.step + 1);
        expect(node.cumulative).toBe(parent.cumulative + node.logprob);
      }
      const tokens = tokensOf(node);
      expect(node.logprob).toBe(model(tokens.slice(0, -1))[node.token]);
      expect(node.finished).toBe(node.token === 0 || node.step === 6);
      if (node.finished) expect(node.score).toBeCloseTo(node.cumulative / node.step ** lengthPenalty, 12);
    });

    // each step ranks at most 2 × beams candidates and keeps at most `beams` running; the next step expands
    // exactly the kept ones, in their order
    for (let step = 1; step <= r.steps; step++) {
      const nodes = tree.filter((n) => n.step === step);
      expect(nodes.length).toBeLessThanOrEqual(2 * numBeams);
      const running = nodes.filter((n) => n.kept && !n.finished);
      expect(running.length).toBeLessThanOrEqual(numBeams);
      if (step < calls.length) expect(calls[step].map((h) => h.tokens)).toEqual(running.map(tokensOf));
    }
    expect(r.expanded).toBe(calls.reduce((s, c) => s + c.length, 0));

    // the kept finished nodes are the n-best, and each hypothesis is its node's path
    const keptFinished = tree.filter((n) => n.finished && n.kept).map((n) => n.id);
    expect(keptFinished.sort((a, b) => a - b)).toEqual(r.best.map((b) => b.node).sort((a, b) => a - b));
    for (const b of r.best) {
      expect(b.tokens).toEqual(tokensOf(tree[b.node]));
      expect(b.sumLogprob).toBe(tree[b.node].cumulative);
      expect(b.score).toBeCloseTo(b.sumLogprob / b.tokens.length ** lengthPenalty, 12);
      expect(b.finishReason).toBe(b.tokens.at(-1) === 0 ? 'stop' : 'length');
    }
    for (let i = 1; i < r.best.length; i++) expect(r.best[i].score).toBeLessThanOrEqual(r.best[i - 1].score);
  });

  it('ends on any of several EOS ids, keeping (1 + EOS ids) × beams candidates a step', async () => {
    const model = randomModel(6, 4);
    const r = await search(model, { numBeams: 2, maxTokens: 5, eosTokenIds: [0, 1], nBest: 2 });
    for (let step = 1; step <= r.steps; step++)
      expect(r.tree.filter((n) => n.step === step).length).toBeLessThanOrEqual(6);
    expect(r.tree.filter((n) => n.step === 1).length).toBe(6);
    for (const n of r.tree) expect(n.finished).toBe(n.token <= 1 || n.step === 5);
    for (const b of r.best) expect(b.finishReason).toBe(b.tokens.at(-1)! <= 1 ? 'stop' : 'length');
  });

  it('stops when cancelled and names bad options', async () => {
    const ctl = new AbortController();
    const model = randomModel(4, 1);
    const r = await beamSearch<string>(
      async (hyps) => {
        ctl.abort();
        return expander(model)(hyps);
      },
      { numBeams: 2, maxTokens: 4, initialState: 'initial', signal: ctl.signal },
    );
    expect(r.cancelled).toBe(true);
    expect(r.steps).toBe(1);
    await expect(search(model, { numBeams: 2, maxTokens: 4, nBest: 3 })).rejects.toThrow(/nBest: must be/);
    await expect(search(model, { numBeams: 0, maxTokens: 4 })).rejects.toThrow(/numBeams: must be/);
    await expect(
      search(model, { numBeams: 2, maxTokens: 4, earlyStopping: 'sometimes' as unknown as EarlyStopping }),
    ).rejects.toThrow(/earlyStopping: must be/);
  });
});

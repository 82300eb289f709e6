// Exact match and F1 against the SQuAD v1.1 evaluation script (evaluate-v1.1.py), which ships without a test
// suite: every expected value here is that script's output on these inputs ("SQuAD v1.1 script (local)",
// its normalize_answer / f1_score / exact_match_score run on this machine with Python 3.11).
import { describe, expect, it } from 'vitest';
import { corpusSquad, normalizeAnswer, squadExactMatch, squadF1 } from '../src/metrics/index.ts';

describe('SQuAD v1.1 exact match and F1', () => {
  it.each([
    ['The Eiffel Tower!', 'eiffel tower'],
    ['  an   apple, a DAY ', 'apple day'],
    // Python's \b is Unicode-aware: "éthe" and "thé" keep their letters; '_' is punctuation, removed first.
    ['éthe the_x thé a1 a-b', 'éthe thex thé a1 ab'],
    ['Ünï the Größe', 'ünï größe'],
    ['A', ''],
    ['(The) U.S.A.', 'usa'],
    ['theatre anthem an a', 'theatre anthem'],
  ])('normalize_answer(%j) = %j', (input, expected) => {
    expect(normalizeAnswer(input)).toBe(expected);
  });

  it.each([
    ['the Eiffel Tower', 'Eiffel Tower', true, 1.0],
    ['1,000 people', '1000 people', true, 1.0],
    ['Denver Broncos', 'The Denver Broncos!', true, 1.0],
    ['An apple a day', 'apple', false, 0.6666666666666666],
    ['red red blue', 'red blue blue', false, 0.6666666666666666],
    // Both empty: exact match, but F1 0 (no common token), as in the script.
    ['', '', true, 0],
  ])('%j vs %j', (prediction, truth, em, f1) => {
    expect(squadExactMatch(prediction, truth)).toBe(em);
    expect(squadF1(prediction, truth)).toBe(f1);
  });

  it('corpus: best over the ground truths, mean x 100', () => {
    // SQuAD v1.1 script (local), with references[r][i] as ground truth r of question i.
    const r = corpusSquad(
      ['the Eiffel Tower', '1,000 people', 'Denver Broncos', '', 'An apple a day'],
      [
        ['Eiffel Tower', '1000 people', 'The Denver Broncos!', '', 'apple'],
        ['the tower', 'about 1,000', 'Broncos', 'nothing', 'A day'],
      ],
    );
    expect(r.exact_match).toBe(80);
    expect(Math.abs(r.f1 - 73.33333333333333)).toBeLessThan(1e-12);
  });
});

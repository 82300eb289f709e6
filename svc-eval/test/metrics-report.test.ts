// textMetrics: every metric on one corpus, equal to the reference implementations, and its input checks.
// Expected values: sacrebleu 2.6.0 source (mjpost/sacrebleu@f615c72) for BLEU/chrF/TER, rouge-score's scorer
// code with nltk 3.8's PorterStemmer for ROUGE, nltk 3.8 meteor_score (str.split() tokens, WordNet 3.0 from
// Debian wordnet-base or none) for METEOR, the SQuAD v1.1 script for exact match and F1, all run locally on
// these inputs.
import { LabError } from '@lab/common';
import { describe, expect, it } from 'vitest';
import { loadWordNet, type TextMetrics, textMetrics } from '../src/metrics/index.ts';

const wordnet = loadWordNet();

function expectMetrics(actual: TextMetrics, expected: TextMetrics): void {
  for (const k of Object.keys(expected) as (keyof TextMetrics)[]) {
    expect(Math.abs(actual[k] - expected[k]), k).toBeLessThan(1e-9);
  }
}

function labError(f: () => unknown): LabError {
  try {
    f();
  } catch (err) {
    expect(err).toBeInstanceOf(LabError);
    return err as LabError;
  }
  throw new Error('expected a LabError');
}

describe('textMetrics', () => {
  it('the sacrebleu README corpus, two reference sets', () => {
    const r = textMetrics(
      ['The dog bit the man.', "It wasn't surprising.", 'The man had just bitten him.'],
      [
        ['The dog bit the man.', 'It was not unexpected.', 'The man bit him first.'],
        ['The dog had bit the man.', 'No one was surprised.', 'The man had bitten the dog.'],
      ],
    );
    expectMetrics(r.metrics, {
      bleu: 48.530827009929865,
      chrf: 59.72751782684763,
      ter: 40.0,
      rouge1: 0.6388888888888888,
      rouge2: 0.46666666666666673,
      rougeL: 0.6388888888888888,
      rougeLsum: 0.6388888888888888,
      meteor: 0.5500822649572649,
      exact_match: 33.333333333333336,
      f1: 65.07936507936508,
    });
    expect(r.segments).toBe(3);
    expect(r.referenceSets).toBe(2);
    expect(r.meteorStages).toEqual(wordnet ? ['exact', 'stem', 'wordnet'] : ['exact', 'stem']);
  });

  it('Unicode, and an empty hypothesis against a non-empty reference', () => {
    const r = textMetrics(
      [
        'Die Beziehung zwischen Obama und Netanjahu ist nicht gerade freundlich.',
        '東京は日本の首都です。',
        'Co nás nejvíc trápí 😀, protože lékaři si vybírají.',
        '',
      ],
      [
        [
          'Das Verhältnis zwischen Obama und Netanyahu ist nicht gerade freundschaftlich.',
          '東京は日本の首都である。',
          'Nejvíce smutní jsme z toho 😀, že musíme rozhodovat.',
          'Größe',
        ],
      ],
    );
    expectMetrics(r.metrics, {
      bleu: 13.345122123513669,
      chrf: 46.84577329668401,
      ter: 71.42857142857143,
      rouge1: 0.18285714285714283,
      rouge2: 0.10526315789473685,
      rougeL: 0.18285714285714283,
      rougeLsum: 0.18285714285714283,
      meteor: 0.175,
      exact_match: 0,
      f1: 17.777777777777775,
    });
  });

  it('multi-line summaries: ROUGE-Lsum differs from ROUGE-L, METEOR uses synonyms when WordNet is there', () => {
    const r = textMetrics(
      ['the cat sat on the mat\nit was happy', 'police killed the gunman\nthe gunman was armed'],
      [
        ['a cat was sitting on the mat\nthe cat was happy', 'the gunman was killed by police\nhe had a gun'],
        ['the cat sat\non a mat', 'police shot the armed gunman'],
      ],
    );
    expectMetrics(r.metrics, {
      bleu: 26.312584756582602,
      chrf: 57.4191825015477,
      ter: 56.25,
      rouge1: 0.6576923076923078,
      rouge2: 0.3557692307692307,
      rougeL: 0.5641025641025641,
      rougeLsum: 0.6576923076923078,
      meteor: wordnet ? 0.6147392290249434 : 0.5815192743764173,
      exact_match: 0,
      f1: 66.36363636363636,
    });
  });

  it('an empty hypothesis equal to an empty reference', () => {
    const r = textMetrics([''], [['']]);
    // sacrebleu: BLEU 0, chrF 0, TER 0 (both empty); rouge-score 0; nltk METEOR 0; SQuAD: EM 100, F1 0.
    expect(r.metrics).toEqual({
      bleu: 0,
      chrf: 0,
      ter: 0,
      rouge1: 0,
      rouge2: 0,
      rougeL: 0,
      rougeLsum: 0,
      meteor: 0,
      exact_match: 100,
      f1: 0,
    });
  });

  it('refuses bad input, naming the field', () => {
    const cases: [unknown, unknown, string, RegExp][] = [
      [[], [[]], 'hypotheses', /no hypotheses/],
      [['a'], [], 'references', /no reference set/],
      [
        ['a', 'b', 'c', 'd'],
        [
          ['a', 'b', 'c', 'd'],
          ['a', 'b', 'c'],
        ],
        'references[1]',
        /^references\[1\]: 3 segments, hypotheses has 4$/,
      ],
      [['a', 7], [['a', 'b']], 'hypotheses[1]', /expected a string, got number/],
      [['a'], [[null]], 'references[0][0]', /expected a string, got null/],
      [['a'], ['a'], 'references[0]', /expected a list of strings, got string/],
      ['a', [['a']], 'hypotheses', /expected a list of strings/],
    ];
    for (const [h, r, field, message] of cases) {
      const err = labError(() => textMetrics(h as string[], r as string[][]));
      expect(err.code).toBe('INVALID_ARGUMENT');
      expect(err.field).toBe(field);
      expect(err.message).toMatch(message);
    }
  });
});

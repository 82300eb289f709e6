// chrF against sacrebleu. "test_chrf.py" cases come from sacrebleu's own suite (mjpost/sacrebleu
// test/test_chrf.py, tolerance 1e-4 as there, with the options those cases use); "sacrebleu 2.6.0" values
// were computed by running sacrebleu's source (mjpost/sacrebleu@f615c72) with default settings.
import { describe, expect, it } from 'vitest';
import { corpusChrf } from '../src/metrics/index.ts';

const near = (actual: number, expected: number, tol: number) =>
  expect(Math.abs(actual - expected)).toBeLessThan(tol);

describe('corpus chrF', () => {
  it('default settings (char order 6, beta 2)', () => {
    // sacrebleu 2.6.0: the README corpus of test_bleu.py (two reference sets).
    const hyps = ['The dog bit the man.', "It wasn't surprising.", 'The man had just bitten him.'];
    const refs = [
      ['The dog bit the man.', 'It was not unexpected.', 'The man bit him first.'],
      ['The dog had bit the man.', 'No one was surprised.', 'The man had bitten the dog.'],
    ];
    near(corpusChrf(hyps, refs), 59.72751782684763, 1e-9);
  });

  it('Unicode: characters are code points, an empty hypothesis scores nothing', () => {
    // sacrebleu 2.6.0 (German, Japanese, Czech with an emoji, "" vs "Größe").
    const h = [
      'Die Beziehung zwischen Obama und Netanjahu ist nicht gerade freundlich.',
      '東京は日本の首都です。',
      'Co nás nejvíc trápí 😀, protože lékaři si vybírají.',
      '',
    ];
    const r = [
      [
        'Das Verhältnis zwischen Obama und Netanyahu ist nicht gerade freundschaftlich.',
        '東京は日本の首都である。',
        'Nejvíce smutní jsme z toho 😀, že musíme rozhodovat.',
        'Größe',
      ],
    ];
    near(corpusChrf(h, r), 46.84577329668401, 1e-9);
  });

  // test_chrf.py test_cases_effective_order: char_order=6, word_order=0, beta=3, eps_smoothing=False
  // (sacrebleu's default smoothing, with beta 3).
  it.each([
    [['a'], ['a'], 100.0],
    [[''], ['reference'], 0.0],
    [['a b c'], ['a b c'], 100.0],
    [['a b c'], ['abc'], 100.0],
    [[''], ['c'], 0.0],
    [['a', 'b'], ['a', 'c'], 50.0],
    [['aa'], ['ab'], 25.0],
  ])('effective order, beta 3: %j vs %j', (h, r, expected) => {
    near(corpusChrf(h, [r], { beta: 3 }), expected, 1e-4);
  });

  // test_chrf.py test_cases: char_order=6, word_order=0, beta=3, eps_smoothing=True.
  it.each([
    [['abcdefg'], ['hijklmnop'], 0.0],
    [['a'], ['b'], 0.0],
    [[''], ['b'], 0.0],
    [[''], ['ref'], 0.0],
    [[''], ['reference'], 0.0],
    [['aa'], ['ab'], 8.3333],
    [['a', 'b'], ['a', 'c'], 8.3333],
    [['a'], ['a'], 16.6667],
    [['a b c'], ['a b c'], 50.0],
    [['a b c'], ['abc'], 50.0],
    [
      [
        ' risk assessment must be made of those who are qualified and expertise in the sector - these are the scientists .',
      ],
      [
        'risk assessment has to be undertaken by those who are qualified and expert in that area - that is the scientists .',
      ],
      63.36173,
    ],
    [
      [' Die    Beziehung zwischen  Obama und Netanjahu ist nicht gerade  freundlich. '],
      ['Das Verhältnis zwischen Obama und Netanyahu ist nicht gerade freundschaftlich.'],
      64.1302698,
    ],
    [
      ['Niemand hat die Absicht, eine Mauer zu errichten'],
      ['Niemand hat die Absicht, eine Mauer zu errichten'],
      100.0,
    ],
  ])('eps smoothing, beta 3: %j vs %j', (h, r, expected) => {
    near(corpusChrf(h, [r], { beta: 3, epsSmoothing: true }), expected, 1e-4);
  });

  // test_chrf.py test_cases_keep_whitespace: beta=3, whitespace kept in the n-grams.
  it.each([
    [
      'Die Beziehung zwischen Obama und Netanjahu ist nicht gerade freundlich.',
      'Das Verhältnis zwischen Obama und Netanyahu ist nicht gerade freundschaftlich.',
      67.3481606,
    ],
    [
      'risk assessment must be made of those who are qualified and expertise in the sector - these are the scientists .',
      'risk assessment has to be undertaken by those who are qualified and expert in that area - that is the scientists .',
      65.2414427,
    ],
  ])('whitespace kept, beta 3: %j', (h, r, expected) => {
    near(corpusChrf([h], [[r]], { beta: 3, whitespace: true }), expected, 1e-4);
  });

  // test_chrf.py test_sentence_level_chrf: sentence_chrf(eps_smoothing=True), otherwise defaults (beta 2).
  it.each([
    [
      'Co nás nejvíc trápí, protože lékaři si vybírají, kdo bude žít a kdo zemře.',
      'Nejvíce smutní jsme z toho, že musíme rozhodovat o tom, kdo bude žít a kdo zemře.',
      39.14078509,
    ],
    [
      'Nebo prostě nemají vybavení, které by jim pomohlo, uvedli lékaři.',
      'A někdy nemáme ani potřebný materiál, abychom jim pomohli, popsali lékaři.',
      31.22557079,
    ],
    [
      'Lapali po dechu, jejich životy skončily dřív, než skutečně začaly.',
      'Lapali po dechu a pak jejich život skončil - dřív, než skutečně mohl začít, připomněli.',
      57.15704367,
    ],
  ])('sentence level, eps smoothing: %j', (h, r, expected) => {
    near(corpusChrf([h], [[r]], { epsSmoothing: true }), expected, 1e-4);
  });
});

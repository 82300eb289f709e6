// BLEU and its 13a tokenizer against sacrebleu. Cases marked "test_bleu.py" come from sacrebleu's own suite
// (mjpost/sacrebleu test/test_bleu.py, tolerance 1e-8 as there); cases marked "sacrebleu 2.6.0" were computed
// by running sacrebleu's source (mjpost/sacrebleu@f615c72) on these inputs.
import { describe, expect, it } from 'vitest';
import { bleuFromStats, bleuSegmentStats, corpusBleu, tokenize13a } from '../src/metrics/index.ts';

// test_bleu.py: the README example with two reference sets.
const refs = [
  ['The dog bit the man.', 'It was not unexpected.', 'The man bit him first.'],
  ['The dog had bit the man.', 'No one was surprised.', 'The man had bitten the dog.'],
];
const hyps = ['The dog bit the man.', "It wasn't surprising.", 'The man had just bitten him.'];

const near = (actual: number, expected: number, tol: number) =>
  expect(Math.abs(actual - expected)).toBeLessThan(tol);

describe('corpus BLEU (sacrebleu defaults)', () => {
  it('scores the README corpus', () => {
    near(corpusBleu(hyps, refs), 48.530827, 1e-6); // test_bleu.py test_corpus_bleu_cases: default settings
    near(corpusBleu(hyps, refs), 48.530827009929865, 1e-9); // sacrebleu 2.6.0, full precision
  });

  it('keeps empty hypotheses and scores them 0', () => {
    expect(corpusBleu(['', '', ''], refs)).toBe(0); // test_bleu.py: "ensure that empty hypotheses are not removed"
  });

  it('follows the n-gram order', () => {
    // test_bleu.py test_bleu_max_order, compared as printed there (2 decimals).
    const expected = ['77.65', '60.50', '53.93', '48.53', '46.14', '43.28'];
    expected.forEach((e, k) => {
      expect(corpusBleu(hyps, refs, { maxOrder: k + 1 }).toFixed(2)).toBe(e);
    });
  });

  it('counts clipped n-grams like sacrebleu', () => {
    // test_bleu.py test_case_statistics: counts [4, 2, 1, 0], totals [6, 5, 4, 3].
    const s = bleuSegmentStats('am I am a character sequence', ['I am a symbol string sequence a a']);
    expect(s.correct).toEqual([4, 2, 1, 0]);
    expect(s.total).toEqual([6, 5, 4, 3]);
  });

  it('computes the score from statistics', () => {
    // test_bleu.py test_case_scoring: compute_bleu([9,7,5,3], [10,8,6,4], 11, 11) / 100 = 0.8375922397 (no smoothing).
    const score = bleuFromStats(
      { correct: [9, 7, 5, 3], total: [10, 8, 6, 4], hypLen: 11, refLen: 11 },
      'none',
    );
    near(score / 100, 0.8375922397, 1e-8);
  });

  it('smooths orders without matches (exp) and applies the brevity penalty', () => {
    // sacrebleu 2.6.0: counts [4, 1, 0, 0] of [6, 5, 4, 3], 6 words against 9 (BP 0.6065).
    near(
      corpusBleu(['the cat sat on a mat'], [['the cat was sitting on the red mat today']]),
      11.708995388048026,
      1e-9,
    );
    // A one-word corpus: every order above 1 has no n-gram at all, so BLEU is 0 (the log floor).
    expect(corpusBleu(['cat'], [['cat']])).toBe(0);
  });

  it('scores Unicode text with empty segments', () => {
    // sacrebleu 2.6.0 on German, Japanese (one token per unspaced run), Czech with an emoji, and "" vs "Größe".
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
    near(corpusBleu(h, r), 13.345122123513669, 1e-9);
  });
});

describe('13a tokenizer', () => {
  // Outputs of sacrebleu 2.6.0's Tokenizer13a on the same lines.
  it.each([
    [
      "Hello, world! It's 3.14 or 1,000.5-2 e-mail (x)",
      "Hello , world ! It's 3.14 or 1,000.5 - 2 e-mail ( x )",
    ],
    ['&quot;Quoted&quot; &amp; &lt;tag&gt; <skipped> end-\nline', '" Quoted " & < tag > endline'],
    ['Größe: 5€, 東京。Ünïcödé—dash…', 'Größe : 5€ , 東京。Ünïcödé—dash…'],
    ['a.b,c 1.a a.1 9-9 x-9', 'a . b , c 1 . a a . 1 9 - 9 x-9'],
  ])('%j', (input, expected) => {
    expect(tokenize13a(input)).toBe(expected);
  });
});

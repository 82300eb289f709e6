// ROUGE against Google's rouge-score with use_stemmer=True. "rouge_scorer_test.py" cases come from its own
// suite (google-research/google-research rouge/rouge_scorer_test.py, inputs from rouge/testdata, compared to
// 5 places as there); the F-measures there were checked against ROUGE-1.5.5. "rouge-score (local)" values
// were computed by running rouge-score's scorer code with nltk 3.8's PorterStemmer on these inputs.
import { describe, expect, it } from 'vitest';
import { corpusRouge, rougeScore, rougeScoreMulti, rougeTokens } from '../src/metrics/index.ts';

const near = (actual: number, expected: number, tol: number) =>
  expect(Math.abs(actual - expected)).toBeLessThan(tol);
const PLACES5 = 5e-6;

// rouge/testdata/target.txt and prediction.txt, lines 1 and 2 (read with readlines(), newline kept).
const targets = [
  "ZfbCUIUuePaiLVUlCaUXxkpu XPeWing tUHfPMuZ',-Xd Y BrUgVJing M-HV.-DgdDaY.rFDJCRing Ht-LM EKBDXkME,yz'RBr q'wtion wIojNbN wL,b .a-'XdQggyFl jB-RPP'iyOIcUxer tKM L\n",
  "KsJdPByEtAor fE-Qg Dpdbring cw-WeFyu vC MoBL Xdn g wkvcEiGvKtion BDFhrpMtion psing sbKao Q m qiing LMmer HqqLFXe,XPY,J XsurkMer ,ed nB'wH'bWVHjWFEing tQ.saefZwJtKrTlixYpMMsJing UCAPwNHeYVjDing c T BUySKtion gMPfJpwGw p'NvxAoping eu pBwMBKV'I DNxqelhu,PHPxDEq,mtion SN\n",
];
const predictions = [
  "rFDJCRtion Ht-LM EKtDXkME,yz'RBr q'wer wrojNbN wL,b .a-'XdQggyFl jB-RPP'iyOIcUxi\n",
  "n cw-WeFyu vC MoBL Xdn g wkvcEiGvKtion BDFhrpMer pstion sbKao Q m qier LMmed HqqLFXe,XPY,J XsurkMeo ,ed nB'wH'bWVHjWFEer tQ.saefZwJtKrTlixYpMMNJtion UCAPwNHeYVjD\n",
];

describe('ROUGE (rouge-score, use_stemmer=True)', () => {
  it('rouge_scorer_test.py: ROUGE-1 and ROUGE-2 against ROUGE-1.5.5 with stemming', () => {
    const a = rougeScore(targets[0]!, predictions[0]!);
    const b = rougeScore(targets[1]!, predictions[1]!);
    near(a.rouge1, 0.51163, PLACES5);
    near(b.rouge1, 0.52941, PLACES5);
    near(a.rouge2, 0.39024, PLACES5);
    near(b.rouge2, 0.36364, PLACES5);
    // rouge-score (local), full precision; ROUGE-L equals ROUGE-1 on these lines.
    near(a.rougeL, 0.5116279069767441, 1e-12);
    near(b.rougeL, 0.5294117647058824, 1e-12);
  });

  it('rouge_scorer_test.py: ROUGE-Lsum against ROUGE-1.5.5 with stemming (pyrouge_files/*_multi.0.txt)', () => {
    const target = `${targets[0]}${targets[1]}NhETebUbBk'er WOvoHMTjSRizKgH'vHiing Xu,hWxfs VkNE QhgKiLHE -HidivzoM.dO anhtion jbLQiSGDTCsuhREebUaKM dv J dVN tmbOT\nvMR HDm,xOAetion D,tion HJtodT.mHl UIv-p VjWH'BdyWjnfGU-OjT aEMdFICyLWfQMtion wEMfdOKing AwkeKbO 'DxqNOHBH qKtVvm OYJl mM\n`;
    const prediction = `${predictions[0]}${predictions[1]}xfs VkJE QhgKiLHE -HidivzoM.dO anhing jbLQiSGDTCsuhREebUaKM dv J\nVjWH'BdyWjnfGU-OjTNaEMdFICyLWfQMing wEMfdOKijg AwkeKbO 'DxqNO\n`;
    near(rougeScore(target, prediction).rougeLsum, 0.47205, PLACES5);
  });

  it('rouge_scorer_test.py: small cases', () => {
    near(rougeScore('testing one two', 'testing').rouge1, 1 / 2, 1e-7); // testRouge1
    near(rougeScore('testing one two', 'testing one').rouge2, 2 / 3, 1e-7); // testRouge2
    near(rougeScore('testing one two', 'testing one').rougeL, 4 / 5, 1e-7); // testRougeLConsecutive
    near(rougeScore('testing one two', 'testing two').rougeL, 4 / 5, 1e-7); // testRougeLNonConsecutive
    near(rougeScore('w1 w2 w3 w4 w5', 'w1 w2 w6 w7 w8\nw1 w3 w8 w9 w5').rougeLsum, 0.5333, 5e-4); // testRougeLsum
    for (const [t, p] of [
      ['testing one two', ''], // testRougeEmpty
      ['w1 w2 w3 w4 w5', ''],
      ['', 'w1'],
      ['w1 w2 w3 w4 w5', '/'], // a summary of non-word characters only
    ]) {
      expect(rougeScore(t!, p!)).toEqual({ rouge1: 0, rouge2: 0, rougeL: 0, rougeLsum: 0 });
    }
  });

  it('several references: the best F per type; the corpus value is the mean', () => {
    // rouge-score (local): score_multi over the two targets.
    const best = rougeScoreMulti(
      ['a cat was sitting on the mat\nthe cat was happy', 'the cat sat\non a mat'],
      'the cat sat on the mat\nit was happy',
    );
    near(best.rouge1, 0.7000000000000001, 1e-12);
    near(best.rouge2, 0.4615384615384615, 1e-12);
    near(best.rougeL, 0.6666666666666667, 1e-12);
    near(best.rougeLsum, 0.7000000000000001, 1e-12);
    // rouge-score (local): mean of score_multi over two segments, two reference sets.
    const corpus = corpusRouge(
      ['the cat sat on the mat\nit was happy', 'police killed the gunman\nthe gunman was armed'],
      [
        ['a cat was sitting on the mat\nthe cat was happy', 'the gunman was killed by police\nhe had a gun'],
        ['the cat sat\non a mat', 'police shot the armed gunman'],
      ],
    );
    near(corpus.rouge1, 0.6576923076923078, 1e-12);
    near(corpus.rouge2, 0.3557692307692307, 1e-12);
    near(corpus.rougeL, 0.5641025641025641, 1e-12);
    near(corpus.rougeLsum, 0.6576923076923078, 1e-12);
  });

  it('tokenizes like rouge-score: only a-z0-9 survive, words over 3 letters are stemmed', () => {
    // rouge-score (local): "was"/"his" keep their s (3 letters, not stemmed), "ties" -> "tie", "dies" -> "die".
    expect(rougeTokens('It was his idea; ties and dies')).toEqual([
      'it',
      'was',
      'his',
      'idea',
      'tie',
      'and',
      'die',
    ]);
    // rouge-score (local) tokenize(..., PorterStemmer()).
    expect(rougeTokens("Running CAFÉ naïve 😀 don't the_x 3.14 İstanbul Kelvin\u212a")).toEqual([
      'run',
      'caf',
      'na',
      've',
      'don',
      't',
      'the',
      'x',
      '3',
      '14',
      'i',
      'stanbul',
      'kelvink',
    ]);
  });
});

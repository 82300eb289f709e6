// METEOR against nltk's meteor_score. Sources: nltk's own tests (nltk/nltk nltk/test/unit/translate/
// test_meteor.py, compared exactly as there; nltk/test/meteor.doctest and the docstring examples of
// nltk/translate/meteor_score.py, compared to 4 places as there; their inputs have no punctuation, so
// whitespace tokens equal the word_tokenize tokens they use). "nltk 3.8 (local)" values were computed with
// Debian's python3-nltk and WordNet 3.0 from Debian's wordnet-base on these inputs, tokens = str.split().
//
// The synonym stage needs WordNet's files (Debian wordnet-base); those cases are skipped where they are absent,
// and the exact+stem values are checked everywhere by passing no WordNet.
import { describe, expect, it } from 'vitest';
import { loadWordNet, meteorScore, meteorStages, meteorTokens } from '../src/metrics/index.ts';

const near = (actual: number, expected: number, tol: number) =>
  expect(Math.abs(actual - expected)).toBeLessThan(tol);
const wordnet = loadWordNet();

const h1 = 'It is a guide to action which ensures that the military always obeys the commands of the party';
const h2 = 'It is to insure the troops forever hearing the activity guidebook that party direct';
const r1 = 'It is a guide to action that ensures that the military will forever heed Party commands';
const r2 =
  'It is the guiding principle which guarantees the military forces always being under the command of the Party';
const r3 = 'It is the practical guide for the army always to heed the directions of the party';

describe("METEOR (nltk's meteor_score)", () => {
  // None of nltk's own cases depends on WordNet, so they hold with and without it.
  for (const wn of [wordnet, null]) {
    describe(`stages ${meteorStages(wn).join('+')}`, () => {
      it('test_meteor.py: case-insensitive, best of two references', () => {
        const score = Math.max(
          meteorTokens(['this', 'is', 'a', 'test'], ['THIS', 'Is', 'a', 'tEST'], wn),
          meteorTokens(['this', 'istest'], ['THIS', 'Is', 'a', 'tEST'], wn),
        );
        expect(score).toBe(0.9921875);
      });

      it('meteor_score.py docstrings', () => {
        near(meteorScore([r1], h1, wn), 0.6944, 5e-5); // single_meteor_score(reference1, hypothesis1)
        near(meteorScore([r1, r2, r3], h1, wn), 0.6944, 5e-5); // meteor_score([reference1..3], hypothesis1)
        expect(meteorScore(['this is a cat'], 'non matching hypothesis', wn)).toBe(0);
        // nltk 3.8 (local), full precision.
        near(meteorScore([r1, r2, r3], h2, wn), 0.3035391371738569, 1e-12);
      });

      it('meteor.doctest: wikipedia examples and issue #2751', () => {
        const cat = 'The cat sat on the mat';
        expect(
          meteorScore(['The candidate has no alignment to any of the references'], 'John loves Mary', wn),
        ).toBe(0);
        near(meteorScore([cat], cat, wn), 0.9977, 5e-5);
        expect(meteorScore([cat], 'on the mat sat the cat', wn)).toBe(0.5);
        near(meteorScore([cat], 'The cat was sat on the mat', wn), 0.9654, 5e-5);
        near(
          meteorScore(['create or update a vm set'], 'creates or updates a virtual machine scale set', wn),
          0.7806,
          5e-5,
        );
      });

      it('empty hypothesis or reference scores 0', () => {
        expect(meteorScore(['a reference'], '', wn)).toBe(0);
        expect(meteorScore([''], 'a hypothesis', wn)).toBe(0);
      });
    });
  }

  // nltk 3.8 (local): [with WordNet, exact+stem only]. The synonym stage sees Porter stems (as in nltk), so
  // only synonyms whose stems are themselves WordNet lemmas match ("car"/"auto" do, "large" -> "larg" not).
  const synonymCases: [string[], string, number, number][] = [
    [['the child rode in the auto'], 'the kid rode in the car', 0.9976851851851852, 0.625],
    [['a small kid sat on the mat'], 'a little child sat on the rug', 0.6914285714285714, 0.5357142857142857],
    [
      ['Cars are fast and kids love them'],
      'autos are quick and children adore them',
      0.8412698412698414,
      0.2142857142857143,
    ],
    [
      ['the dog slept on the sofa', 'a dog slept on the couch'],
      'the dog kipped on the couch',
      0.8066666666666668,
      0.625,
    ],
    [['the large dog ran fast'], 'the big dog ran quickly', 0.5111111111111111, 0.5111111111111111],
    [['Größe café naïve 😀 end'], 'größe CAFÉ naive 😀 end', 0.7500000000000001, 0.7500000000000001],
  ];

  it.each(synonymCases)('exact+stem: %j vs %j', (refs, hyp, _withWordnet, withoutWordnet) => {
    near(meteorScore(refs, hyp, null), withoutWordnet, 1e-12);
  });

  it.skipIf(!wordnet).each(synonymCases)('with WordNet synonyms: %j vs %j', (refs, hyp, withWordnet) => {
    near(meteorScore(refs, hyp, wordnet), withWordnet, 1e-12);
  });
});

describe.skipIf(!wordnet)('WordNet lemma names (nltk wordnet.synsets -> lemma.name())', () => {
  // nltk 3.8 (local) on Debian's WordNet 3.0: noun plural rule, verb and adjective exception lists, a stem
  // that is no word, and case folding of the query (names keep their case).
  it.each([
    ['dogs', ['Canis_familiaris', 'cad', 'dog', 'domestic_dog', 'frump', 'hound', 'wienerwurst']],
    ['ran', ['run', 'scarper', 'turn_tail', 'go', 'operate']],
    ['better', ['good', 'well', 'ameliorate', 'bettor', 'skillful']],
    ['kipped', ["catch_some_Z's", 'kip', "log_Z's", 'sleep', 'slumber']],
    ['Geese', ['goose', 'bozo', 'zany']],
  ])('%s', (word, some) => {
    const names = wordnet!.lemmaNames(word);
    for (const n of some) expect(names).toContain(n);
  });

  it('sizes and absences', () => {
    expect(wordnet!.lemmaNames('dogs').size).toBe(30);
    expect(wordnet!.lemmaNames('ran').size).toBe(52);
    expect(wordnet!.lemmaNames('quickli').size).toBe(0);
  });
});

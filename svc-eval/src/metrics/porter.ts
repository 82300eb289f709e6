// The Porter stemmer as nltk's `PorterStemmer()` runs it by default (mode NLTK_EXTENSIONS): Martin Porter's
// published algorithm plus his later extensions plus nltk's own changes (an irregular-forms table, words of
// one or two letters left alone, 'dies'->'die', 'spied'->'spi', y->i only after a consonant, 'alli' first,
// 'fulli', 'logi'). Both references here use exactly this mode: rouge-score builds `porter.PorterStemmer()`
// from nltk for use_stemmer=True, and nltk's METEOR uses the same default, so one mode is implemented.

/** nltk's table of irregular forms: word -> stem. */
const IRREGULAR = new Map<string, string>(
  Object.entries({
    sky: ['sky', 'skies'],
    die: ['dying'],
    lie: ['lying'],
    tie: ['tying'],
    news: ['news'],
    inning: ['innings', 'inning'],
    outing: ['outings', 'outing'],
    canning: ['cannings', 'canning'],
    howe: ['howe'],
    proceed: ['proceed'],
    exceed: ['exceed'],
    succeed: ['succeed'],
  }).flatMap(([stem, forms]) => forms.map((f): [string, string] => [f, stem])),
);

const isVowelLetter = (c: string): boolean => c === 'a' || c === 'e' || c === 'i' || c === 'o' || c === 'u';

/** y is a consonant at the start or after a vowel, a vowel after a consonant. */
function isConsonant(w: string, i: number): boolean {
  const c = w[i]!;
  if (isVowelLetter(c)) return false;
  if (c === 'y') return i === 0 ? true : !isConsonant(w, i - 1);
  return true;
}

/** m in [C](VC){m}[V]: the number of vowel-consonant transitions. */
function measure(stem: string): number {
  let m = 0;
  for (let i = 1; i < stem.length; i++) if (!isConsonant(stem, i - 1) && isConsonant(stem, i)) m++;
  return m;
}

const positive = (stem: string): boolean => measure(stem) > 0;

function hasVowel(stem: string): boolean {
  for (let i = 0; i < stem.length; i++) if (!isConsonant(stem, i)) return true;
  return false;
}

const endsDoubleConsonant = (w: string): boolean =>
  w.length >= 2 && w.at(-1) === w.at(-2) && isConsonant(w, w.length - 1);

/** *o: ends consonant-vowel-consonant, the last not w, x or y; nltk also accepts a two-letter vowel-consonant. */
function endsCvc(w: string): boolean {
  const n = w.length;
  return (
    (n >= 3 &&
      isConsonant(w, n - 3) &&
      !isConsonant(w, n - 2) &&
      isConsonant(w, n - 1) &&
      !'wxy'.includes(w[n - 1]!)) ||
    (n === 2 && !isConsonant(w, 0) && isConsonant(w, 1))
  );
}

type Rule = [suffix: string, replacement: string, condition: ((stem: string) => boolean) | null];

/** The first rule whose suffix matches decides: applied if its condition holds, else the word is kept. */
function applyFirst(word: string, rules: readonly Rule[]): string {
  for (const [suffix, replacement, condition] of rules) {
    if (word.endsWith(suffix)) {
      const stem = word.slice(0, word.length - suffix.length);
      return condition === null || condition(stem) ? stem + replacement : word;
    }
  }
  return word;
}

function step1a(w: string): string {
  if (w.endsWith('ies') && w.length === 4) return `${w.slice(0, -3)}ie`;
  return applyFirst(w, [
    ['sses', 'ss', null],
    ['ies', 'i', null],
    ['ss', 'ss', null],
    ['s', '', null],
  ]);
}

function step1b(w: string): string {
  if (w.endsWith('ied')) return w.length === 4 ? `${w.slice(0, -3)}ie` : `${w.slice(0, -3)}i`;
  if (w.endsWith('eed')) {
    const stem = w.slice(0, -3);
    return measure(stem) > 0 ? `${stem}ee` : w;
  }
  let stem: string | undefined;
  for (const suffix of ['ed', 'ing']) {
    if (w.endsWith(suffix) && hasVowel(w.slice(0, -suffix.length))) {
      stem = w.slice(0, -suffix.length);
      break;
    }
  }
  if (stem === undefined) return w;
  for (const [suffix, replacement] of [
    ['at', 'ate'],
    ['bl', 'ble'],
    ['iz', 'ize'],
  ]) {
    if (stem.endsWith(suffix!)) return stem.slice(0, -suffix!.length) + replacement;
  }
  if (endsDoubleConsonant(stem)) {
    const last = stem.at(-1)!;
    return 'lsz'.includes(last) ? stem : stem.slice(0, -1);
  }
  return measure(stem) === 1 && endsCvc(stem) ? `${stem}e` : stem;
}

function step1c(w: string): string {
  return applyFirst(w, [['y', 'i', (stem) => stem.length > 1 && isConsonant(stem, stem.length - 1)]]);
}

function step2(w: string): string {
  // nltk applies ALLI -> AL before the table, then runs step 2 again on the result.
  if (w.endsWith('alli') && positive(w.slice(0, -4))) return step2(`${w.slice(0, -4)}al`);
  return applyFirst(w, [
    ['ational', 'ate', positive],
    ['tional', 'tion', positive],
    ['enci', 'ence', positive],
    ['anci', 'ance', positive],
    ['izer', 'ize', positive],
    ['bli', 'ble', positive],
    ['alli', 'al', positive],
    ['entli', 'ent', positive],
    ['eli', 'e', positive],
    ['ousli', 'ous', positive],
    ['ization', 'ize', positive],
    ['ation', 'ate', positive],
    ['ator', 'ate', positive],
    ['alism', 'al', positive],
    ['iveness', 'ive', positive],
    ['fulness', 'ful', positive],
    ['ousness', 'ous', positive],
    ['aliti', 'al', positive],
    ['iviti', 'ive', positive],
    ['biliti', 'ble', positive],
    ['fulli', 'ful', positive],
    // The measure is taken with the 'l' kept, so short stems like 'geo-logi' qualify.
    ['logi', 'log', () => positive(w.slice(0, -3))],
  ]);
}

function step3(w: string): string {
  return applyFirst(w, [
    ['icate', 'ic', positive],
    ['ative', '', positive],
    ['alize', 'al', positive],
    ['iciti', 'ic', positive],
    ['ical', 'ic', positive],
    ['ful', '', positive],
    ['ness', '', positive],
  ]);
}

function step4(w: string): string {
  const gt1 = (stem: string): boolean => measure(stem) > 1;
  return applyFirst(w, [
    ['al', '', gt1],
    ['ance', '', gt1],
    ['ence', '', gt1],
    ['er', '', gt1],
    ['ic', '', gt1],
    ['able', '', gt1],
    ['ible', '', gt1],
    ['ant', '', gt1],
    ['ement', '', gt1],
    ['ment', '', gt1],
    ['ent', '', gt1],
    ['ion', '', (stem) => gt1(stem) && (stem.endsWith('s') || stem.endsWith('t'))],
    ['ou', '', gt1],
    ['ism', '', gt1],
    ['ate', '', gt1],
    ['iti', '', gt1],
    ['ous', '', gt1],
    ['ive', '', gt1],
    ['ize', '', gt1],
  ]);
}

function step5a(w: string): string {
  // Unlike the other steps, both E rules are tried.
  if (!w.endsWith('e')) return w;
  const stem = w.slice(0, -1);
  const m = measure(stem);
  return m > 1 || (m === 1 && !endsCvc(stem)) ? stem : w;
}

function step5b(w: string): string {
  return applyFirst(w, [['ll', 'l', () => measure(w.slice(0, -1)) > 1]]);
}

/**
 * Characters outside the BMP are one character to Python but two UTF-16 units here; the algorithm only
 * compares characters and tests a few ASCII letters, so each such character is swapped for a private-use
 * one absent from the word while stemming, and swapped back after.
 */
function withBmpOnly(word: string, f: (w: string) => string): string {
  if (!/[\u{10000}-\u{10ffff}]/u.test(word)) return f(word);
  const forward = new Map<string, string>();
  const back = new Map<string, string>();
  let next = 0xe000;
  const mapped = Array.from(word, (c) => {
    if (c.length === 1) return c;
    let m = forward.get(c);
    if (m === undefined) {
      while (word.includes(String.fromCharCode(next))) next++;
      m = String.fromCharCode(next++);
      forward.set(c, m);
      back.set(m, c);
    }
    return m;
  }).join('');
  return Array.from(f(mapped), (c) => back.get(c) ?? c).join('');
}

// Corpora repeat words; stems are memoized, and the memo is dropped when large so a server does not grow.
const memo = new Map<string, string>();

/** nltk `PorterStemmer().stem(word)` (lowercases first, as its default `to_lowercase=True`). */
export function porterStem(word: string): string {
  let stem = memo.get(word);
  if (stem === undefined) {
    if (memo.size >= 100_000) memo.clear();
    stem = stemUncached(word);
    memo.set(word, stem);
  }
  return stem;
}

function stemUncached(word: string): string {
  const lower = word.toLowerCase();
  // nltk tests the irregular table and the length on the word as given, then works on the lowercased one.
  const irregular = IRREGULAR.get(word);
  if (irregular !== undefined) return irregular;
  if (Array.from(word).length <= 2) return lower;
  return withBmpOnly(lower, (w) => step5b(step5a(step4(step3(step2(step1c(step1b(step1a(w)))))))));
}

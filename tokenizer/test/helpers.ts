import { readFileSync } from 'node:fs';
import { datasetPath, mulberry32 } from '@lab/common';

export const DATASETS = datasetPath();
export const SHAKESPEARE = readFileSync(`${DATASETS}/tinyshakespeare/input.txt`, 'utf8');

/** Deterministic PRNG so property tests are reproducible. */
export const rng = mulberry32;

const POOL = [
  ' ',
  '  ',
  '\n',
  '\r\n',
  '\t',
  '\u00a0',
  '\u0085',
  '\u3000',
  '\ufeff',
  'a',
  'Z',
  'é',
  'ß',
  'ſ',
  '\u212a',
  "'",
  "'s",
  "'S",
  "'LL",
  "'ll",
  "'Re",
  '1',
  '42',
  '٣',
  '½',
  '.',
  '/',
  '!?',
  '{',
  '日',
  '本語',
  'ひらがな',
  '한국어',
  'Привет',
  'مرحبا',
  'e\u0301',
  '\u0915\u094d\u0937',
  '😀',
  '👩‍👩‍👧',
  '🇫🇷',
  '𝔘𝔫𝔦',
  '\u{1F3FD}',
  '\u200d',
  '\u0000',
  '<',
  '|',
  'Hello',
  ' world',
  'don',
  'CamelCase',
];

/** Random strings over a pool of tricky fragments: whitespace kinds, case folds, marks, emoji, CJK, astral. */
export function randomText(next: () => number, maxParts = 30): string {
  const n = 1 + Math.floor(next() * maxParts);
  let s = '';
  for (let i = 0; i < n; i++) {
    if (next() < 0.15) {
      // arbitrary code point (excluding lone surrogates, which are not valid strings for UTF-8)
      let cp = Math.floor(next() * 0x10ffff);
      if (cp >= 0xd800 && cp <= 0xdfff) cp = 0x41;
      s += String.fromCodePoint(cp);
    } else s += POOL[Math.floor(next() * POOL.length)];
  }
  return s;
}

export const CORPUS: string[] = [
  'Hello, world!',
  "I'm sure they'll say it's fine, we've done what we'd planned.",
  "I'M SURE THEY'LL SAY IT'S FINE, WE'VE DONE WHAT WE'D PLANNED. 'S 'LL 'Re 'rE",
  'Numbers: 1 12 123 1234 12345 1234567890 3.14159 1,000,000 -42 0x1F ٣٤٥',
  'Unicode: café naïve Straße Ωμέγα Привет мир مرحبا بالعالم हिन्दी',
  'Emoji: 😀😃😄 👩‍👩‍👧‍👦 🇫🇷🇯🇵 👍🏽 ❤️',
  'CJK: 日本語のテキストです。中文文本。한국어 텍스트.',
  'Surrogates: 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 𝟙𝟚𝟛 𠜎𠜱𠝹',
  'Whitespace:   three spaces\t\ttabs\n\nnewlines\r\n\r\ncrlf    \n   \n\t \n end   ',
  '          leading and trailing          ',
  '\n\n\n\n',
  'function add(a: number, b: number): number {\n  return a + b; // sum\n}\n\nconst x = [1, 2, 3].map((v) => v ** 2);',
  'def f(x):\n    if x > 0:\n        return x\n    return -x\n',
  '<html><body class="x">a&amp;b</body></html> https://example.com/path?q=1&r=2#frag',
  'ALLCAPS CamelCaseWord snake_case_word kebab-case-word HTTPServer2Go',
  'Mixed\u00a0nbsp\u2003emsp\u3000ideographic\u0085nel\ufeffbom',
  'ſ long s and \u212a kelvin and \u00df',
  'a/b/c // slashes ///\n/',
  '',
];

// sacrebleu's default BLEU tokenizer ("13a", after mteval-v13a.pl used by WMT): split off ASCII punctuation,
// and periods/commas unless they sit inside a number, and a dash after a digit. Letters of any script stay
// together, so Unicode text tokenizes on whitespace and ASCII punctuation only.
import { pySplit } from './python-text.ts';

// Every printable ASCII symbol except apostrophe, comma, hyphen and period (those have their own rules).
const SYMBOL = /([{-~[-` -&(-+:-@/])/gu;
const PERIOD_COMMA_AFTER_NON_DIGIT = /([^0-9])([.,])/gu;
const PERIOD_COMMA_BEFORE_NON_DIGIT = /([.,])([^0-9])/gu;
const DASH_AFTER_DIGIT = /([0-9])(-)/gu;

/** Tokenizes one segment the way sacrebleu's `Tokenizer13a` does; tokens are joined by single spaces. */
export function tokenize13a(line: string): string {
  let s = line.replaceAll('<skipped>', '').replaceAll('-\n', '').replaceAll('\n', ' ');
  if (s.includes('&')) {
    s = s.replaceAll('&quot;', '"').replaceAll('&amp;', '&').replaceAll('&lt;', '<').replaceAll('&gt;', '>');
  }
  s = ` ${s} `
    .replace(SYMBOL, ' $1 ')
    .replace(PERIOD_COMMA_AFTER_NON_DIGIT, '$1 $2 ')
    .replace(PERIOD_COMMA_BEFORE_NON_DIGIT, ' $1 $2')
    .replace(DASH_AFTER_DIGIT, '$1 $2 ');
  return pySplit(s).join(' ');
}

// Benchmark prompts of an exact length in GPT-2 tokens, from wikitext-2 (../shared/datasets).
import { readFileSync } from 'node:fs';
import { datasetPath } from '@lab/common';
import { parseTokenizerJson } from '@lab/tokenizer';

/** A wikitext-2 passage of exactly `n` GPT-2 tokens (its text encodes back to the same count). */
export function wikitextPrompt(n: number): string {
  const tokenizer = parseTokenizerJson(
    readFileSync(datasetPath('gpt2-tokenizer', 'tokenizer.json'), 'utf8'),
    'gpt2',
  );
  const raw = readFileSync(datasetPath('wikitext-2', 'wiki.test.raw.crlf-nonempty-lines'), 'utf8');
  const ids = tokenizer.encode(raw.replace(/\r\n/g, '\n').slice(0, 20 * n));
  // A cut can split a word whose pieces merge differently once decoded: try the next cuts.
  for (let cut = n; cut < ids.length; cut++) {
    const text = tokenizer.decode(ids.slice(0, cut));
    if (tokenizer.encode(text).length === n) return text;
  }
  throw new Error(`no wikitext-2 prefix of ${n} tokens`);
}

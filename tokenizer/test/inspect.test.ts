import { describe, expect, it } from 'vitest';
import {
  CharTokenizer,
  compareTokenizers,
  estimateCost,
  getTokenizer,
  inspectTokens,
  loadTokenizer,
  vocabularyCoverage,
} from '../src/index.ts';
import { DATASETS, SHAKESPEARE } from './helpers.ts';

describe('inspector helpers', () => {
  it('inspectTokens gives id, span, text and hex bytes per token', () => {
    const rows = inspectTokens(getTokenizer('cl100k_base'), 'Hi 日<|endoftext|>', { allowedSpecial: 'all' });
    expect(rows[0]).toEqual({ id: 13347, start: 0, end: 2, text: 'Hi', bytesHex: '4869', special: false });
    const last = rows[rows.length - 1];
    expect(last).toMatchObject({ id: 100257, text: '<|endoftext|>', special: true, start: 4, end: 17 });
    const cjkHex = rows
      .filter((r) => r.start === 2 || r.start === 3)
      .map((r) => r.bytesHex)
      .join('');
    expect(cjkHex).toBe('20e697a5'); // ' ' + UTF-8 of 日
  });

  it('compareTokenizers reports tokens and chars/bytes per token', () => {
    const text = 'héllo wörld, this is a comparison';
    const rows = compareTokenizers(
      [getTokenizer('gpt2'), getTokenizer('o200k_base'), CharTokenizer.fromText(text)],
      text,
    );
    expect(rows.map((r) => r.name)).toEqual(['gpt2', 'o200k_base', 'char']);
    expect(rows[2].tokens).toBe([...text].length);
    expect(rows[2].charsPerToken).toBe(1);
    expect(rows[0].tokens).toBe(getTokenizer('gpt2').encode(text).length);
    expect(rows[0].bytesPerToken).toBeCloseTo(Buffer.byteLength(text) / rows[0].tokens);
  });

  it('vocabularyCoverage counts usage, unused ids and the byte-fallback rate', () => {
    const chars = CharTokenizer.fromText('abc');
    const cov = vocabularyCoverage(chars, ['aab', 'a']);
    expect(cov).toMatchObject({ totalTokens: 4, distinctTokens: 2, unusedTokens: 1, byteFallbackRate: 0 });
    expect(cov.topTokens[0]).toEqual({ id: 0, text: 'a', count: 3 });

    const phi = loadTokenizer(`${DATASETS}/hf-tokenizer-phi3-mini`);
    const fb = vocabularyCoverage(phi, ['😀']); // ▁ + 4 byte tokens
    expect(fb.totalTokens).toBe(5);
    expect(fb.byteFallbackRate).toBeCloseTo(4 / 5);
    // in English text only newlines fall back (Llama's vocab has no '\n' piece)
    const sample = SHAKESPEARE.slice(0, 20_000);
    const en = vocabularyCoverage(phi, [sample]);
    const newlines = sample.split('\n').length - 1;
    expect(en.byteFallbackRate).toBeCloseTo(newlines / en.totalTokens, 10);
    expect(en.unusedTokens).toBeGreaterThan(25_000);
  });

  it('estimateCost multiplies the token count by the price per 1k tokens', () => {
    const tok = getTokenizer('cl100k_base');
    const text = SHAKESPEARE.slice(0, 5000);
    const n = tok.encode(text).length;
    expect(estimateCost(tok, text, 0.5)).toEqual({
      tokens: n,
      pricePer1kTokens: 0.5,
      cost: (n / 1000) * 0.5,
    });
    expect(() => estimateCost(tok, text, -1)).toThrow(/pricePer1kTokens/);
  });
});

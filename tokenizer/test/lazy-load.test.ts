import { describe, expect, it } from 'vitest';
import { getTokenizer, loadedBuiltinNames } from '../src/index.ts';

// Each test file runs in its own fork, so nothing has touched the built-ins before this file.
describe('built-in rank data', () => {
  it('is loaded only when a tokenizer is first used', () => {
    expect(loadedBuiltinNames()).toEqual([]);
    const tok = getTokenizer('o200k_base');
    expect(loadedBuiltinNames()).toEqual(['o200k_base']);
    expect(getTokenizer('o200k_base')).toBe(tok);
    expect(tok.vocabSize).toBe(200_019);
    expect(tok.decode(tok.encode('lazy'))).toBe('lazy');
  });
});

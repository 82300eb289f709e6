import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { datasetPath } from '@lab/common';
import { describe, expect, it } from 'vitest';
import {
  CharTokenizer,
  formatTiktokenRanks,
  getTokenizer,
  loadTokenizer,
  saveTokenizer,
  TokenizerError,
  trainBpe,
} from '../src/index.ts';
import { CORPUS, SHAKESPEARE } from './helpers.ts';

const tmp = (): string => mkdtempSync(join(tmpdir(), 'lab-tok-'));
const TEXT = `${SHAKESPEARE.slice(0, 20_000)}${CORPUS.join('\n')}`;

describe('loadTokenizer / saveTokenizer', () => {
  it('resolves built-in names to the same (lazily loaded) instance', () => {
    expect(loadTokenizer('cl100k_base')).toBe(getTokenizer('cl100k_base'));
  });

  it('rejects unknown names listing the known ones', () => {
    try {
      loadTokenizer('cl200k');
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(TokenizerError);
      expect((err as TokenizerError).field).toBe('name');
      expect((err as Error).message).toMatch(/gpt2, cl100k_base, o200k_base/);
    }
    expect(() => getTokenizer('nope')).toThrow(/known names/);
  });

  it('saves a trained tokenizer and loads it back from the dir and the file', async () => {
    const tok = await trainBpe(SHAKESPEARE.slice(0, 200_000), { vocabSize: 700, specialTokens: ['<|eos|>'] });
    const dir = tmp();
    const file = saveTokenizer(tok, dir);
    expect(file).toBe(join(dir, 'tokenizer.json'));
    const text = `${TEXT}<|eos|>`;
    const opts = { allowedSpecial: 'all' as const };
    expect(loadTokenizer(dir).encode(text, opts)).toEqual(tok.encode(text, opts));
    expect(loadTokenizer(file).encode(text, opts)).toEqual(tok.encode(text, opts));
  });

  it('saves an imported tokenizer.json unchanged', () => {
    const src = datasetPath('hf-tokenizer-phi3-mini', 'tokenizer.json');
    const dir = tmp();
    saveTokenizer(loadTokenizer(src), dir);
    expect(JSON.parse(readFileSync(join(dir, 'tokenizer.json'), 'utf8'))).toEqual(
      JSON.parse(readFileSync(src, 'utf8')),
    );
  });

  it('saves and loads a char tokenizer', () => {
    const tok = CharTokenizer.fromText('hello world');
    const dir = tmp();
    saveTokenizer(tok, dir);
    const back = loadTokenizer(dir);
    expect(back.kind).toBe('char');
    expect(back.encode('world hello')).toEqual(tok.encode('world hello'));
  });

  it('imports a tiktoken rank file (pattern guessed from the name)', () => {
    const gpt2 = getTokenizer('gpt2');
    const path = join(tmp(), 'gpt2.tiktoken');
    writeFileSync(path, formatTiktokenRanks(gpt2.ranks));
    const tok = loadTokenizer(path, { specialTokens: { '<|endoftext|>': 50256 } });
    expect(tok.pattern).toBe(gpt2.pattern);
    expect(tok.encode(TEXT)).toEqual(gpt2.encode(TEXT));
    expect(tok.encode('<|endoftext|>', { allowedSpecial: 'all' })).toEqual([50256]);
  });

  it('reports malformed files with a field', () => {
    const bad = join(tmp(), 'bad.tiktoken');
    writeFileSync(bad, 'not a rank line\n');
    expect(() => loadTokenizer(bad)).toThrow(TokenizerError);
    const badJson = join(tmp(), 'tokenizer.json');
    writeFileSync(badJson, '{ nope');
    expect(() => loadTokenizer(badJson)).toThrow(/not valid JSON/);
  });
});

import { readFileSync } from 'node:fs';
import { get_encoding, type Tiktoken } from 'tiktoken';
import { afterAll, describe, expect, it } from 'vitest';
import { CL100K_PATTERN, getTokenizer, TokenizerError, translatePattern } from '../src/index.ts';
import { CORPUS, DATASETS, randomText, rng, SHAKESPEARE } from './helpers.ts';

const NAMES = ['gpt2', 'cl100k_base', 'o200k_base'] as const;
const WIKI = readFileSync(`${DATASETS}/wikitext-2/wiki.test.raw.crlf-nonempty-lines`, 'utf8').slice(
  0,
  200_000,
);

const refs = new Map<string, Tiktoken>();
function ref(name: (typeof NAMES)[number]): Tiktoken {
  let enc = refs.get(name);
  if (!enc) {
    enc = get_encoding(name);
    refs.set(name, enc);
  }
  return enc;
}
afterAll(() => {
  for (const e of refs.values()) e.free();
});

describe.each(NAMES)('%s matches tiktoken (wasm)', (name) => {
  const tok = getTokenizer(name);
  const enc = ref(name);

  it('on the hand-written corpus', () => {
    for (const text of CORPUS) {
      expect(tok.encode(text), JSON.stringify(text)).toEqual(Array.from(enc.encode(text)));
    }
  });

  it('on the whole of tiny Shakespeare', () => {
    expect(tok.encode(SHAKESPEARE)).toEqual(Array.from(enc.encode(SHAKESPEARE)));
  });

  it('on the first 200 KB of wikitext-2 raw', () => {
    expect(tok.encode(WIKI)).toEqual(Array.from(enc.encode(WIKI)));
  });

  it('on random unicode strings', () => {
    const next = rng(name.length * 7919);
    for (let i = 0; i < 400; i++) {
      const text = randomText(next);
      expect(tok.encode(text), JSON.stringify(text)).toEqual(Array.from(enc.encode(text)));
    }
  });

  it('with allowed special tokens', () => {
    const text = 'a<|endoftext|>b <|endoftext|><|endoftext|> c';
    const ours = tok.encode(text, { allowedSpecial: 'all' });
    expect(ours).toEqual(Array.from(enc.encode(text, 'all')));
    expect(ours).toContain(tok.specialTokens.get('<|endoftext|>'));
  });

  it('throws on a disallowed special token by default, naming it', () => {
    expect(() => enc.encode('x <|endoftext|>')).toThrow();
    expect(() => tok.encode('x <|endoftext|>')).toThrow(TokenizerError);
    expect(() => tok.encode('x <|endoftext|>')).toThrow(/<\|endoftext\|>/);
  });

  it('encodes special text as ordinary text when not disallowed', () => {
    const text = 'x <|endoftext|> y';
    expect(tok.encode(text, { disallowedSpecial: [] })).toEqual(Array.from(enc.encode(text, [], [])));
  });

  it('decodes back to the exact input', () => {
    for (const text of CORPUS) expect(tok.decode(tok.encode(text))).toBe(text);
  });
});

describe('cl100k specifics', () => {
  const tok = getTokenizer('cl100k_base');
  it('splits digits in groups of at most 3', () => {
    const pieces = tok.encode('1234567').map((id) => tok.decode([id]));
    expect(pieces).toEqual(['123', '456', '7']);
  });
  it('pre-tokenises uppercase contractions like lowercase ones (incl. the long-s fold)', () => {
    const re = new RegExp(translatePattern(CL100K_PATTERN), 'gu');
    expect("HE'LL we'Re it\u017f".match(re)).toEqual(['HE', "'LL", ' we', "'Re", ' it\u017f']);
    expect("x'\u017f".match(re)).toEqual(['x', "'\u017f"]);
  });
});

describe('gpt2 swift-transformers test vector', () => {
  it('encodes to the published ids and decodes back', () => {
    const vec = JSON.parse(
      readFileSync(`${DATASETS}/gpt2-tokenizer/swift-transformers_gpt2_encoded_tokens.json`, 'utf8'),
    ) as { text: string; token_ids: number[]; decoded_text: string };
    const tok = getTokenizer('gpt2');
    expect(tok.encode(vec.text)).toEqual(vec.token_ids);
    expect(tok.decode(vec.token_ids)).toBe(vec.decoded_text);
  });
});

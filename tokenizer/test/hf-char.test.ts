// A char tokenizer's tokenizer.json is Hugging Face's format (a BPE of characters without merges), read back by
// every lab reader with the same ids, and by transformers.js's tokenizer with the same ids and text.
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AutoTokenizer, env } from '@huggingface/transformers';
import { describe, expect, it } from 'vitest';
import { exportHfCharTokenizer, hfCharVocabulary } from '../src/hf.ts';
import {
  CharTokenizer,
  exportHfTokenizer,
  getTokenizer,
  type HfTokenizerJson,
  importHfTokenizer,
  loadTokenizer,
  parseTokenizerJson,
  saveTokenizer,
  serializeTokenizer,
  TokenizerError,
} from '../src/index.ts';
import { SHAKESPEARE } from './helpers.ts';

env.allowRemoteModels = false;
env.useFSCache = false;

const tmp = (): string => mkdtempSync(join(tmpdir(), 'lab-tok-char-'));
// Characters a normalizer, a pre-tokenizer or a byte-level alphabet would change: spaces of all kinds,
// control characters, a combining accent, the SentencePiece ▁, byte-level Ġ, astral code points; digits,
// which JSON objects list first whatever their id.
const ODD = ' \t\r\n\u00a0\u3000\u2581\u0120\u0301é\u212aß😀𝄞\u0000<>|"\\07';
const TEXT = `${SHAKESPEARE.slice(0, 30_000)}${ODD}a\u0301 😀😀\r\n\u2581x`;
const tok = CharTokenizer.fromText(TEXT, 'shakespeare-char');
const json = (): HfTokenizerJson => JSON.parse(JSON.stringify(serializeTokenizer(tok))) as HfTokenizerJson;

describe('char tokenizer as a Hugging Face tokenizer.json', () => {
  it('is a BPE of the characters: ids are their index, no merges, nothing that rewrites the text', () => {
    const j = json();
    expect(j).toEqual(exportHfCharTokenizer(tok.chars));
    expect(j.model).toMatchObject({ type: 'BPE', merges: [], unk_token: null, byte_fallback: false });
    expect(Object.keys(j.model.vocab).length).toBe(tok.chars.length);
    tok.chars.forEach((c, i) => {
      expect(j.model.vocab[c]).toBe(i);
    });
    expect(j).toMatchObject({
      normalizer: null,
      pre_tokenizer: null,
      post_processor: null,
      added_tokens: [],
    });
    expect(j.decoder).toEqual({ type: 'Fuse' });
  });

  it('loads back as the same CharTokenizer through parseTokenizerJson and loadTokenizer (file and dir)', () => {
    const dir = tmp();
    const file = saveTokenizer(tok, dir);
    for (const back of [
      parseTokenizerJson(JSON.stringify(json())),
      loadTokenizer(file),
      loadTokenizer(dir),
    ]) {
      expect(back).toBeInstanceOf(CharTokenizer);
      expect(back.kind).toBe('char');
      expect((back as CharTokenizer).chars).toEqual(tok.chars);
      expect(back.encode(TEXT)).toEqual(tok.encode(TEXT));
      expect(back.decode(tok.encode(TEXT))).toBe(TEXT);
    }
    expect(loadTokenizer(dir).name).toBe(dir.split('/').pop());
  });

  it('gives the same ids and text through the generic importHfTokenizer, for every character', () => {
    const hf = importHfTokenizer(json());
    for (const c of tok.chars) expect(hf.encode(c)).toEqual(tok.encode(c));
    expect(hf.encode(TEXT)).toEqual(tok.encode(TEXT));
    expect(hf.decode(tok.encode(TEXT))).toBe(TEXT);
    expect(hf.vocabSize).toBe(tok.vocabSize);
  });

  it('leaves unknown characters to each reader: the lab rejects them, Hugging Face semantics drop them', () => {
    expect(() => loadTokenizer(saveTokenizer(tok, tmp())).encode('a~b')).toThrow(TokenizerError);
    expect(importHfTokenizer(json()).encode('a~b')).toEqual(tok.encode('ab'));
  });

  it('still reads the older char files: {"type":"lab-char"} and lab-train\'s {"type":"char"}', () => {
    const chars = [...tok.chars];
    const labChar = { type: 'lab-char', version: 1, name: 'old', chars };
    const trainChar = { type: 'char', chars: chars.join('') };
    for (const old of [labChar, trainChar]) {
      const dir = tmp();
      writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(old));
      for (const back of [parseTokenizerJson(JSON.stringify(old)), loadTokenizer(dir)]) {
        expect(back).toBeInstanceOf(CharTokenizer);
        expect(back.encode(TEXT)).toEqual(tok.encode(TEXT));
      }
    }
    expect(parseTokenizerJson(JSON.stringify(labChar)).name).toBe('old');
  });

  it('is recognised only when nothing but the characters decides the ids', () => {
    expect(hfCharVocabulary(json())).toEqual(tok.chars);
    const variants: ((j: HfTokenizerJson) => void)[] = [
      (j) => {
        j.model.merges = ['a b'];
      },
      (j) => {
        j.pre_tokenizer = { type: 'ByteLevel' };
      },
      (j) => {
        j.normalizer = { type: 'NFC' };
      },
      (j) => {
        j.decoder = { type: 'ByteLevel' };
      },
      (j) => {
        j.model.unk_token = 'a';
      },
      (j) => {
        j.added_tokens = [{ id: 0, content: '\n', special: true }];
      },
      (j) => {
        j.model.vocab.ab = 3;
      },
      (j) => {
        j.model.vocab = { a: 0, b: 2 };
      },
    ];
    variants.forEach((change, i) => {
      const j = json();
      change(j);
      expect(hfCharVocabulary(j), `variant ${i}`).toBeUndefined();
    });
    expect(hfCharVocabulary(exportHfTokenizer(getTokenizer('gpt2')))).toBeUndefined();
  });

  it('encodes and decodes the same in transformers.js (AutoTokenizer from a local folder)', async () => {
    const dir = join(tmp(), 'char-model');
    mkdirSync(dir);
    saveTokenizer(tok, dir);
    writeFileSync(
      join(dir, 'tokenizer_config.json'),
      JSON.stringify({ tokenizer_class: 'PreTrainedTokenizerFast', clean_up_tokenization_spaces: false }),
    );
    const hf = await AutoTokenizer.from_pretrained(dir, { local_files_only: true });
    const encode = (text: string): number[] => hf.encode(text, { add_special_tokens: false });
    for (const c of tok.chars) expect(encode(c), JSON.stringify(c)).toEqual(tok.encode(c));
    expect(encode(TEXT)).toEqual(tok.encode(TEXT));
    // Character by character decoding too: a decoder that strips or joins with spaces would show here.
    expect(hf.decode(tok.encode(TEXT))).toBe(TEXT);
    for (const c of tok.chars) expect(hf.decode(tok.encode(c))).toBe(c);
    expect(hf.decode(tok.encode(' . , ! ?'))).toBe(' . , ! ?');
    // No unk token: Hugging Face drops a character outside the vocabulary.
    expect(encode('a~b')).toEqual(tok.encode('ab'));
  });
});

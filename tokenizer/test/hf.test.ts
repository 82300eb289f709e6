import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  exportHfTokenizer,
  getTokenizer,
  type HfTokenizerJson,
  importHfTokenizer,
  loadTokenizer,
  TokenizerError,
  trainBpe,
} from '../src/index.ts';
import { CORPUS, DATASETS, randomText, rng, SHAKESPEARE } from './helpers.ts';

const SAMPLE = `${SHAKESPEARE.slice(0, 100_000)}\n${CORPUS.join('\n')}`;
const PHI3 = `${DATASETS}/hf-tokenizer-phi3-mini/tokenizer.json`;

describe('Hugging Face GPT-2 tokenizer.json', () => {
  const hf = loadTokenizer(`${DATASETS}/gpt2-tokenizer/tokenizer.json`);
  const builtin = getTokenizer('gpt2');

  it('gives the same ids as the built-in gpt2', () => {
    expect(hf.kind).toBe('hf-bpe');
    expect(hf.encode(SAMPLE)).toEqual(builtin.encode(SAMPLE));
    const next = rng(5);
    for (let i = 0; i < 200; i++) {
      const text = randomText(next);
      expect(hf.encode(text)).toEqual(builtin.encode(text));
    }
  });

  it('decodes back to the input and maps <|endoftext|> as a special', () => {
    expect(hf.decode(hf.encode(SAMPLE))).toBe(SAMPLE);
    expect(hf.encode('a<|endoftext|>', { allowedSpecial: 'all' })).toEqual([64, 50256]);
  });
});

describe('export to tokenizer.json', () => {
  it('has the layout Hugging Face tokenizers expects', () => {
    const json = exportHfTokenizer(getTokenizer('gpt2'));
    expect(json.model.type).toBe('BPE');
    expect(json.model.vocab['\u0120the']).toBe(262); // 'Ġthe'
    expect(json.model.merges[0]).toBe('\u0120 t'); // first GPT-2 merge 'Ġ t'
    expect(json.pre_tokenizer).toMatchObject({
      type: 'Sequence',
      pretokenizers: [
        { type: 'Split', behavior: 'Isolated', invert: false },
        { type: 'ByteLevel', use_regex: false, add_prefix_space: false },
      ],
    });
    expect(json.decoder).toMatchObject({ type: 'ByteLevel' });
    expect(json.added_tokens).toEqual([
      expect.objectContaining({ id: 50256, content: '<|endoftext|>', special: true }),
    ]);
  });

  it('recovers exactly the merges of GPT-2 vocab.bpe', () => {
    const merges = readFileSync(`${DATASETS}/gpt2-tokenizer/vocab.bpe`, 'utf8').split('\n').slice(1, -1);
    expect(exportHfTokenizer(getTokenizer('gpt2')).model.merges).toEqual(merges);
  });

  it.each(['gpt2', 'cl100k_base'] as const)('%s exported then re-imported gives identical ids', (name) => {
    const tok = getTokenizer(name);
    const back = importHfTokenizer(JSON.parse(JSON.stringify(exportHfTokenizer(tok))) as HfTokenizerJson);
    expect(back.encode(SAMPLE, { allowedSpecial: 'all' })).toEqual(
      tok.encode(SAMPLE, { allowedSpecial: 'all' }),
    );
    const next = rng(11);
    for (let i = 0; i < 100; i++) {
      const text = randomText(next);
      expect(back.encode(text)).toEqual(tok.encode(text));
    }
  });

  it('round-trips a freshly trained tokenizer with specials', async () => {
    const tok = await trainBpe(SHAKESPEARE.slice(0, 300_000), {
      vocabSize: 1000,
      specialTokens: ['<|eot|>'],
    });
    const back = importHfTokenizer(JSON.parse(JSON.stringify(exportHfTokenizer(tok))) as HfTokenizerJson);
    const text = `${SHAKESPEARE.slice(300_000, 330_000)}<|eot|>Zebra 😀`;
    expect(back.encode(text, { allowedSpecial: 'all' })).toEqual(tok.encode(text, { allowedSpecial: 'all' }));
    expect(back.specialTokens.get('<|eot|>')).toBe(999);
  });
});

describe('SentencePiece-style BPE (Phi-3 mini tokenizer.json)', () => {
  const phi = loadTokenizer(PHI3);
  const vocab = (JSON.parse(readFileSync(PHI3, 'utf8')) as HfTokenizerJson).model.vocab;

  it('maps whole words to their ▁-prefixed vocab ids', () => {
    expect(phi.kind).toBe('sentencepiece-bpe');
    expect(phi.encode('Hello world')).toEqual([vocab['\u2581Hello'], vocab['\u2581world']]);
    expect(phi.encode('Hello world')).toEqual([15043, 3186]);
    expect(phi.encode('the')).toEqual([278]);
  });

  it('uses <0xNN> byte fallback for characters missing from the vocab', () => {
    const ids = phi.encode('\n😀');
    expect(ids).toEqual([vocab['\u2581'], vocab['<0x0A>'], 243, 162, 155, 131]);
    expect(ids.slice(2).map((id) => phi.tokenName(id))).toEqual(['<0xF0>', '<0x9F>', '<0x98>', '<0x80>']);
  });

  it('splits added tokens out of the text', () => {
    expect(phi.encode('<|user|>hi', { allowedSpecial: 'all' })).toEqual([32010, vocab['\u2581hi']]);
  });

  it('absorbs whitespace after added tokens flagged rstrip (chat markers)', () => {
    const ids = phi.encode('<|user|>\nHello<|end|>\n<|assistant|>', { allowedSpecial: 'all' });
    expect(ids).toEqual([32010, 15043, 32007, 32001]);
  });

  it('round-trips text', () => {
    for (const text of [...CORPUS, SHAKESPEARE.slice(0, 20_000)])
      expect(phi.decode(phi.encode(text))).toBe(text);
  });
});

describe('byte-level options', () => {
  it('honours ignore_merges (Llama-3 style): a pre-token found in the vocab is emitted whole', () => {
    const json = JSON.parse(
      readFileSync(`${DATASETS}/gpt2-tokenizer/tokenizer.json`, 'utf8'),
    ) as HfTokenizerJson;
    json.model.vocab['\u0120qwertyuiop'] = 50257; // reachable by no merge
    json.added_tokens = [];
    const plain = importHfTokenizer(json);
    expect(plain.encode(' qwertyuiop').length).toBeGreaterThan(1);
    json.model.ignore_merges = true;
    const ignoring = importHfTokenizer(json);
    expect(ignoring.encode(' qwertyuiop')).toEqual([50257]);
    expect(ignoring.encode(' qwertyuiop!')).toEqual([50257, 0]);
    expect(ignoring.encode(SAMPLE)).toEqual(getTokenizer('gpt2').encode(SAMPLE));
  });
});

describe('import errors', () => {
  it('rejects non-BPE models and broken merges with a field', () => {
    const bad = { model: { type: 'Unigram', vocab: {}, merges: [] } };
    expect(() => importHfTokenizer(bad)).toThrow(TokenizerError);
    try {
      importHfTokenizer({ model: { type: 'BPE', vocab: { a: 0 }, merges: ['a b'] } });
      expect.unreachable();
    } catch (err) {
      expect((err as TokenizerError).field).toBe('model.merges');
    }
  });
});

import { describe, expect, it } from 'vitest';
import {
  CharTokenizer,
  getTokenizer,
  loadTokenizer,
  StreamingDecoder,
  TokenizerError,
  trainBpe,
} from '../src/index.ts';
import { CORPUS, DATASETS, randomText, rng, SHAKESPEARE } from './helpers.ts';

const cl100k = getTokenizer('cl100k_base');

describe('round trip decode(encode(s)) === s', () => {
  it.each(['gpt2', 'cl100k_base', 'o200k_base'] as const)('%s over random unicode strings', (name) => {
    const tok = getTokenizer(name);
    const next = rng(42);
    for (let i = 0; i < 500; i++) {
      const text = randomText(next, 60);
      expect(tok.decode(tok.encode(text))).toBe(text);
    }
  });

  it('for a trained tokenizer and a char tokenizer', async () => {
    const trained = await trainBpe(SHAKESPEARE.slice(0, 100_000), { vocabSize: 500 });
    const chars = CharTokenizer.fromText(SHAKESPEARE);
    const next = rng(7);
    for (let i = 0; i < 200; i++) {
      const text = randomText(next);
      expect(trained.decode(trained.encode(text))).toBe(text);
    }
    const plain = SHAKESPEARE.slice(1000, 3000);
    expect(chars.decode(chars.encode(plain))).toBe(plain);
  });
});

describe('encode API', () => {
  it('encodes empty text to []', () => {
    expect(cl100k.encode('')).toEqual([]);
    expect(cl100k.encodeWithOffsets('')).toEqual([]);
    expect(cl100k.encodeBytes(new Uint8Array())).toEqual([]);
  });

  it('batch-encodes like encode', () => {
    expect(cl100k.encodeBatch(CORPUS)).toEqual(CORPUS.map((t) => cl100k.encode(t)));
  });

  it('encodes UTF-8 bytes and rejects invalid UTF-8 with field "bytes"', () => {
    expect(cl100k.encodeBytes(Buffer.from('héllo 😀'))).toEqual(cl100k.encode('héllo 😀'));
    try {
      cl100k.encodeBytes(new Uint8Array([0x68, 0xc3, 0x28]));
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(TokenizerError);
      expect((err as TokenizerError).field).toBe('bytes');
      expect((err as Error).message).toMatch(/UTF-8/);
    }
  });

  it('rejects unknown special names in allowedSpecial', () => {
    expect(() => cl100k.encode('x', { allowedSpecial: ['<|nope|>'] })).toThrow(/nope/);
  });

  it('allows a subset of specials and still forbids the others', () => {
    const text = '<|endoftext|><|fim_prefix|>';
    expect(() => cl100k.encode(text, { allowedSpecial: ['<|endoftext|>'] })).toThrow(/<\|fim_prefix\|>/);
    expect(cl100k.encode(text, { allowedSpecial: ['<|endoftext|>'], disallowedSpecial: [] })[0]).toBe(100257);
  });

  it('decodes ids that split a character into U+FFFD, and rejects unknown ids', () => {
    const ids = getTokenizer('gpt2').encode('😀');
    expect(ids.length).toBeGreaterThan(1);
    expect(getTokenizer('gpt2').decode(ids.slice(0, 1))).toBe('\ufffd');
    expect(() => cl100k.decode([10_000_000])).toThrow(TokenizerError);
  });
});

describe('encodeWithOffsets', () => {
  it('gives spans that tile ASCII text', () => {
    const text = "Hello, world! It's 2024.";
    const spans = cl100k.encodeWithOffsets(text);
    expect(spans.map((s) => s.id)).toEqual(cl100k.encode(text));
    expect(spans.map((s) => text.slice(s.start, s.end)).join('')).toBe(text);
    expect(spans.map((s) => text.slice(s.start, s.end))).toEqual(spans.map((s) => cl100k.decode([s.id])));
  });

  it('gives tokens that split a character the span of that character', () => {
    const gpt2 = getTokenizer('gpt2');
    const text = 'a😀b';
    const spans = gpt2.encodeWithOffsets(text);
    const emoji = spans.filter((s) => s.start === 1);
    expect(emoji.length).toBeGreaterThan(1);
    for (const s of emoji) expect([s.start, s.end]).toEqual([1, 3]);
    expect(spans[0]).toEqual({ id: gpt2.encode('a')[0], start: 0, end: 1 });
    expect(spans[spans.length - 1].end).toBe(4);
  });

  it('covers specials and SentencePiece models', () => {
    const spans = cl100k.encodeWithOffsets('hi<|endoftext|>yo', { allowedSpecial: 'all' });
    expect(spans.map((s) => [s.start, s.end])).toEqual([
      [0, 2],
      [2, 15],
      [15, 17],
    ]);
    const phi = loadTokenizer(`${DATASETS}/hf-tokenizer-phi3-mini`);
    const text = 'Hello world';
    expect(phi.encodeWithOffsets(text).map((s) => text.slice(s.start, s.end))).toEqual(['Hello', ' world']);
  });
});

describe('StreamingDecoder', () => {
  it('emits only complete characters and equals decode() overall', () => {
    const gpt2 = getTokenizer('gpt2');
    const text = 'héllo 😀 日本語 👩‍👩‍👧 done';
    const dec = new StreamingDecoder(gpt2);
    const pieces = gpt2.encode(text).map((id) => dec.push(id));
    pieces.push(dec.flush());
    expect(pieces.join('')).toBe(text);
    expect(pieces.some((p) => p.includes('\ufffd'))).toBe(false);
    // the first byte of the emoji alone completes nothing
    const d2 = new StreamingDecoder(gpt2);
    const emojiIds = gpt2.encode('😀');
    expect(d2.push(emojiIds[0])).toBe('');
    expect(d2.pushMany(emojiIds.slice(1))).toBe('😀');
  });

  it('flushes an incomplete character as U+FFFD', () => {
    const gpt2 = getTokenizer('gpt2');
    const dec = new StreamingDecoder(gpt2);
    expect(dec.push(gpt2.encode('😀')[0])).toBe('');
    expect(dec.flush()).toBe('\ufffd');
  });

  it('drops the SentencePiece prepended space once', () => {
    const phi = loadTokenizer(`${DATASETS}/hf-tokenizer-phi3-mini`);
    const dec = new StreamingDecoder(phi);
    const out = phi.encode('Hello big world').map((id) => dec.push(id));
    expect(out.join('') + dec.flush()).toBe('Hello big world');
  });
});

describe('encodeStream', () => {
  async function collect(gen: AsyncGenerator<number[]>): Promise<number[]> {
    const all: number[] = [];
    for await (const ids of gen) all.push(...ids);
    return all;
  }

  it.each(['gpt2', 'cl100k_base', 'o200k_base'] as const)(
    '%s equals encoding the whole text',
    async (name) => {
      const tok = getTokenizer(name);
      const text = `${SHAKESPEARE.slice(0, 300_000)}\n${CORPUS.join('  \n\n ')}<|endoftext|> tail 😀`;
      const next = rng(3);
      async function* chunks(): AsyncGenerator<string> {
        for (let i = 0; i < text.length; ) {
          const n = 1 + Math.floor(next() * 5000);
          yield text.slice(i, i + n);
          i += n;
        }
      }
      const opts = { allowedSpecial: 'all' as const };
      expect(await collect(tok.encodeStream(chunks(), opts))).toEqual(tok.encode(text, opts));
    },
  );

  it.each(['gpt2', 'cl100k_base', 'o200k_base'] as const)(
    '%s: a cut never falls right after a whitespace run (its split depends on what follows)',
    async (name) => {
      const tok = getTokenizer(name);
      // Blank lines between speeches: with 64 KiB reads some cut lands on "\n\n|NAME:".
      const text = SHAKESPEARE.repeat(2);
      const bytes = Buffer.from(text, 'utf8');
      const chunks: Uint8Array[] = [];
      for (let i = 0; i < bytes.length; i += 65_536) chunks.push(bytes.subarray(i, i + 65_536));
      expect(await collect(tok.encodeStream(chunks))).toEqual(tok.encode(text));
    },
  );

  it('accepts UTF-8 byte chunks split inside characters', async () => {
    const text = '日本語😀 '.repeat(30_000);
    const bytes = Buffer.from(text, 'utf8');
    const chunks: Uint8Array[] = [];
    for (let i = 0; i < bytes.length; i += 4099) chunks.push(bytes.subarray(i, i + 4099));
    expect(await collect(cl100k.encodeStream(chunks))).toEqual(cl100k.encode(text));
  });

  it('rejects invalid UTF-8 in byte chunks', async () => {
    await expect(collect(cl100k.encodeStream([new Uint8Array([0xff, 0xfe])]))).rejects.toMatchObject({
      field: 'bytes',
    });
  });
});

describe('CharTokenizer', () => {
  const tok = CharTokenizer.fromText(SHAKESPEARE);
  it('has the sorted distinct characters as vocab (nanoGPT shakespeare_char)', () => {
    expect(tok.vocabSize).toBe(65);
    expect(tok.chars[0]).toBe('\n');
    expect(tok.chars[1]).toBe(' ');
    expect(tok.encode('hii there')).toEqual([46, 47, 47, 1, 58, 46, 43, 56, 43]);
  });

  it('throws a clear error on an unknown character', () => {
    expect(() => tok.encode('hi 😀')).toThrow(/U\+1F600/);
    expect(() => tok.encode('hi 😀')).toThrow(TokenizerError);
  });

  it('counts astral characters as one token', () => {
    const emoji = CharTokenizer.fromText('a😀b😀');
    expect(emoji.chars).toEqual(['a', 'b', '😀']);
    expect(emoji.encode('😀a')).toEqual([2, 0]);
    expect(emoji.encodeWithOffsets('a😀')).toEqual([
      { id: 0, start: 0, end: 1 },
      { id: 2, start: 1, end: 3 },
    ]);
  });
});

describe('encodeStream with one huge pre-token', () => {
  it('still equals encoding the whole text', async () => {
    const tok = getTokenizer('cl100k_base');
    const text = `start ${'abcdefghij'.repeat(30_000)} end\n${SHAKESPEARE.slice(0, 50_000)}`;
    async function* chunks(): AsyncGenerator<string> {
      for (let i = 0; i < text.length; i += 10_000) yield text.slice(i, i + 10_000);
    }
    const all: number[] = [];
    let batches = 0;
    for await (const ids of tok.encodeStream(chunks())) {
      all.push(...ids);
      batches++;
    }
    expect(all).toEqual(tok.encode(text));
    expect(batches).toBeGreaterThan(1);
  });
});

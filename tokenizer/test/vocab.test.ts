import { describe, expect, it } from 'vitest';
import {
  byteLevelToByteString,
  byteStringToUtf8,
  exportHfTokenizer,
  getTokenizer,
  parseTokenizerJson,
  serializeTokenizer,
  trainBpe,
  vocabPage,
} from '../src/index.ts';
import { SHAKESPEARE } from './helpers.ts';

const printable = (piece: string) => byteStringToUtf8(byteLevelToByteString(piece)!);

describe('vocabPage', () => {
  it('gives each merged id of a rank tokenizer the pair its tokenizer.json export lists for it', () => {
    const tok = getTokenizer('gpt2');
    const merges = exportHfTokenizer(tok).model.merges as string[];
    for (const offset of [0, 200, 25_000, 50_150]) {
      for (const row of vocabPage(tok, offset, 100)) {
        if (row.id < 256 || row.special) {
          expect(row.merge).toBeUndefined();
          continue;
        }
        const [left, right] = merges[row.id - 256]!.split(' ');
        expect(row.merge).toEqual([printable(left!), printable(right!)]);
        // A side holding part of a character shows U+FFFD, so only sides of whole characters add up.
        if (!row.merge!.join('').includes('\ufffd')) expect(row.merge!.join('')).toBe(row.text);
      }
    }
  });

  it('skips the holes of cl100k_base and names its special tokens', () => {
    const rows = vocabPage(getTokenizer('cl100k_base'), 100_250, 100);
    const ids = rows.map((r) => r.id);
    expect(ids).toContain(100_255);
    expect(ids).not.toContain(100_256);
    expect(rows.find((r) => r.id === 100_257)).toMatchObject({ text: '<|endoftext|>', special: true });
    expect(vocabPage(getTokenizer('cl100k_base'), 200_000, 100)).toEqual([]);
  });

  it('finds the merges of a tokenizer.json model by the token they make', async () => {
    const trained = await trainBpe(SHAKESPEARE.slice(0, 100_000), { vocabSize: 400, pattern: 'gpt2' });
    const reloaded = parseTokenizerJson(JSON.stringify(serializeTokenizer(trained)), 'reloaded');
    const fromJson = vocabPage(reloaded, 250, 150);
    expect(fromJson).toEqual(vocabPage(trained, 250, 150));
    expect(fromJson.filter((r) => r.merge).length).toBe(400 - 256);
  });
});

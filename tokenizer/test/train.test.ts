import { describe, expect, it } from 'vitest';
import {
  describeTrainReport,
  type RankTokenizer,
  TokenizerError,
  trainBpe,
  trainBpeWithReport,
} from '../src/index.ts';
import { SHAKESPEARE } from './helpers.ts';

/**
 * Reference trainer: recounts every pair over all words before each merge (what the incremental trainer
 * must never do, but must agree with). Same tie-break: highest count, then smallest (left id, right id).
 */
function naiveMerges(text: string, merges: number): string[] {
  const re = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;
  const counts = new Map<string, number>();
  for (const w of text.match(re) ?? []) counts.set(w, (counts.get(w) ?? 0) + 1);
  const words = [...counts].map(([w, c]) => ({ syms: [...Buffer.from(w, 'utf8')], c }));
  const bytes: string[] = Array.from({ length: 256 }, (_, i) => String.fromCharCode(i));
  const ids = new Map(bytes.map((b, i) => [b, i]));
  const learned: string[] = [];
  while (learned.length < merges) {
    const pc = new Map<number, number>();
    for (const { syms, c } of words) {
      for (let i = 0; i + 1 < syms.length; i++) {
        const k = syms[i] * 2 ** 21 + syms[i + 1];
        pc.set(k, (pc.get(k) ?? 0) + c);
      }
    }
    let best = -1;
    let bestC = 0;
    for (const [k, c] of pc) if (c > bestC || (c === bestC && k < best)) [best, bestC] = [k, c];
    if (best < 0 || bestC < 2) break;
    const a = Math.floor(best / 2 ** 21);
    const b = best % 2 ** 21;
    const merged = bytes[a] + bytes[b];
    let id = ids.get(merged);
    if (id === undefined) {
      id = bytes.length;
      bytes.push(merged);
      ids.set(merged, id);
      learned.push(merged);
    }
    for (const w of words) {
      const out: number[] = [];
      for (let i = 0; i < w.syms.length; i++) {
        if (i + 1 < w.syms.length && w.syms[i] === a && w.syms[i + 1] === b) {
          out.push(id);
          i++;
        } else out.push(w.syms[i]);
      }
      w.syms = out;
    }
  }
  return learned;
}

function learnedTokens(tok: RankTokenizer): string[] {
  return [...tok.ranks]
    .filter(([, r]) => r >= 256)
    .sort((x, y) => x[1] - y[1])
    .map(([b]) => b);
}

describe('trainBpe', () => {
  const text = SHAKESPEARE.slice(0, 200_000);

  it('learns the same merges, in the same order, as a full-recount reference', async () => {
    const tok = await trainBpe(text.slice(0, 50_000), { vocabSize: 256 + 300, pattern: 'gpt2' });
    expect(learnedTokens(tok)).toEqual(naiveMerges(text.slice(0, 50_000), 300));
  });

  it('reaches the requested vocab size with specials last and is deterministic', async () => {
    const opts = { vocabSize: 1024, specialTokens: ['<|endoftext|>', '<|pad|>'] };
    const a = await trainBpe(text, opts);
    const b = await trainBpe(text, opts);
    expect(a.vocabSize).toBe(1024);
    expect(a.specialTokens.get('<|endoftext|>')).toBe(1022);
    expect(a.specialTokens.get('<|pad|>')).toBe(1023);
    expect([...a.ranks]).toEqual([...b.ranks]);
    expect(a.ranks.get(' the')).toBeDefined();
    const sample = SHAKESPEARE.slice(500_000, 510_000);
    const ids = a.encode(sample);
    expect(ids.length).toBeLessThan(sample.length / 2);
    expect(a.decode(ids)).toBe(sample);
  });

  it('gives the same result from an async iterable of chunks as from one string', async () => {
    async function* chunks(): AsyncGenerator<string> {
      for (let i = 0; i < text.length; i += 7_777) yield text.slice(i, i + 7_777);
    }
    const whole = await trainBpe(text, { vocabSize: 800 });
    const streamed = await trainBpe(chunks(), { vocabSize: 800 });
    expect([...streamed.ranks]).toEqual([...whole.ranks]);
  });

  it('keeps special tokens out of the learned merges', async () => {
    const withSpecials = `${'<|sep|>hello world '.repeat(500)}`;
    const tok = await trainBpe(withSpecials, { vocabSize: 300, specialTokens: ['<|sep|>'] });
    expect(learnedTokens(tok).some((t) => t.includes('<|sep'))).toBe(false);
    expect(tok.encode('<|sep|>hello', { allowedSpecial: 'all' })[0]).toBe(tok.specialTokens.get('<|sep|>'));
  });

  it('stops early when pairs fall below minFrequency, breaking count ties by smallest ids', async () => {
    // words 'abcd', ' abcd', ' xyz': ab, bc, cd tie at 2 -> 'ab' (97,98) first; then (c,d) beats (ab,c)
    const tok = await trainBpe('abcd abcd xyz', { vocabSize: 1000, minFrequency: 2 });
    expect(learnedTokens(tok)).toEqual(['ab', 'cd', 'abcd']);
    expect(tok.vocabSize).toBe(259);
    const all = await trainBpe('abcd abcd xyz', { vocabSize: 1000, minFrequency: 1 });
    expect(learnedTokens(all)).toContain(' xyz');
  });

  it('reports the merges actually learned and why it stopped', async () => {
    const small = await trainBpeWithReport('abcd abcd xyz', { vocabSize: 1000 });
    expect(small.report).toEqual({ merges: 3, requested: 744, stopReason: 'min_frequency', minFrequency: 2 });
    expect(describeTrainReport(small.report)).toMatch(
      /learned 3 of 744 merges.*no pair of tokens occurs twice/,
    );
    const all = await trainBpeWithReport('ab ab', { vocabSize: 1000, minFrequency: 1 });
    expect(all.report.stopReason).toBe('no_pairs');
    const full = await trainBpeWithReport(text, { vocabSize: 300 });
    expect(full.report).toMatchObject({ merges: 44, requested: 44, stopReason: 'vocab_size' });
    expect(describeTrainReport(full.report)).toBe('learned 44 of 44 merges: the vocabulary is full');
  });

  it('reports progress monotonically up to the total', async () => {
    const seen: [number, number][] = [];
    await trainBpe(text, { vocabSize: 600, onProgress: (d, t) => seen.push([d, t]) });
    expect(seen.length).toBeGreaterThan(5);
    for (let i = 1; i < seen.length; i++) expect(seen[i][0]).toBeGreaterThanOrEqual(seen[i - 1][0]);
    expect(seen[seen.length - 1]).toEqual([344, 344]);
  });

  it('rejects a vocab size below 256 + specials, naming vocabSize', async () => {
    await expect(trainBpe(text, { vocabSize: 257, specialTokens: ['<a>', '<b>'] })).rejects.toThrow(
      /vocabSize/,
    );
    await expect(trainBpe(text, { vocabSize: 100 })).rejects.toMatchObject({ field: 'vocabSize' });
    await expect(trainBpe(text, { vocabSize: 100 })).rejects.toBeInstanceOf(TokenizerError);
  });
});

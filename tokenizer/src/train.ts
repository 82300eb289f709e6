import { TokenizerError } from './errors.ts';
import { TripleHeap } from './heap.ts';
import { BUILTIN_PATTERNS, compilePattern } from './patterns.ts';
import { RankTokenizer } from './rank-tokenizer.ts';

export interface TrainOptions {
  /** Final vocabulary size including the 256 byte tokens and the special tokens. */
  vocabSize: number;
  /** Stop merging when the best pair occurs fewer times than this (default 2). */
  minFrequency?: number;
  /** Appended after the merges, in order. */
  specialTokens?: readonly string[];
  /** 'gpt2' | 'cl100k' | 'o200k' or a custom regex (tiktoken syntax). Default 'cl100k'. */
  pattern?: string;
  name?: string;
  /** Called periodically with merges done so far and the merge budget. */
  onProgress?: (done: number, total: number) => void;
}

export type TrainingInput = string | Iterable<string> | AsyncIterable<string>;

/**
 * Why merging ended: the vocabulary is full (`vocab_size`), the most frequent pair left occurs fewer than
 * minFrequency times (`min_frequency`), or no pair is left at all because every pre-token is one token
 * (`no_pairs`).
 */
export type StopReason = 'vocab_size' | 'min_frequency' | 'no_pairs';

/** What a training run learned, which can be less than the vocabulary size asked for. */
export interface TrainReport {
  /** Merges learned: the vocabulary is 256 + merges + special tokens. */
  merges: number;
  /** Merges the requested vocabulary size called for. */
  requested: number;
  stopReason: StopReason;
  minFrequency: number;
}

/** A sentence for a learner: how many merges were learned and why it stopped there. */
export function describeTrainReport(r: TrainReport): string {
  const learned = `learned ${r.merges.toLocaleString('en-US')} of ${r.requested.toLocaleString('en-US')} merges`;
  if (r.stopReason === 'vocab_size') return `${learned}: the vocabulary is full`;
  const times = r.minFrequency === 2 ? 'twice' : `${r.minFrequency} times`;
  const why =
    r.stopReason === 'min_frequency'
      ? `no pair of tokens occurs ${times} any more (minimum frequency ${r.minFrequency})`
      : 'every word is already a single token';
  return `${learned}, then stopped: ${why}. More text would let it learn more.`;
}

const SHIFT = 2 ** 21;
const HOLD = 64;

/** Counts pre-token frequencies; only unique words take part in merging afterwards. */
class WordCounter {
  readonly counts = new Map<string, number>();
  private readonly re: RegExp;
  private readonly specials: RegExp | null;
  private carry = '';

  constructor(pattern: string, specials: readonly string[]) {
    this.re = compilePattern(pattern);
    this.specials =
      specials.length > 0
        ? new RegExp(specials.map((s) => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')).join('|'), 'g')
        : null;
  }

  push(chunk: string, final: boolean): void {
    let text = this.carry + chunk;
    this.carry = '';
    if (!final) {
      // keep back the tail so a pre-token (or special) split by the chunk boundary is counted whole
      if (text.length <= HOLD * 2) {
        this.carry = text;
        return;
      }
      const cut = this.lastBoundary(text, text.length - HOLD);
      this.carry = text.slice(cut);
      text = text.slice(0, cut);
    }
    if (this.specials) for (const part of text.split(this.specials)) this.countSegment(part);
    else this.countSegment(text);
  }

  private lastBoundary(text: string, limit: number): number {
    // a newline followed by a non-space char ends a pre-token in all built-in patterns
    let i = text.lastIndexOf('\n', limit);
    while (i > 0 && /\s/.test(text[i + 1] ?? ' ')) i = text.lastIndexOf('\n', i - 1);
    return i > 0 ? i + 1 : 0;
  }

  private countSegment(seg: string): void {
    const re = this.re;
    const counts = this.counts;
    re.lastIndex = 0;
    let pos = 0;
    for (let m = re.exec(seg); m !== null; m = re.exec(seg)) {
      const w = m[0];
      if (w.length === 0) {
        re.lastIndex++;
        continue;
      }
      if (m.index > pos) {
        const gap = seg.slice(pos, m.index);
        counts.set(gap, (counts.get(gap) ?? 0) + 1);
      }
      counts.set(w, (counts.get(w) ?? 0) + 1);
      pos = m.index + w.length;
    }
    if (pos < seg.length) {
      const gap = seg.slice(pos);
      counts.set(gap, (counts.get(gap) ?? 0) + 1);
    }
  }
}

/**
 * Trains a byte-level BPE tokenizer (tiktoken-style ranks: bytes 0..255 then merges, specials last).
 *
 * Pair statistics are maintained incrementally: a pair -> count map plus a pair -> word index, and a lazy
 * max-heap; a merge only revisits the words that contain the merged pair. Deterministic tie-break: among pairs
 * with the same count, the one with the smallest (left id, right id) wins.
 */
export async function trainBpe(input: TrainingInput, options: TrainOptions): Promise<RankTokenizer> {
  return (await trainBpeWithReport(input, options)).tokenizer;
}

/** trainBpe, also saying how many merges it learned and why it stopped. */
export async function trainBpeWithReport(
  input: TrainingInput,
  options: TrainOptions,
): Promise<{ tokenizer: RankTokenizer; report: TrainReport }> {
  const specials = options.specialTokens ?? [];
  const { vocabSize } = options;
  if (!Number.isInteger(vocabSize) || vocabSize < 256 + specials.length) {
    throw new TokenizerError(
      'vocabSize',
      `vocabSize must be an integer >= 256 + number of special tokens (${256 + specials.length}), got ${vocabSize}`,
    );
  }
  if (vocabSize >= SHIFT) throw new TokenizerError('vocabSize', `vocabSize must be < ${SHIFT}`);
  const minFrequency = options.minFrequency ?? 2;
  if (!Number.isFinite(minFrequency) || minFrequency < 1) {
    throw new TokenizerError('minFrequency', 'minFrequency must be >= 1');
  }
  if (new Set(specials).size !== specials.length || specials.some((s) => s.length === 0)) {
    throw new TokenizerError('specialTokens', 'specialTokens must be distinct non-empty strings');
  }
  const pattern = BUILTIN_PATTERNS[options.pattern ?? 'cl100k'] ?? options.pattern!;
  const counter = new WordCounter(pattern, specials);
  if (typeof input === 'string') counter.push(input, true);
  else {
    for await (const chunk of input as AsyncIterable<string>) {
      if (typeof chunk !== 'string')
        throw new TokenizerError('input', 'training input chunks must be strings');
      counter.push(chunk, false);
    }
    counter.push('', true);
  }

  const totalMerges = vocabSize - 256 - specials.length;
  const tokenBytes: string[] = [];
  for (let b = 0; b < 256; b++) tokenBytes.push(String.fromCharCode(b));
  const ranks = new Map<string, number>(tokenBytes.map((s, i) => [s, i]));

  // flat symbol storage: word w occupies sym[start[w] .. start[w]+len[w])
  const words = [...counter.counts];
  let totalLen = 0;
  const byteWords: string[] = words.map(([w]) => {
    const b = Buffer.from(w, 'utf8').toString('latin1');
    totalLen += b.length;
    return b;
  });
  const nWords = words.length;
  const sym = new Int32Array(totalLen);
  const start = new Int32Array(nWords);
  const len = new Int32Array(nWords);
  const freq = new Float64Array(nWords);
  const pairCount = new Map<number, number>();
  const pairWords = new Map<number, number[]>();
  let off = 0;
  for (let w = 0; w < nWords; w++) {
    const b = byteWords[w];
    start[w] = off;
    len[w] = b.length;
    freq[w] = words[w][1];
    for (let i = 0; i < b.length; i++) sym[off + i] = b.charCodeAt(i);
    for (let i = 0; i + 1 < b.length; i++) {
      const key = sym[off + i] * SHIFT + sym[off + i + 1];
      pairCount.set(key, (pairCount.get(key) ?? 0) + freq[w]);
      const list = pairWords.get(key);
      if (list === undefined) pairWords.set(key, [w]);
      else if (list[list.length - 1] !== w) list.push(w);
    }
    off += b.length;
  }

  const heap = new TripleHeap();
  for (const [key, c] of pairCount) heap.push(-c, key, c);
  const seen = new Int32Array(nWords).fill(-1);
  const progressEvery = Math.max(1, Math.floor(totalMerges / 100));
  let done = 0;
  let stamp = 0;
  const touched = new Set<number>();
  let stopReason: StopReason = 'no_pairs';

  while (done < totalMerges && heap.size > 0) {
    const key = heap.topB();
    const c = heap.topPayload();
    heap.pop();
    const current = pairCount.get(key) ?? 0;
    if (current !== c) {
      if (current > 0) heap.push(-current, key, current);
      continue;
    }
    if (c < minFrequency) {
      stopReason = 'min_frequency';
      break;
    }
    const a = Math.floor(key / SHIFT);
    const b = key - a * SHIFT;
    const merged = tokenBytes[a] + tokenBytes[b];
    let id = ranks.get(merged);
    if (id === undefined) {
      id = tokenBytes.length;
      tokenBytes.push(merged);
      ranks.set(merged, id);
      done++;
    }
    touched.clear();
    stamp++;
    const list = pairWords.get(key)!;
    for (const w of list) {
      if (seen[w] === stamp) continue;
      seen[w] = stamp;
      const s0 = start[w];
      const n = len[w];
      let found = false;
      for (let i = 0; i + 1 < n; i++) {
        if (sym[s0 + i] === a && sym[s0 + i + 1] === b) {
          found = true;
          break;
        }
      }
      if (!found) continue;
      const f = freq[w];
      for (let i = 0; i + 1 < n; i++) {
        const k = sym[s0 + i] * SHIFT + sym[s0 + i + 1];
        pairCount.set(k, pairCount.get(k)! - f);
      }
      let j = 0;
      for (let i = 0; i < n; i++) {
        if (i + 1 < n && sym[s0 + i] === a && sym[s0 + i + 1] === b) {
          sym[s0 + j++] = id;
          i++;
        } else sym[s0 + j++] = sym[s0 + i];
      }
      len[w] = j;
      for (let i = 0; i + 1 < j; i++) {
        const x = sym[s0 + i];
        const y = sym[s0 + i + 1];
        const k = x * SHIFT + y;
        pairCount.set(k, (pairCount.get(k) ?? 0) + f);
        if (x === id || y === id) {
          touched.add(k);
          const pl = pairWords.get(k);
          if (pl === undefined) pairWords.set(k, [w]);
          else if (pl[pl.length - 1] !== w) pl.push(w);
        }
      }
    }
    pairWords.delete(key);
    pairCount.delete(key);
    for (const k of touched) {
      const cnt = pairCount.get(k)!;
      if (cnt > 0) heap.push(-cnt, k, cnt);
    }
    if (options.onProgress && done % progressEvery === 0) options.onProgress(done, totalMerges);
  }
  options.onProgress?.(done, totalMerges);
  if (done === totalMerges) stopReason = 'vocab_size';

  const specialTokens = new Map<string, number>();
  specials.forEach((s, i) => {
    specialTokens.set(s, tokenBytes.length + i);
  });
  return {
    tokenizer: new RankTokenizer({ name: options.name ?? 'trained-bpe', ranks, specialTokens, pattern }),
    report: { merges: done, requested: totalMerges, stopReason, minFrequency },
  };
}

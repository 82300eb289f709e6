// Corpus TER as sacrebleu computes it by default (its Tercom re-implementation): lowercased, whitespace
// tokens, greedy block shifts chosen by Tercom's ranking, then a beam-limited word edit distance. Per segment
// the fewest edits over the references and their average length; corpus TER = sum of edits / sum of
// average reference lengths. Scale 0-100 (an edit rate, so lower is better and it may exceed 100).
//
// The limits and tie-breaking below decide the result on long or repetitive segments, which is why they
// follow sacrebleu's choices rather than an exact minimum-edit search.
import { pyRstrip, pySplit } from './python-text.ts';

const MAX_SHIFT_SIZE = 10;
const MAX_SHIFT_DIST = 50;
const BEAM_WIDTH = 25;
const MAX_SHIFT_CANDIDATES = 1000;

// Edit operations as sacrebleu traces them (rewriting the hypothesis into the reference), as char codes.
const NOP = 32; // ' ' match
const SUB = 115; // 's'
const INS = 105; // 'i' consume a reference word
const DEL = 100; // 'd' consume a hypothesis word
const UNDEF = 120; // 'x' outside the beam

/** One row of the edit matrix: costs and the operation that reached each cell. */
interface Row {
  cost: Float64Array;
  op: Uint8Array;
}

type CacheNode = Map<string, { next: CacheNode; row: Row }>;

/** Edit distance to a fixed reference, reusing matrix rows of hypotheses that share a prefix. */
class BeamEditDistance {
  private readonly firstRow: Row;
  private readonly cache: CacheNode = new Map();
  private cacheSize = 0;

  constructor(private readonly ref: readonly string[]) {
    const m = ref.length;
    this.firstRow = {
      cost: Float64Array.from({ length: m + 1 }, (_, j) => j),
      op: new Uint8Array(m + 1).fill(INS),
    };
  }

  distance(hyp: readonly string[]): { cost: number; trace: string } {
    // Rows depend only on the hypothesis prefix (all hypotheses compared here have one length), so a
    // cached row is the row a fresh computation would give.
    const rows: Row[] = [this.firstRow];
    let node = this.cache;
    for (const w of hyp) {
      const hit = node.get(w);
      if (!hit) break;
      rows.push(hit.row);
      node = hit.next;
    }
    const start = rows.length - 1;
    const n = hyp.length;
    const m = this.ref.length;
    const ratio = n > 0 ? m / n : 1;
    const beam = BEAM_WIDTH < ratio / 2 ? Math.ceil(ratio / 2 + BEAM_WIDTH) : BEAM_WIDTH;
    for (let i = start + 1; i <= n; i++) {
      const row: Row = {
        cost: new Float64Array(m + 1).fill(Infinity),
        op: new Uint8Array(m + 1).fill(UNDEF),
      };
      const prev = rows[i - 1]!;
      rows.push(row);
      const diag = Math.floor(i * ratio);
      const minJ = Math.max(0, diag - beam);
      const maxJ = i === n ? m + 1 : Math.min(m + 1, diag + beam);
      for (let j = minJ; j < maxJ; j++) {
        if (j === 0) {
          row.cost[0] = prev.cost[0]! + 1;
          row.op[0] = DEL;
          continue;
        }
        // On equal cost the first wins: match/substitute, then delete, then insert (sacrebleu flips Tercom's
        // insert/delete preference because it aligns from the inverted trace).
        const same = hyp[i - 1] === this.ref[j - 1];
        const sub = prev.cost[j - 1]! + (same ? 0 : 1);
        if (row.cost[j]! > sub) {
          row.cost[j] = sub;
          row.op[j] = same ? NOP : SUB;
        }
        const del = prev.cost[j]! + 1;
        if (row.cost[j]! > del) {
          row.cost[j] = del;
          row.op[j] = DEL;
        }
        const ins = row.cost[j - 1]! + 1;
        if (row.cost[j]! > ins) {
          row.cost[j] = ins;
          row.op[j] = INS;
        }
      }
    }
    this.remember(hyp, rows);
    const ops: number[] = [];
    let i = n;
    let j = m;
    while (i > 0 || j > 0) {
      const op = rows[i]!.op[j]!;
      ops.push(op);
      if (op === NOP || op === SUB) {
        i--;
        j--;
      } else if (op === INS) j--;
      else if (op === DEL) i--;
      else throw new Error(`TER: unreachable cell (${i}, ${j})`);
    }
    return {
      cost: rows[n]!.cost[m]!,
      trace: ops
        .reverse()
        .map((c) => String.fromCharCode(c))
        .join(''),
    };
  }

  private remember(hyp: readonly string[], rows: Row[]): void {
    if (this.cacheSize >= 10000) return;
    let node = this.cache;
    for (let i = 0; i < hyp.length; i++) {
      let hit = node.get(hyp[i]!);
      if (!hit) {
        hit = { next: new Map(), row: rows[i + 1]! };
        node.set(hyp[i]!, hit);
        this.cacheSize++;
      }
      node = hit.next;
    }
  }
}

/** Which words are in error on each side, and where each reference position lands in the hypothesis. */
function alignment(trace: string) {
  let h = -1;
  let r = -1;
  const hypErr: number[] = [];
  const refErr: number[] = [];
  const align = new Map<number, number>();
  for (const op of trace) {
    if (op === ' ' || op === 's') {
      h++;
      r++;
      align.set(r, h);
      const err = op === 's' ? 1 : 0;
      hypErr.push(err);
      refErr.push(err);
    } else if (op === 'd') {
      h++;
      hypErr.push(1);
    } else if (op === 'i') {
      r++;
      align.set(r, h);
      refErr.push(1);
    }
  }
  return { align, hypErr, refErr };
}

function shifted(words: readonly string[], start: number, length: number, target: number): string[] {
  const block = words.slice(start, start + length);
  if (target < start) {
    return [
      ...words.slice(0, target),
      ...block,
      ...words.slice(target, start),
      ...words.slice(start + length),
    ];
  }
  if (target > start + length) {
    return [
      ...words.slice(0, start),
      ...words.slice(start + length, target),
      ...block,
      ...words.slice(target),
    ];
  }
  return [
    ...words.slice(0, start),
    ...words.slice(start + length, length + target),
    ...block,
    ...words.slice(length + target),
  ];
}

const sum = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0);

/** The best single shift (by Tercom's ranking) and how many candidates have been tried so far. */
function bestShift(
  hyp: readonly string[],
  ref: readonly string[],
  ed: BeamEditDistance,
  checked: number,
): { gain: number; words: readonly string[]; checked: number } {
  const before = ed.distance(hyp);
  const { align, hypErr, refErr } = alignment(before.trace);
  // Ranking: larger gain, then longer block, then earlier start, then earlier target.
  let best: { gain: number; length: number; start: number; target: number; words: string[] } | undefined;
  outer: for (let sh = 0; sh < hyp.length; sh++) {
    for (let sr = 0; sr < ref.length; sr++) {
      if (Math.abs(sr - sh) > MAX_SHIFT_DIST) continue;
      for (let len = 1; len <= MAX_SHIFT_SIZE && hyp[sh + len - 1] === ref[sr + len - 1]; len++) {
        // Only move words that are wrong where they are, to a place where the reference is not matched.
        if (sum(hypErr.slice(sh, sh + len)) > 0 && sum(refErr.slice(sr, sr + len)) > 0) {
          const a = align.get(sr)!;
          if (!(sh <= a && a < sh + len)) {
            let prevTarget = -1;
            for (let off = -1; off < len; off++) {
              let target: number;
              if (sr + off === -1) target = 0;
              else if (align.has(sr + off)) target = align.get(sr + off)! + 1;
              else break;
              if (target === prevTarget) continue;
              prevTarget = target;
              const words = shifted(hyp, sh, len, target);
              const gain = before.cost - ed.distance(words).cost;
              checked++;
              if (
                !best ||
                gain > best.gain ||
                (gain === best.gain &&
                  (len > best.length ||
                    (len === best.length &&
                      (sh < best.start || (sh === best.start && target < best.target)))))
              ) {
                best = { gain, length: len, start: sh, target, words };
              }
            }
          }
        }
        if (checked >= MAX_SHIFT_CANDIDATES) break outer;
        if (sh + len === hyp.length || sr + len === ref.length) break;
      }
    }
  }
  return best ? { gain: best.gain, words: best.words, checked } : { gain: 0, words: hyp, checked };
}

/** Edits (shifts + word edits) to turn the hypothesis into the reference, and the reference length. */
export function terEdits(hyp: readonly string[], ref: readonly string[]): { edits: number; refLen: number } {
  if (ref.length === 0) return { edits: hyp.length, refLen: 0 };
  const ed = new BeamEditDistance(ref);
  let words = hyp;
  let shifts = 0;
  let checked = 0;
  for (;;) {
    const s = bestShift(words, ref, ed, checked);
    checked = s.checked;
    // Past the candidate budget the last search's shift is dropped, as sacrebleu does.
    if (checked >= MAX_SHIFT_CANDIDATES || s.gain <= 0) break;
    shifts++;
    words = s.words;
  }
  return { edits: shifts + ed.distance(words).cost, refLen: ref.length };
}

/** sacrebleu's default TER tokenization: lowercase, whitespace tokens. */
export function terTokens(s: string): string[] {
  return pySplit(pyRstrip(s).toLowerCase());
}

/** Corpus TER: `references[r][i]` is reference r of segment i. */
export function corpusTer(hypotheses: readonly string[], references: readonly (readonly string[])[]): number {
  let edits = 0;
  let refLength = 0;
  hypotheses.forEach((hyp, i) => {
    const h = terTokens(hyp);
    let best = Infinity;
    let lengths = 0;
    for (const set of references) {
      const r = terEdits(h, terTokens(set[i]!));
      lengths += r.refLen;
      best = Math.min(best, r.edits);
    }
    edits += best;
    refLength += lengths / references.length;
  });
  if (refLength > 0) return 100 * (edits / refLength);
  return edits > 0 ? 100 : 0;
}

// Activation patching: run a clean and a corrupted prompt of the same length, then rerun the corrupted
// one with one residual-stream position replaced by the clean run's value there. How much of the clean
// logit difference (target − foil) that single vector restores says where, in layer and position, the
// information that tells the two prompts apart is carried.
import type { TraceModel } from './trace.ts';

export interface PatchOptions {
  /** The token whose logit should win on the clean prompt. */
  target: number;
  /** The token it is compared with (the corrupted prompt's answer, typically). */
  foil: number;
  /** Where the logit difference is read (default: the last position). */
  at?: number;
  /** Residual streams to patch, 0 (embeddings) to L (after the last layer); default all. */
  streams?: readonly number[];
  /** Positions to patch; default all. */
  positions?: readonly number[];
  /** Called after each patched run (done, total); a throw stops the sweep. */
  progress?: (done: number, total: number) => void;
}

export interface PatchResult {
  /** Logit difference (target − foil) of the clean and of the corrupted run. */
  clean: number;
  corrupted: number;
  streams: number[];
  positions: number[];
  /** [streams × positions]: the corrupted run's logit difference with that stream position patched. */
  patched: Float64Array;
}

/** Logit difference (target − foil) at position `at` of logits [T, V]. */
function logitDiff(logits: Float32Array, V: number, at: number, target: number, foil: number): number {
  return logits[at * V + target] - logits[at * V + foil];
}

/** Checks a patching request against the model; messages name the bad field. */
export function checkPatch(
  model: TraceModel,
  clean: readonly number[],
  corrupted: readonly number[],
  o: PatchOptions,
) {
  const { nLayer: L, vocabSize: V, blockSize } = model.cfg;
  const T = clean.length;
  if (T === 0) throw new RangeError('clean: empty');
  if (corrupted.length !== T)
    throw new RangeError(
      `corrupted: ${corrupted.length} tokens, the clean prompt has ${T}; patching needs the same length`,
    );
  if (T > blockSize)
    throw new RangeError(`clean: ${T} tokens, longer than the model's context of ${blockSize}`);
  for (const [name, id] of [
    ['target', o.target],
    ['foil', o.foil],
  ] as const)
    if (!Number.isInteger(id) || id < 0 || id >= V)
      throw new RangeError(`${name}: ${id} is not a token id of this model (0 to ${V - 1})`);
  const at = o.at ?? T - 1;
  if (!Number.isInteger(at) || at < 0 || at >= T)
    throw new RangeError(`at: ${at} is not a position (0 to ${T - 1})`);
  o.streams?.forEach((s, i) => {
    if (!Number.isInteger(s) || s < 0 || s > L)
      throw new RangeError(`streams[${i}]: ${s} is not a residual stream (0 to ${L})`);
  });
  o.positions?.forEach((p, i) => {
    if (!Number.isInteger(p) || p < 0 || p >= T)
      throw new RangeError(`positions[${i}]: ${p} is not a position (0 to ${T - 1})`);
  });
}

/** Patches each stream × position of the clean run into the corrupted one. */
export async function patchSweep(
  model: TraceModel,
  clean: readonly number[],
  corrupted: readonly number[],
  o: PatchOptions,
): Promise<PatchResult> {
  checkPatch(model, clean, corrupted, o);
  const { nLayer: L, nEmbd: C, vocabSize: V } = model.cfg;
  const T = clean.length;
  const at = o.at ?? T - 1;
  const streams = o.streams ? [...o.streams] : Array.from({ length: L + 1 }, (_, i) => i);
  const positions = o.positions ? [...o.positions] : Array.from({ length: T }, (_, i) => i);
  // The clean run supplies the residual stream (a full trace, no lens); the others need the logits only.
  const base = await model.run(clean, { topK: 1, lens: false });
  const bad = await model.run(corrupted, { topK: 1, lossOnly: true, logits: true });
  const diff = (logits: Float32Array | undefined) => logitDiff(logits!, V, at, o.target, o.foil);
  const patched = new Float64Array(streams.length * positions.length);
  const total = patched.length;
  let done = 0;
  for (const [si, s] of streams.entries())
    for (const [pi, p] of positions.entries()) {
      const value = base.resid[s].slice(p * C, (p + 1) * C);
      const run = await model.run(corrupted, {
        topK: 1,
        lossOnly: true,
        logits: true,
        patch: [{ stream: s, position: p, value }],
      });
      patched[si * positions.length + pi] = diff(run.logits);
      o.progress?.(++done, total);
    }
  return { clean: diff(base.logits), corrupted: diff(bad.logits), streams, positions, patched };
}

/** (patched − corrupted) / (clean − corrupted): 1 = the patch restores the clean difference, 0 = nothing. */
export function restored(r: PatchResult): Float64Array {
  const span = r.clean - r.corrupted;
  return r.patched.map((x) => (span === 0 ? 0 : (x - r.corrupted) / span));
}

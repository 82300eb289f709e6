// Learning-rate schedules: linear warm-up, then cosine (the engine's, nanoGPT's), linear or constant.
import { cosineLr } from '@lab/engine';
import type { LrScheduleKind } from './types.ts';

export function lrAt(
  iter: number,
  s: { kind: LrScheduleKind; lr: number; minLr: number; warmup: number; iters: number },
): number {
  if (s.kind === 'cosine')
    return cosineLr(iter, { lr: s.lr, minLr: s.minLr, warmup: s.warmup, decayIters: s.iters });
  if (iter < s.warmup) return (s.lr * (iter + 1)) / (s.warmup + 1);
  if (s.kind === 'constant') return s.lr;
  const span = Math.max(1, s.iters - s.warmup);
  return s.lr + Math.min(1, (iter - s.warmup) / span) * (s.minLr - s.lr);
}

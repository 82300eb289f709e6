// nanoGPT's learning-rate schedule: linear warm-up, cosine decay to minLr, then flat.

export interface LrSchedule {
  lr: number;
  minLr: number;
  warmup: number;
  decayIters: number;
}

export function cosineLr(it: number, s: LrSchedule): number {
  if (it < s.warmup) return (s.lr * (it + 1)) / (s.warmup + 1);
  if (it > s.decayIters) return s.minLr;
  const ratio = (it - s.warmup) / (s.decayIters - s.warmup);
  return s.minLr + 0.5 * (1 + Math.cos(Math.PI * ratio)) * (s.lr - s.minLr);
}

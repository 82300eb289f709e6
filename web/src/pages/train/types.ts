// The Train page's names for parts of the gateway's training shapes (web/src/api.ts derives them from
// gateway/src/routes/train.ts), and helpers over them.
import type { TrainConfig, TrainEvent, TrainJob, TrainJobState } from '../../api.ts';

const TERMINAL: TrainJobState[] = ['completed', 'failed', 'cancelled'];
/** A state a job never leaves. */
export const isTerminal = (s: string) => (TERMINAL as string[]).includes(s);

/** One kept checkpoint: step, validation loss at that step (absent when not evaluated), best of those kept. */
export type CheckpointInfo = TrainJob['checkpointInfo'][number];

/** A job with its kept checkpoints and the retention rule in words. */
export type TrainJobDetail = TrainJob;

/** The form's config, retention rule included. */
export type TrainConfigWithRetention = TrainConfig;

/** An evaluation point as the event stream sends it. */
export type EvalEvent = TrainEvent;

/** The checkpoints of a job with step and val loss, from checkpointInfo or (older gateways) from the paths. */
export function checkpointsOf(job: TrainJobDetail | undefined): CheckpointInfo[] {
  if (!job) return [];
  if (job.checkpointInfo) return job.checkpointInfo;
  return job.checkpoints.map((dir) => ({
    dir,
    step: Number(/step-(\d+)\/?$/.exec(dir)?.[1] ?? 0),
    best: false,
  }));
}

/** "9 d 20 h", "1 h 02 min", "3 min 05 s", "12 s". */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  // Past a day, minutes no longer help anyone decide (an estimate of ten days is read in days).
  if (s >= 86_400) return `${Math.floor(s / 86_400)} d ${Math.floor((s % 86_400) / 3600)} h`;
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const r = s % 60;
  if (h) return `${h} h ${String(m).padStart(2, '0')} min`;
  if (m) return `${m} min ${String(r).padStart(2, '0')} s`;
  return `${r} s`;
}

/**
 * Seconds left at the pace since `from` (an earlier step point of this run), or undefined while there is no
 * pace to go by. Resumed runs count only their own steps.
 */
export function eta(
  from: { step: number; elapsed: number } | undefined,
  now: { step: number; elapsed: number },
  iters: number,
): number | undefined {
  if (!from || now.step <= from.step || now.elapsed <= from.elapsed) return undefined;
  const perStep = (now.elapsed - from.elapsed) / (now.step - from.step);
  return Math.max(0, iters - now.step) * perStep;
}

// Runs one job of ./jobs.ts off the service's event loop. Messages: progress, done (with the result), error.
import { parentPort, workerData } from 'node:worker_threads';
import { runStats, runTokenize, runTransform } from './jobs.ts';

export type WorkerJob =
  | { type: 'transform'; job: Parameters<typeof runTransform>[0] }
  | { type: 'tokenize'; job: Parameters<typeof runTokenize>[0] }
  | { type: 'stats'; job: Parameters<typeof runStats>[0] };

export type WorkerMessage =
  | { type: 'progress'; done: number; total: number; message: string }
  | { type: 'done'; result: unknown }
  | { type: 'error'; message: string; field?: string; code?: string };

const post = (m: WorkerMessage) => parentPort!.postMessage(m);
const w = workerData as WorkerJob;
let last = 0;
const progress = (done: number, total: number, message: string) => {
  // At most ~10 messages a second, plus every step's start and end.
  const now = Date.now();
  if (now - last < 100 && done !== 0 && done !== total) return;
  last = now;
  post({ type: 'progress', done, total, message });
};

try {
  const result =
    w.type === 'transform'
      ? runTransform(w.job, progress)
      : w.type === 'tokenize'
        ? runTokenize(w.job, progress)
        : runStats(w.job);
  post({ type: 'done', result });
} catch (err) {
  const e = err as { message: string; field?: string; code?: string };
  post({
    type: 'error',
    message: e.message,
    field: e.field,
    code: typeof e.code === 'string' ? e.code : undefined,
  });
}

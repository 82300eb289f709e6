import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LabError, startTsWorker } from '@lab/common';
import type { TrainJob, WorkerMessage } from './train-worker.ts';

const workerFile = join(dirname(fileURLToPath(import.meta.url)), 'train-worker.ts');

export type TrainProgress = { done: number; total: number };

/**
 * Runs a training job in a worker thread and yields its progress; ends when the tokenizer file is written.
 * Aborting the signal terminates the worker.
 */
export async function* trainInWorker(job: TrainJob, signal?: AbortSignal): AsyncGenerator<TrainProgress> {
  const worker = startTsWorker(workerFile, job);
  const queue: (WorkerMessage | { type: 'exit'; code: number })[] = [];
  let wake: (() => void) | undefined;
  const push = (m: (typeof queue)[number]) => {
    queue.push(m);
    wake?.();
  };
  worker.on('message', push);
  worker.on('error', (err) => push({ type: 'error', message: err.message }));
  worker.on('exit', (code) => push({ type: 'exit', code }));
  const onAbort = () => void worker.terminate();
  signal?.addEventListener('abort', onAbort);
  try {
    for (;;) {
      if (!queue.length) await new Promise<void>((r) => (wake = r));
      const m = queue.shift()!;
      if (m.type === 'progress') yield { done: m.done, total: m.total };
      else if (m.type === 'done') return;
      else if (m.type === 'error') {
        throw m.field
          ? new LabError('INVALID_ARGUMENT', m.message, m.field)
          : new LabError('INTERNAL', m.message);
      } else if (m.type === 'exit') {
        if (signal?.aborted) throw new LabError('CANCELLED', 'training cancelled');
        throw new LabError('INTERNAL', `training worker exited with code ${m.code}`);
      }
    }
  } finally {
    signal?.removeEventListener('abort', onAbort);
    void worker.terminate();
  }
}

import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type ErrorCode, LabError, startTsWorker } from '@lab/common';
import type { WorkerJob, WorkerMessage } from './worker.ts';

const workerFile = join(dirname(fileURLToPath(import.meta.url)), 'worker.ts');

const LAB_CODES = new Set(['INVALID_ARGUMENT', 'NOT_FOUND', 'FAILED_PRECONDITION', 'RESOURCE_EXHAUSTED']);

export type JobEvent<R> =
  | { type: 'progress'; done: number; total: number; message: string }
  | { type: 'done'; result: R };

/** Runs a job in a worker thread, yielding its progress and, last, its result. Aborting ends the worker. */
export async function* runInWorker<R>(job: WorkerJob, signal?: AbortSignal): AsyncGenerator<JobEvent<R>> {
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
      if (m.type === 'progress') yield m;
      else if (m.type === 'done') {
        yield { type: 'done', result: m.result as R };
        return;
      } else if (m.type === 'error') {
        if (m.code && LAB_CODES.has(m.code)) throw new LabError(m.code as ErrorCode, m.message, m.field);
        throw m.field
          ? new LabError('INVALID_ARGUMENT', m.message, m.field)
          : new LabError('INTERNAL', m.message);
      } else if (m.type === 'exit') {
        if (signal?.aborted) throw new LabError('CANCELLED', 'cancelled');
        throw new LabError('INTERNAL', `data worker exited with code ${m.code}`);
      }
    }
  } finally {
    signal?.removeEventListener('abort', onAbort);
    void worker.terminate();
  }
}

/** Runs a job in a worker and returns its result (progress ignored). */
export async function resultOf<R>(events: AsyncIterable<JobEvent<R>>): Promise<R> {
  for await (const e of events) if (e.type === 'done') return e.result;
  throw new LabError('INTERNAL', 'data worker ended without a result');
}

import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LabError, workerMessages } from '@lab/common';
import type { WorkerJob, WorkerMessage } from './worker.ts';

const workerFile = join(dirname(fileURLToPath(import.meta.url)), 'worker.ts');

export type JobEvent<R> =
  | { type: 'progress'; done: number; total: number; message: string }
  | { type: 'done'; result: R };

/** Runs a job in a worker thread, yielding its progress and, last, its result. Aborting ends the worker. */
export async function* runInWorker<R>(job: WorkerJob, signal?: AbortSignal): AsyncGenerator<JobEvent<R>> {
  for await (const m of workerMessages<WorkerMessage>(workerFile, job, 'data', signal)) {
    if (m.type === 'progress') yield m;
    else if (m.type === 'done') yield { type: 'done', result: m.result as R };
  }
}

/** Runs a job in a worker and returns its result (progress ignored). */
export async function resultOf<R>(events: AsyncIterable<JobEvent<R>>): Promise<R> {
  for await (const e of events) if (e.type === 'done') return e.result;
  throw new LabError('INTERNAL', 'data worker ended without a result');
}

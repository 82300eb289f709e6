import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { workerMessages } from '@lab/common';
import type { TrainJob, WorkerMessage } from './train-worker.ts';

const workerFile = join(dirname(fileURLToPath(import.meta.url)), 'train-worker.ts');

export type TrainProgress = { done: number; total: number };

/**
 * Runs a training job in a worker thread and yields its progress; ends when the tokenizer file is written.
 * Aborting the signal terminates the worker.
 */
export async function* trainInWorker(job: TrainJob, signal?: AbortSignal): AsyncGenerator<TrainProgress> {
  for await (const m of workerMessages<WorkerMessage>(workerFile, job, 'training', signal)) {
    if (m.type === 'progress') yield { done: m.done, total: m.total };
  }
}

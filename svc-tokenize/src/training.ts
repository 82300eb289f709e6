import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { workerMessages } from '@lab/common';
import type { TrainReport } from '@lab/tokenizer';
import type { TrainJob, WorkerMessage } from './train-worker.ts';

const workerFile = join(dirname(fileURLToPath(import.meta.url)), 'train-worker.ts');

export type TrainUpdate =
  /** Documents of a dataset read so far, or merges learned so far, of the total. */
  | { phase: 'reading' | 'merging'; done: number; total: number }
  /** The tokenizer file is written; `report` is absent for char tokenizers (nothing is learned). */
  | { phase: 'done'; report?: TrainReport; documents: number };

/**
 * Runs a training job in a worker thread and yields its progress; ends when the tokenizer file is written.
 * Aborting the signal terminates the worker.
 */
export async function* trainInWorker(job: TrainJob, signal?: AbortSignal): AsyncGenerator<TrainUpdate> {
  for await (const m of workerMessages<WorkerMessage>(workerFile, job, 'training', signal)) {
    if (m.type === 'reading') yield { phase: 'reading', done: m.done, total: m.total };
    else if (m.type === 'progress') yield { phase: 'merging', done: m.done, total: m.total };
    else if (m.type === 'done') yield { phase: 'done', report: m.report, documents: m.documents };
  }
}

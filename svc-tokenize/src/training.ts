import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { LabError } from '@lab/common';
import type { TrainJob, WorkerMessage } from './train-worker.ts';

const tsxApi = pathToFileURL(
  join(dirname(createRequire(import.meta.url).resolve('tsx/package.json')), 'dist/esm/api/index.mjs'),
).href;
const workerFile = pathToFileURL(join(dirname(fileURLToPath(import.meta.url)), 'train-worker.ts')).href;
// Loader hooks are per thread and execArgv's --import is not applied to a worker's entry: the worker
// registers tsx itself, then imports the TypeScript entry.
const bootstrap = `import(${JSON.stringify(tsxApi)}).then((m) => { m.register(); return import(${JSON.stringify(workerFile)}); })`;

export type TrainProgress = { done: number; total: number };

/**
 * Runs a training job in a worker thread and yields its progress; ends when the tokenizer file is written.
 * Aborting the signal terminates the worker.
 */
export async function* trainInWorker(job: TrainJob, signal?: AbortSignal): AsyncGenerator<TrainProgress> {
  const worker = new Worker(bootstrap, { eval: true, workerData: job });
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

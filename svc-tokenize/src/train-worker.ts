// Trains a BPE tokenizer off the service's event loop (a 10 MB corpus takes seconds of CPU, during which
// health checks and other calls must still be answered). Messages: progress, done, error.
import { createReadStream } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { saveTokenizer, trainBpe } from '@lab/tokenizer';

export interface TrainJob {
  name: string;
  outDir: string;
  vocabSize: number;
  minFrequency: number;
  specialTokens: string[];
  pattern: string;
  text?: string;
  path?: string;
}

export type WorkerMessage =
  | { type: 'progress'; done: number; total: number }
  | { type: 'done' }
  | { type: 'error'; message: string; field?: string };

const job = workerData as TrainJob;
const post = (m: WorkerMessage) => parentPort!.postMessage(m);

try {
  let last = 0;
  const input =
    job.path !== undefined
      ? createReadStream(job.path, { encoding: 'utf8', highWaterMark: 1 << 20 })
      : job.text!;
  const tok = await trainBpe(input as string | AsyncIterable<string>, {
    name: job.name,
    vocabSize: job.vocabSize,
    minFrequency: job.minFrequency,
    specialTokens: job.specialTokens,
    pattern: job.pattern,
    onProgress: (done, total) => {
      // At most ~20 messages a second: progress is for people, not a log.
      const now = Date.now();
      if (now - last > 50 || done === total) {
        last = now;
        post({ type: 'progress', done, total });
      }
    },
  });
  saveTokenizer(tok, job.outDir);
  post({ type: 'done' });
} catch (err) {
  post({ type: 'error', message: (err as Error).message, field: (err as { field?: string }).field });
}

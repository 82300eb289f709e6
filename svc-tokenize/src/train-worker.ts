// Trains a tokenizer off the service's event loop (a 10 MB corpus takes seconds of CPU, during which health
// checks and other calls must still be answered). Messages: reading, progress, done, error.
import { createReadStream } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { CharTokenizer, saveTokenizer, type TrainReport, trainBpeWithReport } from '@lab/tokenizer';
import { type DatasetSource, datasetTexts } from './dataset-source.ts';

export interface TrainJob {
  name: string;
  outDir: string;
  kind: 'bpe' | 'char';
  vocabSize: number;
  minFrequency: number;
  specialTokens: string[];
  pattern: string;
  text?: string;
  path?: string;
  dataset?: DatasetSource;
}

export type WorkerMessage =
  | { type: 'reading'; done: number; total: number }
  | { type: 'progress'; done: number; total: number }
  | { type: 'done'; report?: TrainReport; documents: number }
  | { type: 'error'; message: string; field?: string; code?: string };

const job = workerData as TrainJob;
const post = (m: WorkerMessage) => parentPort!.postMessage(m);

/** At most ~20 messages a second: progress is for people, not a log. */
function throttled(type: 'reading' | 'progress') {
  let last = 0;
  return (done: number, total: number) => {
    const now = Date.now();
    if (now - last > 50 || done === total) {
      last = now;
      post({ type, done, total });
    }
  };
}

try {
  let documents = 0;
  const onRead = throttled('reading');
  const input: string | AsyncIterable<string> = job.dataset
    ? datasetTexts(job.dataset, (done, total) => {
        documents = done;
        onRead(done, total);
      })
    : job.path !== undefined
      ? createReadStream(job.path, { encoding: 'utf8', highWaterMark: 1 << 20 })
      : job.text!;
  if (job.kind === 'char') {
    const chars = new Set<string>();
    if (typeof input === 'string') for (const ch of input) chars.add(ch);
    else for await (const chunk of input) for (const ch of chunk) chars.add(ch);
    saveTokenizer(CharTokenizer.fromText([...chars].join(''), job.name), job.outDir);
    post({ type: 'done', documents });
  } else {
    const { tokenizer, report } = await trainBpeWithReport(input, {
      name: job.name,
      vocabSize: job.vocabSize,
      minFrequency: job.minFrequency,
      specialTokens: job.specialTokens,
      pattern: job.pattern,
      onProgress: throttled('progress'),
    });
    saveTokenizer(tokenizer, job.outDir);
    post({ type: 'done', report, documents });
  }
} catch (err) {
  const e = err as { message: string; field?: string; code?: string };
  post({ type: 'error', message: e.message, field: e.field, code: e.code });
}

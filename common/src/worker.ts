import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { type ErrorCode, LabError } from './errors.ts';

const tsxApi = pathToFileURL(
  join(dirname(createRequire(import.meta.url).resolve('tsx/package.json')), 'dist/esm/api/index.mjs'),
).href;

/**
 * Starts a worker thread on a TypeScript file. Loader hooks are per thread and execArgv's `--import` does not
 * reach a worker's entry, so the worker registers tsx itself, then imports the file.
 */
export function startTsWorker(file: string, workerData: unknown): Worker {
  const url = pathToFileURL(file).href;
  const bootstrap = `import(${JSON.stringify(tsxApi)}).then((m) => { m.register(); return import(${JSON.stringify(url)}); })`;
  // V8's default young generation (3 × 16 MiB semi-space), whatever the process's flags: the supervisor
  // runs services with a small one to keep idle memory down, and workers do the allocation-heavy work.
  return new Worker(bootstrap, { eval: true, workerData, resourceLimits: { maxYoungGenerationSizeMb: 48 } });
}

/** What a worker posts when it fails; `code` is honoured for the caller-facing codes below. */
export type WorkerError = { type: 'error'; message: string; field?: string; code?: string };

const PASSED_CODES = new Set<ErrorCode>([
  'INVALID_ARGUMENT',
  'NOT_FOUND',
  'FAILED_PRECONDITION',
  'RESOURCE_EXHAUSTED',
]);

/**
 * Runs a TypeScript worker and yields its messages in order, up to and including the first `done`. An
 * `error` message, or an exit before `done`, becomes a LabError; aborting `signal` terminates the worker.
 */
export async function* workerMessages<M extends { type: string }>(
  file: string,
  workerData: unknown,
  label: string,
  signal?: AbortSignal,
): AsyncGenerator<M> {
  const worker = startTsWorker(file, workerData);
  const queue: (M | WorkerError | { type: 'exit'; code: number })[] = [];
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
      if (m.type === 'error') {
        const e = m as WorkerError;
        if (e.code && PASSED_CODES.has(e.code as ErrorCode))
          throw new LabError(e.code as ErrorCode, e.message, e.field);
        throw e.field
          ? new LabError('INVALID_ARGUMENT', e.message, e.field)
          : new LabError('INTERNAL', e.message);
      }
      if (m.type === 'exit') {
        if (signal?.aborted) throw new LabError('CANCELLED', `${label} cancelled`);
        throw new LabError('INTERNAL', `${label} worker exited with code ${(m as { code: number }).code}`);
      }
      yield m as M;
      if (m.type === 'done') return;
    }
  } finally {
    signal?.removeEventListener('abort', onAbort);
    void worker.terminate();
  }
}

import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';

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
  return new Worker(bootstrap, { eval: true, workerData });
}

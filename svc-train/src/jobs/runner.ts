// Runs a job's training in a worker thread (TypeScript under tsx, as svc-tokenize's training does) and hands
// its messages to the service in batches, so a burst of fast steps costs one store transaction.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Worker } from 'node:worker_threads';
import { startTsWorker } from '@lab/common';
import type { WorkerJob, WorkerMessage } from './types.ts';

const workerFile = join(dirname(fileURLToPath(import.meta.url)), 'train-worker.ts');

type Item = WorkerMessage | { type: 'exit'; code: number };

export class TrainRun {
  private readonly worker: Worker;
  private readonly queue: Item[] = [];
  private wake: (() => void) | undefined;
  private stopped = false;
  private readonly exited: Promise<void>;

  constructor(job: WorkerJob) {
    this.worker = startTsWorker(workerFile, job);
    const push = (m: Item) => {
      this.queue.push(m);
      this.wake?.();
    };
    this.worker.on('message', push);
    this.worker.on('error', (err) => push({ type: 'error', message: err.message }));
    this.exited = new Promise((resolve) => this.worker.once('exit', () => resolve()));
    this.worker.on('exit', (code) => push({ type: 'exit', code }));
  }

  /** Asks the worker to checkpoint and stop after its current step; it answers `paused`. */
  pause(): void {
    this.worker.postMessage({ type: 'pause' });
  }

  /** Asks the worker to stop after its current step without a checkpoint; it answers `cancelled`. */
  cancel(): void {
    this.worker.postMessage({ type: 'cancel' });
  }

  /**
   * Stops the worker: asks it to end after its current step (it releases its ONNX Runtime sessions), and
   * terminates the thread only if it has not ended within `graceMs`. Batches end without the last message.
   */
  async stop(graceMs = 10_000): Promise<void> {
    if (this.stopped) return this.exited;
    this.stopped = true;
    this.wake?.();
    this.worker.postMessage({ type: 'cancel' });
    const timer = setTimeout(() => void this.worker.terminate(), graceMs);
    await this.exited;
    clearTimeout(timer);
  }

  /**
   * Messages in arrival order, in batches of whatever has arrived; ends after `done`, `paused`, `cancelled`
   * or `error` (an unexpected exit becomes an `error`), or right away once stop() was called.
   */
  async *batches(minIntervalMs = 25): AsyncGenerator<WorkerMessage[]> {
    let lastYield = 0;
    try {
      for (;;) {
        if (this.stopped) return;
        if (!this.queue.length) await new Promise<void>((r) => (this.wake = r));
        // A small model steps in about a millisecond: gather what arrives within `minIntervalMs` so the
        // service writes a few transactions a second, not one per step.
        const wait = lastYield + minIntervalMs - Date.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        if (this.stopped) return;
        const batch: WorkerMessage[] = [];
        let end = false;
        while (this.queue.length && !end) {
          const m = this.queue.shift()!;
          if (m.type === 'exit') {
            batch.push({ type: 'error', message: `training worker exited with code ${m.code}` });
            end = true;
          } else {
            batch.push(m);
            end = m.type === 'done' || m.type === 'paused' || m.type === 'cancelled' || m.type === 'error';
          }
        }
        lastYield = Date.now();
        if (batch.length) yield batch;
        if (end) return;
      }
    } finally {
      // The worker ends by itself after its last message; a thread that hangs on is terminated.
      const timer = setTimeout(() => void this.worker.terminate(), 10_000);
      void this.exited.then(() => clearTimeout(timer));
    }
  }
}

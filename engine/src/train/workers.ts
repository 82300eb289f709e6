// Data-parallel gradients: one worker thread per core, each with a single-threaded session of the
// accumulate graph, sums the gradients of its share of a step's runs; the trainer adds the workers'
// sums and applies AdamW. Buffers travel by transfer (ORT cannot read SharedArrayBuffers), and each
// side hands its buffers back for reuse on the next step.
import { join } from 'node:path';
import type { Worker } from 'node:worker_threads';
import { startTsWorker } from '@lab/common/worker';
import type { ModelConfig } from '../models/config.ts';
import type { SessionOptions } from '../runtime/session.ts';

export interface GradWorkerInit {
  cfg: ModelConfig;
  rowsPerRun: number;
  seq: number;
  ignoreIndex: number;
  seed: number;
  /** 1 / runs per step: each run's gradient is scaled so the sum over runs is the step's mean. */
  gradScale: number;
  session: SessionOptions;
}

export interface GradRun {
  /** Row of the step this run starts at (dropout masks are drawn per row). */
  firstRow: number;
  idx: BigInt64Array;
  targets: BigInt64Array;
}

export type GradRequest = {
  type: 'grads';
  step: number;
  params: Float32Array;
  grad: Float32Array;
  runs: GradRun[];
};

export type GradReply =
  | { type: 'ready' }
  | { type: 'grads'; params: Float32Array; grad: Float32Array; losses: number[] }
  | { type: 'error'; message: string };

class GradWorker {
  private pending: { resolve: (r: GradReply) => void; reject: (e: Error) => void } | undefined;
  private failure: Error | undefined;
  params: Float32Array;
  grad: Float32Array;

  constructor(
    private readonly worker: Worker,
    total: number,
  ) {
    this.params = new Float32Array(total);
    this.grad = new Float32Array(total);
    worker.on('message', (m: GradReply) => {
      const p = this.pending;
      this.pending = undefined;
      if (m.type === 'error') p?.reject(new Error(`gradient worker: ${m.message}`));
      else p?.resolve(m);
    });
    const fail = (e: Error): void => {
      this.failure = e;
      this.pending?.reject(e);
      this.pending = undefined;
    };
    worker.on('error', (e) => fail(new Error(`gradient worker failed: ${e.message}`)));
    worker.on('exit', (code) => fail(new Error(`gradient worker exited (code ${code})`)));
  }

  next(): Promise<GradReply> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.pending = { resolve, reject };
    });
  }

  post(req: GradRequest): Promise<GradReply> {
    const reply = this.next();
    this.worker.postMessage(req, [req.params.buffer, req.grad.buffer] as ArrayBuffer[]);
    return reply;
  }

  terminate(): Promise<number> {
    this.worker.removeAllListeners('exit');
    return this.worker.terminate();
  }
}

export class GradWorkers {
  private constructor(private readonly workers: GradWorker[]) {}

  static async start(count: number, init: GradWorkerInit, total: number): Promise<GradWorkers> {
    const file = join(import.meta.dirname, 'grad-worker.ts');
    const workers = Array.from({ length: count }, () => new GradWorker(startTsWorker(file, init), total));
    try {
      const ready = await Promise.all(workers.map((w) => w.next()));
      const bad = ready.find((r) => r.type !== 'ready');
      if (bad) throw new Error(`gradient worker did not start: ${JSON.stringify(bad)}`);
    } catch (e) {
      await Promise.all(workers.map((w) => w.terminate()));
      throw e;
    }
    return new GradWorkers(workers);
  }

  get count(): number {
    return this.workers.length;
  }

  /**
   * Gradients of `runs` (round-robin over the workers) at `params`; resolves to each worker's summed
   * gradient (valid until the next call) and every run's loss, in run order.
   */
  async compute(
    step: number,
    params: Float32Array,
    runs: readonly GradRun[],
  ): Promise<{ grads: Float32Array[]; losses: number[] }> {
    const n = this.workers.length;
    const replies = await Promise.all(
      this.workers.map((w, k) => {
        w.params.set(params);
        return w.post({
          type: 'grads',
          step,
          params: w.params,
          grad: w.grad,
          runs: runs.filter((_, i) => i % n === k),
        });
      }),
    );
    const losses = new Array<number>(runs.length);
    replies.forEach((r, k) => {
      if (r.type !== 'grads') throw new Error(`gradient worker ${k}: unexpected reply ${r.type}`);
      const w = this.workers[k];
      w.params = r.params;
      w.grad = r.grad;
      r.losses.forEach((l, j) => {
        losses[k + j * n] = l;
      });
    });
    return { grads: this.workers.map((w) => w.grad), losses };
  }

  async release(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}

// Admission for generations: up to `maxActive` run at once, up to `maxQueue` wait their turn, and past
// that the answer is a clear "busy" at once — never an unbounded pile-up of waiting requests.
import { LabError } from '@lab/common';

export class Limiter {
  private active = 0;
  private readonly waiting: { resolve: () => void; reject: (e: Error) => void }[] = [];

  constructor(
    readonly maxActive: number,
    readonly maxQueue: number,
  ) {}

  get running(): number {
    return this.active;
  }

  get queued(): number {
    return this.waiting.length;
  }

  /** Resolves with a release function once a slot is free; rejects when the queue is full or on abort. */
  async acquire(signal?: AbortSignal): Promise<() => void> {
    if (this.active >= this.maxActive) {
      if (this.waiting.length >= this.maxQueue)
        // UNAVAILABLE (HTTP 503): the request is fine, the service is full; retrying later works.
        throw new LabError(
          'UNAVAILABLE',
          `busy: ${this.active} generations running and ${this.waiting.length} waiting (LAB_INFER_MAX_ACTIVE=${this.maxActive}, LAB_INFER_MAX_QUEUE=${this.maxQueue}); try again shortly`,
        );
      await new Promise<void>((resolve, reject) => {
        const w = { resolve, reject };
        this.waiting.push(w);
        signal?.addEventListener(
          'abort',
          () => {
            const i = this.waiting.indexOf(w);
            if (i >= 0) {
              this.waiting.splice(i, 1);
              reject(new LabError('CANCELLED', 'cancelled while waiting for a free slot'));
            }
          },
          { once: true },
        );
      });
    } else this.active++;
    let done = false;
    return () => {
      if (done) return;
      done = true;
      const next = this.waiting.shift();
      // The slot passes straight to the next waiter, so `active` stays counted.
      if (next) next.resolve();
      else this.active--;
    };
  }
}

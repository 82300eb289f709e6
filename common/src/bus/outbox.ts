// An outbox in front of the bus, for the events the lab must not lose (a run's metrics, job states): each is
// written to the publishing service's own lmdb store first and removed once JetStream has stored it. While
// NATS is unreachable they wait there, in order, and a single pump publishes them when it returns — after a
// restart of the service too. Every event carries a Nats-Msg-Id kept with it, so a retry of a publish whose
// acknowledgement was lost (NATS killed between storing and answering) is recognised instead of stored twice.
//
// Order: the pump publishes one event at a time and waits for its ack before the next, so a later event can
// never be stored before an earlier one — even when two processes sharing one store both drain what a dead
// one left (each sends k+1 only after k was stored by someone; the copy of k it sends is then a duplicate).
import { randomUUID } from 'node:crypto';
import type { Logger } from '../log.ts';
import type { Store } from '../store.ts';
import { currentTraceHeaders } from '../telemetry.ts';
import {
  assertSubject,
  type BusEvent,
  type BusState,
  type EventBus,
  MSG_ID_HEADER,
  type SubscribeOptions,
  type Subscription,
} from './types.ts';

/** What the design routes to JetStream because it must not be lost: run metrics, job and evaluation states. */
export function mustNotLose(subject: string): boolean {
  return /^lab\.(run|job|eval)\./.test(subject);
}

export interface OutboxOptions {
  /** Prefix of the message ids it makes up (the service name), so ids of different services never meet. */
  name: string;
  /** Which subjects go through the outbox; the rest are published directly (default `mustNotLose`). */
  durable?: (subject: string) => boolean;
  /** First pause after a failed publish, doubling to 2 s (default 250 ms). */
  retryMs?: number;
  log?: Logger;
}

/** Stored form of a waiting event. */
interface OutboxEntry {
  subject: string;
  data: unknown;
  /** Includes the trace context of the original caller and the message id. */
  headers: Record<string, string>;
}

interface Pending {
  entry: OutboxEntry;
  /** Resolves with the entry's lmdb key once it is written. */
  persisted: Promise<string>;
  settle(seq: number): void;
}

const PREFIX = 'outbox:';
const COUNTER = 'outbox-next';
const keyOf = (n: number) => `${PREFIX}${String(n).padStart(16, '0')}`;
const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });

/** An `EventBus` whose must-not-lose events survive a NATS outage (and a service restart) in the store. */
export class OutboxBus implements EventBus {
  readonly kind: EventBus['kind'];
  /** Waiting events in publication order; the head is the one being published. */
  private readonly queue: Pending[] = [];
  private readonly writes = new Set<Promise<unknown>>();
  private readonly closing = new AbortController();
  private readonly durable: (subject: string) => boolean;
  private readonly retryMs: number;
  private pumping: Promise<void> | undefined;
  /** The last publish failed: callers are answered as soon as their event is in the store. */
  private down = false;

  private constructor(
    private readonly inner: EventBus,
    private readonly store: Store,
    private readonly options: OutboxOptions,
  ) {
    this.kind = inner.kind;
    this.durable = options.durable ?? mustNotLose;
    this.retryMs = options.retryMs ?? 250;
  }

  /** Wraps `inner`; events a previous life of the service left in `store` are published first, in order. */
  static open(inner: EventBus, store: Store, options: OutboxOptions): OutboxBus {
    const bus = new OutboxBus(inner, store, options);
    for (const { key, value } of store.getRange({ start: PREFIX, end: `${PREFIX}~` }))
      bus.queue.push({ entry: value as OutboxEntry, persisted: Promise.resolve(key), settle: () => {} });
    if (bus.queue.length) {
      options.log?.info('publishing events kept in the outbox', { events: bus.queue.length });
      bus.kick();
    }
    return bus;
  }

  /** Events not yet stored by the bus. */
  get pending(): number {
    return this.queue.length;
  }

  state(): BusState {
    return this.inner.state();
  }

  publish(subject: string, data: unknown, headers: Record<string, string> = {}): Promise<number> {
    if (!this.durable(subject)) return this.inner.publish(subject, data, headers);
    if (this.closing.signal.aborted) return Promise.reject(new Error('bus is closed'));
    assertSubject(subject);
    const entry: OutboxEntry = {
      subject,
      data: data ?? null,
      // The pump publishes later, outside the caller's trace: capture its context now.
      headers: {
        ...currentTraceHeaders(),
        [MSG_ID_HEADER]: `${this.options.name}:${randomUUID()}`,
        ...headers,
      },
    };
    // One write transaction takes the next number, so processes sharing the store never reuse a key.
    const persisted = this.track(
      this.store.transaction(() => {
        const n = ((this.store.get(COUNTER) as number | undefined) ?? 0) + 1;
        this.store.putSync(COUNTER, n);
        this.store.putSync(keyOf(n), entry);
        return keyOf(n);
      }) as Promise<string>,
    );
    return new Promise<number>((resolve, reject) => {
      let settled = false;
      const pending: Pending = {
        entry,
        persisted,
        settle: (seq) => {
          if (settled) return;
          settled = true;
          resolve(seq);
        },
      };
      persisted.catch((err) => {
        if (settled) return;
        settled = true;
        reject(err);
      });
      this.queue.push(pending);
      if (this.down) this.hold(pending);
      this.kick();
    });
  }

  subscribe(
    pattern: string,
    handler: (event: BusEvent) => void,
    options?: SubscribeOptions,
  ): Promise<Subscription> {
    return this.inner.subscribe(pattern, handler, options);
  }

  /** Stops publishing; what is still waiting stays in the store for the next start. */
  async close(): Promise<void> {
    if (this.closing.signal.aborted) return;
    this.closing.abort();
    for (const p of this.queue) this.hold(p);
    await Promise.allSettled([...this.writes]);
    await this.inner.close();
    // A publish in flight ends with the connection; its answer no longer matters (the entry is kept).
    await this.pumping?.catch(() => {});
  }

  /** Answers the caller once the event is safely in the store (it will be published later). */
  private hold(p: Pending): void {
    p.persisted.then(() => p.settle(0)).catch(() => {});
  }

  private track<T>(promise: Promise<T>): Promise<T> {
    this.writes.add(promise);
    const drop = () => this.writes.delete(promise);
    promise.then(drop, drop);
    return promise;
  }

  private kick(): void {
    this.pumping ??= this.pump().finally(() => {
      this.pumping = undefined;
      if (this.queue.length && !this.closing.signal.aborted) this.kick();
    });
  }

  private async pump(): Promise<void> {
    const signal = this.closing.signal;
    let delay = this.retryMs;
    /** The head's last publish failed without an answer: it may have been stored anyway. */
    let unsure = false;
    while (this.queue.length && !signal.aborted) {
      // Publishing into a connection that is down only piles copies into the client's buffer.
      if (this.inner.state() === 'reconnecting') {
        this.goDown();
        await sleep(100, signal);
        continue;
      }
      const head = this.queue[0]!;
      const { subject } = head.entry;
      // Published from memory without waiting for the store's commit (2-7 ms on this disk, against 0.5 ms
      // for a publish): a crash before the commit loses an event only if it was not published either.
      let seq: number;
      try {
        seq = await this.attempt(head.entry, unsure);
      } catch (err) {
        if (signal.aborted) return;
        if (/max(imum)? payload|payload.*exceed/i.test((err as Error).message)) {
          // It can never be published: dropping it is the only way the events behind it get through.
          this.options.log?.error('dropping an event the bus refuses', { subject, error: String(err) });
          seq = 0;
        } else {
          unsure = true;
          this.goDown(err);
          await sleep(delay, signal);
          delay = Math.min(delay * 2, 2000);
          continue;
        }
      }
      if (this.down)
        this.options.log?.info('bus reachable again: publishing what the outbox kept', {
          pending: this.queue.length,
        });
      this.down = false;
      unsure = false;
      delay = this.retryMs;
      this.queue.shift();
      head.settle(seq);
      // Removal may lag or be lost in a crash: the copy published again then carries the same message id.
      this.track(head.persisted.then((key) => this.store.remove(key))).catch(() => {});
    }
  }

  /**
   * One try at publishing an entry. A publish in flight when the connection drops is answered only by its
   * timeout (5 s): meanwhile the callers behind it are answered from the store, and once the connection is
   * back the try is given up so the entry goes again soon (under the same id, so never twice).
   */
  private attempt(entry: OutboxEntry, unsure: boolean): Promise<number> {
    const { subject, data, headers } = entry;
    return new Promise<number>((resolve, reject) => {
      let dropped = false;
      const watch = setInterval(() => {
        if (this.inner.state() !== 'connected') {
          dropped = true;
          this.goDown();
        } else if (dropped) {
          clearInterval(watch);
          reject(new Error('the connection was re-established while publishing'));
        }
      }, 50);
      const publish = async () => {
        // After a try that got no answer, JetStream may hold the entry already: ask before sending it again.
        const stored = unsure ? await this.inner.lastStored?.(subject) : undefined;
        return stored && stored.msgId === headers[MSG_ID_HEADER]
          ? stored.seq
          : this.inner.publish(subject, data, headers);
      };
      publish().then(
        (seq) => {
          clearInterval(watch);
          resolve(seq);
        },
        (err) => {
          clearInterval(watch);
          reject(err);
        },
      );
    });
  }

  private goDown(err?: unknown): void {
    if (this.down) return;
    this.down = true;
    this.options.log?.warn('bus unreachable: keeping events in the outbox', {
      pending: this.queue.length,
      ...(err ? { error: String(err) } : {}),
    });
    for (const p of this.queue) this.hold(p);
  }
}

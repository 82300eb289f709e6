// A work queue: each item is handed to exactly one consumer at a time, and comes back (to any consumer) when
// the one holding it neither acknowledges it nor says it is still working within `ackWaitMs`. Two
// implementations meet one contract (common/test/queue.test.ts): JetStream (a WorkQueue-retention stream and
// one durable pull consumer shared by every worker, explicit ack) and an in-process one.
import {
  AckPolicy,
  connect,
  DeliverPolicy,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
  type NatsConnection,
  RetentionPolicy,
  StorageType,
} from 'nats';

/** One item taken from a queue. Exactly one of ack/nak/term should end it. */
export interface WorkItem<T = unknown> {
  data: T;
  /** Queue-wide sequence of the item (JetStream stream sequence, or a counter in memory). */
  seq: number;
  /** 1 the first time the item is handed out, more when it came back (no ack in time, or a nak). */
  deliveryCount: number;
  /** Done: the item leaves the queue for good. Resolves once the queue has recorded it. */
  ack(): Promise<void>;
  /** Not done: hand it out again after `delayMs` (default at once). */
  nak(delayMs?: number): void;
  /** Still working on it: restarts the ack-wait timer so the item is not handed to another consumer. */
  working(): void;
  /** Give up on it: the item leaves the queue and is never handed out again. */
  term(): void;
}

export interface WorkQueueOptions {
  /** Queue name: letters, digits, '-' and '_'. Every process opening the same name shares the queue. */
  name: string;
  /** How long a taken item may go without ack or `working()` before it is handed out again (default 30 s). */
  ackWaitMs?: number;
}

export interface PullOptions {
  /** Give up waiting (resolve undefined) when this aborts. */
  signal?: AbortSignal;
  /**
   * Give up waiting after this long (default: wait until an item arrives or `signal` aborts). JetStream
   * long-polls last at least 1 s, so on NATS a shorter timeout waits about 1 s.
   */
  timeoutMs?: number;
}

/** The queue as producers and workers see it; items are handed out in FIFO order. */
export interface WorkQueue<T = unknown> {
  readonly kind: 'nats' | 'memory';
  readonly name: string;
  /** Appends an item; resolves once the queue has stored it. */
  push(data: T): Promise<number>;
  /** Takes the next item, waiting for one; undefined when `signal` aborts, time runs out or the queue closes. */
  pull(options?: PullOptions): Promise<WorkItem<T> | undefined>;
  /** Items stored and not yet acknowledged (waiting plus taken). */
  size(): Promise<number>;
  /** Stops this handle: pending pulls resolve undefined. Items it holds come back after their ack wait. */
  close(): Promise<void>;
}

function checkName(name: string): void {
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(name))
    throw new RangeError(`work queue name "${name}" must be 1-64 letters, digits, '-' or '_'`);
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });

// ---------------------------------------------------------------------------------------------------------
// JetStream

/** Stream, subject and durable consumer names of a queue on NATS (none overlaps the `LAB` event stream). */
export function natsQueueNames(name: string): { stream: string; subject: string; durable: string } {
  checkName(name);
  return {
    stream: `WORK_${name.replace(/-/g, '_').toUpperCase()}`,
    subject: `work.${name}`,
    durable: `${name}-workers`,
  };
}

/**
 * JetStream work queue: a stream with WorkQueue retention (an acknowledged item is deleted) and one durable
 * pull consumer shared by every worker of every process, with explicit ack and `ack_wait`; JetStream hands
 * each message to one puller at a time and redelivers it only when its ack wait passes (or on a nak).
 */
export class NatsWorkQueue<T = unknown> implements WorkQueue<T> {
  readonly kind = 'nats' as const;
  private closed = false;
  private readonly closing = new AbortController();

  private constructor(
    readonly name: string,
    private readonly nc: NatsConnection,
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    private readonly names: ReturnType<typeof natsQueueNames>,
    private readonly ownsConnection: boolean,
  ) {}

  /** Opens (creating when missing) the queue on `servers`, or on an existing connection. */
  static async open<T>(
    servers: string | NatsConnection,
    options: WorkQueueOptions,
  ): Promise<NatsWorkQueue<T>> {
    const names = natsQueueNames(options.name);
    const own = typeof servers === 'string';
    const nc =
      typeof servers === 'string'
        ? await connect({
            servers: servers.split(','),
            name: `queue-${options.name}`,
            maxReconnectAttempts: -1,
            reconnectTimeWait: 250,
          })
        : servers;
    const jsm = await nc.jetstreamManager();
    await ensure(
      () => jsm.streams.info(names.stream),
      () =>
        jsm.streams.add({
          name: names.stream,
          subjects: [names.subject],
          retention: RetentionPolicy.Workqueue,
          storage: StorageType.File,
        }),
    );
    const ackWait = (options.ackWaitMs ?? 30_000) * 1e6;
    const consumer = {
      durable_name: names.durable,
      ack_policy: AckPolicy.Explicit,
      ack_wait: ackWait,
      deliver_policy: DeliverPolicy.All,
      max_deliver: -1,
      max_ack_pending: -1,
    };
    await ensure(
      async () => {
        const info = await jsm.consumers.info(names.stream, names.durable);
        // The first opener's ack wait stands unless a later one asks for another: last writer wins.
        if (info.config.ack_wait !== ackWait)
          await jsm.consumers.update(names.stream, names.durable, { ack_wait: ackWait });
      },
      () => jsm.consumers.add(names.stream, consumer),
    );
    return new NatsWorkQueue<T>(options.name, nc, nc.jetstream(), jsm, names, own);
  }

  async push(data: T): Promise<number> {
    if (this.closed) throw new Error(`work queue ${this.name} is closed`);
    const ack = await this.js.publish(this.names.subject, new TextEncoder().encode(JSON.stringify(data)));
    return ack.seq;
  }

  async pull(options: PullOptions = {}): Promise<WorkItem<T> | undefined> {
    const deadline = options.timeoutMs !== undefined ? Date.now() + options.timeoutMs : Infinity;
    const consumer = await this.js.consumers.get(this.names.stream, this.names.durable);
    while (!this.closed && !options.signal?.aborted) {
      const left = deadline - Date.now();
      if (left <= 0) return undefined;
      let msg: JsMsg | null;
      try {
        // Short long-polls, so an abort or close is noticed within a second.
        msg = await consumer.next({ expires: Math.max(1000, Math.min(left, 2000)) });
      } catch (err) {
        if (this.closed || options.signal?.aborted) return undefined;
        // The server is restarting or the connection is re-established: try again shortly.
        if (/timeout|connection|closed|no responders|503|disconnect/i.test((err as Error).message)) {
          await sleep(250, options.signal);
          continue;
        }
        throw err;
      }
      if (!msg) continue;
      if (this.closed || options.signal?.aborted) {
        // Nobody will work on it: hand it straight back.
        msg.nak();
        return undefined;
      }
      return this.item(msg);
    }
    return undefined;
  }

  private item(msg: JsMsg): WorkItem<T> {
    return {
      data: JSON.parse(new TextDecoder().decode(msg.data)) as T,
      seq: msg.seq,
      deliveryCount: msg.info.deliveryCount,
      ack: async () => {
        await msg.ackAck();
      },
      nak: (delayMs) => msg.nak(delayMs),
      working: () => msg.working(),
      term: () => msg.term(),
    };
  }

  async size(): Promise<number> {
    const info = await this.jsm.streams.info(this.names.stream);
    return info.state.messages;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.closing.abort();
    if (this.ownsConnection && !this.nc.isClosed()) await this.nc.drain().catch(() => {});
  }
}

/** Runs `check`; when it fails with "not found", runs `create`, tolerating a concurrent creator. */
async function ensure(check: () => Promise<unknown>, create: () => Promise<unknown>): Promise<void> {
  try {
    await check();
  } catch (err) {
    if (!/not found|10059|10014/i.test((err as Error).message)) throw err;
    try {
      await create();
    } catch (e) {
      if (!/already in use|exists/i.test((e as Error).message)) throw e;
    }
  }
}

// ---------------------------------------------------------------------------------------------------------
// In process

interface MemoryEntry<T> {
  seq: number;
  data: T;
  deliveries: number;
  /** When it may be handed out (after a nak with a delay). */
  notBefore: number;
  /** Set while a consumer holds it. */
  holder?: { token: number; timer: ReturnType<typeof setTimeout> };
}

/**
 * The same contract inside one process: share one instance between the workers that should share a queue.
 * Items live in memory only, so they do not survive the process (a service rebuilds its queue at start-up).
 */
export class MemoryWorkQueue<T = unknown> implements WorkQueue<T> {
  readonly kind = 'memory' as const;
  readonly name: string;
  private readonly ackWaitMs: number;
  private entries: MemoryEntry<T>[] = [];
  private seq = 0;
  private tokens = 0;
  private closed = false;
  private waiters = new Set<() => void>();

  constructor(options: WorkQueueOptions) {
    checkName(options.name);
    this.name = options.name;
    this.ackWaitMs = options.ackWaitMs ?? 30_000;
  }

  private wake(): void {
    for (const w of [...this.waiters]) w();
  }

  async push(data: T): Promise<number> {
    if (this.closed) throw new Error(`work queue ${this.name} is closed`);
    const entry: MemoryEntry<T> = {
      seq: ++this.seq,
      data: JSON.parse(JSON.stringify(data)),
      deliveries: 0,
      notBefore: 0,
    };
    this.entries.push(entry);
    this.wake();
    return entry.seq;
  }

  /** The oldest item nobody holds and that is due, or how long until one becomes due. */
  private takeable(): MemoryEntry<T> | number {
    const now = Date.now();
    let soonest = Infinity;
    for (const e of this.entries) {
      if (e.holder) continue;
      if (e.notBefore <= now) return e;
      soonest = Math.min(soonest, e.notBefore - now);
    }
    return soonest;
  }

  async pull(options: PullOptions = {}): Promise<WorkItem<T> | undefined> {
    const deadline = options.timeoutMs !== undefined ? Date.now() + options.timeoutMs : Infinity;
    while (!this.closed && !options.signal?.aborted) {
      const next = this.takeable();
      if (typeof next !== 'number') return this.hand(next);
      const wait = Math.min(next, deadline - Date.now());
      if (wait <= 0) return undefined;
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          this.waiters.delete(done);
          options.signal?.removeEventListener('abort', done);
          resolve();
        };
        const timer = setTimeout(done, Math.min(wait, 2 ** 31 - 1));
        this.waiters.add(done);
        options.signal?.addEventListener('abort', done, { once: true });
      });
    }
    return undefined;
  }

  private hand(entry: MemoryEntry<T>): WorkItem<T> {
    const token = ++this.tokens;
    entry.deliveries++;
    const release = (delayMs = 0) => {
      if (entry.holder?.token !== token) return false;
      clearTimeout(entry.holder.timer);
      entry.holder = undefined;
      entry.notBefore = Date.now() + delayMs;
      this.wake();
      return true;
    };
    const arm = () => setTimeout(() => release(), this.ackWaitMs);
    entry.holder = { token, timer: arm() };
    const remove = () => {
      if (entry.holder?.token !== token) return;
      clearTimeout(entry.holder.timer);
      this.entries = this.entries.filter((e) => e !== entry);
    };
    return {
      data: JSON.parse(JSON.stringify(entry.data)),
      seq: entry.seq,
      deliveryCount: entry.deliveries,
      ack: async () => remove(),
      nak: (delayMs) => void release(delayMs),
      working: () => {
        if (entry.holder?.token !== token) return;
        clearTimeout(entry.holder.timer);
        entry.holder.timer = arm();
      },
      term: () => remove(),
    };
  }

  async size(): Promise<number> {
    return this.entries.length;
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const e of this.entries) if (e.holder) clearTimeout(e.holder.timer);
    this.wake();
  }
}

/** JetStream when a NATS URL is given, else an in-process queue (shared only within this process). */
export async function openWorkQueue<T>(
  natsUrl: string | undefined,
  options: WorkQueueOptions,
): Promise<WorkQueue<T>> {
  return natsUrl ? NatsWorkQueue.open<T>(natsUrl, options) : new MemoryWorkQueue<T>(options);
}

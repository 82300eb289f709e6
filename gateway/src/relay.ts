/**
 * Keeps the events of streams the gateway started on behalf of HTTP clients (a tokenizer training run),
 * so a client can POST to start, then follow — or re-follow after a reconnect — over SSE.
 */
import type { Context } from 'hono';
import { resumePoint, sseResponse } from './sse.ts';

export interface RelayEvent<T> {
  seq: number;
  data: T;
}

interface Entry<T> {
  events: RelayEvent<T>[];
  done: boolean;
  listeners: Set<() => void>;
  finishedAt?: number;
}

const KEEP_FINISHED_MS = 60 * 60 * 1000;
const MAX_JOBS = 200;

export class StreamRelay<T> {
  private readonly jobs = new Map<string, Entry<T>>();

  /** Drains `source` in the background; `onError` turns a failure into a last event. */
  start(id: string, source: AsyncIterable<T>, onError: (err: unknown) => T): void {
    this.evict();
    const entry: Entry<T> = { events: [], done: false, listeners: new Set() };
    this.jobs.set(id, entry);
    const push = (data: T) => {
      entry.events.push({ seq: entry.events.length + 1, data });
      for (const l of entry.listeners) l();
    };
    void (async () => {
      try {
        for await (const item of source) push(item);
      } catch (err) {
        push(onError(err));
      } finally {
        entry.done = true;
        entry.finishedAt = Date.now();
        for (const l of entry.listeners) l();
      }
    })();
  }

  has(id: string): boolean {
    return this.jobs.has(id);
  }

  /** Replays events after `afterSeq`, then live ones; resolves when the stream has ended or `signal` aborts. */
  async follow(
    id: string,
    afterSeq: number,
    onEvent: (e: RelayEvent<T>) => Promise<void>,
    signal: Promise<void>,
  ): Promise<void> {
    const entry = this.jobs.get(id);
    if (!entry) return;
    let next = afterSeq;
    let aborted = false;
    void signal.then(() => {
      aborted = true;
      wake?.();
    });
    let wake: (() => void) | undefined;
    const listener = () => wake?.();
    entry.listeners.add(listener);
    try {
      while (!aborted) {
        while (next < entry.events.length && !aborted) await onEvent(entry.events[next++]!);
        if (entry.done && next >= entry.events.length) return;
        await new Promise<void>((r) => {
          wake = r;
        });
      }
    } finally {
      entry.listeners.delete(listener);
    }
  }

  private evict(): void {
    const now = Date.now();
    for (const [id, e] of this.jobs)
      if (e.finishedAt && now - e.finishedAt > KEEP_FINISHED_MS) this.jobs.delete(id);
    while (this.jobs.size >= MAX_JOBS) {
      const oldest = [...this.jobs].find(([, e]) => e.done);
      if (!oldest) break;
      this.jobs.delete(oldest[0]);
    }
  }
}

/**
 * Waits for a stream's first event, so bad input fails the request that started it (a gRPC stream reports
 * INVALID_ARGUMENT with its first read), then hands back the whole stream, first event included.
 */
export async function started<T>(events: AsyncIterable<T>): Promise<AsyncGenerator<T>> {
  const it = events[Symbol.asyncIterator]();
  const first = await it.next();
  return (async function* () {
    if (!first.done) yield first.value;
    for (;;) {
      const n = await it.next();
      if (n.done) return;
      yield n.value;
    }
  })();
}

/** GET …/{jobId}/events: the relayed run as SSE (`progress` events, resumable by Last-Event-ID), or 404. */
export function relayResponse<T>(c: Context, relay: StreamRelay<T>, jobId: string, what: string) {
  if (!relay.has(jobId)) {
    return c.json(
      { error: { code: 'NOT_FOUND', message: `jobId: no ${what} ${jobId}`, field: 'jobId' } },
      404,
    );
  }
  return sseResponse(c, 15_000, (stream, aborted) =>
    relay.follow(
      jobId,
      resumePoint(c, 0) ?? 0,
      (e) => stream.writeSSE({ id: String(e.seq), event: 'progress', data: JSON.stringify(e.data) }),
      aborted,
    ),
  );
}

/** One event as subscribers see it. `seq` orders all events of the bus and is what SSE clients resume from. */
export interface BusEvent<T = unknown> {
  subject: string;
  data: T;
  seq: number;
  /** Publication time, RFC 3339. */
  time: string;
  /** Includes `traceparent` when the publisher ran inside a trace. */
  headers: Record<string, string>;
}

export interface Subscription {
  unsubscribe(): Promise<void>;
}

export interface SubscribeOptions {
  /** Replay retained events with a sequence above this before live ones; omit for live events only. */
  afterSeq?: number;
}

export type BusState = 'connected' | 'reconnecting' | 'closed';

/**
 * Header naming an event for JetStream's duplicate detection: a second publish with the same id (within the
 * stream's duplicate window) is acknowledged with the first copy's sequence and not stored again.
 */
export const MSG_ID_HEADER = 'Nats-Msg-Id';

/** The last event stored on a subject: its sequence and the message id it was published with, if any. */
export interface StoredRef {
  seq: number;
  msgId?: string;
}

/**
 * Subjects: `lab.run.<runId>.metrics`, `lab.job.<jobId>.state`, `lab.service.<name>.state`.
 * Patterns use NATS wildcards: `*` is one token, `>` is the rest.
 */
export interface EventBus {
  readonly kind: 'nats' | 'memory';
  state(): BusState;
  /**
   * Resolves with the event's sequence number once the bus has stored it. Behind an outbox (`OutboxBus`), an
   * event that must not be lost resolves with 0 instead when the bus is unreachable: it is then held in the
   * service's store and published, in order, when the bus returns.
   */
  publish(subject: string, data: unknown, headers?: Record<string, string>): Promise<number>;
  /**
   * The last event stored on `subject` (NATS only): tells an outbox whether a publish that failed without an
   * answer was stored after all, however long ago (JetStream's duplicate window is only 2 minutes).
   */
  lastStored?(subject: string): Promise<StoredRef | undefined>;
  subscribe(
    pattern: string,
    handler: (event: BusEvent) => void,
    options?: SubscribeOptions,
  ): Promise<Subscription>;
  close(): Promise<void>;
}

/** NATS subject matching: `*` matches one token, a trailing `>` matches one or more. */
export function subjectMatches(pattern: string, subject: string): boolean {
  const p = pattern.split('.');
  const s = subject.split('.');
  for (let i = 0; i < p.length; i++) {
    if (p[i] === '>') return s.length > i;
    if (i >= s.length) return false;
    if (p[i] !== '*' && p[i] !== s[i]) return false;
  }
  return p.length === s.length;
}

/** Subjects are dot-separated tokens of letters, digits, '-' and '_'; checked before anything reaches the bus. */
export function assertSubject(subject: string): void {
  if (!/^[\w-]+(\.[\w-]+)*$/.test(subject)) throw new RangeError(`invalid bus subject "${subject}"`);
}

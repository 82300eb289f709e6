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
 * Subjects: `lab.run.<runId>.metrics`, `lab.job.<jobId>.state`, `lab.service.<name>.state`.
 * Patterns use NATS wildcards: `*` is one token, `>` is the rest.
 */
export interface EventBus {
  readonly kind: 'nats' | 'memory';
  state(): BusState;
  /** Resolves with the event's sequence number once the bus has stored it. */
  publish(subject: string, data: unknown, headers?: Record<string, string>): Promise<number>;
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

import { currentTraceHeaders } from '../telemetry.ts';
import {
  assertSubject,
  type BusEvent,
  type BusState,
  type EventBus,
  type SubscribeOptions,
  type Subscription,
  subjectMatches,
} from './types.ts';

interface Subscriber {
  pattern: string;
  handler: (event: BusEvent) => void;
}

/**
 * The fallback when no NATS server is available: same contract, but events live in this process only and
 * only the most recent `retain` events can be replayed.
 */
export class MemoryBus implements EventBus {
  readonly kind = 'memory' as const;
  private log: BusEvent[] = [];
  private seq = 0;
  private subscribers = new Set<Subscriber>();
  private closed = false;

  constructor(private readonly retain = 10_000) {}

  state(): BusState {
    return this.closed ? 'closed' : 'connected';
  }

  async publish(subject: string, data: unknown, headers: Record<string, string> = {}): Promise<number> {
    if (this.closed) throw new Error('bus is closed');
    assertSubject(subject);
    // Round-trip through JSON so subscribers see the same values a NATS bus would deliver.
    const event: BusEvent = {
      subject,
      data: JSON.parse(JSON.stringify(data ?? null)),
      seq: ++this.seq,
      time: new Date().toISOString(),
      headers: { ...currentTraceHeaders(), ...headers },
    };
    this.log.push(event);
    if (this.log.length > this.retain) this.log.splice(0, this.log.length - this.retain);
    for (const sub of this.subscribers) if (subjectMatches(sub.pattern, subject)) deliver(sub, event);
    return event.seq;
  }

  async subscribe(
    pattern: string,
    handler: (event: BusEvent) => void,
    options: SubscribeOptions = {},
  ): Promise<Subscription> {
    if (this.closed) throw new Error('bus is closed');
    const sub: Subscriber = { pattern, handler };
    if (options.afterSeq !== undefined) {
      const after = options.afterSeq;
      for (const e of this.log) if (e.seq > after && subjectMatches(pattern, e.subject)) deliver(sub, e);
    }
    this.subscribers.add(sub);
    return {
      unsubscribe: async () => {
        this.subscribers.delete(sub);
      },
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    this.subscribers.clear();
  }
}

function deliver(sub: Subscriber, event: BusEvent): void {
  // A throwing handler must not stop delivery to the others, nor reach the publisher.
  try {
    sub.handler(event);
  } catch (err) {
    process.stderr.write(`[bus] subscriber of ${sub.pattern} threw: ${(err as Error).message}\n`);
  }
}

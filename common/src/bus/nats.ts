import {
  connect,
  DeliverPolicy,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
  type NatsConnection,
  headers as natsHeaders,
  RetentionPolicy,
  StorageType,
} from 'nats';
import { currentTraceHeaders } from '../telemetry.ts';
import {
  assertSubject,
  type BusEvent,
  type BusState,
  type EventBus,
  MSG_ID_HEADER,
  type StoredRef,
  type SubscribeOptions,
  type Subscription,
} from './types.ts';

/** One JetStream stream holds every lab event, so a single sequence orders them all (SSE resumes by it). */
export const STREAM_NAME = 'LAB';

export interface NatsBusOptions {
  /** Connection name shown by the NATS server (the service name). */
  name?: string;
  /** How long retained events are kept. */
  maxAgeSeconds?: number;
}

/** JetStream-backed bus: events are stored before publish resolves, so a subscriber can replay what it missed. */
export class NatsBus implements EventBus {
  readonly kind = 'nats' as const;
  private current: BusState = 'connected';

  private constructor(
    private readonly nc: NatsConnection,
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
  ) {
    void this.watchStatus();
    nc.closed().then(() => {
      this.current = 'closed';
    });
  }

  static async connect(servers: string, options: NatsBusOptions = {}): Promise<NatsBus> {
    const nc = await connect({
      servers: servers.split(','),
      name: options.name,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 250,
      waitOnFirstConnect: false,
    });
    const jsm = await nc.jetstreamManager();
    const config = {
      name: STREAM_NAME,
      subjects: ['lab.>'],
      storage: StorageType.File,
      retention: RetentionPolicy.Limits,
      max_age: (options.maxAgeSeconds ?? 7 * 24 * 3600) * 1e9,
    };
    try {
      await jsm.streams.info(STREAM_NAME);
    } catch {
      try {
        await jsm.streams.add(config);
      } catch (err) {
        // Another process may have created it between our two calls.
        if (!/already in use|exists/i.test((err as Error).message)) throw err;
      }
    }
    return new NatsBus(nc, nc.jetstream(), jsm);
  }

  private async watchStatus(): Promise<void> {
    for await (const s of this.nc.status()) {
      if (s.type === 'disconnect' || s.type === 'reconnecting') this.current = 'reconnecting';
      else if (s.type === 'reconnect') this.current = 'connected';
    }
  }

  state(): BusState {
    return this.nc.isClosed() ? 'closed' : this.current;
  }

  async publish(subject: string, data: unknown, headers: Record<string, string> = {}): Promise<number> {
    assertSubject(subject);
    const h = natsHeaders();
    for (const [k, v] of Object.entries({ ...currentTraceHeaders(), ...headers })) h.set(k, v);
    const ack = await this.js.publish(subject, new TextEncoder().encode(JSON.stringify(data ?? null)), {
      headers: h,
    });
    // A repeated Nats-Msg-Id (a retry of a publish whose ack was lost) is not stored again: the ack carries
    // the sequence of the copy JetStream already holds.
    return ack.seq;
  }

  async lastStored(subject: string): Promise<StoredRef | undefined> {
    assertSubject(subject);
    try {
      const m = await this.jsm.streams.getMessage(STREAM_NAME, { last_by_subj: subject });
      return { seq: m.seq, msgId: m.header?.get(MSG_ID_HEADER) || undefined };
    } catch (err) {
      if (/no message found|10037|not found/i.test((err as Error).message)) return undefined;
      throw err;
    }
  }

  async subscribe(
    pattern: string,
    handler: (event: BusEvent) => void,
    options: SubscribeOptions = {},
  ): Promise<Subscription> {
    // Ordered consumers are ephemeral and recreate themselves after a server restart from the last seq seen.
    const consumer = await this.js.consumers.get(STREAM_NAME, {
      filterSubjects: pattern,
      ...(options.afterSeq !== undefined
        ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: options.afterSeq + 1 }
        : { deliver_policy: DeliverPolicy.New }),
    });
    const messages = await consumer.consume();
    void (async () => {
      for await (const m of messages) {
        try {
          handler(toEvent(m));
        } catch (err) {
          process.stderr.write(`[bus] subscriber of ${pattern} threw: ${(err as Error).message}\n`);
        }
      }
    })();
    return {
      unsubscribe: async () => {
        await messages.close();
        // An ordered consumer outlives its client by 5 minutes unless deleted: with many SSE clients coming
        // and going, the server would hold one per departed client.
        await consumer.delete().catch(() => {});
      },
    };
  }

  async close(): Promise<void> {
    if (this.nc.isClosed()) return;
    // Draining needs the server; without one it would wait forever.
    if (this.current !== 'connected') await this.nc.close();
    else await this.nc.drain();
  }
}

function toEvent(m: JsMsg): BusEvent {
  const headers: Record<string, string> = {};
  if (m.headers) for (const [k, v] of m.headers) headers[k] = v[0] ?? '';
  return {
    subject: m.subject,
    data: JSON.parse(new TextDecoder().decode(m.data)),
    seq: m.seq,
    time: new Date(Math.floor(m.info.timestampNanos / 1e6)).toISOString(),
    headers,
  };
}

import type { Logger } from '../log.ts';
import type { Store } from '../store.ts';
import { MemoryBus } from './memory.ts';
import { NatsBus } from './nats.ts';
import { OutboxBus } from './outbox.ts';
import type { EventBus } from './types.ts';

export { MemoryBus } from './memory.ts';
export { NatsBus, STREAM_NAME } from './nats.ts';
export { mustNotLose, OutboxBus, type OutboxOptions } from './outbox.ts';
export * from './queue.ts';
export * from './types.ts';

/**
 * NATS when a URL is configured, else the in-process bus with a one-line warning. Given the service's
 * store, NATS events that must not be lost go through an outbox there (an in-process bus cannot be down).
 */
export async function createBus(
  natsUrl: string | undefined,
  name: string,
  log: Logger,
  store?: Store,
): Promise<EventBus> {
  if (!natsUrl) {
    log.warn('NATS_URL not set: using the in-process event bus (events stay inside this process)');
    return new MemoryBus();
  }
  const bus = await NatsBus.connect(natsUrl, { name });
  return store ? OutboxBus.open(bus, store, { name, log }) : bus;
}

import type { Logger } from '../log.ts';
import { MemoryBus } from './memory.ts';
import { NatsBus } from './nats.ts';
import type { EventBus } from './types.ts';

export { MemoryBus } from './memory.ts';
export { NatsBus, STREAM_NAME } from './nats.ts';
export * from './queue.ts';
export * from './types.ts';

/** NATS when a URL is configured, else the in-process bus with a one-line warning. */
export async function createBus(natsUrl: string | undefined, name: string, log: Logger): Promise<EventBus> {
  if (!natsUrl) {
    log.warn('NATS_URL not set: using the in-process event bus (events stay inside this process)');
    return new MemoryBus();
  }
  return NatsBus.connect(natsUrl, { name });
}

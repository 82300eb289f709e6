import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type BusEvent,
  type EventBus,
  MemoryBus,
  NatsBus,
  OutboxBus,
  openStore,
  STREAM_NAME,
  type Store,
  subjectMatches,
} from '@lab/common';
import { type NatsServerHandle, runNatsServer } from '@lab/supervisor';
import { connect } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/** Collects events and lets a test wait for a number of them. */
function collector() {
  const events: BusEvent[] = [];
  const waiters: { n: number; resolve: () => void }[] = [];
  return {
    events,
    handler: (e: BusEvent) => {
      events.push(e);
      for (const w of waiters) if (events.length >= w.n) w.resolve();
    },
    waitFor: (n: number, timeoutMs = 5000) =>
      new Promise<BusEvent[]>((resolve, reject) => {
        if (events.length >= n) return resolve(events);
        const timer = setTimeout(() => reject(new Error(`got ${events.length}/${n} events`)), timeoutMs);
        waiters.push({
          n,
          resolve: () => {
            clearTimeout(timer);
            resolve(events);
          },
        });
      }),
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
let unique = 0;
const runId = () => `r${Date.now().toString(36)}${unique++}`;

/** The contract every bus implementation must meet. */
function busContract(name: string, make: () => Promise<EventBus>, kind = name) {
  describe(`${name} bus contract`, () => {
    let bus: EventBus;
    beforeAll(async () => {
      bus = await make();
    });
    afterAll(async () => {
      await bus.close();
    });

    it('reports its kind and a connected state', () => {
      expect(bus.kind).toBe(kind);
      expect(bus.state()).toBe('connected');
    });

    it('delivers published events in order with increasing sequence numbers', async () => {
      const id = runId();
      const c = collector();
      const sub = await bus.subscribe(`lab.run.${id}.metrics`, c.handler);
      for (let step = 1; step <= 20; step++)
        await bus.publish(`lab.run.${id}.metrics`, { step, loss: 5 - step / 10 });
      const got = await c.waitFor(20);
      expect(got.map((e) => (e.data as { step: number }).step)).toEqual(
        Array.from({ length: 20 }, (_, i) => i + 1),
      );
      for (let i = 1; i < got.length; i++) expect(got[i]!.seq).toBeGreaterThan(got[i - 1]!.seq);
      expect(new Date(got[0]!.time).getTime()).toBeGreaterThan(Date.now() - 60_000);
      await sub.unsubscribe();
    });

    it('matches * and > wildcards and nothing else', async () => {
      const id = runId();
      const star = collector();
      const rest = collector();
      const s1 = await bus.subscribe(`lab.job.*.state`, star.handler);
      const s2 = await bus.subscribe(`lab.job.>`, rest.handler);
      await bus.publish(`lab.job.${id}.state`, { state: 'running' });
      await bus.publish(`lab.job.${id}.extra.deep`, { x: 1 });
      await bus.publish(`lab.run.${id}.metrics`, { step: 1 });
      await rest.waitFor(2);
      await star.waitFor(1);
      await sleep(200);
      expect(star.events.map((e) => e.subject)).toEqual([`lab.job.${id}.state`]);
      expect(rest.events.map((e) => e.subject)).toEqual([`lab.job.${id}.state`, `lab.job.${id}.extra.deep`]);
      await s1.unsubscribe();
      await s2.unsubscribe();
    });

    it('replays events after a given sequence, then continues live (resume)', async () => {
      const id = runId();
      const subject = `lab.run.${id}.metrics`;
      const seqs: number[] = [];
      for (let step = 1; step <= 5; step++) seqs.push(await bus.publish(subject, { step }));
      const c = collector();
      const sub = await bus.subscribe(subject, c.handler, { afterSeq: seqs[1] });
      await bus.publish(subject, { step: 6 });
      const got = await c.waitFor(4);
      expect(got.map((e) => (e.data as { step: number }).step)).toEqual([3, 4, 5, 6]);
      await sub.unsubscribe();
    });

    it('does not deliver to a subscription after unsubscribe', async () => {
      const id = runId();
      const c = collector();
      const sub = await bus.subscribe(`lab.run.${id}.metrics`, c.handler);
      await bus.publish(`lab.run.${id}.metrics`, { step: 1 });
      await c.waitFor(1);
      await sub.unsubscribe();
      await bus.publish(`lab.run.${id}.metrics`, { step: 2 });
      await sleep(300);
      expect(c.events).toHaveLength(1);
    });

    it('carries headers such as traceparent to subscribers', async () => {
      const id = runId();
      const c = collector();
      const sub = await bus.subscribe(`lab.job.${id}.state`, c.handler);
      const traceparent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
      await bus.publish(`lab.job.${id}.state`, { state: 'queued' }, { traceparent });
      const [e] = await c.waitFor(1);
      expect(e!.headers.traceparent).toBe(traceparent);
      expect(e!.data).toEqual({ state: 'queued' });
      await sub.unsubscribe();
    });

    it('rejects an invalid subject before publishing', async () => {
      await expect(bus.publish('lab..bad subject', {})).rejects.toThrow(/invalid bus subject/);
    });

    it('keeps delivering to others when one subscriber throws', async () => {
      const id = runId();
      const c = collector();
      const bad = await bus.subscribe(`lab.run.${id}.metrics`, () => {
        throw new Error('boom');
      });
      const good = await bus.subscribe(`lab.run.${id}.metrics`, c.handler);
      await bus.publish(`lab.run.${id}.metrics`, { step: 1 });
      await bus.publish(`lab.run.${id}.metrics`, { step: 2 });
      await c.waitFor(2);
      await bad.unsubscribe();
      await good.unsubscribe();
    });
  });
}

describe('subject matching', () => {
  it('follows NATS wildcard rules', () => {
    expect(subjectMatches('lab.>', 'lab.run.1.metrics')).toBe(true);
    expect(subjectMatches('lab.>', 'lab')).toBe(false);
    expect(subjectMatches('lab.run.*.metrics', 'lab.run.1.metrics')).toBe(true);
    expect(subjectMatches('lab.run.*.metrics', 'lab.run.1.2.metrics')).toBe(false);
    expect(subjectMatches('lab.run.*', 'lab.run')).toBe(false);
  });
});

busContract('memory', async () => new MemoryBus());

let nats: NatsServerHandle;
busContract('nats', async () => {
  nats = await runNatsServer(mkdtempSync(join(tmpdir(), 'lab-nats-')));
  return NatsBus.connect(nats.url, { name: 'contract-test' });
});

// The services' bus: must-not-lose subjects (lab.run.>, lab.job.>) go through an outbox in an lmdb store.
let outboxNats: NatsServerHandle;
let outboxStore: Store;
busContract(
  'nats behind an outbox',
  async () => {
    const home = mkdtempSync(join(tmpdir(), 'lab-nats-outbox-'));
    outboxNats = await runNatsServer(home);
    outboxStore = openStore(home, 'contract');
    return OutboxBus.open(await NatsBus.connect(outboxNats.url, { name: 'outbox-test' }), outboxStore, {
      name: 'contract',
    });
  },
  'nats',
);

describe('nats bus subscriptions', () => {
  it('removes its consumer from the server on unsubscribe (many SSE clients come and go)', async () => {
    const server = await runNatsServer(mkdtempSync(join(tmpdir(), 'lab-nats-')));
    const bus = await NatsBus.connect(server.url, { name: 'consumers-test' });
    const nc = await connect({ servers: server.url });
    const jsm = await nc.jetstreamManager();
    const consumers = async () => (await jsm.streams.info(STREAM_NAME)).state.consumer_count;
    try {
      const subs = await Promise.all([1, 2, 3].map(() => bus.subscribe('lab.run.x.metrics', () => {})));
      expect(await consumers()).toBe(3);
      for (const sub of subs) await sub.unsubscribe();
      expect(await consumers()).toBe(0);
    } finally {
      await nc.close();
      await bus.close();
      await server.stop();
    }
  });
});

describe('nats bus across a server restart', () => {
  it('keeps stored events and resumes a live subscription after the server comes back', async () => {
    const server = await runNatsServer(mkdtempSync(join(tmpdir(), 'lab-nats-')));
    const bus = await NatsBus.connect(server.url, { name: 'restart-test' });
    try {
      const c = collector();
      const sub = await bus.subscribe('lab.run.restart.metrics', c.handler);
      await bus.publish('lab.run.restart.metrics', { step: 1 });
      await c.waitFor(1);
      await server.stop();
      await server.start();
      // Publishing retries until the client has reconnected.
      const deadline = Date.now() + 15_000;
      for (;;) {
        try {
          await bus.publish('lab.run.restart.metrics', { step: 2 });
          break;
        } catch (err) {
          if (Date.now() > deadline) throw err;
          await sleep(200);
        }
      }
      const got = await c.waitFor(2, 15_000);
      expect(got.map((e) => (e.data as { step: number }).step)).toEqual([1, 2]);
      expect(bus.state()).toBe('connected');
      await sub.unsubscribe();
    } finally {
      await bus.close();
      await server.stop();
    }
  });
});

afterAll(async () => {
  await nats?.stop();
  await outboxStore?.close();
  await outboxNats?.stop();
});

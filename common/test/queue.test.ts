import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type NatsServerHandle, runNatsServer } from '@lab/supervisor';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryWorkQueue, NatsWorkQueue, type WorkQueue, type WorkQueueOptions } from '../src/bus/queue.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
let unique = 0;
const qname = () => `q${Date.now().toString(36)}${unique++}`;

/** Opens a handle on a queue; two handles of one name are two workers sharing it. */
type Open = (options: WorkQueueOptions) => Promise<WorkQueue<{ n: number }>>;

function queueContract(kind: 'nats' | 'memory', open: () => Open) {
  describe(`${kind} work queue contract`, () => {
    const handles: WorkQueue<{ n: number }>[] = [];
    const openHandle = async (options: WorkQueueOptions) => {
      const q = await open()(options);
      handles.push(q);
      return q;
    };
    afterAll(async () => {
      for (const q of handles) await q.close();
    });

    it('hands items out in FIFO order and forgets them once acknowledged', async () => {
      const q = await openHandle({ name: qname() });
      expect(q.kind).toBe(kind);
      for (let n = 1; n <= 5; n++) await q.push({ n });
      expect(await q.size()).toBe(5);
      const got: number[] = [];
      for (let i = 0; i < 5; i++) {
        const item = (await q.pull({ timeoutMs: 5000 }))!;
        expect(item.deliveryCount).toBe(1);
        got.push(item.data.n);
        await item.ack();
      }
      expect(got).toEqual([1, 2, 3, 4, 5]);
      expect(await q.pull({ timeoutMs: 300 })).toBeUndefined();
      expect(await q.size()).toBe(0);
    });

    it('gives each item to exactly one of several competing workers', async () => {
      const name = qname();
      const workers = await Promise.all([1, 2, 3].map(() => openHandle({ name })));
      const total = 30;
      for (let n = 1; n <= total; n++) await workers[0]!.push({ n });
      const seen: { worker: number; n: number }[] = [];
      await Promise.all(
        workers.map(async (q, worker) => {
          for (;;) {
            const item = await q.pull({ timeoutMs: 800 });
            if (!item) return;
            seen.push({ worker, n: item.data.n });
            await sleep(5);
            await item.ack();
          }
        }),
      );
      expect(seen.map((s) => s.n).sort((a, b) => a - b)).toEqual(
        Array.from({ length: total }, (_, i) => i + 1),
      );
      expect(new Set(seen.map((s) => s.worker)).size).toBeGreaterThan(1);
    });

    it('hands an item that was neither acknowledged nor worked on to another worker after the ack wait', async () => {
      const name = qname();
      const a = await openHandle({ name, ackWaitMs: 2000 });
      const b = await openHandle({ name, ackWaitMs: 2000 });
      await a.push({ n: 7 });
      const first = (await a.pull({ timeoutMs: 5000 }))!;
      expect(first.data.n).toBe(7);
      // While a holds it, nobody else gets it.
      expect(await b.pull({ timeoutMs: 400 })).toBeUndefined();
      const again = (await b.pull({ timeoutMs: 5000 }))!;
      expect(again.data.n).toBe(7);
      expect(again.deliveryCount).toBe(2);
      await again.ack();
      expect(await a.pull({ timeoutMs: 1500 })).toBeUndefined();
    });

    it('keeps an item with its worker past the ack wait while working() heartbeats', async () => {
      const name = qname();
      const a = await openHandle({ name, ackWaitMs: 800 });
      const b = await openHandle({ name, ackWaitMs: 800 });
      await a.push({ n: 1 });
      const item = (await a.pull({ timeoutMs: 5000 }))!;
      const beat = setInterval(() => item.working(), 200);
      try {
        expect(await b.pull({ timeoutMs: 2000 })).toBeUndefined();
      } finally {
        clearInterval(beat);
      }
      await item.ack();
      expect(await b.pull({ timeoutMs: 1200 })).toBeUndefined();
    });

    it('hands a nak-ed item out again (after its delay) and never a terminated one', async () => {
      const name = qname();
      const a = await openHandle({ name });
      const b = await openHandle({ name });
      await a.push({ n: 1 });
      await a.push({ n: 2 });
      const one = (await a.pull({ timeoutMs: 5000 }))!;
      expect(one.data.n).toBe(1);
      const t0 = Date.now();
      one.nak(300);
      const two = (await b.pull({ timeoutMs: 5000 }))!;
      expect(two.data.n).toBe(2);
      two.term();
      const back = (await b.pull({ timeoutMs: 5000 }))!;
      expect(back.data.n).toBe(1);
      expect(back.deliveryCount).toBe(2);
      expect(Date.now() - t0).toBeGreaterThanOrEqual(250);
      await back.ack();
      expect(await a.pull({ timeoutMs: 500 })).toBeUndefined();
    });

    it('stops waiting when the signal aborts', async () => {
      const q = await openHandle({ name: qname() });
      const ac = new AbortController();
      const t0 = Date.now();
      setTimeout(() => ac.abort(), 200);
      expect(await q.pull({ signal: ac.signal })).toBeUndefined();
      expect(Date.now() - t0).toBeLessThan(3000);
    });
  });
}

let nats: NatsServerHandle;
const home = mkdtempSync(join(tmpdir(), 'lab-queue-'));
beforeAll(async () => {
  nats = await runNatsServer(home);
});
afterAll(async () => {
  await nats?.stop();
  rmSync(home, { recursive: true, force: true });
});

queueContract('nats', () => (options) => NatsWorkQueue.open(nats.url, options));

const memoryQueues = new Map<string, MemoryWorkQueue<{ n: number }>>();
queueContract('memory', () => async (options) => {
  // Workers of one process share one instance: the same name gives the same queue.
  let q = memoryQueues.get(options.name);
  if (!q) {
    q = new MemoryWorkQueue(options);
    memoryQueues.set(options.name, q);
  }
  return q;
});

describe('nats work queue across processes', () => {
  it('keeps items across handles and a server restart, and redelivers what a closed worker held', async () => {
    const name = qname();
    const a = await NatsWorkQueue.open<{ n: number }>(nats.url, { name, ackWaitMs: 1000 });
    await a.push({ n: 1 });
    await a.push({ n: 2 });
    const held = (await a.pull({ timeoutMs: 5000 }))!;
    expect(held.data.n).toBe(1);
    await a.close(); // a dies holding item 1
    await nats.stop();
    await nats.start();
    const b = await NatsWorkQueue.open<{ n: number }>(nats.url, { name, ackWaitMs: 1000 });
    try {
      const got: number[] = [];
      for (let i = 0; i < 2; i++) {
        const item = (await b.pull({ timeoutMs: 8000 }))!;
        got.push(item.data.n);
        await item.ack();
      }
      expect(got.sort()).toEqual([1, 2]);
      expect(await b.size()).toBe(0);
    } finally {
      await b.close();
    }
  }, 30_000);
});

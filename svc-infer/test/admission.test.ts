// Admission and memory: a bounded queue that answers "busy" rather than piling up, and a memory budget
// checked before a model loads, which unloads idle models to make room.
import { join } from 'node:path';
import { localCallContext } from '@lab/common';
import { type ModelInfo, SamplingParams } from '@lab/proto/infer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Limiter } from '../src/generate/limiter.ts';
import {
  type ErrorJson,
  type InferFixture,
  postJson,
  postSse,
  startInfer,
  writeCharModel,
} from './fixture.ts';

describe('Limiter', () => {
  it('runs up to maxActive, queues up to maxQueue in order, then refuses', async () => {
    const lim = new Limiter(2, 1);
    const a = await lim.acquire();
    const b = await lim.acquire();
    const order: string[] = [];
    const c = lim.acquire().then((rel) => {
      order.push('c');
      return rel;
    });
    await expect(lim.acquire()).rejects.toThrow(/busy: 2 generations running and 1 waiting/);
    expect(lim.queued).toBe(1);
    a();
    const relC = await c;
    expect(order).toEqual(['c']);
    expect(lim.running).toBe(2);
    b();
    relC();
    expect(lim.running).toBe(0);
  });

  it('a waiter that is cancelled leaves the queue', async () => {
    const lim = new Limiter(1, 4);
    const a = await lim.acquire();
    const ac = new AbortController();
    const waiting = lim.acquire(ac.signal);
    ac.abort();
    await expect(waiting).rejects.toThrow(/cancelled/);
    expect(lim.queued).toBe(0);
    a();
    expect(lim.running).toBe(0);
  });
});

describe('service limits', () => {
  let fx: InferFixture;
  beforeAll(async () => {
    // Room for one small model (its float32 weights and the graph's copy), not two.
    const small = writeCharModel(join('/tmp', `lab-admission-${process.pid}`, 'a'));
    const bytes = 2 * 4 * small.params.length;
    fx = await startInfer({ maxActive: 1, maxQueue: 0, memoryBytes: Math.floor(bytes * 1.5) });
    for (const [name, seed] of [
      ['a', 1],
      ['b', 2],
    ] as const) {
      const m = writeCharModel(join(fx.home, name), {}, seed);
      expect((await postJson(`${fx.url}/api/infer/models`, { name, path: m.dir })).status).toBe(201);
    }
    const big = writeCharModel(join(fx.home, 'big'), { nEmbd: 128, nHead: 4, ffnHidden: 512 });
    expect((await postJson(`${fx.url}/api/infer/models`, { name: 'big', path: big.dir })).status).toBe(201);
  }, 60_000);
  afterAll(async () => {
    await fx?.close();
  });

  it('answers busy (503) when a generation runs and the queue is full', async () => {
    // A generation suspended after its first event holds its slot until it is closed.
    const running = fx.impl.impl.generate!(
      { model: 'a', prompt: 'A', messages: [], params: SamplingParams.fromPartial({ maxTokens: 40 }) },
      localCallContext(),
    )[Symbol.asyncIterator]();
    expect((await running.next()).value?.event?.$case).toBe('preflight');
    const second = await postJson(`${fx.url}/api/infer/generate`, { model: 'a', prompt: 'B' });
    expect(second.status).toBe(503);
    expect(second.body.error.message).toMatch(/^busy: 1 generations running and 0 waiting/);
    await running.return?.(undefined);
    const third = await postSse(`${fx.url}/api/infer/generate`, {
      model: 'a',
      prompt: 'C',
      params: { maxTokens: 2 },
    });
    expect(third.status).toBe(200);
  });

  it('unloads an idle model to make room, and refuses one larger than the budget naming it', async () => {
    await postSse(`${fx.url}/api/infer/generate`, { model: 'a', prompt: 'A', params: { maxTokens: 2 } });
    const info = async (n: string) =>
      (await (await fetch(`${fx.url}/api/infer/models/${n}`)).json()) as ModelInfo;
    expect((await info('a')).loaded).toBe(true);
    // Once its weights are in the fast layouts (in the background after load), tokens run on the lab's kernel.
    await expect
      .poll(async () => (await info('a')).decoding)
      .toMatch(/^lab\.engine::Linear (avx512|avx2|scalar), (\d+ threads(, no spin)?|1 thread|default)$/);
    await postSse(`${fx.url}/api/infer/generate`, { model: 'b', prompt: 'A', params: { maxTokens: 2 } });
    expect((await info('b')).loaded).toBe(true);
    expect((await info('a')).loaded).toBe(false);
    expect((await info('a')).decoding).toBe('');
    const big = await postJson<ErrorJson>(`${fx.url}/api/infer/generate`, { model: 'big', prompt: 'A' });
    expect(big.status).toBe(413);
    expect(big.body.error.message).toMatch(/memory budget.*LAB_INFER_MEMORY_MB/);
  });
});

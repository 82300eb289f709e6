import { describe, expect, it } from 'vitest';
import { Graph } from '../src/graph/graph.ts';
import * as op from '../src/graph/ops.ts';
import { preset } from '../src/models/config.ts';
import { paramLayout } from '../src/models/model.ts';
import { BoundSession, boundUnavailable } from '../src/runtime/bound.ts';
import { createSession, f32, i64, type ort } from '../src/runtime/session.ts';
import { StateSet } from '../src/train/feeds.ts';
import { buildStepGraph, DEFAULT_OPTIM } from '../src/train/graphs.ts';

const scalar = (x: number): ort.Tensor => f32([x], []);

async function bound(bytes: Uint8Array, threads = 1): Promise<BoundSession> {
  const s = await BoundSession.create(bytes, { threads });
  if (!s) throw new Error(`bound sessions unavailable: ${boundUnavailable()}`);
  return s;
}

describe('bound sessions (ORT C API, outputs written in place)', () => {
  const cfg = preset('nanogpt-cpu', { vocabSize: 65, nLayer: 1 });
  const layout = paramLayout(cfg);
  const [batch, seq] = [2, 16];
  const stepGraph = buildStepGraph({
    cfg,
    layout,
    batch,
    seq,
    optim: DEFAULT_OPTIM,
    ignoreIndex: -100,
    mode: 'step',
    accumulateIn: false,
    gradScale: 1,
  }).toBytes();
  const ids = i64(
    Array.from({ length: batch * seq }, (_, i) => (i * 7) % 65),
    [batch, seq],
  );
  const feedsOf = (state: StateSet, step: number): Record<string, ort.Tensor> => ({
    ...state.inputs,
    idx: ids,
    targets: ids,
    lr: scalar(1e-3),
    step: scalar(step),
  });

  it('a training step writes the same weights and moments as onnxruntime-node, into the given buffers', async () => {
    const init = layout.init(3);
    const ours = new StateSet(layout, new Float32Array(layout.total));
    const theirs = new StateSet(layout, new Float32Array(layout.total));
    const b = await bound(stepGraph);
    const n = await createSession(stepGraph, { threads: 1 });
    try {
      const fetches = { loss: scalar(0), grad_norm: scalar(0), ...ours.outputs };
      const result = await b.run(feedsOf(new StateSet(layout, init), 1), fetches);
      await n.run(feedsOf(new StateSet(layout, init), 1), {
        loss: scalar(0),
        grad_norm: scalar(0),
        ...theirs.outputs,
      });
      expect(result).toBe(fetches);
      expect((fetches.loss.data as Float32Array)[0]).toBeGreaterThan(3);
      expect(ours.params).toEqual(theirs.params);
      expect(ours.m).toEqual(theirs.m);
      expect(ours.v).toEqual(theirs.v);
      expect(ours.params).not.toEqual(init);
    } finally {
      await b.release();
      await n.release();
    }
  });

  it('repeated steps allocate no output copies', async () => {
    const cur = new StateSet(layout, layout.init(1));
    const next = new StateSet(layout, new Float32Array(layout.total));
    const b = await bound(stepGraph);
    try {
      const fetches = { loss: scalar(0), grad_norm: scalar(0), ...next.outputs };
      await b.run(feedsOf(cur, 1), fetches);
      const before = process.memoryUsage().arrayBuffers;
      for (let i = 0; i < 5; i++) await b.run(feedsOf(cur, 1), fetches);
      // onnxruntime-node would have allocated 5 × (weights + moments) here.
      expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(layout.total);
    } finally {
      await b.release();
    }
  });

  it('names a missing input, reports ORT errors, and refuses runs after release', async () => {
    const g = new Graph('add');
    const a = g.input('a', 'float32', [3]);
    g.output(op.add(g, a, g.scalar(1)), 'y');
    const b = await bound(g.toBytes());
    const y = f32([0, 0, 0], [3]);
    await expect(b.run({}, { y })).rejects.toThrow(/input 'a' is missing/);
    await expect(b.run({ a: f32([1, 2], [2]) }, { y })).rejects.toThrow(/dimension|shape|Got/i);
    await b.run({ a: f32([1, 2, 3], [3]) }, { y });
    expect(Array.from(y.data as Float32Array)).toEqual([2, 3, 4]);
    await b.release();
    await expect(b.run({ a: f32([1, 2, 3], [3]) }, { y })).rejects.toThrow(/released/);
  });

  it('is not used for other execution providers or profiling', async () => {
    expect(await BoundSession.create(stepGraph, { ep: 'webgpu' })).toBeNull();
    expect(await BoundSession.create(stepGraph, { profilePrefix: '/tmp/x' })).toBeNull();
  });
});

describe('bound session release', () => {
  it('waits for a run in flight before freeing the session', async () => {
    const g = new Graph('slow');
    const a = g.input('a', 'float32', [256, 256]);
    let y = a;
    for (let i = 0; i < 40; i++) y = op.matmul(g, y, a);
    g.output(y, 'y');
    const b = await bound(g.toBytes());
    const out = f32(new Float32Array(256 * 256), [256, 256]);
    const running = b.run({ a: f32(new Float32Array(256 * 256).fill(0.001), [256, 256]) }, { y: out });
    await b.release();
    await running;
    expect((out.data as Float32Array)[0]).toBeGreaterThan(0);
  });
});

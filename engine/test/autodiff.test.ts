// The autodiff pass itself (engine/src/graph/autodiff.ts), beyond the per-op rules: what it refuses, that
// it builds gradient nodes only where a gradient flows (the step graphs of big models depend on it), that
// fan-out sums, and that a value the loss does not depend on gets zeros. Found by mutation testing
// (`npm run mutate:engine`): these paths were not checked.
import { describe, expect, it } from 'vitest';
import { gradients } from '../src/graph/autodiff.ts';
import { Graph, GraphError } from '../src/graph/graph.ts';
import * as op from '../src/graph/ops.ts';
import { createSession, f32 } from '../src/runtime/session.ts';

const sum = (g: Graph, v: ReturnType<Graph['input']>) =>
  op.reduceSum(
    g,
    v,
    v.shape.map((_, i) => i),
    false,
  );

describe('gradients()', () => {
  it('refuses a loss that is not a scalar, or not computed by the graph, or an op with no VJP rule', () => {
    const g = new Graph('refuse');
    const x = g.input('x', 'float32', [3]);
    expect(() => gradients(g, op.mul(g, x, x), [x])).toThrow(/loss '.+' must be a scalar, got \[3\]/);
    const s = g.input('s', 'float32', []);
    expect(() => gradients(g, s, [s])).toThrow(/loss 's' is not produced by a node/);
    const sinLoss = sum(g, op.sin(g, x));
    expect(() => gradients(g, sinLoss, [x])).toThrow(GraphError);
    expect(() => gradients(g, sinLoss, [x])).toThrow(/no VJP rule for op 'Sin'/);
  });

  it('adds nodes only for values that depend on what is differentiated, all under the grad. prefix', () => {
    const g = new Graph('prune');
    const a = g.input('a', 'float32', [4]);
    const c = g.input('c', 'float32', [4]);
    const ids = g.input('ids', 'int64', [2]);
    // loss = Σ a·a + Σ exp(c) + Σ gather(c, ids): only the first term depends on a.
    const loss = op.add(
      g,
      op.add(g, sum(g, op.mul(g, a, a)), sum(g, op.exp(g, c))),
      sum(g, op.gather(g, c, ids)),
    );
    const before = g.nodes.length;
    const [da] = gradients(g, loss, [a]);
    const added = g.nodes.slice(before);
    expect(added.every((n) => n.name.startsWith('grad.'))).toBe(true);
    // Nothing of the c branch: no rule ran for Exp or Gather, and no gradient node reads c or ids.
    expect(added.some((n) => n.inputs.includes('c') || n.inputs.includes('ids'))).toBe(false);
    expect(added.some((n) => n.op === 'ScatterND' || n.op === 'ScatterElements')).toBe(false);
    expect(added.length).toBeLessThan(12);
    expect(da!.name.startsWith('grad.')).toBe(true);
    expect(g.prefix).toBe('');
  });

  it('sums the gradients of a value used twice, gives zeros where the loss does not depend on it, and scales by a seed', async () => {
    const g = new Graph('fanout');
    const x = g.input('x', 'float32', [3]);
    const unused = g.input('u', 'float32', [2]);
    const scale = g.input('scale', 'float32', []);
    // loss = Σ x·x + Σ 3x  →  d/dx = 2x + 3
    const loss = op.add(g, sum(g, op.mul(g, x, x)), sum(g, op.mul(g, x, g.scalar(3, 'float32'))));
    const [dx, du] = gradients(g, loss, [x, unused]);
    g.output(dx!, 'dx');
    g.output(du!, 'du');
    const [dxSeeded] = gradients(g, loss, [x], scale);
    g.output(dxSeeded!, 'dx_seeded');
    const s = await createSession(g, { optLevel: 'disabled', threads: 1 });
    try {
      const out = await s.run({
        x: f32([1, -2, 0.5], [3]),
        u: f32([7, 8], [2]),
        scale: f32([0.5], []),
      });
      expect([...(out.dx.data as Float32Array)]).toEqual([5, -1, 4]);
      expect([...(out.du.data as Float32Array)]).toEqual([0, 0]);
      expect(out.du.dims).toEqual([2]);
      expect([...(out.dx_seeded.data as Float32Array)]).toEqual([2.5, -0.5, 2]);
    } finally {
      await s.release();
    }
  });
});

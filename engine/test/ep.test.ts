import { describe, expect, it, vi } from 'vitest';
import { Graph } from '../src/graph/graph.ts';
import * as op from '../src/graph/ops.ts';
import { createSession, f32 } from '../src/runtime/session.ts';

describe('execution providers', () => {
  it('LAB_EP=cuda without CUDA falls back to cpu with a one-line warning', async () => {
    const g = new Graph('ep');
    const a = g.input('a', 'float32', [2]);
    g.output(op.exp(g, a), 'y');
    const warnings: string[] = [];
    const warn = vi.spyOn(console, 'warn').mockImplementation((m: unknown) => {
      warnings.push(String(m));
    });
    const saved = process.env.LAB_EP;
    process.env.LAB_EP = 'cuda';
    try {
      const s = await createSession(g);
      const out = await s.run({ a: f32([0, 1], [2]) });
      expect((out.y.data as Float32Array)[1]).toBeCloseTo(Math.E, 5);
      await createSession(g);
    } finally {
      process.env.LAB_EP = saved;
      warn.mockRestore();
    }
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/^engine: execution provider 'cuda' unavailable .*falling back to cpu$/);
    expect(warnings[0]).not.toContain('\n');
  });
});

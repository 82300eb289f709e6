import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { configFromHf, hfConfig, loadCheckpoint, saveCheckpoint } from '../src/checkpoint/checkpoint.ts';
import { readSafetensors, writeSafetensors } from '../src/checkpoint/safetensors.ts';
import { estimateModel } from '../src/estimate.ts';
import { Graph, GraphError } from '../src/graph/graph.ts';
import * as op from '../src/graph/ops.ts';
import { llamaConfig, preset } from '../src/models/config.ts';
import { paramLayout } from '../src/models/model.ts';
import { ModelProto } from '../src/onnx/gen/onnx.ts';
import { Rng } from '../src/rng.ts';
import { createSession, f32, resolveEp } from '../src/runtime/session.ts';

describe('graph builder', () => {
  it('infers shapes and serialises a graph ORT runs', async () => {
    const g = new Graph('t');
    const a = g.input('a', 'float32', [2, 3]);
    const b = g.input('b', 'float32', [3, 4]);
    const y = op.softmax(g, op.add(g, op.matmul(g, a, b), g.scalar(1)), -1);
    expect(y.shape).toEqual([2, 4]);
    g.output(y, 'y');
    const bytes = g.toBytes();
    const decoded = ModelProto.decode(bytes);
    expect(decoded.opsetImport[0].version).toBe(20);
    expect(decoded.graph?.node.map((n) => n.opType)).toEqual(['MatMul', 'Add', 'Softmax']);
    const s = await createSession(bytes);
    const out = await s.run({
      a: f32(new Float32Array(6).fill(1), [2, 3]),
      b: f32(new Float32Array(12).fill(0.5), [3, 4]),
    });
    expect(Array.from(out.y.data as Float32Array)).toEqual(new Array(8).fill(0.25));
  });

  it('prunes nodes no output depends on, such as gradients of constants', async () => {
    const { gradients } = await import('../src/graph/autodiff.ts');
    const g = new Graph('prune');
    const x = g.input('x', 'float32', [2, 3]);
    // The mask is a constant: Add's VJP still builds its (useless) reduced gradient.
    const mask = g.constant('float32', [3], [0, -1, -2]);
    const loss = op.reduceSum(g, op.mul(g, op.add(g, x, mask), op.add(g, x, mask)), [0, 1], false);
    const [dx] = gradients(g, loss, [x]);
    g.output(dx, 'dx');
    const before = g.nodes.length;
    const bytes = g.toBytes();
    expect(g.nodes.length).toBeLessThan(before);
    expect(g.nodes.some((n) => n.op === 'ReduceSum' && n.inputs[0].startsWith('grad.'))).toBe(false);
    const s = await createSession(bytes);
    const out = await s.run({ x: f32([1, 2, 3, 4, 5, 6], [2, 3]) });
    // d/dx Σ (x + mask)² = 2(x + mask)
    expect(Array.from(out.dx.data as Float32Array)).toEqual([2, 2, 2, 8, 8, 8]);
  });

  it('rejects shape mismatches at build time', () => {
    const g = new Graph('bad');
    const a = g.input('a', 'float32', [2, 3]);
    const b = g.input('b', 'float32', [4, 5]);
    expect(() => op.matmul(g, a, b)).toThrow(/MatMul: inner dimensions differ/);
    expect(() => op.add(g, a, b)).toThrow(/Add: cannot broadcast/);
  });

  it('validation names the offending node', () => {
    const g = new Graph('bad');
    const a = g.input('a', 'float32', [2]);
    const y = op.exp(g, a);
    g.output(y);
    (g.nodes as { op: string }[])[0].op = 'Exq';
    expect(() => g.toBytes()).toThrow(/node 'Exp_0': unknown op type 'Exq'/);
    const g2 = new Graph('bad2');
    const c = g2.input('c', 'float32', [2]);
    g2.output(op.neg(g2, c));
    (g2.nodes[0].inputs as string[])[0] = 'missing';
    expect(() => g2.toBytes()).toThrow(GraphError);
    expect(() => g2.toBytes()).toThrow(/node 'Neg_0' \(Neg\): input 'missing' is used before it is defined/);
  });

  it('execution provider: unknown names are rejected, cpu resolves', () => {
    expect(resolveEp('cpu')).toBe('cpu');
    expect(() => resolveEp('tpu')).toThrow(/unknown execution provider 'tpu'/);
  });
});

describe('estimator', () => {
  it('counts parameters by component and FLOPs per token', () => {
    const e = estimateModel(preset('gpt2-small'), 1, 1024);
    expect(e.params.total).toBe(124_439_808);
    expect(e.params.embeddings).toBe(50257 * 768 + 1024 * 768);
    expect(e.params.head).toBe(0);
    expect(e.params.embeddings + e.params.attention + e.params.mlp + e.params.norms + e.params.head).toBe(
      e.params.total,
    );
    // ≈ 2·N_non-embedding + head + attention: about 0.3 GFLOP/token forward at 1024 context
    expect(e.flopsPerToken.forward / 1e9).toBeGreaterThan(0.28);
    expect(e.flopsPerToken.forward / 1e9).toBeLessThan(0.33);
    expect(e.flopsPerToken.backward).toBe(2 * e.flopsPerToken.forward);
    expect(e.memory.weights).toBe(124_439_808 * 4);
    expect(e.memory.optimizer).toBe(2 * e.memory.weights);
    expect(estimateModel(preset('gpt2-small'), 8, 1024).memory.activations).toBe(8 * e.memory.activations);
  });
});

describe('checkpoints', () => {
  it('safetensors round trip', () => {
    const dir = mkdtempSync(join(tmpdir(), 'st-'));
    try {
      const a = Float32Array.of(1, 2, 3, 4, 5, 6);
      writeSafetensors(
        join(dir, 'x.safetensors'),
        [
          { name: 'w', shape: [2, 3], data: a },
          { name: 'b', shape: [1], data: Float32Array.of(7) },
        ],
        {
          format: 'pt',
        },
      );
      const r = readSafetensors(join(dir, 'x.safetensors'));
      expect(r.tensors.get('w')?.shape).toEqual([2, 3]);
      expect(Array.from(r.tensors.get('w')!.data)).toEqual([1, 2, 3, 4, 5, 6]);
      expect(Array.from(r.tensors.get('b')!.data)).toEqual([7]);
      expect(r.metadata.format).toBe('pt');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('saves Hugging Face names/config and loads back identically (llama)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ck-'));
    try {
      const cfg = llamaConfig({
        nLayer: 2,
        nHead: 4,
        nKvHead: 2,
        nEmbd: 16,
        ffnHidden: 24,
        blockSize: 8,
        vocabSize: 10,
      });
      const layout = paramLayout(cfg);
      const params = layout.init(4);
      const m = params.map((x) => x * 2);
      const v = params.map((x) => x * x);
      saveCheckpoint(dir, { cfg, params, m, v, state: { step: 5, rng: new Rng(1).state() } });
      const st = readSafetensors(join(dir, 'model.safetensors'));
      expect(st.tensors.get('model.layers.1.self_attn.k_proj.weight')?.shape).toEqual([8, 16]);
      expect(st.tensors.get('lm_head.weight')?.shape).toEqual([10, 16]);
      const ck = loadCheckpoint(dir);
      expect(ck.cfg).toEqual(cfg);
      expect(ck.params).toEqual(params);
      expect(ck.m).toEqual(m);
      expect(ck.v).toEqual(v);
      expect(ck.state?.step).toBe(5);
      // A plain HF config (no lab_config) maps back to the same architecture.
      const { lab_config: _, ...plain } = hfConfig(cfg);
      expect(configFromHf(plain)).toMatchObject({
        nLayer: 2,
        nHead: 4,
        nKvHead: 2,
        nEmbd: 16,
        ffnHidden: 24,
        family: 'llama',
      });
      expect(hfConfig(preset('gpt2-small'))).toMatchObject({
        model_type: 'gpt2',
        n_layer: 12,
        activation_function: 'gelu_new',
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('optimisation levels', () => {
  it('the training-step graph runs at every ORT optimisation level with the same results', async () => {
    const { buildStepGraph, DEFAULT_OPTIM } = await import('../src/train/graphs.ts');
    const { StateSet } = await import('../src/train/feeds.ts');
    const { ort } = await import('../src/runtime/session.ts');
    const cfg = preset('nanogpt-cpu', { vocabSize: 11, nLayer: 1, blockSize: 8 });
    const layout = paramLayout(cfg);
    const bytes = buildStepGraph({
      cfg,
      layout,
      batch: 2,
      seq: 8,
      optim: DEFAULT_OPTIM,
      ignoreIndex: -100,
      mode: 'step',
      accumulateIn: false,
      gradScale: 1,
    }).toBytes();
    const ids = BigInt64Array.from({ length: 16 }, (_, i) => BigInt(i % 11));
    const feeds = () => ({
      ...new StateSet(layout, layout.init(1)).inputs,
      lr: new ort.Tensor('float32', Float32Array.of(1e-3), []),
      step: new ort.Tensor('float32', Float32Array.of(1), []),
      idx: new ort.Tensor('int64', ids, [2, 8]),
      targets: new ort.Tensor('int64', ids, [2, 8]),
    });
    const results: number[] = [];
    for (const optLevel of ['disabled', 'basic', 'extended', 'all'] as const) {
      const s = await createSession(bytes, { optLevel });
      const out = await s.run(feeds());
      results.push(
        Number((out.loss.data as Float32Array)[0]),
        Number((out['param_out.0'].data as Float32Array)[123]),
      );
      await s.release();
    }
    for (let i = 2; i < results.length; i += 2) {
      expect(results[i]).toBeCloseTo(results[0], 5);
      expect(results[i + 1]).toBeCloseTo(results[1], 6);
    }
  });
});

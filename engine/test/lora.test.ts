import { describe, expect, it } from 'vitest';
import { frozenFp32, frozenNf4 } from '../src/finetune/frozen.ts';
import {
  type LoraConfig,
  LoraError,
  loraA,
  loraB,
  loraLayout,
  loraModules,
  mergeLora,
} from '../src/finetune/lora.ts';
import { gradCheck } from '../src/graph/gradcheck.ts';
import { Graph } from '../src/graph/graph.ts';
import * as op from '../src/graph/ops.ts';
import { gpt2Config, llamaConfig, type ModelConfig } from '../src/models/config.ts';
import { forward, PARAM, paramInputs, paramLayout } from '../src/models/model.ts';
import { dequantize, quantize } from '../src/quant/formats.ts';
import { Rng } from '../src/rng.ts';
import { createSession, i64 } from '../src/runtime/session.ts';
import { BatchSampler } from '../src/train/data.ts';
import { type Feeds, tensorViews } from '../src/train/feeds.ts';
import { buildStepGraph, DEFAULT_OPTIM, type FinetuneParts, modelCtx, STATE } from '../src/train/graphs.ts';
import { Trainer } from '../src/train/trainer.ts';

const gpt2 = gpt2Config({ nLayer: 2, nHead: 2, nEmbd: 16, ffnHidden: 32, blockSize: 16, vocabSize: 23 });
const llama = llamaConfig({
  nLayer: 2,
  nHead: 4,
  nKvHead: 2,
  nEmbd: 16,
  ffnHidden: 24,
  blockSize: 16,
  vocabSize: 23,
});
const everything = (cfg: ModelConfig): LoraConfig => ({
  rank: 3,
  alpha: 6,
  dropout: 0,
  targets:
    cfg.family === 'gpt2'
      ? ['c_attn', 'c_proj', 'c_fc']
      : ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'],
});
const tokens = Int32Array.from({ length: 4000 }, (_, i) => (i * 7 + ((i * i) % 11)) % 23);

/** Logits of the forward for `idx`, through the adapter (parts) or of plain weights. */
async function logits(
  cfg: ModelConfig,
  layout: ReturnType<typeof paramLayout>,
  params: Float32Array,
  idx: BigInt64Array,
  seq: number,
  parts: FinetuneParts = {},
): Promise<Float32Array> {
  const g = new Graph('logits');
  const rows = idx.length / seq;
  const ctx = modelCtx(g, cfg, paramInputs(g, layout), rows, seq, false, parts);
  g.output(forward(ctx, g.input('idx', 'int64', [rows, seq])), 'logits');
  const s = await createSession(g);
  const feeds: Feeds = {
    ...parts.frozen?.feeds,
    ...tensorViews(layout, params, PARAM),
    idx: i64(idx, [rows, seq]),
  };
  const out = (await s.run(feeds)).logits.data as Float32Array;
  await s.release();
  return out;
}

describe.each([
  ['gpt2', gpt2],
  ['llama', llama],
] as const)('LoRA on %s', (_, cfg) => {
  const base = paramLayout(cfg);
  // Larger than GPT-2 init so the frozen head lets the adapter move the loss (init's logits are all ~0).
  const baseParams = base.init(11).map((x) => x * 5);
  const lora = everything(cfg);

  it('an untrained adapter (B = 0) reproduces the base exactly', async () => {
    const seq = 16;
    const sampler = new BatchSampler(tokens, 4, seq);
    const batch = sampler.next(new Rng(1));
    const plain = await Trainer.create({ cfg, batch: 4, seq, params: baseParams.slice(), seed: 2 });
    const adapted = await Trainer.create({
      cfg,
      batch: 4,
      seq,
      seed: 2,
      lora,
      frozen: frozenFp32(base, baseParams),
    });
    expect(adapted.layout.total).toBe(loraLayout(cfg, lora).total);
    expect(await adapted.evaluate(batch)).toBe(await plain.evaluate(batch));
    const a = await logits(cfg, base, baseParams, batch.idx, seq);
    const b = await logits(cfg, adapted.layout, adapted.params, batch.idx, seq, {
      frozen: frozenFp32(base, baseParams),
      lora,
    });
    expect(b).toEqual(a);
    await plain.release();
    await adapted.release();
  });

  it('trains only the adapter, and the merged model equals base + adapter within 1e-4', async () => {
    const seq = 16;
    const frozenCopy = baseParams.slice();
    const tr = await Trainer.create({
      cfg,
      batch: 8,
      seq,
      seed: 3,
      lora: { ...lora, dropout: 0.1 },
      frozen: frozenFp32(base, frozenCopy),
      optim: { weightDecay: 0 },
    });
    const sampler = new BatchSampler(tokens, 8, seq);
    const rng = new Rng(4);
    const probe = sampler.next(new Rng(99));
    const before = await tr.evaluate(probe);
    for (let i = 0; i < 30; i++) await tr.step([sampler.next(rng)], 1e-2);
    const after = await tr.evaluate(probe);
    expect(after).toBeLessThan(before - 0.1);
    // The base never moved; the optimizer's state is the adapter's size.
    expect(frozenCopy).toEqual(baseParams);
    expect(tr.m.length).toBe(loraLayout(cfg, lora).total);
    const bView = loraLayout(cfg, lora).view(tr.params, loraB(loraModules(cfg, lora)[0].name));
    expect(bView.some((x) => x !== 0)).toBe(true);

    const merged = mergeLora(cfg, base, baseParams, lora, tr.params);
    const onTheFly = await logits(cfg, tr.layout, tr.params, probe.idx, seq, {
      frozen: frozenFp32(base, baseParams),
      lora,
    });
    const folded = await logits(cfg, base, merged, probe.idx, seq);
    const plainBase = await logits(cfg, base, baseParams, probe.idx, seq);
    let worst = 0;
    let moved = 0;
    for (let i = 0; i < folded.length; i++) {
      worst = Math.max(worst, Math.abs(folded[i] - onTheFly[i]));
      moved = Math.max(moved, Math.abs(plainBase[i] - onTheFly[i]));
    }
    expect(worst).toBeLessThan(1e-4);
    expect(moved).toBeGreaterThan(1e-2);
    await tr.release();
  });

  it("the step graph's optimizer holds only adapter state, and the base gets no gradient", () => {
    const layout = loraLayout(cfg, lora);
    const g = buildStepGraph({
      cfg,
      layout,
      // 21 token rows: no activation gradient can share a weight's shape by chance.
      batch: 3,
      seq: 7,
      optim: DEFAULT_OPTIM,
      ignoreIndex: -100,
      mode: 'step',
      accumulateIn: false,
      gradScale: 1,
      frozen: frozenFp32(base, baseParams),
      lora,
    });
    g.prune(); // as serialisation does: the VJP rules also emit dW, which nothing may consume
    const size = (prefix: string) =>
      g.inputs.filter((v) => v.name.startsWith(prefix)).reduce((n, v) => n + (v.shape[0] as number), 0);
    expect(size(STATE.m)).toBe(layout.total);
    expect(g.outputs.filter((v) => v.name.startsWith('frozen.'))).toEqual([]);
    // No gradient in the graph has a base projection's shape: the adapter's path runs at rank r, never
    // through dW (as it would if the graph formed W + B·A).
    const bigShapes = new Set(
      loraModules(cfg, lora).map((m) => JSON.stringify(base.get(`${m.name}.weight`).shape)),
    );
    const gradLike = g.nodes.flatMap((n) =>
      n.op === 'Transpose'
        ? []
        : n.outputs.filter((o) => bigShapes.has(JSON.stringify(g.value(o).shape)) && o.startsWith('grad.')),
    );
    expect(gradLike).toEqual([]);
  });

  it('LoRA gradients match central differences', async () => {
    const rng = new Rng(8);
    const ad = loraLayout(cfg, lora);
    const adapter = ad.init(5);
    for (let i = 0; i < adapter.length; i++) adapter[i] += 0.2 * rng.normal();
    const bigBase = baseParams.map((x) => x * 0.5);
    const [batch, seq] = [2, 5];
    const ids = Array.from({ length: batch * seq }, () => rng.int(cfg.vocabSize));
    const r = await gradCheck(
      [
        { name: 'idx', shape: [batch, seq], data: BigInt64Array.from(ids.map(BigInt)) },
        {
          name: 'targets',
          shape: [batch, seq],
          data: BigInt64Array.from(ids.map((t) => BigInt((t + 3) % cfg.vocabSize))),
        },
        ...ad.entries.map((e) => ({
          name: `${PARAM}${e.name}`,
          shape: [...e.shape],
          data: ad.view(adapter, e.name),
          dtype: 'float32' as const,
        })),
        // The base as inputs that are not differentiated (frozen).
        ...base.entries.map((e) => ({
          name: `frozen.${e.name}`,
          shape: [...e.shape],
          data: base.view(bigBase, e.name),
          dtype: 'float32' as const,
          grad: false,
        })),
      ],
      (g, [idx, tg, ...ps]) => {
        const named = new Map([...ad.entries, ...base.entries].map((e, i) => [e.name, ps[i]]));
        const ctx = modelCtx(g, cfg, named, batch, seq, false, { lora });
        const out = forward(ctx, idx);
        return op.crossEntropy(
          g,
          op.reshape(g, out, [batch * seq, cfg.vocabSize]),
          op.reshape(g, tg, [batch * seq]),
          -100,
        );
      },
      {
        dtype: 'float32',
        eps: 5e-3,
        atol: 3e-3,
        rtol: 3e-2,
        maxPerInput: 6,
        seed: 3,
      },
    );
    expect(r.checked).toBe(ad.entries.reduce((n, e) => n + Math.min(6, e.size), 0));
    expect(r.worst, r.detail).toBeLessThanOrEqual(1);
  });
});

describe('LoRA settings', () => {
  it('names a target the family lacks, and bad rank', () => {
    const bad = (over: Partial<LoraConfig>) => () =>
      loraModules(gpt2, { rank: 4, alpha: 8, dropout: 0, targets: ['c_attn'], ...over });
    expect(bad({ targets: ['q_proj'] })).toThrow(
      /gpt2 family has no module 'q_proj'; available: c_attn, c_proj, c_fc/,
    );
    expect(bad({ rank: 0 })).toThrow(LoraError);
    expect(bad({ rank: 0 })).toThrow(/rank must be a positive integer/);
    expect(bad({ dropout: 1 })).toThrow(/dropout/);
    expect(
      loraModules(llama, { rank: 2, alpha: 2, dropout: 0, targets: ['v_proj'] }).map((m) => m.name),
    ).toEqual(['model.layers.0.self_attn.v_proj', 'model.layers.1.self_attn.v_proj']);
    expect(loraA('x')).toBe('x.lora_A.weight');
  });
});

describe('QLoRA: an NF4 base', () => {
  it('reads as its dequantised weights, trains its adapter, and holds the projections in ~4.5 bits', async () => {
    const cfg = gpt2;
    const base = paramLayout(cfg);
    const baseParams = base.init(11).map((x) => x * 5);
    const lora = everything(cfg);
    const nf4 = frozenNf4(base, baseParams);
    // The same model with every projection rounded through NF4 on the CPU.
    const rounded = baseParams.slice();
    for (const e of base.entries)
      if (e.shape.length === 2 && /\.h\.\d+\./.test(e.name))
        base
          .view(rounded, e.name)
          .set(dequantize(quantize('nf4', base.view(baseParams, e.name), e.shape[0], e.shape[1])));
    const seq = 16;
    const probe = new BatchSampler(tokens, 8, seq).next(new Rng(99));
    const plainRounded = await logits(cfg, base, rounded, probe.idx, seq);
    const tr = await Trainer.create({
      cfg,
      batch: 8,
      seq,
      seed: 3,
      lora,
      frozen: nf4,
      optim: { weightDecay: 0 },
    });
    const untrained = await logits(cfg, tr.layout, tr.params, probe.idx, seq, { frozen: nf4, lora });
    let worst = 0;
    for (let i = 0; i < untrained.length; i++)
      worst = Math.max(worst, Math.abs(untrained[i] - plainRounded[i]));
    expect(worst).toBeLessThan(1e-4);
    const sampler = new BatchSampler(tokens, 8, seq);
    const rng = new Rng(4);
    const before = await tr.evaluate(probe);
    for (let i = 0; i < 30; i++) await tr.step([sampler.next(rng)], 1e-2);
    expect(await tr.evaluate(probe)).toBeLessThan(before - 0.1);
    await tr.release();
    const projections = base.entries.filter((e) => e.shape.length === 2 && /\.h\.\d+\./.test(e.name));
    const projBytes = projections.reduce((n, e) => n + e.size * 4, 0);
    const otherBytes = baseParams.byteLength - projBytes;
    // 4 bits per weight plus one float32 absmax per block of 64 along a row (rows shorter than a block pad it).
    const nf4Bytes = projections.reduce((n, e) => n + e.shape[0] * Math.ceil(e.shape[1] / 64) * (32 + 4), 0);
    expect(nf4.bytes - otherBytes).toBe(nf4Bytes);
    const big = paramLayout(gpt2Config({ nLayer: 1, nHead: 4, nEmbd: 256, ffnHidden: 1024, vocabSize: 50 }));
    const bigProj = big.entries.filter((e) => e.shape.length === 2 && /\.h\.\d+\./.test(e.name));
    const fp32 = bigProj.reduce((n, e) => n + e.size * 4, 0);
    const q = frozenNf4(big, big.init(1)).bytes - (big.total * 4 - fp32);
    expect(q / fp32).toBeCloseTo(4.5 / 32, 6);
  });
});

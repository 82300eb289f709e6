import { describe, expect, it } from 'vitest';
import { Graph } from '../src/graph/graph.ts';
import {
  BITS,
  blockScales,
  dequantize,
  NF4_VALUES,
  type QuantFormat,
  type QuantizedTensor,
  quantize,
  quantizedBytes,
} from '../src/quant/formats.ts';
import { dequantize as dequantizeInGraph, quantizedFeeds, quantizedInputs } from '../src/quant/graph.ts';
import { Rng } from '../src/rng.ts';
import { createSession, ort } from '../src/runtime/session.ts';

/** Weights like a trained layer's: mostly normal, with a few outliers that set some blocks' absmax. */
function weights(n: number, seed: number): Float32Array {
  const rng = new Rng(seed);
  const w = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    w[i] = 0.02 * rng.normal();
    if (rng.uniform() < 0.002) w[i] *= 20;
  }
  return w;
}

/** Largest half-gap between neighbouring NF4 values (between −1 and −0.696). */
const NF4_HALF_GAP = Math.max(
  ...Array.from({ length: 15 }, (_, i) => (NF4_VALUES[i + 1] - NF4_VALUES[i]) / 2),
);

/** Per element, |w − ŵ| must be within half a step of the block (NF4: half the widest gap × absmax). */
function checkBound(q: QuantizedTensor, w: Float32Array, extra = (_block: number) => 0): number {
  const back = dequantize(q);
  const scales = blockScales(q);
  let worst = 0;
  for (let r = 0; r < q.rows; r++)
    for (let c = 0; c < q.cols; c++) {
      const b = r * q.blocksPerRow + Math.floor(c / q.blockSize);
      const step = Math.abs(scales[b]) * (q.format === 'nf4' ? 2 * NF4_HALF_GAP : 1);
      const err = Math.abs(w[r * q.cols + c] - back[r * q.cols + c]);
      const bound = step / 2 + extra(b) + 1e-7 * Math.abs(w[r * q.cols + c]);
      if (err > bound) throw new Error(`[${r}, ${c}]: error ${err} > bound ${bound}`);
      worst = Math.max(worst, err / (step / 2 || 1));
    }
  return worst;
}

describe('CPU quantisation', () => {
  it('NF4 values are bitsandbytes’ table (dDequantizeNF4), as float32', () => {
    const bnb = [
      -1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453, -0.28444138169288635,
      -0.18477343022823334, -0.09105003625154495, 0.0, 0.07958029955625534, 0.16093020141124725,
      0.24611230194568634, 0.33791524171829224, 0.44070982933044434, 0.5626170039176941, 0.7229568362236023,
      1.0,
    ];
    expect(Array.from(NF4_VALUES)).toEqual(bnb.map(Math.fround));
  });

  for (const [format, bs] of [
    ['int8', 32],
    ['int8', 100], // per output channel: one block per row
    ['int4', 32],
    ['int4', 64],
    ['nf4', 64],
  ] as [QuantFormat, number][]) {
    it(`${format}, block ${bs}: round trip within half a step of each block`, () => {
      const rows = 37;
      const cols = 100; // not a multiple of 32 or 64: the last block of a row is padded
      const w = weights(rows * cols, 7);
      const q = quantize(format, w, rows, cols, { blockSize: bs });
      expect(q.blocksPerRow).toBe(Math.ceil(cols / bs));
      expect(q.codes.length).toBe((rows * q.blocksPerRow * bs * BITS[format]) / 8);
      const worst = checkBound(q, w);
      // The bound is tight: some element sits close to half a step away.
      expect(worst).toBeGreaterThan(0.5);
      // The element with the block's largest magnitude comes back exactly (up to float rounding).
      const back = dequantize(q);
      let big = 0;
      for (let i = 1; i < w.length; i++) if (Math.abs(w[i]) > Math.abs(w[big])) big = i;
      expect(Math.abs(back[big] - w[big])).toBeLessThan(1e-6 * Math.abs(w[big]));
    });
  }

  it('NF4 picks the nearest of the 16 values for every weight', () => {
    const w = weights(64 * 40, 3);
    const q = quantize('nf4', w, 40, 64);
    const back = dequantize(q);
    const absmax = blockScales(q);
    for (let i = 0; i < w.length; i++) {
      const m = absmax[Math.floor(i / 64)];
      const x = w[i] / m;
      const best = Math.min(...Array.from(NF4_VALUES, (v) => Math.abs(v - x)));
      expect(Math.abs(back[i] / m - x)).toBeCloseTo(best, 6);
    }
  });

  it('all-zero blocks and a zero matrix come back as zeros', () => {
    for (const format of ['int8', 'int4', 'nf4'] as const) {
      const w = new Float32Array(4 * 64);
      w.fill(0.5, 64, 128);
      const back = dequantize(quantize(format, w, 4, 64));
      expect(Array.from(back)).toEqual(Array.from(w));
    }
  });

  it('double quantisation: scales within half a step of their 256-block, weights within the bound', () => {
    const rows = 300;
    const cols = 128; // 2 NF4 blocks a row: 600 scales, 3 blocks of 256 (the last padded)
    const w = weights(rows * cols, 11);
    const plain = quantize('nf4', w, rows, cols);
    const dq = quantize('nf4', w, rows, cols, { doubleQuant: true });
    expect(dq.scales).toBeUndefined();
    const d = dq.doubleQuant!;
    expect(d.codes.length).toBe(3 * 256);
    const exact = plain.scales!;
    const approx = blockScales(dq);
    for (let i = 0; i < exact.length; i++) {
      const half = d.scales[Math.floor(i / 256)] / 2;
      expect(Math.abs(approx[i] - exact[i])).toBeLessThanOrEqual(half * (1 + 1e-5) + 1e-9);
    }
    // Codes are nearest for the dequantised absmax: half its widest gap; the absmax error adds at most
    // |code value| ≤ 1 times itself.
    checkBound(dq, w, (b) => (d.scales[Math.floor(b / 256)] / 2) * 1.0001);
    // 8-bit scales: 4 bytes → ~1 byte per 64 weights.
    expect(quantizedBytes(dq)).toBeLessThan(quantizedBytes(plain));
    expect((quantizedBytes(dq) * 8) / w.length).toBeLessThan(4.2);
  });

  it('rejects a bad format, shape or block with the field named', () => {
    const w = new Float32Array(64);
    expect(() => quantize('int3' as QuantFormat, w, 1, 64)).toThrow(/^format:/);
    expect(() => quantize('int4', w, 2, 64)).toThrow(/^shape:/);
    expect(() => quantize('int4', w, 1, 64, { blockSize: 7 })).toThrow(/^blockSize:/);
  });
});

describe('graph dequantisation', () => {
  async function runGraph(q: QuantizedTensor): Promise<Float32Array> {
    const g = new Graph('dequant');
    const inputs = quantizedInputs(g, 'w', q);
    g.output(dequantizeInGraph(g, inputs, [q.rows, q.cols]), 'y');
    const s = await createSession(g.toBytes());
    try {
      const feeds: Record<string, ort.Tensor> = {};
      for (const [name, f] of Object.entries(quantizedFeeds('w', q)))
        feeds[name] = new ort.Tensor(f.dtype, f.data, f.dims);
      const out = await s.run(feeds);
      expect(out.y.dims).toEqual([q.rows, q.cols]);
      return out.y.data as Float32Array;
    } finally {
      await s.release();
    }
  }

  for (const [format, bs, dq] of [
    ['int8', 32, false],
    ['int8', 40, false],
    ['int4', 32, false],
    ['int4', 64, true],
    ['nf4', 64, false],
    ['nf4', 64, true],
  ] as [QuantFormat, number, boolean][]) {
    it(`${format}, block ${bs}${dq ? ', double-quantised' : ''}: ORT equals the CPU bit for bit`, async () => {
      const rows = 300;
      const cols = 200; // padded last block; 300·4 = 1,200 scales for the double quantisation
      const w = weights(rows * cols, 5);
      const q = quantize(format, w, rows, cols, { blockSize: bs, doubleQuant: dq });
      const cpu = dequantize(q);
      const graph = await runGraph(q);
      expect(graph.length).toBe(cpu.length);
      let differ = 0;
      for (let i = 0; i < cpu.length; i++) if (Object.is(cpu[i], graph[i]) === false) differ++;
      expect(differ).toBe(0);
      // And not trivially: the values are the weights, approximately.
      expect(Math.abs(graph[123] - w[123])).toBeLessThan(0.02);
    });
  }

  it('rejects codes whose shape does not match the weight', () => {
    const q = quantize('int4', weights(64, 1), 2, 32);
    const g = new Graph('bad');
    const inputs = quantizedInputs(g, 'w', q);
    expect(() => dequantizeInGraph(g, inputs, [2, 64])).toThrow(/^codes:/);
  });
});

// Dequantising inside a graph: a frozen weight kept as its quantised codes and scales (formats.ts) and
// rebuilt as float32 by standard ONNX ops (Cast, Div, Mul, Sub, Gather, Concat, Reshape, Slice, Add) — what
// QLoRA needs to keep its base model in 4 bits while the adapters train in float32.
//
// API:
//   const qi = quantizedInputs(g, 'base.h.0.attn.c_attn', q);     // graph inputs shaped for q
//   const w  = dequantize(g, qi, [q.rows, q.cols]);                // float32 Value [rows, cols]
//   feeds:     quantizedFeeds('base.h.0.attn.c_attn', q)           // name → { dtype, data, dims }
// `dequantize(g, inputs, shape)` takes any Values (inputs or initializers) with the shapes of
// QuantizedTensor's arrays: codes uint8 [rows, blocksPerRow, blockSize·bits/8], scales float32
// [rows·blocksPerRow] or, double-quantised, scale codes uint8 [n·256], scale steps float32 [n] and the
// offset float32 []. The result equals formats.ts's dequantize bit for bit (each value is one float32
// multiply of the same operands; tested in a real ONNX Runtime session). The weight is [rows, cols] as
// quantised: a linear layer's [out, in], so x·Wᵀ is op.gemm(g, x, w, { transB: true }).
import type { DType, Graph, Value } from '../graph/graph.ts';
import * as op from '../graph/ops.ts';
import {
  BITS,
  NF4_VALUES,
  QUANT_FORMATS,
  QuantError,
  type QuantFormat,
  type QuantizedTensor,
} from './formats.ts';

export interface QuantInputs {
  format: QuantFormat;
  blockSize: number;
  /** uint8 [rows, blocksPerRow, blockSize · bits / 8]. */
  codes: Value;
  /** float32 [rows · blocksPerRow]; absent when the scales are double-quantised. */
  scales?: Value;
  doubleQuant?: {
    /** uint8 [n · blockSize]. */
    codes: Value;
    /** float32 [n]. */
    scales: Value;
    /** float32 []. */
    offset: Value;
    blockSize: number;
  };
}

export interface QuantFeed {
  dtype: 'uint8' | 'float32';
  data: Uint8Array | Float32Array;
  dims: number[];
}

/** Names of a quantised tensor's arrays under `prefix`. */
const names = (prefix: string) => ({
  codes: `${prefix}.codes`,
  scales: `${prefix}.scales`,
  scaleCodes: `${prefix}.scale_codes`,
  scaleSteps: `${prefix}.scale_steps`,
  scaleOffset: `${prefix}.scale_offset`,
});

const bytesPerBlock = (q: QuantizedTensor) => (q.blockSize * BITS[q.format]) / 8;

/** The arrays of `q` as graph feeds, named as quantizedInputs names its inputs. */
export function quantizedFeeds(prefix: string, q: QuantizedTensor): Record<string, QuantFeed> {
  const n = names(prefix);
  const out: Record<string, QuantFeed> = {
    [n.codes]: { dtype: 'uint8', data: q.codes, dims: [q.rows, q.blocksPerRow, bytesPerBlock(q)] },
  };
  if (q.scales) out[n.scales] = { dtype: 'float32', data: q.scales, dims: [q.scales.length] };
  const d = q.doubleQuant;
  if (d) {
    out[n.scaleCodes] = { dtype: 'uint8', data: d.codes, dims: [d.codes.length] };
    out[n.scaleSteps] = { dtype: 'float32', data: d.scales, dims: [d.scales.length] };
    out[n.scaleOffset] = { dtype: 'float32', data: Float32Array.of(d.offset), dims: [] };
  }
  return out;
}

/** Graph inputs for `q`'s arrays (see quantizedFeeds), ready for dequantize. */
export function quantizedInputs(g: Graph, prefix: string, q: QuantizedTensor): QuantInputs {
  const feeds = quantizedFeeds(prefix, q);
  const n = names(prefix);
  const input = (name: string) => g.input(name, feeds[name].dtype as DType, feeds[name].dims);
  const d = q.doubleQuant;
  return {
    format: q.format,
    blockSize: q.blockSize,
    codes: input(n.codes),
    scales: q.scales ? input(n.scales) : undefined,
    doubleQuant: d
      ? {
          codes: input(n.scaleCodes),
          scales: input(n.scaleSteps),
          offset: input(n.scaleOffset),
          blockSize: d.blockSize,
        }
      : undefined,
  };
}

function dim(v: Value, i: number, what: string): number {
  const d = v.shape[i];
  if (typeof d !== 'number') throw new QuantError(`${what}: needs a static shape (got [${v.shape}])`, what);
  return d;
}

/** The two 4-bit codes of every byte, in storage order: [.., bytes] uint8 → [.., 2·bytes] int32. */
function nibbles(g: Graph, codes: Value, highFirst: boolean): Value {
  const x = op.cast(g, codes, 'int32');
  // Integer Div truncates: the high nibble; the low one is what remains.
  const sixteen = g.scalar(16, 'int32');
  const hi = op.div(g, x, sixteen);
  const lo = op.sub(g, x, op.mul(g, hi, sixteen));
  const last = x.shape.length;
  const pair = highFirst ? [hi, lo] : [lo, hi];
  const both = op.concat(
    g,
    pair.map((v) => op.unsqueeze(g, v, [last])),
    last,
  );
  const shape = [...x.shape];
  shape[last - 1] = dim(x, last - 1, 'codes') * 2;
  return op.reshape(g, both, shape);
}

/** Double-quantised scales back to float32 [count]: (code − 128) · step + offset. */
function scalesOf(g: Graph, q: QuantInputs, count: number): Value {
  if (q.scales) return q.scales;
  const d = q.doubleQuant;
  if (!d) throw new QuantError('scales: give scales or doubleQuant', 'scales');
  const n = dim(d.scales, 0, 'doubleQuant.scales');
  const codes = op.reshape(g, op.cast(g, d.codes, 'float32'), [n, d.blockSize]);
  const steps = op.reshape(g, d.scales, [n, 1]);
  const flat = op.reshape(g, op.add(g, op.mul(g, op.sub(g, codes, g.scalar(128)), steps), d.offset), [
    n * d.blockSize,
  ]);
  return n * d.blockSize === count ? flat : op.slice(g, flat, [0], [count], [0]);
}

/**
 * The float32 weight [rows, cols] that quantised inputs stand for (see the top of the file). `shape` is the
 * weight's: cols need not be a multiple of the block (the padding is cut off).
 */
export function dequantize(g: Graph, q: QuantInputs, shape: readonly [number, number]): Value {
  if (!QUANT_FORMATS.includes(q.format))
    throw new QuantError(
      `format: must be one of ${QUANT_FORMATS.join(', ')} (got ${JSON.stringify(q.format)})`,
      'format',
    );
  const [rows, cols] = shape;
  const bs = q.blockSize;
  const nb = Math.ceil(cols / bs);
  const want = [rows, nb, (bs * BITS[q.format]) / 8];
  if (q.codes.dtype !== 'uint8' || q.codes.shape.join() !== want.join())
    throw new QuantError(
      `codes: expected uint8 [${want}] for [${rows}, ${cols}] (got ${q.codes.dtype} [${q.codes.shape}])`,
      'codes',
    );
  const scales = op.reshape(g, scalesOf(g, q, rows * nb), [rows, nb, 1]);
  let values: Value;
  if (q.format === 'int8') values = op.sub(g, op.cast(g, q.codes, 'float32'), g.scalar(128));
  else if (q.format === 'int4')
    values = op.sub(g, op.cast(g, nibbles(g, q.codes, false), 'float32'), g.scalar(8));
  else values = op.gather(g, g.constant('float32', [16], NF4_VALUES), nibbles(g, q.codes, true));
  const w = op.reshape(g, op.mul(g, values, scales), [rows, nb * bs]);
  return nb * bs === cols ? w : op.slice(g, w, [0], [cols], [1]);
}

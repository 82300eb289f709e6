// Weight-only quantisation on the CPU: int8 and int4 (symmetric absmax per block, codes offset by their
// zero point) and NF4 (QLoRA's 4-bit NormalFloat: per-block absmax, codes index 16 values spaced for normally
// distributed weights), with optional double quantisation of the per-block scales to 8 bits.
//
// A tensor is a matrix [rows, cols] quantised in blocks along its rows (the last axis); a row that is not a
// whole number of blocks is padded with zeros. For a linear layer rows = outputs and cols = inputs, which is
// the layout ONNX Runtime's com.microsoft MatMulNBits reads, so int8/int4 codes go to it unchanged:
//   codes  uint8 [rows, blocksPerRow, blockSize·bits/8]
//   scales float32 [rows · blocksPerRow]
// - int8: code = round(w / s) + 128, s = absmax / 127 (MatMulNBits' default zero point for 8 bits);
// - int4: code = round(w / s) + 8, s = absmax / 7, two codes a byte, the first in the low nibble (as
//   MatMulNBits packs them);
// - nf4: code = the index of the NF4 value nearest w / absmax, scales hold absmax; two codes a byte, the
//   first in the high nibble, as bitsandbytes packs them (so its tensors need no repacking).
// Dequantised: (code − zero point) · s, or NF4[code] · absmax, each one float32 multiply, which is what
// graph.ts's dequantize computes with ONNX ops (bit-for-bit the same, tested).
//
// Double quantisation (QLoRA §3) stores the per-block scales themselves in 8 bits: their mean is taken out
// (an offset), and the rest is quantised in blocks of 256 as int8 codes above. bitsandbytes quantises that
// second level with its 8-bit "dynamic" map; a linear int8 step keeps the graph side to Cast/Mul/Add and
// bounds the error the same way (half a step of each 256-block). Codes are chosen against the scales as
// they will be dequantised, so a weight still goes to its nearest representable value.

export type QuantFormat = 'int8' | 'int4' | 'nf4';
export const QUANT_FORMATS: readonly QuantFormat[] = ['int8', 'int4', 'nf4'];

/**
 * The 16 NF4 values, as bitsandbytes defines them (csrc/kernels.cu, dDequantizeNF4; QLoRA appendix E):
 * quantiles of N(0, 1) normalised to [−1, 1], with an exact 0.
 */
export const NF4_VALUES: Float32Array = Float32Array.from([
  -1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453, -0.28444138169288635,
  -0.18477343022823334, -0.09105003625154495, 0.0, 0.07958029955625534, 0.16093020141124725,
  0.24611230194568634, 0.33791524171829224, 0.44070982933044434, 0.5626170039176941, 0.7229568362236023, 1.0,
]);

/** Bits per code. */
export const BITS: Readonly<Record<QuantFormat, number>> = { int8: 8, int4: 4, nf4: 4 };
/** Default block sizes: MatMulNBits' fast int8/int4 kernels take 32; NF4's is QLoRA's 64. */
export const DEFAULT_BLOCK: Readonly<Record<QuantFormat, number>> = { int8: 32, int4: 32, nf4: 64 };
/** Block of the second-level quantisation of scales (QLoRA's 256). */
export const DOUBLE_QUANT_BLOCK = 256;

/** Largest code magnitude of the symmetric integer formats (and their zero points). */
const QMAX = { int8: 127, int4: 7 } as const;
const ZERO = { int8: 128, int4: 8 } as const;

export class QuantError extends Error {
  constructor(
    message: string,
    readonly field: string,
  ) {
    super(message);
  }
}

/** The per-block scales in 8 bits: scale ≈ (code − 128) · scales[i / blockSize] + offset. */
export interface DoubleQuant {
  /** uint8 codes, zero point 128, padded to a whole number of blocks with 128. */
  codes: Uint8Array;
  /** One step per block of `blockSize` scales. */
  scales: Float32Array;
  /** The mean of the scales, taken out before quantising them. */
  offset: number;
  blockSize: number;
}

export interface QuantizedTensor {
  format: QuantFormat;
  rows: number;
  cols: number;
  blockSize: number;
  blocksPerRow: number;
  /** [rows, blocksPerRow, blockSize · bits / 8]. */
  codes: Uint8Array;
  /** Per block, [rows · blocksPerRow]: the step (int8, int4) or the absmax (nf4). Absent when double-quantised. */
  scales?: Float32Array;
  doubleQuant?: DoubleQuant;
}

export interface QuantizeOptions {
  /** Values per block along a row (default DEFAULT_BLOCK; int8 per output channel: `cols`). */
  blockSize?: number;
  /** Store the per-block scales in 8 bits (blocks of 256). */
  doubleQuant?: boolean;
}

/** Bytes a quantised tensor stores. */
export function quantizedBytes(q: QuantizedTensor): number {
  const d = q.doubleQuant;
  return (
    q.codes.byteLength + (q.scales?.byteLength ?? 0) + (d ? d.codes.byteLength + d.scales.byteLength + 4 : 0)
  );
}

function checkArgs(format: QuantFormat, rows: number, cols: number, length: number, blockSize: number): void {
  if (!QUANT_FORMATS.includes(format))
    throw new QuantError(
      `format: must be one of ${QUANT_FORMATS.join(', ')} (got ${JSON.stringify(format)})`,
      'format',
    );
  if (!Number.isInteger(rows) || !Number.isInteger(cols) || rows < 1 || cols < 1)
    throw new QuantError(`shape: rows and cols must be positive integers (got [${rows}, ${cols}])`, 'shape');
  if (length !== rows * cols)
    throw new QuantError(
      `shape: [${rows}, ${cols}] holds ${rows * cols} values, the data ${length}`,
      'shape',
    );
  if (!Number.isInteger(blockSize) || blockSize < 2 || blockSize % 2 !== 0)
    throw new QuantError(`blockSize: must be an even integer ≥ 2 (got ${blockSize})`, 'blockSize');
}

/** Quantise w [rows, cols] (row-major) in `format`. */
export function quantize(
  format: QuantFormat,
  w: Float32Array,
  rows: number,
  cols: number,
  opts: QuantizeOptions = {},
): QuantizedTensor {
  const blockSize = opts.blockSize ?? DEFAULT_BLOCK[format];
  checkArgs(format, rows, cols, w.length, blockSize);
  const nb = Math.ceil(cols / blockSize);
  const absmax = new Float32Array(rows * nb);
  for (let r = 0; r < rows; r++) {
    const row = r * cols;
    for (let b = 0; b < nb; b++) {
      const end = Math.min(cols, (b + 1) * blockSize);
      let m = 0;
      for (let c = b * blockSize; c < end; c++) {
        const a = Math.abs(w[row + c]);
        if (a > m) m = a;
      }
      absmax[r * nb + b] = m;
    }
  }
  // What multiplies a code: the integer formats' step, NF4's absmax.
  let scales = absmax;
  if (format !== 'nf4') {
    const qmax = QMAX[format];
    scales = absmax.map((m) => m / qmax);
  }
  let doubleQuant: DoubleQuant | undefined;
  let used: Float32Array = scales;
  if (opts.doubleQuant) {
    doubleQuant = quantizeScales(scales);
    used = dequantizeScales(doubleQuant, scales.length);
  }
  const codes =
    format === 'nf4'
      ? encodeNf4(w, rows, cols, blockSize, nb, used)
      : encodeInt(format, w, rows, cols, blockSize, nb, used);
  return {
    format,
    rows,
    cols,
    blockSize,
    blocksPerRow: nb,
    codes,
    ...(doubleQuant ? { doubleQuant } : { scales }),
  };
}

function encodeInt(
  format: 'int8' | 'int4',
  w: Float32Array,
  rows: number,
  cols: number,
  bs: number,
  nb: number,
  scales: Float32Array,
): Uint8Array {
  const qmax = QMAX[format];
  const zero = ZERO[format];
  const int8 = format === 'int8';
  const blob = int8 ? bs : bs / 2;
  const codes = new Uint8Array(rows * nb * blob);
  // Padding (and all-zero blocks) hold the zero point.
  codes.fill(int8 ? zero : zero | (zero << 4));
  for (let r = 0; r < rows; r++) {
    for (let b = 0; b < nb; b++) {
      const s = scales[r * nb + b];
      if (s === 0) continue;
      const start = b * bs;
      const end = Math.min(cols, start + bs);
      const out = (r * nb + b) * blob;
      const row = r * cols;
      if (int8) {
        for (let c = start; c < end; c++) {
          const q = Math.round(w[row + c] / s);
          codes[out + c - start] = (q > qmax ? qmax : Math.max(q, -qmax)) + zero;
        }
        continue;
      }
      // Two codes a byte, the first in the low nibble; an odd last value pairs with the zero point.
      for (let c = start; c < end; c += 2) {
        let lo = Math.round(w[row + c] / s);
        lo = lo > qmax ? qmax : Math.max(lo, -qmax);
        let hi = c + 1 < end ? Math.round(w[row + c + 1] / s) : 0;
        hi = hi > qmax ? qmax : Math.max(hi, -qmax);
        codes[out + ((c - start) >> 1)] = (lo + zero) | ((hi + zero) << 4);
      }
    }
  }
  return codes;
}

/** Midpoints between consecutive NF4 values: the nearest value's index is the number of midpoints below x. */
const NF4_MID = Float64Array.from({ length: 15 }, (_, i) => (NF4_VALUES[i] + NF4_VALUES[i + 1]) / 2);

function nearestNf4(x: number): number {
  // Binary search over 15 midpoints (4 comparisons), as bitsandbytes' dQuantizeNF4 does with its tree.
  let lo = 0;
  let hi = 15;
  while (lo < hi) {
    const m = (lo + hi) >> 1;
    if (x > NF4_MID[m]) lo = m + 1;
    else hi = m;
  }
  return lo;
}

/** The NF4 code of 0 (index 7), two to a byte. */
const NF4_ZERO_BYTE = (7 << 4) | 7;

function encodeNf4(
  w: Float32Array,
  rows: number,
  cols: number,
  bs: number,
  nb: number,
  absmax: Float32Array,
): Uint8Array {
  const blob = bs / 2;
  const codes = new Uint8Array(rows * nb * blob).fill(NF4_ZERO_BYTE);
  for (let r = 0; r < rows; r++) {
    for (let b = 0; b < nb; b++) {
      const m = absmax[r * nb + b];
      if (m === 0) continue;
      const start = b * bs;
      const end = Math.min(cols, start + bs);
      const out = (r * nb + b) * blob;
      const row = r * cols;
      for (let c = start; c < end; c++) {
        const q = nearestNf4(w[row + c] / m);
        const k = c - start;
        const at = out + (k >> 1);
        // High nibble first (bitsandbytes' order).
        codes[at] = k & 1 ? (codes[at] & 0xf0) | q : (codes[at] & 0x0f) | (q << 4);
      }
    }
  }
  return codes;
}

/** Second-level quantisation of per-block scales: mean out, then int8 in blocks of 256. */
export function quantizeScales(scales: Float32Array, blockSize = DOUBLE_QUANT_BLOCK): DoubleQuant {
  let sum = 0;
  for (const s of scales) sum += s;
  const offset = Math.fround(scales.length ? sum / scales.length : 0);
  const nb = Math.ceil(scales.length / blockSize);
  const codes = new Uint8Array(nb * blockSize).fill(128);
  const steps = new Float32Array(nb);
  for (let b = 0; b < nb; b++) {
    const end = Math.min(scales.length, (b + 1) * blockSize);
    let m = 0;
    for (let i = b * blockSize; i < end; i++) m = Math.max(m, Math.abs(Math.fround(scales[i] - offset)));
    const step = Math.fround(m / 127);
    steps[b] = step;
    if (step === 0) continue;
    for (let i = b * blockSize; i < end; i++) {
      const q = Math.round(Math.fround(scales[i] - offset) / step);
      codes[i] = Math.max(-127, Math.min(127, q)) + 128;
    }
  }
  return { codes, scales: steps, offset, blockSize };
}

/** The first `count` scales back from their 8-bit form, as float32 ops in the graph's order. */
export function dequantizeScales(d: DoubleQuant, count: number): Float32Array {
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++)
    out[i] = Math.fround(Math.fround((d.codes[i] - 128) * d.scales[Math.floor(i / d.blockSize)]) + d.offset);
  return out;
}

/** The per-block scales (the step or absmax), dequantised from their 8-bit form if need be. */
export function blockScales(q: QuantizedTensor): Float32Array {
  if (q.scales) return q.scales;
  if (!q.doubleQuant) throw new QuantError('scales: the tensor has neither scales nor doubleQuant', 'scales');
  return dequantizeScales(q.doubleQuant, q.rows * q.blocksPerRow);
}

/** The float32 matrix [rows, cols] a quantised tensor stands for. */
export function dequantize(q: QuantizedTensor): Float32Array {
  const { rows, cols, blockSize: bs, blocksPerRow: nb } = q;
  const scales = blockScales(q);
  const out = new Float32Array(rows * cols);
  const int8 = q.format === 'int8';
  const nf4 = q.format === 'nf4';
  const blob = int8 ? bs : bs / 2;
  for (let r = 0; r < rows; r++) {
    for (let b = 0; b < nb; b++) {
      const s = scales[r * nb + b];
      const start = b * bs;
      const end = Math.min(cols, start + bs);
      const src = (r * nb + b) * blob;
      for (let c = start; c < end; c++) {
        const k = c - start;
        let v: number;
        if (int8) v = (q.codes[src + k] - 128) * s;
        else {
          const byte = q.codes[src + (k >> 1)];
          if (nf4) v = NF4_VALUES[k & 1 ? byte & 0x0f : byte >> 4] * s;
          else v = ((k & 1 ? byte >> 4 : byte & 0x0f) - 8) * s;
        }
        out[r * cols + c] = v;
      }
    }
  }
  return out;
}

// Weights quantised for decoding (InferenceOptions.quantize): every linear layer's weight and the head,
// [out, in] as MatMulNBits reads them (GPT-2's Conv1D weights, stored [in, out], are transposed first).
// Decoding one token reads every weight once, so its time is the weights' bytes over the memory
// bandwidth: 4-bit codes with a float32 scale per 32 are 5 bits a weight against 32. Embeddings, norms and
// biases stay float32 (a token reads one embedding row).
import type { ModelConfig } from '../models/config.ts';
import { paramSpecs } from '../models/model.ts';
import {
  DEFAULT_BLOCK,
  QuantError,
  type QuantFormat,
  type QuantizedTensor,
  quantize,
  quantizedBytes,
} from '../quant/formats.ts';
import { buildDecodeGraph } from './decode-graph.ts';
import { transpose } from './weights.ts';

/** The formats decoding runs on (MatMulNBits takes integer codes; NF4 is for QLoRA's frozen base). */
export const DECODE_FORMATS = ['int8', 'int4'] as const;
export type DecodeFormat = (typeof DECODE_FORMATS)[number];

export interface QuantizedWeights {
  format: DecodeFormat;
  blockSize: number;
  tensors: Map<string, QuantizedTensor>;
  /** Bytes of codes and scales. */
  bytes: number;
  /** Bytes of the float32 weights they replace. */
  replaced: number;
}

export function checkDecodeFormat(format: string): DecodeFormat {
  if (!(DECODE_FORMATS as readonly string[]).includes(format))
    throw new QuantError(
      `quantize: decoding takes ${DECODE_FORMATS.join(' or ')} (got ${JSON.stringify(format)}${format === 'nf4' ? '; NF4 is for QLoRA training' : ''})`,
      'quantize',
    );
  return format as DecodeFormat;
}

/** Quantise the linear weights and head of a model's tensors (Hugging Face names). */
export function quantizeForDecoding(
  cfg: ModelConfig,
  tensors: ReadonlyMap<string, Float32Array>,
  format: QuantFormat,
  blockSize?: number,
): QuantizedWeights {
  const f = checkDecodeFormat(format);
  const shapes = new Map(paramSpecs(cfg).map((s) => [s.name, s.shape]));
  const out = new Map<string, QuantizedTensor>();
  let bytes = 0;
  let replaced = 0;
  const bs = blockSize ?? DEFAULT_BLOCK[f];
  let scratch = new Float32Array(0);
  for (const { param, outIn } of buildDecodeGraph(cfg, { fastLayouts: false }).linears) {
    const data = tensors.get(param);
    const shape = shapes.get(param);
    if (!data || !shape) throw new Error(`missing parameter '${param}'`);
    const [a, b] = shape;
    let w = data;
    let rows = a;
    let cols = b;
    if (!outIn) {
      // [in, out] → [out, in], through one reused buffer.
      if (scratch.length < data.length) scratch = new Float32Array(data.length);
      w = scratch.subarray(0, data.length);
      transpose({ src: data, rows: a, cols: b, out: w });
      rows = b;
      cols = a;
    }
    const q = quantize(f, w, rows, cols, { blockSize: bs });
    out.set(param, q);
    bytes += quantizedBytes(q);
    replaced += 4 * data.length;
  }
  return { format: f, blockSize: bs, tensors: out, bytes, replaced };
}

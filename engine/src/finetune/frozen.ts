// Frozen base weights of a fine-tuning graph: inputs the forward reads but autodiff never differentiates
// and the optimizer never sees (no gradient, no AdamW moments). Fed once, as views of the base's flat buffer.
import type { Graph, Value } from '../graph/graph.ts';
import type { ParamLayout } from '../models/params.ts';
import { type QuantizedTensor, quantize, quantizedBytes } from '../quant/formats.ts';
import { dequantize, quantizedFeeds, quantizedInputs } from '../quant/graph.ts';
import { ort } from '../runtime/session.ts';
import { type Feeds, tensorViews } from '../train/feeds.ts';

/** Graph-input name prefix of frozen weights. */
export const FROZEN = 'frozen.';

/**
 * Which base tensors QLoRA stores in NF4: the per-layer projection matrices (the bulk of a model); the
 * estimate sizes a QLoRA base with the same rule.
 */
export const isNf4Frozen = (name: string, shape: readonly number[]): boolean =>
  shape.length === 2 && /\.(h|layers)\.\d+\./.test(name);

export interface FrozenWeights {
  /** The base model's layout (paramLayout(cfg)): the names the forward asks for. */
  readonly layout: ParamLayout;
  /** Declares the graph inputs and returns, by parameter name, the float32 values the forward reads. */
  declare(g: Graph): Map<string, Value>;
  /** Feeds for the inputs declare() made. */
  readonly feeds: Feeds;
  /** Bytes the frozen weights hold in memory. */
  readonly bytes: number;
}

/** fp32 frozen weights: `frozen.<name>` inputs viewing `params` (flat, layout order). */
export function frozenFp32(layout: ParamLayout, params: Float32Array): FrozenWeights {
  return {
    layout,
    feeds: tensorViews(layout, params, FROZEN),
    bytes: params.byteLength,
    declare(g) {
      const named = new Map<string, Value>();
      for (const e of layout.entries) named.set(e.name, g.input(`${FROZEN}${e.name}`, 'float32', e.shape));
      return named;
    },
  };
}

/**
 * QLoRA's frozen base: every per-layer projection weight stored in 4-bit NormalFloat (blocks of 64 along a
 * row, per-block absmax, optionally double-quantised) and rebuilt in float32 inside the graph; embeddings,
 * norms and biases stay float32 (they are small, and the embedding is read by row).
 */
export function frozenNf4(
  layout: ParamLayout,
  params: Float32Array,
  opts: { doubleQuant?: boolean } = {},
): FrozenWeights {
  const quantized = new Map<string, QuantizedTensor>();
  const feeds: Feeds = {};
  let bytes = 0;
  for (const e of layout.entries) {
    const data = layout.view(params, e.name);
    if (isNf4Frozen(e.name, e.shape)) {
      const q = quantize('nf4', data, e.shape[0], e.shape[1], { doubleQuant: opts.doubleQuant });
      quantized.set(e.name, q);
      for (const [name, f] of Object.entries(quantizedFeeds(`${FROZEN}${e.name}`, q)))
        feeds[name] = new ort.Tensor(f.dtype, f.data, f.dims);
      bytes += quantizedBytes(q);
    } else {
      feeds[`${FROZEN}${e.name}`] = new ort.Tensor('float32', data, [...e.shape]);
      bytes += data.byteLength;
    }
  }
  return {
    layout,
    feeds,
    bytes,
    declare(g) {
      const named = new Map<string, Value>();
      for (const e of layout.entries) {
        const q = quantized.get(e.name);
        named.set(
          e.name,
          q
            ? dequantize(g, quantizedInputs(g, `${FROZEN}${e.name}`, q), [q.rows, q.cols])
            : g.input(`${FROZEN}${e.name}`, 'float32', e.shape),
        );
      }
      return named;
    },
  };
}

// A trace's attention as the page keeps it: each layer's weights in one Float32Array, decoded from the
// API's "base64" encoding (the float32 bytes), so 2.4 M weights arrive as a quarter of the JSON text and
// no number is parsed per weight.
import type { LayerAttention } from '../../api.ts';

/** One layer's attention: [heads, tokens (query), tokens (key)] row-major. */
export interface AttentionLayer {
  layer: number;
  heads: number;
  tokens: number;
  weights: Float32Array;
}

/** Chromium's native decoder where it has one (Uint8Array.fromBase64), else atob. */
function base64Bytes(text: string): Uint8Array {
  const native = (Uint8Array as unknown as { fromBase64?: (s: string) => Uint8Array }).fromBase64;
  if (native) return native(text);
  const bin = atob(text);
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  return bytes;
}

/** A layer's weights from whichever field the response carries (`weightsBase64`, else `weights`). */
export function attentionLayer(l: LayerAttention): AttentionLayer {
  const { layer, heads, tokens } = l;
  const want = heads * tokens * tokens;
  let weights: Float32Array;
  if (l.weightsBase64 !== undefined) {
    const bytes = base64Bytes(l.weightsBase64);
    // A fresh decode starts at offset 0 of its own buffer, so the float view is aligned; the data is
    // little-endian float32, as every machine the page runs on stores it.
    weights = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength >> 2);
  } else weights = Float32Array.from(l.weights ?? []);
  if (weights.length !== want)
    throw new Error(
      `layer ${layer}: ${weights.length} attention weights, expected ${heads}×${tokens}×${tokens}`,
    );
  return { layer, heads, tokens, weights };
}

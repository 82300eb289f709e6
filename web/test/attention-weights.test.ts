// The Attention page's reading of a trace's attention (web/src/pages/attention/weights.ts): the base64
// float32 bytes the page asks for, or JSON numbers, into one Float32Array per layer. In Node this runs the
// atob path (Chromium's native Uint8Array.fromBase64 is exercised by web/test/attention.test.ts).
import { describe, expect, it } from 'vitest';
import { attentionLayer } from '../src/pages/attention/weights.ts';

const weights = Float32Array.from({ length: 2 * 3 * 3 }, (_, i) => (i % 3) / 7 + i * 1e-3);
const b64 = Buffer.from(weights.buffer).toString('base64');

describe('attentionLayer', () => {
  it('decodes base64 float32 bytes bit for bit', () => {
    const l = attentionLayer({ layer: 4, heads: 2, tokens: 3, weightsBase64: b64 });
    expect(l).toMatchObject({ layer: 4, heads: 2, tokens: 3 });
    expect(l.weights).toBeInstanceOf(Float32Array);
    expect(Array.from(l.weights)).toEqual(Array.from(weights));
  });

  it('takes JSON numbers too', () => {
    const l = attentionLayer({ layer: 0, heads: 2, tokens: 3, weights: Array.from(weights) });
    expect(Array.from(l.weights)).toEqual(Array.from(weights));
  });

  it('refuses a layer whose values do not fill heads × tokens × tokens, naming it', () => {
    expect(() => attentionLayer({ layer: 7, heads: 2, tokens: 4, weightsBase64: b64 })).toThrow(
      /layer 7: 18 attention weights, expected 2×4×4/,
    );
    expect(() => attentionLayer({ layer: 1, heads: 1, tokens: 1 })).toThrow(/layer 1: 0 attention weights/);
  });
});

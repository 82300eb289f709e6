// Float32 arrays that services send as bytes (little-endian), back to the number arrays of the JSON API.

/**
 * The float32 values of `bytes` as numbers. A Float32Array view needs a 4-byte-aligned offset, which a
 * field decoded out of a larger message need not have: those bytes are copied first. The loop into a
 * preallocated array is ~5× faster than Array.from's iterator on millions of values.
 */
export function float32Numbers(bytes: Uint8Array): number[] {
  if (bytes.byteLength % 4 !== 0) throw new RangeError(`${bytes.byteLength} bytes are not float32 values`);
  const src = bytes.byteOffset % 4 === 0 ? bytes : bytes.slice();
  const x = new Float32Array(src.buffer, src.byteOffset, src.byteLength / 4);
  const out = new Array<number>(x.length);
  for (let i = 0; i < x.length; i++) out[i] = x[i]!;
  return out;
}

// float32Numbers: the attention weights svc-infer sends as float32 bytes, back to JSON numbers.
import { describe, expect, it } from 'vitest';
import { float32Numbers } from '../src/floats.ts';

describe('float32Numbers', () => {
  const values = Float32Array.of(0.1, -2.5, 1 / 3, 0, 3.4e38, 1e-40);
  const bytes = new Uint8Array(values.buffer);

  it('gives each float32 value, exactly, as a number', () => {
    expect(float32Numbers(bytes)).toEqual([...values]);
    expect(float32Numbers(bytes)[0]).toBe(Math.fround(0.1));
  });

  it('reads bytes at an offset that is not a multiple of 4 (a field inside a decoded message)', () => {
    const message = new Uint8Array(bytes.length + 3);
    message.set(bytes, 3);
    const field = message.subarray(3);
    expect(field.byteOffset % 4).not.toBe(0);
    expect(float32Numbers(field)).toEqual([...values]);
  });

  it('reads only its own view of a larger buffer', () => {
    expect(float32Numbers(bytes.subarray(4, 12))).toEqual([values[1], values[2]]);
    expect(float32Numbers(new Uint8Array(0))).toEqual([]);
  });

  it('rejects a length that is not whole float32 values', () => {
    expect(() => float32Numbers(bytes.subarray(0, 6))).toThrow(/6 bytes are not float32 values/);
  });
});

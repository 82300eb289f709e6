// One way of writing numbers in the UI (issue 17, item 11: "14,209" in one place, "8207 tokens/s" in another).
import { describe, expect, it } from 'vitest';
import { formatCount, formatNumber, WHOLE_INCREMENTS } from '../src/components/format.ts';

describe('number formats', () => {
  it('groups thousands with commas in counts and in measured values alike', () => {
    expect(formatCount(14_209)).toBe('14,209');
    expect(formatNumber(8207)).toBe('8,207');
    expect(formatNumber(8207.4)).toBe('8,207');
    expect(formatNumber(14_209)).toBe('14,209');
    expect(formatNumber(1000)).toBe('1,000');
  });
  it('keeps small values readable and absent ones marked', () => {
    expect(formatNumber(2.14321)).toBe('2.143');
    expect(formatNumber(3e-4)).toBe('3.0e-4');
    expect(formatNumber(999.94)).toBe('999.9');
    expect(formatNumber(0)).toBe('0');
    expect(formatNumber(undefined)).toBe('—');
    expect(formatCount(undefined)).toBe('—');
  });
});

describe('x-axis ticks', () => {
  it('are whole numbers from 1 up past a billion steps, increasing', () => {
    expect(WHOLE_INCREMENTS[0]).toBe(1);
    expect(WHOLE_INCREMENTS.every((x) => Number.isInteger(x))).toBe(true);
    expect(WHOLE_INCREMENTS.every((x, i) => i === 0 || x > WHOLE_INCREMENTS[i - 1]!)).toBe(true);
    expect(WHOLE_INCREMENTS.at(-1)).toBeGreaterThanOrEqual(1e9);
  });
});

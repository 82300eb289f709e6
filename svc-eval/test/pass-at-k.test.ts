// pass@k against exact rational arithmetic: the product form must agree with 1 - C(n-c,k)/C(n,k) computed with
// BigInt binomials, including where the binomials themselves are far beyond what a double can hold.
import { LabError } from '@lab/common';
import { describe, expect, it } from 'vitest';
import { meanPassAtK, passAtK } from '../src/humaneval/pass-at-k.ts';

function binom(n: number, k: number): bigint {
  if (k < 0 || k > n) return 0n;
  let r = 1n;
  for (let i = 1; i <= k; i++) r = (r * BigInt(n - k + i)) / BigInt(i);
  return r;
}

const SCALE = 10n ** 30n;
function exact(n: number, c: number, k: number): number {
  const failOnly = (binom(n - c, k) * SCALE) / binom(n, k);
  return 1 - Number(failOnly) / Number(SCALE);
}

describe('passAtK', () => {
  it('matches known values', () => {
    expect(passAtK(10, 3, 1)).toBeCloseTo(0.3, 15);
    expect(passAtK(5, 2, 2)).toBeCloseTo(0.7, 15); // 1 - C(3,2)/C(5,2) = 1 - 3/10
    expect(passAtK(1, 1, 1)).toBe(1);
    expect(passAtK(1, 0, 1)).toBe(0);
  });

  it('pass@1 is the fraction of passing samples', () => {
    for (const [n, c] of [
      [20, 7],
      [200, 1],
      [200, 199],
    ]) {
      expect(passAtK(n, c, 1)).toBeCloseTo(c / n, 14);
    }
  });

  it('k = n: 1 when any sample passed, 0 when none did', () => {
    expect(passAtK(10, 1, 10)).toBe(1);
    expect(passAtK(10, 0, 10)).toBe(0);
    expect(passAtK(200, 0, 200)).toBe(0);
  });

  it('is 1 once fewer than k samples failed, 0 when none passed', () => {
    expect(passAtK(10, 8, 3)).toBe(1);
    expect(passAtK(10, 10, 5)).toBe(1);
    expect(passAtK(100, 0, 10)).toBe(0);
  });

  it('agrees with exact combinatorics over a grid, up to n = 200 (C(200,100) ~ 9e58)', () => {
    for (const n of [1, 2, 5, 10, 37, 100, 200]) {
      for (const c of new Set([0, 1, Math.floor(n / 3), n - 1, n].filter((x) => x >= 0 && x <= n))) {
        for (const k of new Set([1, 2, 5, 10, 50, 100, n].filter((x) => x <= n))) {
          expect(passAtK(n, c, k), `n=${n} c=${c} k=${k}`).toBeCloseTo(exact(n, c, k), 12);
        }
      }
    }
  });

  it('grows with k', () => {
    let prev = 0;
    for (let k = 1; k <= 50; k++) {
      const v = passAtK(50, 4, k);
      expect(v).toBeGreaterThanOrEqual(prev);
      prev = v;
    }
  });

  it('rejects k > n and malformed counts with INVALID_ARGUMENT naming the field', () => {
    const bad: [number, number, number, string][] = [
      [5, 1, 6, 'k'],
      [5, 1, 0, 'k'],
      [5, 1, 1.5, 'k'],
      [5, 6, 1, 'c'],
      [5, -1, 1, 'c'],
      [0, 0, 1, 'n'],
      [Number.NaN, 0, 1, 'n'],
    ];
    for (const [n, c, k, field] of bad) {
      let caught: unknown;
      try {
        passAtK(n, c, k);
      } catch (err) {
        caught = err;
      }
      expect(caught, `n=${n} c=${c} k=${k}`).toBeInstanceOf(LabError);
      expect(caught).toMatchObject({ code: 'INVALID_ARGUMENT', field });
    }
    expect(() => passAtK(5, 1, 6)).toThrow(/at least 6 samples/);
  });
});

describe('meanPassAtK', () => {
  it('averages per-problem estimates', () => {
    expect(
      meanPassAtK(
        [
          { n: 10, c: 3 },
          { n: 10, c: 0 },
        ],
        1,
      ),
    ).toBeCloseTo(0.15, 15);
    const counts = [
      { n: 20, c: 2 },
      { n: 20, c: 11 },
      { n: 20, c: 20 },
    ];
    const expected = counts.reduce((s, { n, c }) => s + exact(n, c, 10), 0) / counts.length;
    expect(meanPassAtK(counts, 10)).toBeCloseTo(expected, 12);
  });

  it('refuses an empty set and any problem with fewer than k samples', () => {
    expect(() => meanPassAtK([], 1)).toThrow(LabError);
    expect(() =>
      meanPassAtK(
        [
          { n: 10, c: 1 },
          { n: 3, c: 1 },
        ],
        5,
      ),
    ).toThrow(/pass@5/);
  });
});

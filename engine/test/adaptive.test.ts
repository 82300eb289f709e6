import { describe, expect, it } from 'vitest';
import { VariantChooser } from '../src/runtime/adaptive.ts';

/** Run `n` steps where variant k takes `times(k, step)` ms; returns which variant ran at each step. */
function drive(c: VariantChooser, n: number, times: (k: number, step: number) => number): number[] {
  const ran: number[] = [];
  for (let i = 0; i < n; i++) {
    const k = c.next();
    ran.push(k);
    c.record(k, times(k, i));
  }
  return ran;
}

describe('VariantChooser', () => {
  it('measures every variant (after a warm-up run each), then runs the fastest', () => {
    const c = new VariantChooser(3, 1000, 4);
    const ran = drive(c, 40, (k) => [60, 50, 120][k]);
    expect(ran.slice(0, 15)).toEqual([0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2]);
    expect(c.preferred).toBe(1);
    expect(ran.slice(15).every((k) => k === 1)).toBe(true);
  });

  it('keeps the active variant for a gain under 5%', () => {
    const c = new VariantChooser(2, 1000, 4);
    drive(c, 30, (k) => [60, 58][k]);
    expect(c.preferred).toBe(0);
  });

  it('on a steady machine, measures the others again only every probeEvery runs', () => {
    const c = new VariantChooser(3, 500, 4);
    const ran = drive(c, 2100, (k) => [60, 63, 120][k]);
    const elsewhere = ran.slice(15).filter((k) => k !== 0).length;
    // A probe 500 runs after the end of the last (at 515, 1,025, 1,535, 2,045): on each other variant one
    // run while the last one's threads settle, then four.
    expect(elsewhere).toBe(5 * 2 * 4);
  });

  it('does not measure again when the active variant moves by a third, as bandwidth alone moves it on a VM', () => {
    const c = new VariantChooser(3, 100000, 4);
    const ran = drive(c, 600, (k, step) => (step >= 200 && step < 400 ? [80, 86, 150] : [60, 65, 120])[k]);
    expect(ran.slice(15).every((k) => k === 0)).toBe(true);
  });

  it('does not count runs made while the threads of the previous variant still spin', () => {
    const c = new VariantChooser(3, 100, 4);
    // Short runs (12 ms, a decoded token): the first two after a change of variant share the cores with the
    // previous variant's spinning threads. From run 50 variant 1 is the fastest.
    let last = -1;
    let since = 0;
    drive(c, 400, (k, step) => {
      since = k === last ? since + 1 : 0;
      last = k;
      const base = step < 50 ? [12, 13, 24][k] : [12, 10, 24][k];
      return since < 2 && step > 0 ? base + 10 : base;
    });
    expect(c.preferred).toBe(1);
  });

  it('measures again when the active variant slows down, and moves to the one that is now faster', () => {
    const c = new VariantChooser(3, 100000, 4);
    // From run 200 the machine is busy: two threads wait on each other, one thread does not.
    const busy = (step: number) => step >= 200;
    const ran = drive(c, 400, (k, step) => (busy(step) ? [150, 110, 90] : [60, 65, 120])[k]);
    expect(ran.slice(15, 200).every((k) => k === 0)).toBe(true);
    expect(c.preferred).toBe(2);
    expect(ran.indexOf(2, 200)).toBeLessThan(230);
  });
});

// Unbiased pass@k (Chen et al. 2021, "Evaluating Large Language Models Trained on Code"): with n samples of which c
// pass, the chance that at least one of k samples drawn without replacement passes is 1 - C(n-c, k) / C(n, k).
// The binomials overflow doubles for n in the hundreds, so the ratio is taken as the product
// prod_{i=n-c+1..n} (1 - k/i), every factor in [0, 1].
import { LabError } from '@lab/common';

/** One problem's tally: `n` samples run, `c` of them passed. */
export interface SampleCount {
  n: number;
  c: number;
}

/** pass@k for one problem. */
export function passAtK(n: number, c: number, k: number): number {
  check(n, c, k);
  // Fewer than k failures: every draw of k contains a pass.
  if (n - c < k) return 1;
  let allFail = 1;
  for (let i = n - c + 1; i <= n; i++) allFail *= 1 - k / i;
  return 1 - allFail;
}

/** The benchmark score: the mean of per-problem pass@k. Every problem needs at least k samples. */
export function meanPassAtK(counts: readonly SampleCount[], k: number): number {
  if (counts.length === 0) throw new LabError('INVALID_ARGUMENT', 'counts: no problems to average', 'counts');
  let sum = 0;
  for (const { n, c } of counts) sum += passAtK(n, c, k);
  return sum / counts.length;
}

function check(n: number, c: number, k: number): void {
  if (!Number.isInteger(n) || n < 1) {
    throw new LabError('INVALID_ARGUMENT', `n: must be a positive integer, got ${n}`, 'n');
  }
  if (!Number.isInteger(c) || c < 0 || c > n) {
    throw new LabError('INVALID_ARGUMENT', `c: must be an integer in [0, n=${n}], got ${c}`, 'c');
  }
  if (!Number.isInteger(k) || k < 1) {
    throw new LabError('INVALID_ARGUMENT', `k: must be a positive integer, got ${k}`, 'k');
  }
  // An estimate of pass@k needs k distinct samples to draw from.
  if (k > n) {
    throw new LabError(
      'INVALID_ARGUMENT',
      `k: pass@${k} needs at least ${k} samples per problem, got n=${n}`,
      'k',
    );
  }
}

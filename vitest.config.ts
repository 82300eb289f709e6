import { tmpdir } from 'node:os';
import { resolve } from 'node:path';
import { defineConfig } from 'vitest/config';

// Tests hand the services files they write under the temp directory and the reference datasets: those are
// the data roots of every service the tests start (gateway/test/paths.test.ts sets its own).
const dataRoots = [
  tmpdir(),
  process.cwd(),
  process.env.LAB_DATASETS ?? resolve(import.meta.dirname, '../shared/datasets'),
];

export default defineConfig({
  test: {
    include: ['*/test/**/*.test.ts'],
    exclude: ['**/node_modules/**'],
    testTimeout: 60_000,
    env: { LAB_DATA_ROOTS: dataRoots.join(',') },
    // Polls wait on real services and a real browser on a 2-core machine: give them time, not luck.
    expect: { poll: { timeout: 15_000, interval: 100 } },
    hookTimeout: 120_000,
    // Integration suites start real processes and ports; run files in separate forks, two at a time (2 cores).
    pool: 'forks',
    poolOptions: { forks: { maxForks: 2, minForks: 1 } },
  },
});

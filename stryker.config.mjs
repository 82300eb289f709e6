// Mutation testing (StrykerJS with its vitest runner): `npm run mutate` runs every target below, one at a
// time; `npm run mutate:tokenizer` (or :engine, :train) one of them; add `-- --mutate <file>` to narrow a
// run to some files. Not part of CI: on 2 cores a target takes from minutes to hours. Each target mutates a
// package's core and runs only that package's fast tests (mutation/vitest.config.ts); with per-test
// coverage, each mutant runs only the tests that reach it. Reports go to reports/mutation/<target>.html.
import { targets } from './mutation/targets.mjs';

const name = process.env.MUTATE ?? 'tokenizer';
const target = targets[name];
if (!target) throw new Error(`MUTATE=${name}: not one of ${Object.keys(targets).join(', ')}`);

/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: 'vitest',
  plugins: ['@stryker-mutator/vitest-runner'],
  vitest: { configFile: 'mutation/vitest.config.ts' },
  coverageAnalysis: 'perTest',
  mutate: target.mutate,
  reporters: ['clear-text', 'progress', 'html', 'json'],
  htmlReporter: { fileName: `reports/mutation/${name}.html` },
  jsonReporter: { fileName: `reports/mutation/${name}.json` },
  concurrency: 2,
  timeoutMS: 10_000,
  tempDirName: '.stryker-tmp',
  // The sandbox copies the tree; the big folders it need not copy.
  ignorePatterns: ['web/dist', 'reports', '.lab', 'shared'],
  thresholds: { high: 80, low: 60, break: null },
};

// The vitest configuration Stryker runs: the repository's, with only the tests of the target being mutated
// (MUTATE, see mutation/targets.mjs).
import { defineConfig } from 'vitest/config';
import base from '../vitest.config.ts';
import { targets } from './targets.mjs';

const target = targets[(process.env.MUTATE ?? 'tokenizer') as keyof typeof targets];

// Replaced, not merged: mergeConfig would append these globs to the repository's.
export default defineConfig({ ...base, test: { ...base.test, include: target.tests } });

#!/usr/bin/env node
// Runs the compiled CLI from dist/ (rebuilt first when any source changed since the last build), so it answers
// without transforming TypeScript at every start. `npx tsx svc-tokenize/src/cli.ts` runs the source directly.
import { runCompiled } from '../../supervisor/dist.js';

await runCompiled('lab-tokenize', (msg) => process.stderr.write(`lab-tokenize: ${msg}\n`));

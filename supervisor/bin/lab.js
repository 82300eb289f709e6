#!/usr/bin/env node
// `npm start`: runs the compiled supervisor from dist/, compiling the lab first when dist/ is missing or any
// source changed since the last build (so an edited service is what starts). `npm run start:tsx` runs the
// TypeScript sources through tsx instead.
import { runCompiled } from '../dist.js';

await runCompiled('supervisor', (msg) => process.stdout.write(`[lab] ${msg}\n`));

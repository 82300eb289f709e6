// Builds engine/native/*.c (the lab.engine operators: linear.c, attention.c) into one shared library with
// the system's C compiler: `npm install` runs this (the root `prepare` script), and the engine runs it again
// when it first needs the library (runtime/linear-op.ts), so an edited source or a compiler installed later
// is picked up without a step to remember. Without a compiler the engine decodes with ORT's Gemm instead.
//
// The file name carries a hash of the source and flags, so a library is never stale and processes building
// at once (parallel tests) never load a half-written file: each compiles to a temporary name and renames.
// Plain JavaScript so `npm install` runs it before anything TypeScript is set up.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const here = dirname(fileURLToPath(import.meta.url));
const OUT_DIR = join(here, 'build');
// No -march: the library picks its kernel by the CPU it runs on (an image may move between machines).
const FLAGS = ['-O3', '-fPIC', '-shared', '-std=c11', '-Wall', '-Wextra'];
const LIBS = ['-lm'];

/**
 * The library's path, compiled now if no current build exists; or `{ error }` saying why there is none.
 * @returns {Promise<{ path: string } | { error: string }>}
 */
export async function buildNative() {
  if (process.platform !== 'linux') return { error: `not on Linux (${process.platform})` };
  const cc = process.env.CC || 'cc';
  const files = readdirSync(here)
    .filter((f) => f.endsWith('.c') || f.endsWith('.h'))
    .sort();
  const hash = createHash('sha256');
  for (const f of files) hash.update(f).update(readFileSync(join(here, f)));
  hash.update([...FLAGS, ...LIBS].join(' '));
  const path = join(OUT_DIR, `liblab_ops-${hash.digest('hex').slice(0, 12)}.so`);
  if (existsSync(path)) return { path };
  mkdirSync(OUT_DIR, { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  try {
    const sources = files.filter((f) => f.endsWith('.c')).map((f) => join(here, f));
    await promisify(execFile)(cc, [...FLAGS, '-o', tmp, ...sources, ...LIBS]);
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    const err = /** @type {NodeJS.ErrnoException & { stderr?: string }} */ (e);
    if (err.code === 'ENOENT') return { error: `no C compiler ('${cc}'; on Debian: apt install gcc)` };
    return { error: `${cc} failed: ${(err.stderr || err.message).trim().split('\n')[0]}` };
  }
  // Builds of older sources: removing a file a running process mapped is safe on Linux.
  for (const f of readdirSync(OUT_DIR))
    if (f.startsWith('liblab_ops-') && f.endsWith('.so') && join(OUT_DIR, f) !== path)
      rmSync(join(OUT_DIR, f), { force: true });
  return { path };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const r = await buildNative();
  // Never fails the install: the engine works without the library, only decodes more slowly.
  console.log(
    'path' in r
      ? `engine: built the decoding kernel (${r.path.slice(here.length - 'engine/native'.length)})`
      : `engine: decoding kernel not built, ORT's Gemm decodes instead: ${r.error}`,
  );
}

// The lab.engine operators, Linear and Attention (engine/native/linear.c, attention.c): their library, built
// on first use if no current build exists (engine/native/build.mjs), and which kernel Linear runs on this
// CPU. Sessions register them through ONNX Runtime's C API (SessionOptions.opsLibrary), so they need what
// bound sessions need.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { boundUnavailable, loadApi } from './bound.ts';

export interface LabOps {
  /** The shared library to register (SessionOptions.opsLibrary). */
  library: string;
  /** The kernel it runs now: 'avx512', 'avx2' or 'scalar' (the widest this CPU has, see select). */
  kernel(): string;
  /**
   * Run `want` from now on, or the widest kernel the CPU has where it has not `want`; returns the one
   * chosen. For comparing kernels: runs in progress must have finished.
   */
  select(want: 'avx512' | 'avx2' | 'scalar'): string;
}

type Build = () => Promise<{ path: string } | { error: string }>;

let found: Promise<LabOps | null> | undefined;
let unavailable = '';

/** The operator's library, built if needed; null where it cannot be (the reason: labOpsUnavailable). */
export function labOps(): Promise<LabOps | null> {
  found ??= locate();
  return found;
}

/** Why the operator is unavailable, or '' (after labOps resolved). */
export function labOpsUnavailable(): string {
  return unavailable;
}

async function locate(): Promise<LabOps | null> {
  try {
    if (!(await loadApi())) throw new Error(`ONNX Runtime's C API is unavailable: ${boundUnavailable()}`);
    // Imported from where it lies, not bundled: it finds the C source next to itself.
    const build = (await import(pathToFileURL(join(nativeDir(), 'build.mjs')).href)) as {
      buildNative: Build;
    };
    const r = await build.buildNative();
    if ('error' in r) throw new Error(r.error);
    const koffi = (await import('koffi')).default;
    // The same handle ORT's dlopen gets, so the kernel chosen here is the one its sessions run.
    const lib = koffi.load(r.path);
    const kernel = lib.func('const char * LabLinearKernel()');
    const select = lib.func('const char * LabLinearSelect(const char *)');
    return {
      library: r.path,
      kernel: () => String(kernel()),
      select: (want) => String(select(want)),
    };
  } catch (e) {
    unavailable = e instanceof Error ? e.message : String(e);
    console.warn(`engine: decoding with ORT's Gemm; the lab's Linear kernel is unavailable (${unavailable})`);
    return null;
  }
}

/** engine/native, from this module's place in the sources or in the bundles of dist/. */
function nativeDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let up = 0; up < 6; up++) {
    for (const candidate of [join(dir, 'native'), join(dir, 'engine', 'native')])
      if (existsSync(join(candidate, 'linear.c'))) return candidate;
    dir = dirname(dir);
  }
  throw new Error('engine/native/linear.c not found next to the engine');
}

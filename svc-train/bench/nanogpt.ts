// Runs Karpathy's nanoGPT (train.py) beside the lab's benchmark so both are measured in one run on the
// same machine: figures on these shared VMs drift by ±30% within an hour, ratios taken minutes apart
// do not. Needs a nanoGPT checkout with data/shakespeare_char prepared (NANOGPT_DIR) and a Python with
// PyTorch (NANOGPT_PYTHON, default /usr/bin/python3); the benchmark skips it when either is missing.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface NanoGptRun {
  wallSeconds: number;
  /** Milliseconds per iteration as train.py prints them, evaluation iterations excluded. */
  iterMs: number[];
  valLoss: number;
}

export function nanoGptAvailable(): { dir: string; python: string } | undefined {
  const dir = process.env.NANOGPT_DIR;
  const python = process.env.NANOGPT_PYTHON ?? '/usr/bin/python3';
  if (!dir || !existsSync(join(dir, 'train.py')) || !existsSync(join(dir, 'data/shakespeare_char/train.bin')))
    return undefined;
  const probe = spawnSync(python, ['-c', 'import torch'], { encoding: 'utf8' });
  return probe.status === 0 ? { dir, python } : undefined;
}

/**
 * `python train.py config/train_shakespeare_char.py --device=cpu --compile=False ...extra`, writing its
 * checkpoints to a temporary folder; undefined when nanoGPT is not available (see nanoGptAvailable).
 */
export function runNanoGpt(extra: string[]): NanoGptRun | undefined {
  const at = nanoGptAvailable();
  if (!at) return undefined;
  const out = mkdtempSync(join(tmpdir(), 'bench-nanogpt-'));
  try {
    return run(at, [...extra, `--out_dir=${out}`]);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

function run(at: { dir: string; python: string }, extra: string[]): NanoGptRun {
  const t0 = performance.now();
  const r = spawnSync(
    at.python,
    ['train.py', 'config/train_shakespeare_char.py', '--device=cpu', '--compile=False', ...extra],
    { cwd: at.dir, encoding: 'utf8', maxBuffer: 64 << 20 },
  );
  const wallSeconds = (performance.now() - t0) / 1000;
  if (r.status !== 0) throw new Error(`nanoGPT failed (${r.status}): ${(r.stderr ?? '').slice(-500)}`);
  const out = r.stdout;
  const evalIters = new Set([...out.matchAll(/^step (\d+):/gm)].map((m) => Number(m[1])));
  const iterMs = [...out.matchAll(/^iter (\d+): loss [\d.]+, time ([\d.]+)ms/gm)]
    .filter((m) => !evalIters.has(Number(m[1])))
    .map((m) => Number(m[2]));
  const vals = [...out.matchAll(/val loss ([\d.]+)/g)].map((m) => Number(m[1]));
  return { wallSeconds, iterMs, valLoss: vals.length ? vals[vals.length - 1] : Number.NaN };
}

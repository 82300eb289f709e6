// How a step's rows are executed: how many rows one session.run takes, and how many worker threads run
// them. The plan changes only float rounding (gradients are summed in another order), never what is
// computed: dropout masks are drawn per row (see DropoutMasks).
import os from 'node:os';
import type { ModelConfig } from '../models/config.ts';
import { paramLayout } from '../models/model.ts';

export interface ExecutionPlan {
  /** Rows (sequences) per session.run. */
  rowsPerRun: number;
  /** Runs per optimizer step. */
  runs: number;
  /** Worker threads computing gradients in parallel (1: the trainer's own sessions do everything). */
  workers: number;
}

/**
 * Tokens per run above which a step is split into several runs. nanogpt-shakespeare (10.7M parameters,
 * context 256) on two gradient workers: 4 rows (1,024 tokens) per run 1,584 tokens/s, 8 rows 1,544,
 * 16 rows 1,444 in one series, 2 rows level with 4 in another; nanogpt-cpu (12 × 64 = 768 tokens) runs
 * best whole (two runs of 6 rows took 1.3–1.5× as long as one of 12).
 */
export const TOKENS_PER_RUN = 1024;

/**
 * Parameters from which gradients are computed by one single-threaded worker per core rather than by
 * one session with a thread per core. nanogpt-shakespeare at batch 64: two workers 1.15–1.2× faster in
 * interleaved runs (matmuls scale 1.5× from one to two intra-op threads, some kernels not at all);
 * nanogpt-cpu (0.8M): no gain, as the two workers then wait on memory.
 */
export const PARALLEL_PARAMS = 4_000_000;

export interface PlanOptions {
  rowsPerRun?: number;
  workers?: number;
  cores?: number;
}

export function planExecution(
  cfg: ModelConfig,
  rowsPerStep: number,
  seq: number,
  opts: PlanOptions = {},
): ExecutionPlan {
  const cores = opts.cores ?? Math.max(1, os.availableParallelism());
  let rowsPerRun = opts.rowsPerRun ?? rowsPerStep;
  if (opts.rowsPerRun === undefined) {
    // The largest divisor of the step's rows whose run stays within TOKENS_PER_RUN (at least one row).
    for (let r = rowsPerStep; r >= 1; r--) {
      if (rowsPerStep % r === 0 && (r * seq <= TOKENS_PER_RUN || r === 1)) {
        rowsPerRun = r;
        break;
      }
    }
  }
  if (rowsPerRun < 1 || rowsPerStep % rowsPerRun !== 0)
    throw new Error(`rowsPerRun ${rowsPerRun} does not divide the step's ${rowsPerStep} rows`);
  const runs = rowsPerStep / rowsPerRun;
  const big = paramLayout(cfg).total >= PARALLEL_PARAMS;
  const workers = Math.max(1, Math.min(opts.workers ?? (big ? cores : 1), runs));
  return { rowsPerRun, runs, workers };
}

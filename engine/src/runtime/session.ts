// ONNX Runtime sessions for engine graphs: execution-provider choice with fallback, and the session
// options picked by measurement.
import os from 'node:os';
import * as ort from 'onnxruntime-node';
import type { DType, Graph, TensorData } from '../graph/graph.ts';

export { ort };
export type Tensor = ort.Tensor;
export type Session = ort.InferenceSession;

export type ExecutionProvider = 'cpu' | 'webgpu' | 'cuda';
export type OptLevel = 'disabled' | 'basic' | 'extended' | 'all';

export interface SessionOptions {
  /** Execution provider; defaults to $LAB_EP or cpu. */
  ep?: ExecutionProvider;
  /**
   * Graph optimisation level; default picked by measurement, see DEFAULT_OPT_LEVEL.
   */
  optLevel?: OptLevel;
  /** Intra-op threads; defaults to the number of cores (measured best on 2 cores, see DEFAULT_OPT_LEVEL). */
  threads?: number;
  /** Let idle intra-op threads spin (ORT default); false yields the core, kinder to a busy machine. */
  spin?: boolean;
  /** With `spin`, let threads go on spinning after a run ends until the next (ORT default); false stops them. */
  spinAfterRun?: boolean;
  /**
   * A shared library of custom operators to register (ORT's RegisterCustomOps entry point): C API sessions
   * only (runtime/bound.ts), see runtime/lab-ops.ts.
   */
  opsLibrary?: string;
  /** Write an ORT profile (chrome-trace JSON) with this file prefix; see endProfiling(). */
  profilePrefix?: string;
}

/**
 * Measured on this 2-core VM with the nanogpt-cpu training step (batch 12, context 64, ORT 1.30 CPU):
 * - 2 threads, quiet machine, mean of 100 Trainer steps: disabled 237 ms, basic 53.8, extended 53.5,
 *   all 107.5 (`all` adds layout transforms that cost more than they save on these 2-D/4-D graphs).
 * - 1 thread, min of 30 session.run: disabled 72.3, basic 71.0, extended 71.4, all 71.2.
 * - threads: 1 → ~71 ms, 2 → ~41-48 ms (min of 40), so intra-op threads default to the core count.
 * No engine graph (training, eval, KV-cache inference) crashed at any level, unlike the PyTorch-exported
 * graph in DESIGN.md §4. `extended` also fuses Transpose into MatMul (FusedMatMul) for the backward pass.
 */
export const DEFAULT_OPT_LEVEL: OptLevel = 'extended';

/**
 * ORT's `session.dynamic_block_base`: parallel loops hand out shrinking blocks of work instead of one
 * fixed share per thread, so when the VM deschedules one core the other takes over its remaining blocks.
 * nanogpt-cpu step on 2 threads, interleaved, median of 20 rounds of 10 runs: off 66.7 ms, 2 → 63.6, 1 → 64.2
 * (4 → 66.6 in another series); runs stay bitwise identical.
 */
export const DYNAMIC_BLOCK_BASE = 2;

let warned = false;

export function resolveEp(ep?: string): ExecutionProvider {
  const want = (ep ?? process.env.LAB_EP ?? 'cpu').toLowerCase();
  if (want === 'cpu' || want === 'webgpu' || want === 'cuda') return want;
  throw new Error(`unknown execution provider '${want}' (expected cpu, webgpu or cuda)`);
}

/** The threading, optimisation level and config entries (flat ORT keys) a session gets from `opts`. */
export function sessionSettings(opts: SessionOptions): {
  optLevel: OptLevel;
  threads: number;
  config: Record<string, string>;
} {
  const threads = opts.threads ?? Math.max(1, os.availableParallelism());
  return {
    optLevel: opts.optLevel ?? DEFAULT_OPT_LEVEL,
    threads,
    config: {
      ...(threads > 1 ? { 'session.dynamic_block_base': String(DYNAMIC_BLOCK_BASE) } : {}),
      ...(opts.spin === false ? { 'session.intra_op.allow_spinning': '0' } : {}),
      ...(opts.spinAfterRun === false ? { 'session.force_spinning_stop': '1' } : {}),
    },
  };
}

/** Create a session from graph bytes, trying the requested EP and falling back to CPU with one warning. */
export async function createSession(model: Graph | Uint8Array, opts: SessionOptions = {}): Promise<Session> {
  const bytes = model instanceof Uint8Array ? model : model.toBytes();
  const ep = resolveEp(opts.ep);
  const settings = sessionSettings(opts);
  const base: ort.InferenceSession.SessionOptions = {
    graphOptimizationLevel: settings.optLevel,
    intraOpNumThreads: settings.threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    enableProfiling: opts.profilePrefix !== undefined,
    // onnxruntime-node joins nested keys with dots into ORT's config keys, so flat keys are the same.
    extra: settings.config,
    ...(opts.profilePrefix ? { profileFilePrefix: opts.profilePrefix } : {}),
  };
  if (ep !== 'cpu') {
    try {
      // Fatal-only logging for the attempt: our one-line warning replaces ORT's multi-line error.
      return await ort.InferenceSession.create(bytes, {
        ...base,
        logSeverityLevel: 4,
        executionProviders: [ep, 'cpu'],
      });
    } catch (err) {
      if (!warned) {
        console.warn(
          `engine: execution provider '${ep}' unavailable (${firstLine(err)}); falling back to cpu`,
        );
        warned = true;
      }
    }
  }
  try {
    return await ort.InferenceSession.create(bytes, { ...base, executionProviders: ['cpu'] });
  } catch (err) {
    throw new Error(
      `ONNX Runtime rejected graph '${model instanceof Uint8Array ? 'bytes' : model.name}': ${firstLine(err)}`,
    );
  }
}

/** The first line of an error's message (ORT's are long). */
export function firstLine(err: unknown): string {
  return String(err instanceof Error ? err.message : err).split('\n')[0];
}

const ORT_TYPE: Record<DType, ort.Tensor.Type> = {
  float32: 'float32',
  float64: 'float64',
  int64: 'int64',
  int32: 'int32',
  bool: 'bool',
  uint8: 'uint8',
};

export function tensor(dtype: DType, data: TensorData, dims: readonly number[]): ort.Tensor {
  return new ort.Tensor(ORT_TYPE[dtype], data as Float32Array, dims);
}

export function f32(data: Float32Array | number[], dims: readonly number[]): ort.Tensor {
  return new ort.Tensor('float32', data instanceof Float32Array ? data : Float32Array.from(data), dims);
}

export function i64(data: BigInt64Array | number[], dims: readonly number[]): ort.Tensor {
  return new ort.Tensor(
    'int64',
    data instanceof BigInt64Array ? data : BigInt64Array.from(data.map((x) => BigInt(x))),
    dims,
  );
}

export function scalarOf(t: ort.OnnxValue | undefined): number {
  if (!t || !(t instanceof ort.Tensor)) throw new Error('expected a tensor output');
  return Number((t.data as Float32Array)[0]);
}

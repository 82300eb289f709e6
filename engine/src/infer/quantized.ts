// Weights quantised for decoding (InferenceOptions.quantize): every linear layer's weight and the head,
// [out, in] as MatMulNBits reads them (GPT-2's Conv1D weights, stored [in, out], are transposed first).
// Decoding one token reads every weight once, so its time is the weights' bytes over the memory
// bandwidth: 4-bit codes with a float32 scale per 32 are 5 bits a weight against 32. Embeddings, norms and
// biases stay float32 (a token reads one embedding row).
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import type { Worker } from 'node:worker_threads';
import { startTsWorker } from '@lab/common/worker';
import type { ModelConfig } from '../models/config.ts';
import { paramSpecs } from '../models/model.ts';
import {
  DEFAULT_BLOCK,
  QuantError,
  type QuantFormat,
  type QuantizedTensor,
  quantize,
  quantizedBytes,
} from '../quant/formats.ts';
import { buildDecodeGraph } from './decode-graph.ts';
import type { MappedFileId } from './mmap.ts';
import { transpose } from './weights.ts';

/** The formats decoding runs on (MatMulNBits takes integer codes; NF4 is for QLoRA's frozen base). */
export const DECODE_FORMATS = ['int8', 'int4'] as const;
export type DecodeFormat = (typeof DECODE_FORMATS)[number];

export interface QuantizedWeights {
  format: DecodeFormat;
  blockSize: number;
  tensors: Map<string, QuantizedTensor>;
  /** Bytes of codes and scales. */
  bytes: number;
  /** Bytes of the float32 weights they replace. */
  replaced: number;
}

export function checkDecodeFormat(format: string): DecodeFormat {
  if (!(DECODE_FORMATS as readonly string[]).includes(format))
    throw new QuantError(
      `quantize: decoding takes ${DECODE_FORMATS.join(' or ')} (got ${JSON.stringify(format)}${format === 'nf4' ? '; NF4 is for QLoRA training' : ''})`,
      'quantize',
    );
  return format as DecodeFormat;
}

/**
 * Quantise the linear weights and head of a model's tensors (Hugging Face names); with `only`, just those
 * of them (a share of the work for one of several workers).
 */
export function quantizeForDecoding(
  cfg: ModelConfig,
  tensors: ReadonlyMap<string, Float32Array>,
  format: QuantFormat,
  blockSize?: number,
  only?: ReadonlySet<string>,
): QuantizedWeights {
  const f = checkDecodeFormat(format);
  const shapes = new Map(paramSpecs(cfg).map((s) => [s.name, s.shape]));
  const out = new Map<string, QuantizedTensor>();
  let bytes = 0;
  let replaced = 0;
  const bs = blockSize ?? DEFAULT_BLOCK[f];
  let scratch = new Float32Array(0);
  for (const { param, outIn } of buildDecodeGraph(cfg, { fastLayouts: false }).linears) {
    if (only && !only.has(param)) continue;
    const data = tensors.get(param);
    const shape = shapes.get(param);
    if (!data || !shape) throw new Error(`missing parameter '${param}'`);
    const [a, b] = shape;
    let w = data;
    let rows = a;
    let cols = b;
    if (!outIn) {
      // [in, out] → [out, in], through one reused buffer.
      if (scratch.length < data.length) scratch = new Float32Array(data.length);
      w = scratch.subarray(0, data.length);
      transpose({ src: data, rows: a, cols: b, out: w });
      rows = b;
      cols = a;
    }
    const q = quantize(f, w, rows, cols, { blockSize: bs });
    out.set(param, q);
    bytes += quantizedBytes(q);
    replaced += 4 * data.length;
  }
  return { format: f, blockSize: bs, tensors: out, bytes, replaced };
}

/** What the quantising worker (quantize-worker.ts) is given. */
export interface QuantizeJob {
  cfg: ModelConfig;
  format: DecodeFormat;
  blockSize: number;
  /**
   * Weights in a file (float32, used in place): the worker maps it; tensors as [name, byte offset, floats].
   * `expect` is the file the caller mapped: the worker refuses another one under the same path (a checkpoint
   * saved meanwhile), whose codes would not match the caller's embeddings and norms.
   */
  file?: { path: string; tensors: [string, number, number][]; expect?: MappedFileId };
  /** Or in memory, in paramLayout(cfg) order: transferred to the worker and back. */
  params?: Float32Array;
  /** Quantise only these parameters (the worker's share); all when absent. */
  only?: string[];
}

const MAX_WORKERS = 8;

export type QuantizeReply =
  | { type: 'done'; weights: QuantizedWeights; params?: Float32Array }
  | { type: 'error'; message: string; field?: string };

/**
 * quantizeForDecoding on worker threads, so the caller's event loop (a service's requests) goes on while a
 * large model is quantised. Weights in a file are shared between a worker per core, up to 8 (each maps the
 * file and takes about an equal share of the weights); weights in memory go to one worker. Codes and
 * scales come back by transfer (no copy); so does `params`, whose buffer is detached from the caller until
 * then.
 */
export async function quantizeOffThread(
  job: QuantizeJob,
  cores = availableParallelism(),
): Promise<{ weights: QuantizedWeights; params?: Float32Array }> {
  const linears = buildDecodeGraph(job.cfg, { fastLayouts: false }).linears.map((l) => l.param);
  // Each worker maps the file and starts its own module graph: past 8 the start-up outweighs the share of
  // the work, and past one per tensor a worker would have nothing to do.
  const workers = Math.min(cores, MAX_WORKERS, linears.length);
  if (!job.file || workers < 2) return oneWorker(job);
  const sizes = new Map(job.file.tensors.map(([name, , length]) => [name, length]));
  // Largest first, each to the least loaded share.
  const shares = Array.from({ length: workers }, () => ({ params: [] as string[], size: 0 }));
  for (const p of [...linears].sort((a, b) => (sizes.get(b) ?? 0) - (sizes.get(a) ?? 0))) {
    const least = shares.reduce((a, b) => (b.size < a.size ? b : a));
    least.params.push(p);
    least.size += sizes.get(p) ?? 0;
  }
  const parts = await Promise.all(
    shares.filter((s) => s.params.length).map((s) => oneWorker({ ...job, only: s.params })),
  );
  // In the order quantizeForDecoding gives (the graph's), whichever worker made each.
  const made = new Map(parts.flatMap((p) => [...p.weights.tensors]));
  const tensors = new Map(linears.map((p) => [p, made.get(p)!]));
  const sum = (f: (w: QuantizedWeights) => number) => parts.reduce((a, p) => a + f(p.weights), 0);
  const first = parts[0]!.weights;
  return {
    weights: {
      format: first.format,
      blockSize: first.blockSize,
      tensors,
      bytes: sum((w) => w.bytes),
      replaced: sum((w) => w.replaced),
    },
  };
}

async function oneWorker(job: QuantizeJob): Promise<{ weights: QuantizedWeights; params?: Float32Array }> {
  const { params, ...rest } = job;
  const worker: Worker = startTsWorker(join(import.meta.dirname, 'quantize-worker.ts'), {
    ...rest,
    inMemory: params !== undefined,
  });
  try {
    const reply = await new Promise<QuantizeReply>((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
      worker.once('exit', (code) => reject(new Error(`quantize: the worker exited with code ${code}`)));
      if (params) worker.postMessage(params, [params.buffer as ArrayBuffer]);
    });
    if (reply.type === 'error') throw new QuantError(reply.message, reply.field ?? 'quantize');
    return { weights: reply.weights, params: reply.params };
  } finally {
    void worker.terminate();
  }
}

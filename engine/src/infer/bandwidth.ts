// The memory-bandwidth bound of decoding: each token reads every weight once (the batch is one
// sequence), so tokens/s can be at most read bandwidth ÷ weight bytes per token.
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { ModelConfig } from '../models/config.ts';
import { paramSpecs } from '../models/model.ts';

/** Bytes of weights one decoded token reads: all but the rows of embedding tables that are only gathered. */
export function weightBytesPerToken(cfg: ModelConfig): number {
  const gatheredOnly = new Set(['transformer.wpe.weight', 'model.embed_positions.weight']);
  if (!cfg.tieEmbeddings) {
    gatheredOnly.add('transformer.wte.weight');
    gatheredOnly.add('model.embed_tokens.weight');
  }
  let bytes = 0;
  for (const s of paramSpecs(cfg))
    if (!gatheredOnly.has(s.name)) bytes += 4 * s.shape.reduce((a, b) => a * b, 1);
  return bytes;
}

export interface BandwidthOptions {
  /** Buffer scanned (default 256 MiB, far beyond any cache). */
  bytes?: number;
  /** Scans per thread count; the best counts (default 5). */
  repeats?: number;
  /** Most threads scanning at once (default: the cores); 1 up to this many are tried. */
  threads?: number;
}

// Each thread scans its slice with Buffer.indexOf for a byte that is not there: libc's vectorised memchr
// reads every byte and nothing else. A JavaScript summing loop is compute-bound (16.5 GB/s here against
// 23.6 for memchr on one thread; ONNX Runtime's ReduceSum over the same buffer read 24.6–25.1).
const SCAN = `
const { parentPort, workerData } = require('node:worker_threads');
const slice = Buffer.from(workerData.buffer, workerData.offset, workerData.length);
parentPort.on('message', () => parentPort.postMessage(slice.indexOf(1)));
`;

/** The machine's memory read bandwidth, bytes/s: the best of several scans of a large zeroed buffer. */
export async function measureReadBandwidth(opts: BandwidthOptions = {}): Promise<number> {
  const bytes = opts.bytes ?? 256 * 1024 * 1024;
  const repeats = opts.repeats ?? 5;
  const buffer = new SharedArrayBuffer(bytes);
  new Uint8Array(buffer).fill(0);
  let best = 0;
  for (let n = 1; n <= (opts.threads ?? availableParallelism()); n++) {
    const part = Math.floor(bytes / n);
    const workers = Array.from(
      { length: n },
      (_, i) => new Worker(SCAN, { eval: true, workerData: { buffer, offset: i * part, length: part } }),
    );
    const scan = () =>
      Promise.all(
        workers.map(
          (w) =>
            new Promise<void>((resolve) => {
              w.once('message', () => resolve());
              w.postMessage(0);
            }),
        ),
      );
    try {
      await scan();
      for (let r = 0; r < repeats; r++) {
        const t = performance.now();
        await scan();
        best = Math.max(best, (n * part) / ((performance.now() - t) / 1000));
      }
    } finally {
      await Promise.all(workers.map((w) => w.terminate()));
    }
  }
  return best;
}

// Worker thread of quantizeOffThread (quantized.ts): quantises a model's linear weights and head where the
// caller's event loop cannot feel it (GPT-2 small: 3.2–3.4 s of JavaScript). The weights come as a file
// the worker maps itself (the caller's mapping cannot cross threads without a copy) or as a transferred
// array, which goes back with the result. The file must be the one the caller mapped (job.file.expect):
// a checkpoint saved under the same path meanwhile fails the load rather than mixing two checkpoints.
import { closeSync, fstatSync, openSync, readFileSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { paramLayout } from '../models/model.ts';
import { type MappedFileId, mapFile } from './mmap.ts';
import { type QuantizeJob, type QuantizeReply, quantizeForDecoding } from './quantized.ts';

const job = workerData as QuantizeJob & { inMemory: boolean };

async function main(): Promise<void> {
  if (job.inMemory)
    job.params = await new Promise<Float32Array>((resolve) => parentPort!.once('message', resolve));
  const tensors = new Map<string, Float32Array>();
  const transfer: ArrayBuffer[] = [];
  let close = () => {};
  try {
    if (job.file) {
      const { path, expect } = job.file;
      const mapped = await mapFile(path);
      if (mapped) close = () => mapped.close();
      const { bytes, id } = mapped ?? readWhole(path);
      // The caller opened the path before this worker did: a checkpoint saved in between is another file,
      // and its codes beside the caller's embeddings would be a model of two checkpoints.
      if (
        expect &&
        (id.dev !== expect.dev ||
          id.ino !== expect.ino ||
          id.size !== expect.size ||
          id.mtimeNs !== expect.mtimeNs)
      )
        throw new Error(
          `${path} changed while the model was loading (a checkpoint saved meanwhile?); load it again`,
        );
      for (const [name, offset, length] of job.file.tensors) {
        if (job.only && !job.only.includes(name)) continue;
        if (offset % 4 !== 0 || offset + 4 * length > bytes.byteLength)
          throw new Error(`${path}: tensor '${name}' lies outside the file`);
        tensors.set(name, new Float32Array(bytes.buffer, bytes.byteOffset + offset, length));
      }
    } else if (job.params) {
      for (const e of paramLayout(job.cfg).entries)
        tensors.set(e.name, job.params.subarray(e.offset, e.offset + e.size));
      transfer.push(job.params.buffer as ArrayBuffer);
    }
    const only = job.only && new Set(job.only);
    const q = quantizeForDecoding(job.cfg, tensors, job.format, job.blockSize, only);
    for (const t of q.tensors.values())
      transfer.push(t.codes.buffer as ArrayBuffer, t.scales!.buffer as ArrayBuffer);
    const reply: QuantizeReply = { type: 'done', weights: q, params: job.params };
    parentPort!.postMessage(reply, transfer);
  } finally {
    close();
  }
}

/** The file read into memory where it cannot be mapped, with the identity of the descriptor read. */
function readWhole(path: string): { bytes: Uint8Array; id: MappedFileId } {
  const fd = openSync(path, 'r');
  try {
    const st = fstatSync(fd, { bigint: true });
    const id = {
      dev: String(st.dev),
      ino: String(st.ino),
      size: Number(st.size),
      mtimeNs: String(st.mtimeNs),
    };
    return { bytes: new Uint8Array(readFileSync(fd)), id };
  } finally {
    closeSync(fd);
  }
}

main().catch((e: unknown) => {
  const err = e as Error & { field?: string };
  parentPort!.postMessage({ type: 'error', message: err.message ?? String(e), field: err.field });
});

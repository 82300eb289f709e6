// A trace's activations as one safetensors file, in memory (the service streams it; numpy, PyTorch and
// the safetensors libraries read it as it is).
import { headDim, type ModelConfig } from '../models/config.ts';
import type { RawTrace } from './trace.ts';
import { TRACE } from './trace-graph.ts';

interface Entry {
  name: string;
  shape: number[];
  data: Float32Array;
}

/** The trace's tensors under the trace graph's output names (TRACE), float32. */
export function activationTensors(raw: RawTrace, cfg: ModelConfig): Entry[] {
  const T = raw.tokens.length;
  const { nHead: H, nEmbd: C } = cfg;
  const out: Entry[] = [];
  if (raw.logits) out.push({ name: TRACE.logits, shape: [T, cfg.vocabSize], data: raw.logits });
  for (const [i, data] of raw.resid.entries()) out.push({ name: TRACE.resid(i), shape: [T, C], data });
  for (const [i, data] of raw.attn.entries()) out.push({ name: TRACE.attn(i), shape: [H, T, T], data });
  for (const [i, data] of raw.attnOut.entries()) out.push({ name: TRACE.attnOut(i), shape: [T, C], data });
  for (const [i, data] of raw.mlpOut.entries()) out.push({ name: TRACE.mlpOut(i), shape: [T, C], data });
  for (const [i, data] of raw.headMean.entries())
    out.push({ name: TRACE.headMean(i), shape: [H, headDim(cfg)], data });
  return out;
}

/** safetensors bytes of `tensors`, with the token ids in the metadata. */
export function safetensorsBytes(
  tensors: readonly Entry[],
  metadata: Record<string, string> = {},
): Uint8Array {
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length) header.__metadata__ = metadata;
  let offset = 0;
  for (const t of tensors) {
    header[t.name] = { dtype: 'F32', shape: t.shape, data_offsets: [offset, offset + t.data.byteLength] };
    offset += t.data.byteLength;
  }
  let json = JSON.stringify(header);
  // Tensor data starts 8-byte aligned, so readers may map it.
  json += ' '.repeat((8 - ((8 + Buffer.byteLength(json)) % 8)) % 8);
  const head = Buffer.byteLength(json);
  const bytes = new Uint8Array(8 + head + offset);
  new DataView(bytes.buffer).setBigUint64(0, BigInt(head), true);
  Buffer.from(bytes.buffer).write(json, 8);
  let at = 8 + head;
  for (const t of tensors) {
    bytes.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), at);
    at += t.data.byteLength;
  }
  return bytes;
}

/** A trace as safetensors: its activations, and the tokens as metadata. */
export function traceSafetensors(raw: RawTrace, cfg: ModelConfig): Uint8Array {
  return safetensorsBytes(activationTensors(raw, cfg), { tokens: JSON.stringify(raw.tokens) });
}

// The portable export (export.ts, the models' own code path) as the reference decoding is checked against.
import { buildInferenceGraph } from '../src/infer/export.ts';
import { headDim, type ModelConfig } from '../src/models/config.ts';
import { createSession, ort } from '../src/runtime/session.ts';

/** The export's outputs for `tokens` from an empty cache (with `residuals`, the residual stream too). */
export async function runExport(
  cfg: ModelConfig,
  params: Float32Array,
  tokens: readonly number[],
  opts: { residuals?: boolean } = {},
): Promise<Record<string, Float32Array>> {
  const s = await createSession(buildInferenceGraph(cfg, params, opts));
  const T = tokens.length;
  const empty = () => new ort.Tensor('float32', new Float32Array(0), [1, cfg.nKvHead, 0, headDim(cfg)]);
  const feeds: Record<string, ort.Tensor> = {
    input_ids: new ort.Tensor('int64', BigInt64Array.from(tokens, BigInt), [1, T]),
    attention_mask: new ort.Tensor('int64', new BigInt64Array(T).fill(1n), [1, T]),
    position_ids: new ort.Tensor(
      'int64',
      BigInt64Array.from({ length: T }, (_, i) => BigInt(i)),
      [1, T],
    ),
  };
  for (let i = 0; i < cfg.nLayer; i++) {
    feeds[`past_key_values.${i}.key`] = empty();
    feeds[`past_key_values.${i}.value`] = empty();
  }
  const out = await s.run(feeds);
  await s.release();
  return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, v.data as Float32Array]));
}

/** Logits of every position of `tokens` [T × vocab] from the export. */
export async function exportLogits(
  cfg: ModelConfig,
  params: Float32Array,
  tokens: readonly number[],
): Promise<Float32Array> {
  return (await runExport(cfg, params, tokens)).logits;
}

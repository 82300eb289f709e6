// Ablation: a set of heads or MLPs taken out of the forward pass, and what that does to the loss on each
// token. Zero ablation removes a component's output; mean ablation replaces it with its mean over the
// text's positions, which keeps the average signal downstream layers may rely on (a bias, in effect) and
// removes only what depends on the token.
import { headDim } from '../models/config.ts';
import { lossPerToken } from './summary.ts';
import type { Intervention, TraceModel } from './trace.ts';

/** A head of a layer, or with `head` undefined the layer's MLP. */
export interface Component {
  layer: number;
  head?: number;
}

export type AblationMode = 'zero' | 'mean';

export interface AblationResult {
  /** [T − 1] nats: the model as it is, and with the components ablated. */
  base: Float32Array;
  ablated: Float32Array;
}

/** Checks `parts` against the model's shape; the message names the bad entry. */
export function checkComponents(model: TraceModel, parts: readonly Component[]): void {
  const { nLayer, nHead } = model.cfg;
  parts.forEach((p, i) => {
    if (!Number.isInteger(p.layer) || p.layer < 0 || p.layer >= nLayer)
      throw new RangeError(`components[${i}].layer: ${p.layer} is not a layer (0 to ${nLayer - 1})`);
    if (p.head !== undefined && (!Number.isInteger(p.head) || p.head < 0 || p.head >= nHead))
      throw new RangeError(`components[${i}].head: ${p.head} is not a head (0 to ${nHead - 1})`);
  });
}

/** Loss per token of `tokens` with and without `parts`. */
export async function ablate(
  model: TraceModel,
  tokens: readonly number[],
  parts: readonly Component[],
  mode: AblationMode,
): Promise<AblationResult> {
  checkComponents(model, parts);
  const { nHead: H, nEmbd: C } = model.cfg;
  const D = headDim(model.cfg);
  // The base run gives the losses to compare with and the means that mean ablation puts in.
  const base = await model.run(tokens, { lossOnly: mode === 'zero', topK: 1, lens: false });
  const iv: Intervention = model.identity();
  for (const p of parts) {
    if (p.head !== undefined) {
      const at = p.layer * H + p.head;
      iv.headKeep[at] = 0;
      if (mode === 'mean')
        iv.headFill.set(base.headMean[p.layer].subarray(p.head * D, (p.head + 1) * D), at * D);
    } else {
      iv.mlpKeep[p.layer] = 0;
      if (mode === 'mean') iv.mlpFill.set(columnMeans(base.mlpOut[p.layer], C), p.layer * C);
    }
  }
  const after = await model.run(tokens, { lossOnly: true, topK: 1, intervene: iv });
  return { base: lossPerToken(base), ablated: lossPerToken(after) };
}

/** Mean over rows of x [rows, width]. */
function columnMeans(x: Float32Array, width: number): Float32Array {
  const rows = x.length / width;
  const out = new Float32Array(width);
  for (let r = 0; r < rows; r++) for (let i = 0; i < width; i++) out[i] += x[r * width + i];
  for (let i = 0; i < width; i++) out[i] /= rows;
  return out;
}

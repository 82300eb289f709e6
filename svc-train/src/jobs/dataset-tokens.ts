import { LabError } from '@lab/common';
import type { TokenChunk } from '@lab/proto/data';
import type { DatasetTokens } from './manager.ts';

/**
 * Assembles svc-data's ReadTokens stream into one array: the train split (or the whole unsplit version),
 * then val; a test split is left out of training.
 */
export async function collectTokens(chunks: AsyncIterable<TokenChunk>): Promise<DatasetTokens> {
  let header: TokenChunk | undefined;
  let out = new Int32Array(0);
  let at = 0;
  const order = ['train', 'all', 'val'];
  const offsets = new Map<string, number>();
  for await (const c of chunks) {
    if (!header) {
      header = c;
      const sizes = Object.entries(c.splitTokens).filter(([s]) => order.includes(s));
      sizes.sort((a, b) => order.indexOf(a[0]) - order.indexOf(b[0]));
      out = new Int32Array(sizes.reduce((n, [, t]) => n + Number(t), 0));
      let o = 0;
      for (const [s, t] of sizes) {
        offsets.set(s, o);
        o += Number(t);
      }
      continue;
    }
    const start = offsets.get(c.split);
    if (start === undefined) continue;
    const ids = new Uint32Array(
      c.tokens.buffer.slice(c.tokens.byteOffset, c.tokens.byteOffset + c.tokens.byteLength),
    );
    out.set(ids, start);
    offsets.set(c.split, start + ids.length);
    at += ids.length;
  }
  if (!header) throw new LabError('INTERNAL', 'svc-data sent no tokens');
  if (at !== out.length) throw new LabError('INTERNAL', `svc-data sent ${at} of ${out.length} tokens`);
  const trainLike = Number(header.splitTokens.train ?? header.splitTokens.all ?? 0);
  const hasVal = header.splitTokens.val !== undefined && Number(header.splitTokens.val) > 0;
  return { tokens: out, valStart: hasVal ? trainLike : undefined, tokenizerJson: header.tokenizerJson };
}

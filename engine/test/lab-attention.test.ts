// lab.engine::Attention (engine/native/attention.c): its output against a float64 attention over the cache,
// the cache it leaves (new keys and values appended in place, or the past copied where ORT allocated the
// present), its AVX-512 and portable rows, scores beyond the stack, and its errors. Decoding through it
// against the portable export is lab-ops.test.ts's "decoding through lab.engine::Linear".
import { beforeAll, describe, expect, it } from 'vitest';
import { Graph } from '../src/graph/graph.ts';
import { createRunner, type Runner, type TensorIn } from '../src/infer/runner.ts';
import { ModelProto } from '../src/onnx/gen/onnx.ts';
import { Rng } from '../src/rng.ts';
import { type LabOps, labOps, labOpsUnavailable } from '../src/runtime/lab-ops.ts';

let op: LabOps;
beforeAll(async () => {
  const found = await labOps();
  if (!found) throw new Error(`lab.engine operators unavailable: ${labOpsUnavailable()}`);
  op = found;
});

interface Shape {
  heads: number;
  kvHeads: number;
  d: number;
  /** Cached positions before the run. */
  past: number;
  /** Tokens in the run. */
  tokens: number;
  /** Positions the past buffers hold. */
  capacity: number;
  /** q, k and v in one input ([T, (H + 2·KV)·d]) or three. */
  packed: boolean;
  /** q, k, v and the output as rows [T, ·] (the decoding graph's), not [1, T, ·] (GroupQueryAttention's). */
  rows?: boolean;
}

/** A session of one Attention node, with GroupQueryAttention's inputs and outputs. */
async function attentionSession(
  s: Shape,
  { threads = 2, attrs = { num_heads: s.heads, kv_num_heads: s.kvHeads } } = {},
): Promise<Runner> {
  const g = new Graph('attention');
  const lead = s.rows ? [] : [1];
  const q = g.input('q', 'float32', [...lead, 'T', 'W']);
  const kv = s.packed
    ? [undefined, undefined]
    : ['k', 'v'].map((n) => g.input(n, 'float32', [...lead, 'T', s.kvHeads * s.d]));
  const past = ['past_key', 'past_value'].map((n) => g.input(n, 'float32', [1, s.kvHeads, 'S', s.d]));
  const [out, pk, pv] = g.node(
    'Attention',
    [q, ...kv, ...past, g.input('seqlens_k', 'int32', [1]), g.input('total_sequence_length', 'int32', [])],
    [
      { dtype: 'float32', shape: [...lead, 'T', s.heads * s.d] },
      { dtype: 'float32', shape: [1, s.kvHeads, 'S', s.d] },
      { dtype: 'float32', shape: [1, s.kvHeads, 'S', s.d] },
    ],
    attrs,
  );
  g.output(out, 'out');
  g.output(pk, 'present_key');
  g.output(pv, 'present_value');
  const proto = g.toProto();
  for (const n of proto.graph?.node ?? []) n.domain = 'lab.engine';
  proto.opsetImport.push({ domain: 'lab.engine', version: 1 });
  return createRunner(ModelProto.encode(proto).finish(), new Map(), { threads, opsLibrary: op.library });
}

interface Case {
  q: Float32Array;
  k: Float32Array;
  v: Float32Array;
  pastKey: Float32Array;
  pastValue: Float32Array;
}

function draw(s: Shape, rng: Rng): Case {
  const normals = (n: number) => Float32Array.from({ length: n }, () => rng.normal());
  const cache = s.kvHeads * s.capacity * s.d;
  return {
    q: normals(s.tokens * s.heads * s.d),
    k: normals(s.tokens * s.kvHeads * s.d),
    v: normals(s.tokens * s.kvHeads * s.d),
    pastKey: normals(cache),
    pastValue: normals(cache),
  };
}

/** The feeds of a case: q, k, v packed per token as GroupQueryAttention reads them when `packed`. */
function feeds(s: Shape, c: Case, pastKey: Float32Array, pastValue: Float32Array): Record<string, TensorIn> {
  const { heads: H, kvHeads: KV, d, tokens: T } = s;
  const past = { dims: [1, KV, s.capacity, d] };
  const lead = s.rows ? [] : [1];
  const lengths = {
    seqlens_k: { data: Int32Array.of(s.past + T - 1), dims: [1] },
    total_sequence_length: { data: Int32Array.of(s.past + T), dims: [] },
  };
  const common = {
    ...lengths,
    past_key: { data: pastKey, ...past },
    past_value: { data: pastValue, ...past },
  };
  if (!s.packed)
    return {
      ...common,
      q: { data: c.q, dims: [...lead, T, H * d] },
      k: { data: c.k, dims: [...lead, T, KV * d] },
      v: { data: c.v, dims: [...lead, T, KV * d] },
    };
  const width = (H + 2 * KV) * d;
  const q = new Float32Array(T * width);
  for (let t = 0; t < T; t++) {
    q.set(c.q.subarray(t * H * d, (t + 1) * H * d), t * width);
    q.set(c.k.subarray(t * KV * d, (t + 1) * KV * d), t * width + H * d);
    q.set(c.v.subarray(t * KV * d, (t + 1) * KV * d), t * width + (H + KV) * d);
  }
  return { ...common, q: { data: q, dims: [...lead, T, width] } };
}

/** Attention in float64: token t of head h over the past and the run's tokens up to t, 1/√d scaling. */
function reference(s: Shape, c: Case): Float64Array {
  const { heads: H, kvHeads: KV, d, tokens: T, capacity: cap } = s;
  const key = (j: number, pos: number, i: number) =>
    pos < s.past ? c.pastKey[(j * cap + pos) * d + i] : c.k[((pos - s.past) * KV + j) * d + i];
  const value = (j: number, pos: number, i: number) =>
    pos < s.past ? c.pastValue[(j * cap + pos) * d + i] : c.v[((pos - s.past) * KV + j) * d + i];
  const out = new Float64Array(T * H * d);
  for (let t = 0; t < T; t++)
    for (let h = 0; h < H; h++) {
      const j = Math.floor(h / (H / KV));
      const n = s.past + t + 1;
      const scores = Array.from({ length: n }, (_, pos) => {
        let dotp = 0;
        for (let i = 0; i < d; i++) dotp += c.q[(t * H + h) * d + i] * key(j, pos, i);
        return dotp / Math.sqrt(d);
      });
      const max = Math.max(...scores);
      const e = scores.map((x) => Math.exp(x - max));
      const sum = e.reduce((a, b) => a + b, 0);
      for (let i = 0; i < d; i++) {
        let y = 0;
        for (let pos = 0; pos < n; pos++) y += (e[pos] / sum) * value(j, pos, i);
        out[(t * H + h) * d + i] = y;
      }
    }
  return out;
}

/** The outputs of a run: its attention, and the present buffers (new ones unless given). */
function fetchesFor(
  s: Shape,
  presentKey = new Float32Array(s.kvHeads * s.capacity * s.d),
  presentValue = new Float32Array(s.kvHeads * s.capacity * s.d),
): Record<string, TensorIn> {
  const cacheDims = [1, s.kvHeads, s.capacity, s.d];
  return {
    out: {
      data: new Float32Array(s.tokens * s.heads * s.d),
      dims: [...(s.rows ? [] : [1]), s.tokens, s.heads * s.d],
    },
    present_key: { data: presentKey, dims: cacheDims },
    present_value: { data: presentValue, dims: cacheDims },
  };
}

/** Runs a case with the present bound to the past buffers (in place) or to new ones; checks output and cache. */
async function check(s: Shape, inPlace: boolean, seed: number): Promise<void> {
  const c = draw(s, new Rng(seed));
  const session = await attentionSession(s);
  const pastKey = c.pastKey.slice();
  const pastValue = c.pastValue.slice();
  const present = inPlace ? fetchesFor(s, pastKey, pastValue) : fetchesFor(s);
  const r = await session.run(feeds(s, c, pastKey, pastValue), present);
  await session.release();
  const label = `${JSON.stringify(s)} in place ${inPlace}`;
  const want = reference(s, c);
  let worst = 0;
  for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(r.out[i] - want[i]));
  expect(worst, label).toBeLessThan(2e-5);
  // The cache: the past rows as they were, then the run's keys and values, per KV head.
  for (const [present, before, fresh] of [
    [r.present_key, c.pastKey, c.k],
    [r.present_value, c.pastValue, c.v],
  ] as const)
    for (let j = 0; j < s.kvHeads; j++) {
      const at = j * s.capacity * s.d;
      expect(present.subarray(at, at + s.past * s.d), label).toEqual(before.subarray(at, at + s.past * s.d));
      for (let t = 0; t < s.tokens; t++) {
        const row = present.subarray(at + (s.past + t) * s.d, at + (s.past + t + 1) * s.d);
        expect(row, label).toEqual(fresh.subarray((t * s.kvHeads + j) * s.d, (t * s.kvHeads + j + 1) * s.d));
      }
    }
}

describe('lab.engine::Attention', () => {
  const shape = (o: Partial<Shape>): Shape => ({
    heads: 4,
    kvHeads: 2,
    d: 64,
    past: 37,
    tokens: 1,
    capacity: 64,
    packed: true,
    ...o,
  });

  it('equals a float64 attention over the cache, and appends to it in place', async () => {
    // AVX-512 rows (d 64, and 128 with 8-fold grouping), the portable row (d 24), one token and three
    // (causal within the run), q/k/v packed and apart, an empty past, positions not a multiple of 4, and
    // inputs as rows without the batch axis
    const shapes = [
      shape({}),
      shape({ packed: false }),
      shape({ heads: 8, kvHeads: 1, d: 128, past: 9 }),
      shape({ d: 24, past: 30 }),
      shape({ tokens: 3, past: 5 }),
      shape({ past: 0, tokens: 2, packed: false }),
      shape({ heads: 2, kvHeads: 2, d: 16, past: 0, tokens: 1 }),
      shape({ rows: true }),
      shape({ rows: true, packed: false, tokens: 2 }),
    ];
    for (const [i, s] of shapes.entries()) await check(s, true, 100 + i);
  });

  it('copies the cached positions where ORT allocated the present buffers', async () => {
    await check(shape({ past: 21, tokens: 2 }), false, 7);
  });

  it('takes more positions than its scores hold on the stack (2,048)', async () => {
    await check(shape({ heads: 2, kvHeads: 1, d: 16, past: 2100, capacity: 2112 }), true, 9);
  });

  it('gives the same bits on one thread as on two', async () => {
    const s = shape({ heads: 12, kvHeads: 12, past: 50 });
    const c = draw(s, new Rng(3));
    const outs: Buffer[] = [];
    for (const threads of [1, 2]) {
      const session = await attentionSession(s, { threads });
      const r = await session.run(feeds(s, c, c.pastKey.slice(), c.pastValue.slice()), fetchesFor(s));
      outs.push(Buffer.from(r.out.buffer));
      await session.release();
    }
    expect(outs[1].equals(outs[0])).toBe(true);
  });

  it('refuses inconsistent lengths and shapes with an error naming the operator', async () => {
    const s = shape({});
    const c = draw(s, new Rng(4));
    const session = await attentionSession(s);
    const fetches = () => fetchesFor(s);
    const good = feeds(s, c, c.pastKey, c.pastValue);
    await expect(
      session.run(
        { ...good, total_sequence_length: { data: Int32Array.of(s.past + 5), dims: [] } },
        fetches(),
      ),
    ).rejects.toThrow(/lab\.engine::Attention: seqlens_k \+ 1 must equal total_sequence_length/);
    await expect(
      session.run({ ...good, seqlens_k: { data: Int32Array.of(s.capacity), dims: [1] } }, fetches()),
    ).rejects.toThrow(
      /lab\.engine::Attention: seqlens_k \+ 1 must equal total_sequence_length, within the past/,
    );
    const narrow = { data: new Float32Array(10), dims: [1, 1, 10] };
    await expect(session.run({ ...good, q: narrow }, fetches())).rejects.toThrow(
      /lab\.engine::Attention: query width is not/,
    );
    // the session still runs after them
    expect((await session.run(good, fetches())).out.every(Number.isFinite)).toBe(true);
    await session.release();
    await expect(attentionSession(s, { attrs: { num_heads: 3, kv_num_heads: 2 } })).rejects.toThrow(
      /num_heads must be a positive multiple of kv_num_heads/,
    );
  });
});

// The engine's own decoding graph (InferenceModel runs it; buildInferenceGraph stays the portable
// export). It differs from the export where that saves load time or memory traffic:
// - weights are graph inputs fed straight from the checkpoint's bytes (`param.<HF name>`), so ORT
//   constant-folds nothing and copies nothing when a session is made; LayerNorm takes γ and β itself.
//   With `fastLayouts`, linear weights are read [out, in] through Gemm's transB and the head [width,
//   vocab], which for GPT-2 (Conv1D weights are [in, out]) and every head means transposed copies
//   (`param_t.<HF name>`, see WeightInput) that InferenceModel makes after load;
// - one sequence, tokens along the first axis ([T, C]), logits only for rows from `logits_from`;
// - attention is ORT's GroupQueryAttention (com.microsoft), which appends the new keys and values to a
//   KV buffer in place when the buffer is bound as both past and present (no copy of the cache per
//   token), with a standard-op fallback for head sizes it rejects (attention.ts); in `labOps` graphs,
//   lab.engine::Attention, which does the same in about half the time at short contexts;
// - with `quantized`, linear layers (and the head) are ORT's MatMulNBits (com.microsoft) over int8/int4
//   codes held as initializers, not inputs: MatMulNBits repacks constant weights once for its fast
//   kernels, and over a graph input it dequantised the whole weight every run (K 768 × N 3072, 4 bits:
//   0.044 ms as an initializer, 2.8 ms as an input). With `externalQuant` the graph only declares those
//   initializers (external data, one in-memory file each) and the sessions take them from the caller's
//   memory (runtime/bound.ts, SharedInitializers): nothing is serialised, parsed or copied.
import { Graph, type Value } from '../graph/graph.ts';
import * as op from '../graph/ops.ts';
import { headDim, type ModelConfig } from '../models/config.ts';
import { ropeTables, sinusoidTable } from '../models/layers.ts';
import { PARAM, paramSpecs } from '../models/model.ts';
import { ModelProto, type TensorProto, TensorProto_DataLocation } from '../onnx/gen/onnx.ts';
import { BITS, type QuantizedTensor } from '../quant/formats.ts';
import { type AttentionIo, canFuseAttention, fusedAttention, plainAttention, T } from './attention.ts';

/** Graph-input prefix of a transposed parameter. */
export const PARAM_T = 'param_t.';

/** The parameter the output head reads: the token embedding when tied. */
export function headParam(cfg: ModelConfig): string {
  if (!cfg.tieEmbeddings) return 'lm_head.weight';
  return cfg.family === 'gpt2' ? 'transformer.wte.weight' : 'model.embed_tokens.weight';
}

/** Dynamic dims of the decoding graph (and attention.ts's T, the tokens). */
const PAST = 'past';
const N = 'rows';

/** A graph input holding a parameter, as stored or transposed (2-D). */
export interface WeightInput {
  input: string;
  param: string;
  transposed: boolean;
  shape: readonly number[];
}

export interface DecodeGraph {
  bytes: Uint8Array;
  /** Whether attention is GroupQueryAttention (KV buffers may be shared between past and present). */
  fused: boolean;
  /** The weight inputs the graph reads. */
  weights: WeightInput[];
  /**
   * The parameters read by linear layers (and the head), with whether each is stored [out, in]: what
   * quantisation replaces (see DecodeGraphOptions.quantized).
   */
  linears: { param: string; outIn: boolean }[];
  /**
   * With DecodeGraphOptions.externalQuant: the initializers the graph declares as external data, each
   * its own in-memory file named after it (see runtime/bound.ts, SharedInitializers).
   */
  external: ExternalInitializer[];
}

/** An initializer a session takes from the caller's memory. */
export interface ExternalInitializer {
  name: string;
  data: Uint8Array | Float32Array;
  dims: readonly number[];
}

export interface DecodeGraphOptions {
  /** GroupQueryAttention (default where the head size allows, see canFuseAttention). */
  fuse?: boolean;
  /**
   * Read linear weights [out, in] and the head [width, vocab] (default true). MLAS's one-row GEMM splits
   * the output columns between threads, so with [out, in] each thread streams a contiguous half of the
   * weight, and a [width, vocab] head is a long row per input feature. Separate processes, 2 threads:
   * GPT-2 small's 48 layer GEMVs (340 MB) 8.6–9.5 ms [out, in] against 13.3–13.5 ms [in, out]; the head
   * (154 MB) 3.1 ms [width, vocab] against 4.7–4.9 ms [vocab, width].
   */
  fastLayouts?: boolean;
  /**
   * Linear weights (and the head) quantised [out, in] by parameter name (int8 or int4, see
   * quant/formats.ts): read by MatMulNBits from initializers instead of a float32 input.
   */
  quantized?: ReadonlyMap<string, QuantizedTensor>;
  /**
   * Declare the quantised codes and scales as external data instead of embedding them (the sessions must
   * then be given them, see DecodeGraph.external). GPT-2 small int8: embedding 139 MB took 1.9 s to
   * serialise and 1.3 s per session to parse, copy and repack; declared, 0.4 s per session (repacking).
   */
  externalQuant?: boolean;
  /**
   * Linear layers and the head as `lab.engine::Linear` (engine/native/linear.c) over weights [out, in],
   * and attention (where GroupQueryAttention would be) as `lab.engine::Attention` (native/attention.c):
   * for graphs that decode one token per run, in sessions given that library (runtime/lab-ops.ts).
   */
  labOps?: boolean;
}

/**
 * MatMulNBits' accuracy_level 4: activations quantised to int8 per block, products in int8 (AVX-512 VNNI
 * here). GPT-2 small's 48 layer GEMVs + head, 4 bits, block 32, 2 threads: 3.1 ms against 4.6 ms at level 0
 * (float32 compute) and 15.1 ms for the float32 Gemms (engine/README.md).
 */
const ACCURACY_LEVEL = 4;

interface Ctx {
  g: Graph;
  cfg: ModelConfig;
  /** A parameter as stored. */
  w: (name: string) => Value;
  /** A 2-D parameter transposed. */
  wt: (name: string) => Value;
  /** Whether weights are read in the layouts MLAS streams fastest (DecodeGraphOptions.fastLayouts). */
  fast: boolean;
  /** Whether linear layers are lab.engine::Linear (DecodeGraphOptions.labOps). */
  labOps: boolean;
  positions: Value;
  /** Attention of layer i; k and v undefined when q is the packed [q | k | v] (fused attention only). */
  layer: (q: Value, k: Value | undefined, v: Value | undefined, i: number) => Value;
  /** Whether `layer` takes packed q, k and v. */
  packed: boolean;
  /** x · Wᵀ for a quantised W, if `name` is quantised. */
  nbits: (x: Value, name: string) => Value | undefined;
  /** Records the parameters read by linear layers. */
  linears: Map<string, boolean>;
}

/**
 * x [T, in] · W + b for W stored [out, in] (`outIn`: nn.Linear) or [in, out] (GPT-2's Conv1D); with fast
 * layouts always read [out, in], from a transposed copy where it is stored the other way.
 */
function linear(ctx: Ctx, x: Value, name: string, outIn: boolean, bias?: string): Value {
  ctx.linears.set(name, outIn);
  const q = ctx.nbits(x, name);
  if (q) return bias ? op.add(ctx.g, q, ctx.w(bias)) : q;
  const c = bias ? ctx.w(bias) : undefined;
  if (ctx.labOps) return linearNode(ctx.g, x, outIn ? ctx.w(name) : ctx.wt(name), c);
  if (!ctx.fast || outIn) return op.gemm(ctx.g, x, ctx.w(name), { transB: outIn, c });
  return op.gemm(ctx.g, x, ctx.wt(name), { transB: true, c });
}

/** x [T, in] · Wᵀ (+ b) for W [out, in], by lab.engine::Linear. */
function linearNode(g: Graph, x: Value, weight: Value, bias?: Value): Value {
  const [y] = g.node('Linear', bias ? [x, weight, bias] : [x, weight], [
    { dtype: 'float32', shape: [x.shape[0], weight.shape[0]] },
  ]);
  return y;
}

function normed(ctx: Ctx, x: Value, prefix: string): Value {
  const { g, cfg } = ctx;
  const gamma = ctx.w(`${prefix}.weight`);
  if (cfg.norm === 'rmsnorm') return op.rmsNorm(g, x, gamma, cfg.normEps);
  const C = cfg.nEmbd;
  const beta = cfg.bias ? ctx.w(`${prefix}.bias`) : g.constant('float32', [C], new Float32Array(C));
  return op.layerNorm(g, x, gamma, beta, cfg.normEps);
}

function mlpOut(ctx: Ctx, fc: Value, gate: Value | undefined): Value {
  const { g, cfg } = ctx;
  if (gate) return op.mul(g, op.mul(g, gate, op.sigmoid(g, gate)), fc);
  if (cfg.activation === 'gelu') return op.gelu(g, fc, 'none');
  if (cfg.activation === 'gelu_tanh') return op.gelu(g, fc, 'tanh');
  return op.relu(g, fc);
}

/** Rotate-half RoPE on x [T, heads·D] at the graph's positions. */
function rope(ctx: Ctx, flat: Value, heads: number): Value {
  const { g, cfg } = ctx;
  const d = headDim(cfg);
  const half = d / 2;
  const x = op.reshape(g, flat, [T, heads, d]);
  const t = ropeTables(cfg);
  const pick = (table: Float32Array): Value =>
    op.unsqueeze(g, op.gather(g, g.constant('float32', [cfg.blockSize, half], table), ctx.positions), [1]);
  const c = pick(t.cos);
  const s = pick(t.sin);
  const [x1, x2] = op.split(g, x, [half, half], -1);
  const r1 = op.sub(g, op.mul(g, x1, c), op.mul(g, x2, s));
  const r2 = op.add(g, op.mul(g, x2, c), op.mul(g, x1, s));
  return op.reshape(g, op.concat(g, [r1, r2], -1), [T, heads * d]);
}

function attend(ctx: Ctx, q: Value, k: Value, v: Value, i: number): Value {
  if (ctx.cfg.positions !== 'rope') return ctx.layer(q, k, v, i);
  return ctx.layer(rope(ctx, q, ctx.cfg.nHead), rope(ctx, k, ctx.cfg.nKvHead), v, i);
}

function gpt2Layer(ctx: Ctx, x: Value, i: number): Value {
  const { g, cfg } = ctx;
  const h = `transformer.h.${i}`;
  const bias = (name: string) => (cfg.bias ? name : undefined);
  const d = headDim(cfg);
  return g.scope(`h.${i}`, () => {
    const qkv = linear(
      ctx,
      normed(ctx, x, `${h}.ln_1`),
      `${h}.attn.c_attn.weight`,
      false,
      bias(`${h}.attn.c_attn.bias`),
    );
    // GroupQueryAttention takes c_attn's output packed as it is, [q | k | v] per token.
    let a: Value;
    if (ctx.packed && cfg.positions !== 'rope') a = ctx.layer(qkv, undefined, undefined, i);
    else {
      const [q, k, v] = op.split(g, qkv, [cfg.nHead * d, cfg.nKvHead * d, cfg.nKvHead * d], -1);
      a = attend(ctx, q, k, v, i);
    }
    x = op.add(g, x, linear(ctx, a, `${h}.attn.c_proj.weight`, false, bias(`${h}.attn.c_proj.bias`)));
    if (cfg.attnOnly) return x;
    const fc = linear(
      ctx,
      normed(ctx, x, `${h}.ln_2`),
      `${h}.mlp.c_fc.weight`,
      false,
      bias(`${h}.mlp.c_fc.bias`),
    );
    let hidden: Value;
    if (cfg.activation === 'swiglu') {
      const [gate, up] = op.split(g, fc, [cfg.ffnHidden, cfg.ffnHidden], -1);
      hidden = mlpOut(ctx, up, gate);
    } else hidden = mlpOut(ctx, fc, undefined);
    return op.add(g, x, linear(ctx, hidden, `${h}.mlp.c_proj.weight`, false, bias(`${h}.mlp.c_proj.bias`)));
  });
}

function llamaLayer(ctx: Ctx, x: Value, i: number): Value {
  const { g, cfg } = ctx;
  const l = `model.layers.${i}`;
  const proj = (y: Value, name: string, withBias: boolean): Value =>
    linear(ctx, y, `${l}.${name}.weight`, true, withBias && cfg.bias ? `${l}.${name}.bias` : undefined);
  return g.scope(`layers.${i}`, () => {
    const h = normed(ctx, x, `${l}.input_layernorm`);
    const a = attend(
      ctx,
      proj(h, 'self_attn.q_proj', true),
      proj(h, 'self_attn.k_proj', true),
      proj(h, 'self_attn.v_proj', true),
      i,
    );
    x = op.add(g, x, proj(a, 'self_attn.o_proj', false));
    if (cfg.attnOnly) return x;
    const m = normed(ctx, x, `${l}.post_attention_layernorm`);
    const up = proj(m, 'mlp.up_proj', false);
    const gate = cfg.activation === 'swiglu' ? proj(m, 'mlp.gate_proj', false) : undefined;
    return op.add(g, x, proj(mlpOut(ctx, up, gate), 'mlp.down_proj', false));
  });
}

/**
 * The decoding graph. Inputs: `input_ids` and `position_ids` int64 [T]; `logits_from` int64 [1] (first
 * row whose logits come out: T − 1 when decoding, 0 for all rows); `seqlens_k` int32 [1] (= past + T − 1)
 * and `total_sequence_length` int32 [] (= past + T); `past_key.i`/`past_value.i`; weights. Outputs:
 * `logits` [T − logits_from, vocab], `present_key.i`/`present_value.i`.
 */
export function buildDecodeGraph(cfg: ModelConfig, opts: DecodeGraphOptions = {}): DecodeGraph {
  const fuse = opts.fuse ?? canFuseAttention(cfg);
  const fast = opts.fastLayouts ?? true;
  const labOps = !!opts.labOps;
  const g = new Graph(`${cfg.family}_decode`);
  const d = headDim(cfg);
  const ids = g.input('input_ids', 'int64', [T]);
  const positions = g.input('position_ids', 'int64', [T]);
  const from = g.input('logits_from', 'int64', [1]);
  const io: AttentionIo = {
    past: [],
    present: [],
    seqlensK: g.input('seqlens_k', 'int32', [1]),
    total: g.input('total_sequence_length', 'int32', []),
  };
  for (let i = 0; i < cfg.nLayer; i++) {
    io.past.push({
      key: g.input(`past_key.${i}`, 'float32', [1, cfg.nKvHead, PAST, d]),
      value: g.input(`past_value.${i}`, 'float32', [1, cfg.nKvHead, PAST, d]),
    });
  }
  const shapes = new Map(paramSpecs(cfg).map((s) => [s.name, s.shape]));
  const weights = new Map<string, { value: Value; info: WeightInput }>();
  const weight = (name: string, transposed: boolean): Value => {
    const input = `${transposed ? PARAM_T : PARAM}${name}`;
    const known = weights.get(input);
    if (known) return known.value;
    const stored = shapes.get(name);
    if (!stored) throw new Error(`decode graph: unknown parameter '${name}'`);
    const shape = transposed ? [...stored].reverse() : stored;
    const value = g.input(input, 'float32', shape);
    weights.set(input, { value, info: { input, param: name, transposed, shape } });
    return value;
  };
  const w = (name: string) => weight(name, false);
  const wt = (name: string) => weight(name, true);
  let layer: Ctx['layer'];
  if (fuse) layer = fusedAttention(g, cfg, io, labOps);
  else {
    // Key j is visible to the query at position p iff j ≤ p (positions are past + row).
    const total = op.cast(g, io.total, 'int64');
    const [keys] = g.node(
      'Range',
      [g.constant('int64', [], [0]), total, g.constant('int64', [], [1])],
      [{ dtype: 'int64', shape: ['total'] }],
    );
    const blocked = op.greater(g, op.unsqueeze(g, keys, [0]), op.unsqueeze(g, positions, [1]));
    layer = plainAttention(g, cfg, io, op.where(g, blocked, g.scalar(-1e9), g.scalar(0)));
  }
  const nbits = (x: Value, name: string): Value | undefined => {
    const q = opts.quantized?.get(name);
    if (!q) return undefined;
    if (q.format === 'nf4' || q.doubleQuant || !q.scales)
      throw new Error(
        `decode graph: '${name}' is ${q.format}${q.doubleQuant ? ' double-quantised' : ''}; MatMulNBits reads int8 and int4 with float32 scales`,
      );
    const bits = BITS[q.format];
    const codes = g.initializer(
      `${QUANT_PREFIX}${name}.codes`,
      'uint8',
      [q.rows, q.blocksPerRow, (q.blockSize * bits) / 8],
      q.codes,
    );
    const scales = g.initializer(`${QUANT_PREFIX}${name}.scales`, 'float32', [q.scales.length], q.scales);
    const [y] = g.node(
      'MatMulNBits',
      [x, codes, scales],
      [{ dtype: 'float32', shape: [x.shape[0], q.rows] }],
      {
        K: q.cols,
        N: q.rows,
        bits,
        block_size: q.blockSize,
        accuracy_level: ACCURACY_LEVEL,
      },
    );
    return y;
  };
  const linears = new Map<string, boolean>();
  const ctx: Ctx = { g, cfg, w, wt, fast, labOps, positions, layer, packed: fuse, nbits, linears };
  const gpt2 = cfg.family === 'gpt2';
  const embed = gpt2 ? 'transformer.wte.weight' : 'model.embed_tokens.weight';
  let x = op.gather(g, w(embed), ids);
  if (cfg.positions === 'learned')
    x = op.add(
      g,
      x,
      op.gather(g, w(gpt2 ? 'transformer.wpe.weight' : 'model.embed_positions.weight'), positions),
    );
  else if (cfg.positions === 'sinusoidal') {
    const table = g.constant('float32', [cfg.blockSize, cfg.nEmbd], sinusoidTable(cfg.blockSize, cfg.nEmbd));
    x = op.add(g, x, op.gather(g, table, positions));
  }
  for (let i = 0; i < cfg.nLayer; i++) x = gpt2 ? gpt2Layer(ctx, x, i) : llamaLayer(ctx, x, i);
  const [rows] = g.node(
    'Slice',
    [x, from, g.constant('int64', [1], [2 ** 62]), g.constant('int64', [1], [0])],
    [{ dtype: 'float32', shape: [N, cfg.nEmbd] }],
  );
  const hidden = normed(ctx, rows, gpt2 ? 'transformer.ln_f' : 'model.norm');
  const head = headParam(cfg);
  linears.set(head, true);
  const logits =
    nbits(hidden, head) ??
    (labOps ? linearNode(g, hidden, w(head)) : undefined) ??
    (fast ? op.gemm(g, hidden, wt(head)) : op.gemm(g, hidden, w(head), { transB: true }));
  g.output(logits, 'logits');
  io.present.forEach((p, i) => {
    g.output(p.key, `present_key.${i}`);
    g.output(p.value, `present_value.${i}`);
  });
  const external = opts.externalQuant
    ? [...g.initializers.values()]
        .filter((i) => i.value.name.startsWith(QUANT_PREFIX))
        .map((i) => ({
          name: i.value.name,
          data: i.data as Uint8Array | Float32Array,
          dims: i.value.shape as number[],
        }))
    : [];
  return {
    bytes: serialise(g, external),
    external,
    fused: fuse,
    weights: [...weights.values()].map((x) => x.info),
    linears: [...linears].map(([param, outIn]) => ({ param, outIn })),
  };
}

/** Contrib ops live in the com.microsoft domain, which Graph.toBytes (standard ONNX only) does not write. */
const MS_OPS = new Set(['GroupQueryAttention', 'MatMulNBits']);

/** The engine's own operators (engine/native), and the domain their library registers them in. */
const LAB_OPS = new Set(['Linear', 'Attention']);
const LAB_DOMAIN = 'lab.engine';

/** Name prefix of the quantised initializers. */
const QUANT_PREFIX = 'quant.';

function serialise(g: Graph, external: readonly ExternalInitializer[]): Uint8Array {
  g.prune();
  const proto = g.toProto();
  let lab = false;
  for (const n of proto.graph?.node ?? []) {
    if (MS_OPS.has(n.opType ?? '')) n.domain = 'com.microsoft';
    else if (LAB_OPS.has(n.opType ?? '')) {
      n.domain = LAB_DOMAIN;
      lab = true;
    }
  }
  proto.opsetImport.push({ domain: 'com.microsoft', version: 1 });
  if (lab) proto.opsetImport.push({ domain: LAB_DOMAIN, version: 1 });
  const byName = new Map(external.map((e) => [e.name, e]));
  if (proto.graph && byName.size)
    proto.graph.initializer = proto.graph.initializer.map((t) => {
      const e = byName.get(t.name ?? '');
      return e ? externalTensor(t, e) : t;
    });
  return ModelProto.encode(proto).finish();
}

/** Initializer `t` declared as the whole of the in-memory file named after it, its data left out. */
function externalTensor(t: TensorProto, e: ExternalInitializer): TensorProto {
  return {
    ...t,
    rawData: undefined,
    externalData: [
      { key: 'location', value: e.name },
      { key: 'offset', value: '0' },
      { key: 'length', value: String(e.data.byteLength) },
    ],
    dataLocation: TensorProto_DataLocation.EXTERNAL,
  };
}

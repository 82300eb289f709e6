// The logit lens as graph pieces (the final norm, the unembedding, log-softmax, top-k and the targets'
// log-probabilities) and as a graph of its own over one residual stream. The trace graph (trace-graph.ts)
// applies it to its last stream only, which gives the logits and the loss; the intermediate streams'
// lenses are a Gemm over the whole vocabulary each (most of a trace's time at GPT-2's size), so they run
// through the lens graph, one stream per run, only when a caller wants them.
import { Graph, type Value } from '../graph/graph.ts';
import * as op from '../graph/ops.ts';
import type { ModelConfig } from '../models/config.ts';
import { PARAM, paramSpecs } from '../models/model.ts';

/** The token axis. */
export const T = 'tokens';

/** A graph being built with the model's parameters as `param.<HF name>` inputs, made on first use. */
export interface ParamGraph {
  g: Graph;
  cfg: ModelConfig;
  w: (name: string) => Value;
}

/** Where a built graph's logit lens goes: its three output names. */
export interface LensNames {
  logp: string;
  ids: string;
  target: string;
}

/** The lens graph's inputs and outputs. */
export const LENS = {
  /** float [T, C]: one residual stream, as the trace graph outputs it. */
  resid: 'resid',
  /** int64 [T]: the token after each position (the last one's is ignored). */
  targets: 'targets',
  /** int64 [1]: how many tokens the lens keeps per position. */
  topK: 'top_k',
  /** [T, k] log-probabilities and [T, k] ids (int32) of the top tokens. */
  logp: 'lens_logp',
  ids: 'lens_ids',
  /** [T]: log-probability of each position's target. */
  target: 'lens_target',
} as const;

export interface BuiltGraph {
  bytes: Uint8Array;
  /** The parameters the graph reads, as `param.<HF name>` inputs. */
  params: string[];
}

/** Parameters as graph inputs, each made when first read; `params` lists those read, in order. */
export function paramInputs(
  g: Graph,
  cfg: ModelConfig,
): { w: (name: string) => Value; params: () => string[] } {
  const shapes = new Map(paramSpecs(cfg).map((s) => [s.name, s.shape]));
  const made = new Map<string, Value>();
  const w = (name: string): Value => {
    let v = made.get(name);
    if (!v) {
      const shape = shapes.get(name);
      if (!shape) throw new Error(`${g.name}: unknown parameter '${name}'`);
      v = g.input(`${PARAM}${name}`, 'float32', shape);
      made.set(name, v);
    }
    return v;
  };
  return { w, params: () => [...made.keys()] };
}

/** 0 … T − 1 for a [T] value. */
export function positionsOf(g: Graph, x: Value): Value {
  const [shape] = g.node('Shape', [x], [{ dtype: 'int64', shape: [1] }]);
  const [count] = g.node('Squeeze', [shape, g.ints([0])], [{ dtype: 'int64', shape: [] }]);
  const [positions] = g.node(
    'Range',
    [g.constant('int64', [], [0]), count, g.constant('int64', [], [1])],
    [{ dtype: 'int64', shape: [T] }],
  );
  return positions;
}

/** Where each position's target lies in the flattened [T·vocab] log-probabilities: t·vocab + target. */
export function targetPicks(pg: ParamGraph, positions: Value, targets: Value): Value {
  const { g, cfg } = pg;
  return op.add(g, op.mul(g, positions, g.constant('int64', [], [cfg.vocabSize])), targets);
}

/** The norm `prefix` (LayerNorm or RMSNorm, as the config says) of x [T, C]. */
export function normed(pg: ParamGraph, x: Value, prefix: string): Value {
  const { g, cfg } = pg;
  const gamma = pg.w(`${prefix}.weight`);
  if (cfg.norm === 'rmsnorm') return op.rmsNorm(g, x, gamma, cfg.normEps);
  const C = cfg.nEmbd;
  const beta = cfg.bias ? pg.w(`${prefix}.bias`) : g.constant('float32', [C], new Float32Array(C));
  return op.layerNorm(g, x, gamma, beta, cfg.normEps);
}

/** The final norm and unembedding of x [T, C]: logits [T, vocab]. */
export function unembed(pg: ParamGraph, x: Value): Value {
  const { cfg } = pg;
  const gpt2 = cfg.family === 'gpt2';
  const hidden = normed(pg, x, gpt2 ? 'transformer.ln_f' : 'model.norm');
  const head = cfg.tieEmbeddings
    ? gpt2
      ? 'transformer.wte.weight'
      : 'model.embed_tokens.weight'
    : 'lm_head.weight';
  return op.gemm(pg.g, hidden, pg.w(head), { transB: true });
}

/**
 * The logit lens of logits [T, vocab]: top-k log-probabilities and ids, and the targets' log-probabilities
 * (`picks` from targetPicks), as outputs named `names`. Log-softmax from primitives: the graph builder
 * knows the standard ops the engine's rules cover.
 */
export function logitLens(g: Graph, logits: Value, picks: Value, topK: Value, names: LensNames): void {
  const [rowMax] = g.node('ReduceMax', [logits, g.ints([-1])], [{ dtype: 'float32', shape: [T, 1] }], {
    keepdims: 1,
  });
  const shifted = op.sub(g, logits, rowMax);
  const logp = op.sub(g, shifted, op.log(g, op.reduceSum(g, op.exp(g, shifted), [-1], true)));
  const [vals, idx] = g.node(
    'TopK',
    [logp, topK],
    [
      { dtype: 'float32', shape: [T, 'k'] },
      { dtype: 'int64', shape: [T, 'k'] },
    ],
    { axis: -1, largest: 1, sorted: 1 },
  );
  g.output(vals, names.logp);
  g.output(op.cast(g, idx, 'int32'), names.ids);
  g.output(op.gather(g, op.reshape(g, logp, [-1]), picks), names.target);
}

/** The lens graph of a model: the logit lens of one residual stream (see LENS). */
export function buildLensGraph(cfg: ModelConfig): BuiltGraph {
  const g = new Graph(`${cfg.family}_lens`);
  const resid = g.input(LENS.resid, 'float32', [T, cfg.nEmbd]);
  const targets = g.input(LENS.targets, 'int64', [T]);
  const topK = g.input(LENS.topK, 'int64', [1]);
  const { w, params } = paramInputs(g, cfg);
  const pg: ParamGraph = { g, cfg, w };
  const picks = targetPicks(pg, positionsOf(g, targets), targets);
  logitLens(g, unembed(pg, resid), picks, topK, LENS);
  return { bytes: g.toBytes(), params: params() };
}

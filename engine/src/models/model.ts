// Family dispatch: parameter specs and forward pass for a ModelConfig.
import type { Graph, Value } from '../graph/graph.ts';
import type { ModelConfig } from './config.ts';
import { gpt2Forward, gpt2Params } from './gpt2.ts';
import { causalMask, type ForwardCtx } from './layers.ts';
import { llamaForward, llamaParams } from './llama.ts';
import { ParamLayout, type ParamSpec } from './params.ts';

export function paramSpecs(cfg: ModelConfig): ParamSpec[] {
  return cfg.family === 'gpt2' ? gpt2Params(cfg) : llamaParams(cfg);
}

export function paramLayout(cfg: ModelConfig): ParamLayout {
  return new ParamLayout(paramSpecs(cfg));
}

export function forward(ctx: ForwardCtx, idx: Value): Value {
  return ctx.cfg.family === 'gpt2' ? gpt2Forward(ctx, idx) : llamaForward(ctx, idx);
}

/** Graph-input name of a parameter (and, with other prefixes, of its optimizer state and gradient). */
export const PARAM = 'param.';

/**
 * One graph input per parameter, `param.<Hugging Face name>`, which the trainer feeds as views into its
 * flat buffers. Per-tensor inputs rather than one flat vector split in the graph: the Split (a copy of
 * every weight) and its gradient's Concat went, and the optimizer runs tensor by tensor on data that
 * stays in cache (one flat pass was a trip to memory on this machine, ~2.6 GB/s for 43 MB vectors).
 */
export function paramInputs(g: Graph, layout: ParamLayout): Map<string, Value> {
  const named = new Map<string, Value>();
  for (const e of layout.entries) named.set(e.name, g.input(`${PARAM}${e.name}`, 'float32', e.shape));
  return named;
}

/** Lookup for ForwardCtx.p over named values. */
export function paramLookup(named: ReadonlyMap<string, Value>): (name: string) => Value {
  return (name) => {
    const v = named.get(name);
    if (!v) throw new Error(`model asked for unknown parameter '${name}'`);
    return v;
  };
}

/** Forward context for a static [batch, seq] graph (training and evaluation). */
export function staticCtx(
  g: Graph,
  cfg: ModelConfig,
  p: (name: string) => Value,
  batch: number,
  seq: number,
  train: boolean,
): ForwardCtx {
  if (seq > cfg.blockSize)
    throw new Error(`sequence length ${seq} exceeds the model's context ${cfg.blockSize}`);
  return {
    g,
    cfg,
    p,
    batch,
    seq,
    positions: g.constant(
      'int64',
      [seq],
      Array.from({ length: seq }, (_, i) => i),
    ),
    ...causalMask(g, seq),
    train,
    dropoutMasks: [],
  };
}

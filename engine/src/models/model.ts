// Family dispatch: parameter specs and forward pass for a ModelConfig.
import type { Graph, Value } from '../graph/graph.ts';
import * as op from '../graph/ops.ts';
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

/** Unpack the flat parameter vector into named tensors (one Split; its VJP is a Concat back to flat). */
export function unpackParams(g: Graph, layout: ParamLayout, flat: Value): (name: string) => Value {
  const parts = g.scope('params', () =>
    op.split(
      g,
      flat,
      layout.entries.map((e) => e.size),
      0,
    ),
  );
  const named = new Map<string, Value>();
  layout.entries.forEach((e, i) => {
    named.set(e.name, e.shape.length === 1 ? parts[i] : op.reshape(g, parts[i], e.shape));
  });
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
  seed: number,
): ForwardCtx {
  if (seq > cfg.blockSize)
    throw new Error(`sequence length ${seq} exceeds the model's context ${cfg.blockSize}`);
  let s = seed;
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
    mask: causalMask(g, seq),
    train,
    nextSeed: () => s++,
  };
}

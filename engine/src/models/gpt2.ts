// GPT-2 (Radford et al. 2019), read like nanoGPT's model.py. Tensor names and layouts follow Hugging
// Face's GPT2LMHeadModel: Conv1D weights are [in, out]; c_attn packs q, k and v along the output axis.
import type { Value } from '../graph/graph.ts';
import * as op from '../graph/ops.ts';
import { headDim, type ModelConfig } from './config.ts';
import {
  activation,
  adapted,
  attention,
  dropout,
  type ForwardCtx,
  linear,
  norm,
  scaleQueries,
  sinusoidTable,
  swiglu,
} from './layers.ts';
import type { ParamSpec } from './params.ts';

export function gpt2Params(cfg: ModelConfig): ParamSpec[] {
  const C = cfg.nEmbd;
  const d = headDim(cfg);
  const std = 0.02;
  // GPT-2 scales residual projections so the residual stream's variance doesn't grow with depth.
  const resid = 0.02 / Math.sqrt(2 * cfg.nLayer);
  const ps: ParamSpec[] = [];
  const w = (name: string, shape: number[], s = std): void => {
    ps.push({ name, shape, init: { kind: 'normal', std: s }, decay: true });
  };
  const b = (name: string, n: number): void => {
    if (cfg.bias) ps.push({ name, shape: [n], init: { kind: 'zeros' }, decay: false });
  };
  const ln = (name: string): void => {
    ps.push({ name: `${name}.weight`, shape: [C], init: { kind: 'ones' }, decay: false });
    if (cfg.bias && cfg.norm === 'layernorm')
      ps.push({ name: `${name}.bias`, shape: [C], init: { kind: 'zeros' }, decay: false });
  };

  ps.push({
    name: 'transformer.wte.weight',
    shape: [cfg.vocabSize, C],
    init: { kind: 'normal', std },
    decay: false,
  });
  if (cfg.positions === 'learned') {
    ps.push({
      name: 'transformer.wpe.weight',
      shape: [cfg.blockSize, C],
      init: { kind: 'normal', std },
      decay: false,
    });
  }
  const qkv = (cfg.nHead + 2 * cfg.nKvHead) * d;
  const ffIn = cfg.activation === 'swiglu' ? 2 * cfg.ffnHidden : cfg.ffnHidden;
  for (let i = 0; i < cfg.nLayer; i++) {
    const h = `transformer.h.${i}`;
    ln(`${h}.ln_1`);
    w(`${h}.attn.c_attn.weight`, [C, qkv]);
    b(`${h}.attn.c_attn.bias`, qkv);
    w(`${h}.attn.c_proj.weight`, [C, C], resid);
    b(`${h}.attn.c_proj.bias`, C);
    if (cfg.attnOnly) continue;
    ln(`${h}.ln_2`);
    w(`${h}.mlp.c_fc.weight`, [C, ffIn]);
    b(`${h}.mlp.c_fc.bias`, ffIn);
    w(`${h}.mlp.c_proj.weight`, [cfg.ffnHidden, C], resid);
    b(`${h}.mlp.c_proj.bias`, C);
  }
  ln('transformer.ln_f');
  if (!cfg.tieEmbeddings) w('lm_head.weight', [cfg.vocabSize, C]);
  return ps;
}

function optBias(ctx: ForwardCtx, name: string): Value | undefined {
  return ctx.cfg.bias ? ctx.p(name) : undefined;
}

function block(ctx: ForwardCtx, x: Value, i: number): Value {
  const { g, cfg } = ctx;
  const h = `transformer.h.${i}`;
  const d = headDim(cfg);
  return g.scope(`h.${i}`, () => {
    // x = x + attn(ln_1(x)); c_attn's q columns carry attention's 1/√d (see scaleQueries)
    const qkvSizes = [cfg.nHead * d, cfg.nKvHead * d, cfg.nKvHead * d];
    const cAttnB = optBias(ctx, `${h}.attn.c_attn.bias`);
    const ln1 = norm(ctx, x, `${h}.ln_1`);
    const qkv = adapted(
      ctx,
      `${h}.attn.c_attn`,
      ln1,
      ln1.linear(
        scaleQueries(ctx, ctx.p(`${h}.attn.c_attn.weight`), qkvSizes),
        cAttnB && scaleQueries(ctx, cAttnB, qkvSizes),
      ),
      (delta) => scaleQueries(ctx, delta, qkvSizes),
    );
    const [q, k, v] = op.split(g, qkv, qkvSizes, -1);
    const a = attention(ctx, q, k, v, i);
    const proj = adapted(
      ctx,
      `${h}.attn.c_proj`,
      a,
      linear(g, a, ctx.p(`${h}.attn.c_proj.weight`), optBias(ctx, `${h}.attn.c_proj.bias`)),
    );
    x = op.add(g, x, dropout(ctx, proj));
    ctx.residuals?.push(x);
    if (cfg.attnOnly) {
      // No MLP: the stream after it is the stream after attention (keeps the 2 per layer captures' layout).
      ctx.residuals?.push(x);
      return x;
    }
    // x = x + mlp(ln_2(x))
    const ln2 = norm(ctx, x, `${h}.ln_2`);
    const fc = adapted(
      ctx,
      `${h}.mlp.c_fc`,
      ln2,
      ln2.linear(ctx.p(`${h}.mlp.c_fc.weight`), optBias(ctx, `${h}.mlp.c_fc.bias`)),
    );
    let hidden: Value;
    if (cfg.activation === 'swiglu') {
      const [gate, up] = op.split(g, fc, [cfg.ffnHidden, cfg.ffnHidden], -1);
      hidden = swiglu(g, gate, up);
    } else hidden = activation(g, fc, cfg.activation);
    const out = adapted(
      ctx,
      `${h}.mlp.c_proj`,
      hidden,
      linear(g, hidden, ctx.p(`${h}.mlp.c_proj.weight`), optBias(ctx, `${h}.mlp.c_proj.bias`)),
    );
    x = op.add(g, x, dropout(ctx, out));
    ctx.residuals?.push(x);
    return x;
  });
}

/** Token ids [B, T] -> logits [B, T, vocab]. */
export function gpt2Forward(ctx: ForwardCtx, idx: Value): Value {
  const { g, cfg } = ctx;
  let x = op.gather(g, ctx.p('transformer.wte.weight'), idx);
  if (cfg.positions === 'learned')
    x = op.add(g, x, op.gather(g, ctx.p('transformer.wpe.weight'), ctx.positions));
  else if (cfg.positions === 'sinusoidal') {
    const table = g.constant('float32', [cfg.blockSize, cfg.nEmbd], sinusoidTable(cfg.blockSize, cfg.nEmbd));
    x = op.add(g, x, op.gather(g, table, ctx.positions));
  }
  x = dropout(ctx, x);
  ctx.residuals?.push(x);
  for (let i = 0; i < cfg.nLayer; i++) x = block(ctx, x, i);
  // Tied head: logits = ln_f(x) · wteᵀ (GPT-2 shares the token embedding with the output projection).
  const head = cfg.tieEmbeddings ? ctx.p('transformer.wte.weight') : ctx.p('lm_head.weight');
  return norm(ctx, x, 'transformer.ln_f').linear(head, undefined, true);
}

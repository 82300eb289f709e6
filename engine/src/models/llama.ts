// Llama (Touvron et al. 2023): RMSNorm, RoPE, SwiGLU and grouped-query attention. Tensor names and
// layouts follow Hugging Face's LlamaForCausalLM: nn.Linear weights are [out, in].
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
  type Normed,
  norm,
  scaleQueries,
  sinusoidTable,
  swiglu,
} from './layers.ts';
import type { ParamSpec } from './params.ts';

export function llamaParams(cfg: ModelConfig): ParamSpec[] {
  const C = cfg.nEmbd;
  const d = headDim(cfg);
  const F = cfg.ffnHidden;
  const std = 0.02;
  const resid = 0.02 / Math.sqrt(2 * cfg.nLayer);
  const ps: ParamSpec[] = [];
  const w = (name: string, shape: number[], s = std): void => {
    ps.push({ name, shape, init: { kind: 'normal', std: s }, decay: true });
  };
  const b = (name: string, n: number): void => {
    if (cfg.bias) ps.push({ name, shape: [n], init: { kind: 'zeros' }, decay: false });
  };
  const rms = (name: string): void => {
    ps.push({ name: `${name}.weight`, shape: [C], init: { kind: 'ones' }, decay: false });
    if (cfg.norm === 'layernorm' && cfg.bias)
      ps.push({ name: `${name}.bias`, shape: [C], init: { kind: 'zeros' }, decay: false });
  };

  ps.push({
    name: 'model.embed_tokens.weight',
    shape: [cfg.vocabSize, C],
    init: { kind: 'normal', std },
    decay: false,
  });
  if (cfg.positions === 'learned') {
    ps.push({
      name: 'model.embed_positions.weight',
      shape: [cfg.blockSize, C],
      init: { kind: 'normal', std },
      decay: false,
    });
  }
  for (let i = 0; i < cfg.nLayer; i++) {
    const l = `model.layers.${i}`;
    rms(`${l}.input_layernorm`);
    w(`${l}.self_attn.q_proj.weight`, [cfg.nHead * d, C]);
    b(`${l}.self_attn.q_proj.bias`, cfg.nHead * d);
    w(`${l}.self_attn.k_proj.weight`, [cfg.nKvHead * d, C]);
    b(`${l}.self_attn.k_proj.bias`, cfg.nKvHead * d);
    w(`${l}.self_attn.v_proj.weight`, [cfg.nKvHead * d, C]);
    b(`${l}.self_attn.v_proj.bias`, cfg.nKvHead * d);
    w(`${l}.self_attn.o_proj.weight`, [C, cfg.nHead * d], resid);
    if (cfg.attnOnly) continue;
    rms(`${l}.post_attention_layernorm`);
    if (cfg.activation === 'swiglu') w(`${l}.mlp.gate_proj.weight`, [F, C]);
    w(`${l}.mlp.up_proj.weight`, [F, C]);
    w(`${l}.mlp.down_proj.weight`, [C, F], resid);
  }
  rms('model.norm');
  if (!cfg.tieEmbeddings) w('lm_head.weight', [cfg.vocabSize, C]);
  return ps;
}

/** An nn.Linear ([out, in] weight) of a normalised input; `scale` maps weight and bias first (queries). */
function proj(
  ctx: ForwardCtx,
  x: Normed | Value,
  name: string,
  scale: (w: Value) => Value = (w) => w,
): Value {
  const bias =
    ctx.cfg.bias && name.includes('self_attn') && !name.includes('o_proj')
      ? scale(ctx.p(`${name}.bias`))
      : undefined;
  const w = scale(ctx.p(`${name}.weight`));
  const y = 'xhat' in x ? x.linear(w, bias, true) : linear(ctx.g, x, w, bias, true);
  return adapted(ctx, name, x, y, scale);
}

function layer(ctx: ForwardCtx, x: Value, i: number): Value {
  const { g, cfg } = ctx;
  const l = `model.layers.${i}`;
  return g.scope(`layers.${i}`, () => {
    const h = norm(ctx, x, `${l}.input_layernorm`);
    const a = attention(
      ctx,
      // q_proj carries attention's 1/√d (see scaleQueries)
      proj(ctx, h, `${l}.self_attn.q_proj`, (w) => scaleQueries(ctx, w)),
      proj(ctx, h, `${l}.self_attn.k_proj`),
      proj(ctx, h, `${l}.self_attn.v_proj`),
      i,
    );
    x = op.add(g, x, dropout(ctx, proj(ctx, a, `${l}.self_attn.o_proj`)));
    ctx.residuals?.push(x);
    if (cfg.attnOnly) {
      // No MLP: the stream after it is the stream after attention (keeps the 2 per layer captures' layout).
      ctx.residuals?.push(x);
      return x;
    }
    const m = norm(ctx, x, `${l}.post_attention_layernorm`);
    const up = proj(ctx, m, `${l}.mlp.up_proj`);
    const hidden =
      cfg.activation === 'swiglu'
        ? swiglu(g, proj(ctx, m, `${l}.mlp.gate_proj`), up)
        : activation(g, up, cfg.activation);
    x = op.add(g, x, dropout(ctx, proj(ctx, hidden, `${l}.mlp.down_proj`)));
    ctx.residuals?.push(x);
    return x;
  });
}

/** Token ids [B, T] -> logits [B, T, vocab]. */
export function llamaForward(ctx: ForwardCtx, idx: Value): Value {
  const { g, cfg } = ctx;
  let x = op.gather(g, ctx.p('model.embed_tokens.weight'), idx);
  if (cfg.positions === 'learned')
    x = op.add(g, x, op.gather(g, ctx.p('model.embed_positions.weight'), ctx.positions));
  else if (cfg.positions === 'sinusoidal') {
    const table = g.constant('float32', [cfg.blockSize, cfg.nEmbd], sinusoidTable(cfg.blockSize, cfg.nEmbd));
    x = op.add(g, x, op.gather(g, table, ctx.positions));
  }
  x = dropout(ctx, x);
  ctx.residuals?.push(x);
  for (let i = 0; i < cfg.nLayer; i++) x = layer(ctx, x, i);
  const head = cfg.tieEmbeddings ? ctx.p('model.embed_tokens.weight') : ctx.p('lm_head.weight');
  return norm(ctx, x, 'model.norm').linear(head, undefined, true);
}

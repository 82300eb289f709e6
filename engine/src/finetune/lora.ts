// LoRA (Hu et al. 2021): a frozen projection W gains a trainable low-rank path, y = W·x + (α/r)·B·A·drop(x),
// A [r, in] and B [out, r] (nn.Linear layouts, as PEFT stores them whatever the base layer's layout). B
// starts at zero, so an untrained adapter reproduces the base exactly. Targets are module suffixes as in
// PEFT's `target_modules` ("q_proj", "c_attn"; GPT-2's "c_proj" names both attention's and the MLP's).
import type { Graph, Value } from '../graph/graph.ts';
import * as op from '../graph/ops.ts';
import type { ModelConfig } from '../models/config.ts';
import { linear, type Normed } from '../models/layers.ts';
import { paramSpecs } from '../models/model.ts';
import { ParamLayout, type ParamSpec } from '../models/params.ts';

export interface LoraConfig {
  rank: number;
  alpha: number;
  /** Dropout on the adapter's input (training only), in [0, 1). */
  dropout: number;
  /** Module suffixes, e.g. ["q_proj", "v_proj"]. */
  targets: readonly string[];
}

/** Graph-input name prefix of LoRA's dropout masks (drawn like the model's, see DropoutMasks). */
export const LORA_DROPOUT_MASK = 'lora_dropout_mask.';

export interface LoraModule {
  /** Hugging Face module name, e.g. `model.layers.0.self_attn.q_proj`. */
  name: string;
  in: number;
  out: number;
}

/** Projections of a family that can carry an adapter, as module suffixes. */
export function loraTargetsOf(cfg: ModelConfig): string[] {
  const found = new Set<string>();
  for (const m of projections(cfg)) found.add(suffix(m.name));
  return [...found];
}

function suffix(module: string): string {
  return module.slice(module.lastIndexOf('.') + 1);
}

/** Every per-layer 2-D projection of the model with its fan-in and fan-out. */
function projections(cfg: ModelConfig): LoraModule[] {
  const out: LoraModule[] = [];
  for (const s of paramSpecs(cfg)) {
    if (s.shape.length !== 2 || !s.name.endsWith('.weight')) continue;
    if (!/\.(h|layers)\.\d+\./.test(s.name)) continue;
    const name = s.name.slice(0, -'.weight'.length);
    // GPT-2's Conv1D stores [in, out]; nn.Linear (Llama) stores [out, in].
    const [a, b] = s.shape;
    out.push(cfg.family === 'gpt2' ? { name, in: a, out: b } : { name, in: b, out: a });
  }
  return out;
}

/** The modules `lora.targets` select; throws naming a target the family lacks, and bad rank/alpha/dropout. */
export function loraModules(cfg: ModelConfig, lora: LoraConfig): LoraModule[] {
  if (!Number.isInteger(lora.rank) || lora.rank <= 0)
    throw new LoraError('rank', `rank must be a positive integer, got ${lora.rank}`);
  if (!(lora.alpha > 0)) throw new LoraError('alpha', `alpha must be positive, got ${lora.alpha}`);
  if (!(lora.dropout >= 0 && lora.dropout < 1))
    throw new LoraError('dropout', `dropout must be in [0, 1), got ${lora.dropout}`);
  if (!lora.targets.length) throw new LoraError('targets', 'targets: name at least one module');
  const available = loraTargetsOf(cfg);
  for (const t of lora.targets)
    if (!available.includes(t))
      throw new LoraError(
        'targets',
        `targets: the ${cfg.family} family has no module '${t}'; available: ${available.join(', ')}`,
      );
  return projections(cfg).filter((m) => lora.targets.includes(suffix(m.name)));
}

/** A bad LoRA setting; `field` names it (rank, alpha, dropout, targets). */
export class LoraError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
  }
}

export const loraA = (module: string): string => `${module}.lora_A.weight`;
export const loraB = (module: string): string => `${module}.lora_B.weight`;

/** Adapter parameters: A uniform in ±1/√in (PEFT's default), B zeros; decayed like other matrices. */
export function loraParams(cfg: ModelConfig, lora: LoraConfig): ParamSpec[] {
  return loraModules(cfg, lora).flatMap((m) => [
    {
      name: loraA(m.name),
      shape: [lora.rank, m.in],
      init: { kind: 'uniform', bound: 1 / Math.sqrt(m.in) },
      decay: true,
    },
    { name: loraB(m.name), shape: [m.out, lora.rank], init: { kind: 'zeros' }, decay: true },
  ]);
}

export function loraLayout(cfg: ModelConfig, lora: LoraConfig): ParamLayout {
  return new ParamLayout(loraParams(cfg, lora));
}

export const loraScale = (lora: LoraConfig): number => lora.alpha / lora.rank;

/**
 * The ForwardCtx.adapter of a LoRA: for an adapted module, (α/r)·(drop(x)·Aᵀ)·Bᵀ, computed at rank r (never
 * forming B·A, so a step costs O(r) per token and the base weight gets no gradient). With dropout in a
 * training graph, each adapted input gets a mask input `lora_dropout_mask.N` (pushed onto `masks`).
 */
export function loraAdapter(
  g: Graph,
  cfg: ModelConfig,
  lora: LoraConfig,
  p: (name: string) => Value,
  masks?: Value[],
): (name: string, x: Normed | Value) => Value | undefined {
  const modules = new Set(loraModules(cfg, lora).map((m) => m.name));
  const s = g.scalar(loraScale(lora));
  return (name, x) => {
    if (!modules.has(name)) return undefined;
    const a = p(loraA(name));
    const b = p(loraB(name));
    let xa: Value;
    if (masks && lora.dropout > 0) {
      const v = 'xhat' in x ? x.value() : x;
      const mask = g.input(`${LORA_DROPOUT_MASK}${masks.length}`, v.dtype, v.shape);
      masks.push(mask);
      xa = linear(g, op.mul(g, v, mask), a, undefined, true);
    } else xa = 'xhat' in x ? x.linear(a, undefined, true) : linear(g, x, a, undefined, true);
    return op.mul(g, linear(g, xa, b, undefined, true), s);
  };
}

/**
 * Base weights with the adapter folded in, W + (α/r)·B·A (transposed for GPT-2's [in, out] Conv1D):
 * what svc-infer loads and what a merged export holds. `base` is flat in paramLayout(cfg) order.
 */
export function mergeLora(
  cfg: ModelConfig,
  baseLayout: ParamLayout,
  base: Float32Array,
  lora: LoraConfig,
  adapter: Float32Array,
  weight = 1,
): Float32Array {
  const merged = base.slice();
  addLoraInto(cfg, baseLayout, merged, lora, adapter, weight);
  return merged;
}

/** Adds weight·(α/r)·B·A of each adapted module into `params` in place. */
export function addLoraInto(
  cfg: ModelConfig,
  baseLayout: ParamLayout,
  params: Float32Array,
  lora: LoraConfig,
  adapter: Float32Array,
  weight = 1,
): void {
  const layout = loraLayout(cfg, lora);
  if (adapter.length !== layout.total)
    throw new Error(`adapter: expected ${layout.total} values, got ${adapter.length}`);
  const s = loraScale(lora) * weight;
  const r = lora.rank;
  for (const m of loraModules(cfg, lora)) {
    const a = layout.view(adapter, loraA(m.name));
    const b = layout.view(adapter, loraB(m.name));
    const w = baseLayout.view(params, `${m.name}.weight`);
    const gpt2 = cfg.family === 'gpt2';
    const row = new Float64Array(m.in);
    for (let o = 0; o < m.out; o++) {
      row.fill(0);
      for (let k = 0; k < r; k++) {
        const bk = b[o * r + k];
        if (bk === 0) continue;
        const ak = a.subarray(k * m.in, (k + 1) * m.in);
        for (let i = 0; i < m.in; i++) row[i] += bk * ak[i];
      }
      if (gpt2) for (let i = 0; i < m.in; i++) w[i * m.out + o] += s * row[i];
      else for (let i = 0; i < m.in; i++) w[o * m.in + i] += s * row[i];
    }
  }
}

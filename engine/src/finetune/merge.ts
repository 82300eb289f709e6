// Merging several LoRA adapters of one base into one model, as PEFT's merge_utils define the methods
// (src/peft/utils/merge_utils.py): task arithmetic ("linear"), TIES (trim each task tensor to its top-density
// magnitudes, elect a sign per entry by the summed mass, average the entries that agree) and DARE (drop at
// random, rescale the survivors by 1/density), alone or followed by TIES's sign election.
//
// PEFT applies these either to the factors A and B separately (its "linear"/"ties"/...: the product of
// merged factors is not the merge of the products) or to full deltas before an SVD back to low rank (its
// "*_svd" types). Here they act on each module's full delta ΔW = (α/r)·B·A and the result is added to the
// base weights, so nothing is lost to a rank cut and one adapter at weight 1 merges exactly. PEFT's "*_svd"
// path also multiplies each delta by its scaling a second time (weight × scaling × get_delta_weight); the
// weight here multiplies ΔW once, so "weight 1" means the adapter as trained.
import type { ModelConfig } from '../models/config.ts';
import type { ParamLayout } from '../models/params.ts';
import { Rng } from '../rng.ts';
import { type LoraConfig, LoraError, loraA, loraB, loraLayout, loraModules, loraScale } from './lora.ts';

export const MERGE_METHODS = ['linear', 'ties', 'dare_linear', 'dare_ties'] as const;
export type MergeMethod = (typeof MERGE_METHODS)[number];

/** Magnitude pruning: keeps the k = ⌊density·n⌋ entries of largest |x| (ties: the earlier index), zeroes the rest. */
export function magnitudePrune(t: Float64Array, density: number): Float64Array {
  if (density >= 1) return t.slice();
  checkDensity(density);
  const k = Math.floor(density * t.length);
  const order = Array.from(t.keys()).sort((a, b) => Math.abs(t[b]) - Math.abs(t[a]) || a - b);
  const out = new Float64Array(t.length);
  for (let i = 0; i < k; i++) out[order[i]] = t[order[i]];
  return out;
}

/**
 * DARE's random pruning: each entry kept with probability `density` (a Bernoulli draw per entry, in index
 * order from `rng`) and, with `rescale`, divided by density so the expected value stays the same.
 */
export function randomPrune(t: Float64Array, density: number, rng: Rng, rescale = true): Float64Array {
  if (density >= 1) return t.slice();
  checkDensity(density);
  const out = new Float64Array(t.length);
  for (let i = 0; i < t.length; i++) if (rng.uniform() < density) out[i] = rescale ? t[i] / density : t[i];
  return out;
}

// PEFT accepts 0, where DARE's rescale then divides 0 by 0 (NaN weights): a density must keep something.
function checkDensity(density: number): void {
  if (!(density > 0)) throw new LoraError('density', `density must be in (0, 1], got ${density}`);
}

/**
 * TIES's elected sign per entry: the sign of the sum over tasks ("total", PEFT's default; ≥ 0 counts as +);
 * returns, per task, whether its entry has that sign (zeros never do).
 */
export function majoritySignMask(tasks: readonly Float64Array[]): Uint8Array[] {
  const n = tasks[0]?.length ?? 0;
  const elected = new Int8Array(n);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (const t of tasks) s += t[i];
    elected[i] = s >= 0 ? 1 : -1;
  }
  return tasks.map((t) => Uint8Array.from(t, (x, i) => (Math.sign(x) === elected[i] ? 1 : 0)));
}

/** Mean of the entries that agree with the elected sign (a sum divided by max(count, 1)). */
export function disjointMerge(weighted: readonly Float64Array[], masks: readonly Uint8Array[]): Float64Array {
  const n = weighted[0]?.length ?? 0;
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let sum = 0;
    let count = 0;
    for (let k = 0; k < weighted.length; k++)
      if (masks[k][i]) {
        sum += weighted[k][i];
        count++;
      }
    out[i] = sum / Math.max(count, 1);
  }
  return out;
}

const weightedSum = (tasks: readonly Float64Array[], weights: readonly number[]): Float64Array => {
  const out = new Float64Array(tasks[0]?.length ?? 0);
  tasks.forEach((t, k) => {
    for (let i = 0; i < t.length; i++) out[i] += weights[k] * t[i];
  });
  return out;
};

const scaled = (tasks: readonly Float64Array[], weights: readonly number[]): Float64Array[] =>
  tasks.map((t, k) => t.map((x) => x * weights[k]));

export interface TaskMergeOptions {
  method: MergeMethod;
  /** Fraction of each task tensor kept by TIES's trim and DARE's drop (PEFT's density), in (0, 1]. */
  density?: number;
  /** DARE's draws. */
  rng?: Rng;
}

/** Merges same-shaped task tensors with their weights, as PEFT's task_arithmetic / ties / dare_linear / dare_ties. */
export function mergeTasks(
  tasks: readonly Float64Array[],
  weights: readonly number[],
  opts: TaskMergeOptions,
): Float64Array {
  const density = opts.density ?? 1;
  switch (opts.method) {
    case 'linear':
      return weightedSum(tasks, weights);
    case 'ties': {
      const pruned = tasks.map((t) => magnitudePrune(t, density));
      // The sign is elected from the unweighted trimmed tensors, then the weighted ones are averaged.
      return disjointMerge(scaled(pruned, weights), majoritySignMask(pruned));
    }
    case 'dare_linear':
    case 'dare_ties': {
      const rng = opts.rng ?? new Rng(0);
      const pruned = tasks.map((t) => randomPrune(t, density, rng, true));
      return opts.method === 'dare_linear'
        ? weightedSum(pruned, weights)
        : disjointMerge(scaled(pruned, weights), majoritySignMask(pruned));
    }
  }
}

/** One adapter of a merge: its settings, its values (flat in loraLayout(cfg, lora) order) and its weight. */
export interface WeightedAdapter {
  lora: LoraConfig;
  params: Float32Array;
  weight: number;
}

export interface MergeOptions {
  method: MergeMethod;
  /** TIES / DARE density (default 1: keep everything). */
  density?: number;
  /** DARE's seed (default 0): the same seed, the same merged model. */
  seed?: number;
}

/** (α/r)·B·A of `module` as [out, in], or undefined when the adapter does not target it. */
export function loraDelta(cfg: ModelConfig, a: WeightedAdapter, module: string): Float64Array | undefined {
  const m = loraModules(cfg, a.lora).find((x) => x.name === module);
  if (!m) return undefined;
  const layout = loraLayout(cfg, a.lora);
  const A = layout.view(a.params, loraA(module));
  const B = layout.view(a.params, loraB(module));
  const r = a.lora.rank;
  const s = loraScale(a.lora);
  const out = new Float64Array(m.out * m.in);
  for (let o = 0; o < m.out; o++)
    for (let k = 0; k < r; k++) {
      const bk = s * B[o * r + k];
      if (bk === 0) continue;
      for (let i = 0; i < m.in; i++) out[o * m.in + i] += bk * A[k * m.in + i];
    }
  return out;
}

/**
 * The base weights plus the merge of the adapters' deltas, module by module (each module any adapter
 * targets; an adapter without it contributes zeros, which neither TIES's vote nor DARE's drop count).
 * `base` is flat in `baseLayout` (paramLayout(cfg)) order and is not changed.
 */
export function mergeAdapters(
  cfg: ModelConfig,
  baseLayout: ParamLayout,
  base: Float32Array,
  adapters: readonly WeightedAdapter[],
  opts: MergeOptions,
): Float32Array {
  if (!adapters.length) throw new LoraError('adapters', 'adapters: name at least one adapter to merge');
  if (!(MERGE_METHODS as readonly string[]).includes(opts.method))
    throw new LoraError('method', `method must be one of ${MERGE_METHODS.join(', ')}, got "${opts.method}"`);
  const density = opts.density ?? 1;
  if (!(density > 0 && density <= 1))
    throw new LoraError('density', `density must be in (0, 1], got ${density}`);
  for (const [i, a] of adapters.entries()) {
    if (!Number.isFinite(a.weight))
      throw new LoraError(`adapters[${i}].weight`, `adapters[${i}].weight must be a finite number`);
    const want = loraLayout(cfg, a.lora).total;
    if (a.params.length !== want)
      throw new LoraError(
        `adapters[${i}]`,
        `adapters[${i}]: expected ${want} values, got ${a.params.length}`,
      );
  }
  const modules: { name: string; in: number; out: number }[] = [];
  const seen = new Set<string>();
  for (const a of adapters)
    for (const m of loraModules(cfg, a.lora))
      if (!seen.has(m.name)) {
        seen.add(m.name);
        modules.push(m);
      }
  // Modules in the model's order, whatever order the adapters name them in: the seed then fixes the draws.
  const order = new Map(baseLayout.entries.map((e, i) => [e.name, i]));
  modules.sort((x, y) => (order.get(`${x.name}.weight`) ?? 0) - (order.get(`${y.name}.weight`) ?? 0));
  const rng = new Rng(opts.seed ?? 0);
  const merged = base.slice();
  const gpt2 = cfg.family === 'gpt2';
  for (const m of modules) {
    const tasks = adapters.map((a) => loraDelta(cfg, a, m.name) ?? new Float64Array(m.out * m.in));
    const delta = mergeTasks(
      tasks,
      adapters.map((a) => a.weight),
      { method: opts.method, density, rng },
    );
    const w = baseLayout.view(merged, `${m.name}.weight`);
    // GPT-2's Conv1D stores [in, out]: PEFT's fan_in_fan_out transposes the delta.
    for (let o = 0; o < m.out; o++)
      for (let i = 0; i < m.in; i++)
        if (gpt2) w[i * m.out + o] += delta[o * m.in + i];
        else w[o * m.in + i] += delta[o * m.in + i];
  }
  return merged;
}

/**
 * PEFT's "linear" add_weighted_adapter as an adapter: same rank and targets, A' = Σ √(wᵢ·sᵢ)·Aᵢ and
 * B' = Σ √(wᵢ·sᵢ)·Bᵢ with alpha = rank (scaling 1). Exact for one adapter; for several, B'·A' holds cross
 * terms Bᵢ·Aⱼ, which is why merged adapters can behave differently from the adapters (the fidelity report
 * shows by how much). Weights must be ≥ 0 (PEFT takes their square root).
 */
export function linearAdapterMerge(
  cfg: ModelConfig,
  adapters: readonly WeightedAdapter[],
): { lora: LoraConfig; params: Float32Array } {
  if (!adapters.length) throw new LoraError('adapters', 'adapters: name at least one adapter to merge');
  const first = adapters[0].lora;
  for (const [i, a] of adapters.entries()) {
    if (a.lora.rank !== first.rank)
      throw new LoraError(
        'rank',
        `adapters[${i}] has rank ${a.lora.rank} and adapters[0] ${first.rank}: a merged adapter needs equal ranks (merge into a model instead)`,
      );
    if ([...a.lora.targets].sort().join() !== [...first.targets].sort().join())
      throw new LoraError(
        'targets',
        `adapters[${i}] targets ${a.lora.targets.join(', ')} and adapters[0] ${first.targets.join(', ')}: a merged adapter needs the same targets`,
      );
    if (!(a.weight >= 0))
      throw new LoraError(`adapters[${i}].weight`, `adapters[${i}].weight must be ≥ 0 for a merged adapter`);
  }
  const lora: LoraConfig = {
    rank: first.rank,
    alpha: first.rank,
    dropout: first.dropout,
    targets: [...first.targets],
  };
  const layout = loraLayout(cfg, lora);
  const params = new Float32Array(layout.total);
  for (const a of adapters) {
    const own = loraLayout(cfg, a.lora);
    const c = Math.sqrt(a.weight * loraScale(a.lora));
    for (const e of layout.entries) {
      const dst = layout.view(params, e.name);
      const src = own.view(a.params, e.name);
      for (let i = 0; i < dst.length; i++) dst[i] += c * src[i];
    }
  }
  return { lora, params };
}

/**
 * Several weighted adapters as one LoRA of rank Σrᵢ (PEFT's "cat"): A stacks the Aᵢ, B the wᵢ·sᵢ·Bᵢ, alpha =
 * rank. Its forward adds Σ wᵢ·ΔWᵢ·x exactly, so the LoRA graph runs every adapter on the fly at once.
 */
export function concatAdapters(
  cfg: ModelConfig,
  adapters: readonly WeightedAdapter[],
): { lora: LoraConfig; params: Float32Array } {
  const targets = [...new Set(adapters.flatMap((a) => a.lora.targets))];
  const rank = adapters.reduce((n, a) => n + a.lora.rank, 0);
  const lora: LoraConfig = { rank, alpha: rank, dropout: 0, targets };
  const layout = loraLayout(cfg, lora);
  const params = new Float32Array(layout.total);
  for (const m of loraModules(cfg, lora)) {
    const A = layout.view(params, loraA(m.name));
    const B = layout.view(params, loraB(m.name));
    let at = 0;
    for (const a of adapters) {
      const r = a.lora.rank;
      if (loraModules(cfg, a.lora).some((x) => x.name === m.name)) {
        const own = loraLayout(cfg, a.lora);
        A.set(own.view(a.params, loraA(m.name)), at * m.in);
        const b = own.view(a.params, loraB(m.name));
        const c = a.weight * loraScale(a.lora);
        for (let o = 0; o < m.out; o++) for (let k = 0; k < r; k++) B[o * rank + at + k] = c * b[o * r + k];
      }
      at += r;
    }
  }
  return { lora, params };
}

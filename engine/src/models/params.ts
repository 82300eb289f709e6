// Parameter specs and the flat layout: all weights live in one Float32Array (and so do the AdamW
// moments), which keeps a training step to three state tensors in and three out instead of hundreds.
import { Rng } from '../rng.ts';

export type InitKind =
  | { kind: 'normal'; std: number }
  | { kind: 'ones' }
  | { kind: 'zeros' }
  /** Uniform in [−bound, bound) (LoRA's A, as PEFT's kaiming_uniform with a = √5: bound 1/√fan_in). */
  | { kind: 'uniform'; bound: number }
  | { kind: 'table'; values: Float32Array };

export interface ParamSpec {
  /** Hugging Face tensor name, e.g. `transformer.h.0.attn.c_attn.weight`. */
  readonly name: string;
  readonly shape: readonly number[];
  readonly init: InitKind;
  /** Whether AdamW applies weight decay (not to norms, biases, embeddings). */
  readonly decay: boolean;
}

export interface ParamEntry extends ParamSpec {
  readonly offset: number;
  readonly size: number;
}

/** Consecutive parameters (in storage) that the optimizer updates as one flat slice; all decayed or none. */
export interface ParamBucket {
  readonly offset: number;
  readonly size: number;
  readonly entries: readonly ParamEntry[];
}

/**
 * Largest bucket (elements) of small parameters grouped for the optimizer; bigger tensors are buckets
 * of their own. AdamW alone, measured with 2 threads: nanogpt-cpu (0.8M parameters) one flat vector
 * 6.2 ms, per tensor 8.0 ms (27 × 13 nodes), buckets of ≤ 256K 5.0 ms; nanogpt-shakespeare (10.7M)
 * flat 157 ms (43 MB vectors stream from memory), per tensor 92 ms.
 */
export const BUCKET_ELEMENTS = 262_144;

export class ParamLayout {
  readonly entries: ParamEntry[] = [];
  readonly buckets: ParamBucket[] = [];
  readonly byName = new Map<string, ParamEntry>();
  readonly total: number;

  /**
   * Entries keep the specs' order (init draws in it, checkpoints list it); storage puts the decayed
   * tensors first, so the optimizer's buckets are each all decayed or all not (no per-element mask).
   */
  constructor(specs: readonly ParamSpec[]) {
    const sizes = specs.map((s) => s.shape.reduce((a, b) => a * b, 1));
    const offsets: number[] = [];
    let offset = 0;
    for (const decayed of [true, false])
      specs.forEach((s, i) => {
        if (s.decay !== decayed) return;
        offsets[i] = offset;
        offset += sizes[i];
      });
    specs.forEach((s, i) => {
      const e = { ...s, offset: offsets[i], size: sizes[i] };
      if (this.byName.has(s.name)) throw new Error(`duplicate parameter '${s.name}'`);
      this.entries.push(e);
      this.byName.set(s.name, e);
    });
    this.total = offset;
    let group: ParamEntry[] = [];
    const close = (): void => {
      if (!group.length) return;
      const last = group[group.length - 1];
      this.buckets.push({
        offset: group[0].offset,
        size: last.offset + last.size - group[0].offset,
        entries: group,
      });
      group = [];
    };
    for (const e of [...this.entries].sort((a, b) => a.offset - b.offset)) {
      const size = group.length ? e.offset + e.size - group[0].offset : e.size;
      if (size > BUCKET_ELEMENTS || (group.length && group[0].decay !== e.decay)) close();
      group.push(e);
    }
    close();
  }

  get(name: string): ParamEntry {
    const e = this.byName.get(name);
    if (!e) throw new Error(`unknown parameter '${name}'`);
    return e;
  }

  /** A view (no copy) of one parameter inside a flat buffer. */
  view(flat: Float32Array, name: string): Float32Array {
    const e = this.get(name);
    return flat.subarray(e.offset, e.offset + e.size);
  }

  /** GPT-2 style init from a seeded RNG, in layout order so the same seed gives the same weights. */
  init(seed: number): Float32Array {
    const rng = new Rng(seed);
    const flat = new Float32Array(this.total);
    for (const e of this.entries) {
      const v = flat.subarray(e.offset, e.offset + e.size);
      if (e.init.kind === 'normal') for (let i = 0; i < v.length; i++) v[i] = rng.normal() * e.init.std;
      else if (e.init.kind === 'uniform') {
        const b = e.init.bound;
        for (let i = 0; i < v.length; i++) v[i] = (2 * rng.uniform() - 1) * b;
      } else if (e.init.kind === 'ones') v.fill(1);
      else if (e.init.kind === 'table') v.set(e.init.values);
    }
    return flat;
  }

  /** 1 where AdamW decays the weight, 0 elsewhere. */
  decayMask(): Float32Array {
    const m = new Float32Array(this.total);
    for (const e of this.entries) if (e.decay) m.fill(1, e.offset, e.offset + e.size);
    return m;
  }
}

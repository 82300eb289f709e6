import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configFromHf } from '../src/checkpoint/checkpoint.ts';
import { loadInferenceModel } from '../src/infer/load.ts';
import { InferenceModel } from '../src/infer/model.ts';
import { ablate } from '../src/inspect/ablate.ts';
import { traceSafetensors } from '../src/inspect/export.ts';
import { repeatedRandomTokens, scoreHead } from '../src/inspect/patterns.ts';
import { lensAt, lossPerToken, rowNorms, traceNorms } from '../src/inspect/summary.ts';
import { type RawTrace, TraceModel } from '../src/inspect/trace.ts';
import type { ModelConfig } from '../src/models/config.ts';
import { paramLayout } from '../src/models/model.ts';
import { runExport } from './export-reference.ts';
import {
  gpt2Weights,
  llamaWeights,
  refGpt2,
  refLlama,
  refUnembed,
  type Weights,
  writeHfFolder,
} from './hf-fixtures.ts';

const root = mkdtempSync(join(tmpdir(), 'trace-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const gpt2Hf = {
  architectures: ['GPT2LMHeadModel'],
  activation_function: 'gelu_new',
  layer_norm_epsilon: 1e-5,
  model_type: 'gpt2',
  n_ctx: 16,
  n_embd: 16,
  n_head: 4,
  n_inner: null,
  n_layer: 2,
  n_positions: 16,
  vocab_size: 40,
};

/** GQA (4 query heads on 2 kv heads), RoPE, untied head. */
const llamaHf = {
  architectures: ['LlamaForCausalLM'],
  hidden_act: 'silu',
  hidden_size: 32,
  intermediate_size: 48,
  max_position_embeddings: 64,
  model_type: 'llama',
  num_attention_heads: 4,
  num_hidden_layers: 2,
  num_key_value_heads: 2,
  rms_norm_eps: 1e-5,
  rope_theta: 10000.0,
  tie_word_embeddings: false,
  vocab_size: 48,
};

const TOKENS = [3, 17, 5, 3, 17, 29, 1, 8, 3, 17, 11, 2];

interface Family {
  name: string;
  hf: Record<string, unknown>;
  weights: Weights;
  reference: typeof refGpt2;
  layersKey: string;
}

const FAMILIES: Family[] = [
  { name: 'gpt2', hf: gpt2Hf, weights: gpt2Weights(gpt2Hf, 11), reference: refGpt2, layersKey: 'n_layer' },
  {
    name: 'llama',
    hf: llamaHf,
    weights: llamaWeights(llamaHf, 12, false),
    reference: refLlama,
    layersKey: 'num_hidden_layers',
  },
];

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

function logSoftmaxRow(x: ArrayLike<number>, from: number, n: number): Float64Array {
  let max = -Infinity;
  for (let i = 0; i < n; i++) max = Math.max(max, x[from + i]);
  let s = 0;
  for (let i = 0; i < n; i++) s += Math.exp(x[from + i] - max);
  const lse = max + Math.log(s);
  return Float64Array.from({ length: n }, (_, i) => x[from + i] - lse);
}

/** The flat parameters of an HF weights map, in paramLayout order. */
function flat(cfg: ModelConfig, w: Weights): Float32Array {
  const layout = paramLayout(cfg);
  const out = new Float32Array(layout.total);
  for (const e of layout.entries) out.set(w.get(e.name)!.data, e.offset);
  return out;
}

/** The residual stream from the portable export (models/*.ts, another code path): embeddings, then after each attention and MLP. */
async function exportResiduals(
  cfg: ModelConfig,
  params: Float32Array,
  tokens: number[],
): Promise<Float32Array[]> {
  const out = await runExport(cfg, params, tokens, { residuals: true });
  return Array.from({ length: 2 * cfg.nLayer + 1 }, (_, i) => out[`residual.${i}`]);
}

describe.each(FAMILIES)('trace of $name', (fam) => {
  let dir: string;
  let cfg: ModelConfig;
  let tracer: TraceModel;
  let lm: InferenceModel;
  let raw: RawTrace;

  beforeAll(async () => {
    dir = join(root, fam.name);
    writeHfFolder(dir, fam.hf, fam.weights, { dtype: 'F32' });
    cfg = configFromHf(fam.hf);
    tracer = await TraceModel.load(dir);
    lm = await loadInferenceModel(dir);
    raw = await tracer.run(TOKENS, { topK: 5 });
  });
  afterAll(async () => {
    await tracer?.release();
    await lm?.release();
  });

  it("final logits equal InferenceModel's for the same tokens", async () => {
    const want = await lm.forward(TOKENS, true);
    expect(maxDiff(raw.logits!, want)).toBeLessThan(1e-4);
  });

  it('attention rows sum to 1 and no query sees a later token', () => {
    const T = TOKENS.length;
    expect(raw.attn.length).toBe(cfg.nLayer);
    for (const a of raw.attn) {
      expect(a.length).toBe(cfg.nHead * T * T);
      for (let h = 0; h < cfg.nHead; h++)
        for (let i = 0; i < T; i++) {
          let s = 0;
          for (let j = 0; j < T; j++) {
            const p = a[(h * T + i) * T + j];
            if (j > i) expect(p).toBe(0);
            s += p;
          }
          expect(Math.abs(s - 1)).toBeLessThan(1e-5);
        }
    }
  });

  it("the logit lens of the last layer is the model's output distribution", async () => {
    const V = cfg.vocabSize;
    const logits = await lm.forward(TOKENS, true);
    const lens = lensAt(raw, cfg.nLayer);
    lens.forEach((pos, t) => {
      const lp = logSoftmaxRow(logits, t * V, V);
      const order = [...lp.keys()].sort((a, b) => lp[b] - lp[a]).slice(0, 5);
      expect(pos.ids).toEqual(order);
      expect(
        maxDiff(
          pos.probs,
          order.map((i) => Math.exp(lp[i])),
        ),
      ).toBeLessThan(1e-5);
      if (t + 1 < TOKENS.length)
        expect(Math.abs(pos.target - Math.exp(lp[TOKENS[t + 1]]))).toBeLessThan(1e-5);
      else expect(pos.target).toBeNaN();
    });
    const loss = lossPerToken(raw);
    expect(loss.length).toBe(TOKENS.length - 1);
    for (const [t, l] of loss.entries())
      expect(Math.abs(l + logSoftmaxRow(logits, t * V, V)[TOKENS[t + 1]])).toBeLessThan(1e-4);
  });

  it('the logit lens of every layer equals a float64 reference model cut after that layer', () => {
    const V = cfg.vocabSize;
    for (let l = 0; l <= cfg.nLayer; l++) {
      const ref = fam.reference({ ...fam.hf, [fam.layersKey]: l }, fam.weights, TOKENS);
      lensAt(raw, l).forEach((pos, t) => {
        const lp = logSoftmaxRow(ref, t * V, V);
        expect(
          maxDiff(
            pos.probs,
            pos.ids.map((i) => Math.exp(lp[i])),
          ),
        ).toBeLessThan(1e-4);
        if (t + 1 < TOKENS.length)
          expect(Math.abs(pos.target - Math.exp(lp[TOKENS[t + 1]]))).toBeLessThan(1e-4);
      });
    }
  });

  it('the logit lens of every stream is the final norm and unembedding of the stream traced (float64)', () => {
    const V = cfg.vocabSize;
    const T = TOKENS.length;
    expect(raw.resid.length).toBe(cfg.nLayer + 1);
    for (let l = 0; l <= cfg.nLayer; l++) {
      const logits = refUnembed(fam.hf, fam.weights, raw.resid[l], T);
      const lens = lensAt(raw, l);
      expect(lens.length).toBe(T);
      lens.forEach((pos, t) => {
        const lp = logSoftmaxRow(logits, t * V, V);
        const order = [...lp.keys()].sort((a, b) => lp[b] - lp[a]).slice(0, 5);
        expect([l, t, pos.ids]).toEqual([l, t, order]);
        expect(
          maxDiff(
            pos.probs,
            order.map((i) => Math.exp(lp[i])),
          ),
        ).toBeLessThan(1e-5);
        if (t + 1 < T) expect(Math.abs(pos.target - Math.exp(lp[TOKENS[t + 1]]))).toBeLessThan(1e-5);
        else expect(pos.target).toBeNaN();
      });
    }
    // The last stream's unembedding is the model's logits.
    expect(maxDiff(raw.logits!, refUnembed(fam.hf, fam.weights, raw.resid[cfg.nLayer], T))).toBeLessThan(
      1e-4,
    );
  });

  it('lens: false is the same run without the earlier streams’ lenses; lossOnly has none', async () => {
    const L = cfg.nLayer;
    const bare = await tracer.run(TOKENS, { topK: 5, lens: false });
    expect(bare.targetLogp).toEqual(raw.targetLogp);
    expect(bare.logits).toEqual(raw.logits);
    expect(bare.attn).toEqual(raw.attn);
    expect(bare.resid).toEqual(raw.resid);
    expect(traceNorms(bare, cfg.nEmbd)).toEqual(traceNorms(raw, cfg.nEmbd));
    expect(lossPerToken(bare)).toEqual(lossPerToken(raw));
    expect(lensAt(bare, L)).toEqual(lensAt(raw, L));
    expect(bare.lensLogp.length).toBe(L + 1);
    for (let l = 0; l < L; l++) {
      expect([bare.lensLogp[l], bare.lensIds[l], bare.lensTarget[l]]).toEqual([
        undefined,
        undefined,
        undefined,
      ]);
      expect(lensAt(bare, l)).toEqual([]);
      expect(lensAt(raw, l).length).toBe(TOKENS.length);
    }
    const loss = await tracer.run(TOKENS, { topK: 5, lossOnly: true });
    expect(loss.targetLogp).toEqual(raw.targetLogp);
    expect([loss.lensLogp, loss.lensIds, loss.lensTarget, loss.resid]).toEqual([[], [], [], []]);
  });

  it('opens the lens session on the first run that wants it; release lets a run in progress finish', async () => {
    const fresh = await TraceModel.load(dir);
    try {
      await fresh.run(TOKENS, { topK: 5, lens: false });
      await fresh.run(TOKENS, { lossOnly: true });
      expect(fresh.lensOpened).toBe(false);
      // Released while the run is in its trace half: the lens runs that follow still have their session.
      const running = fresh.run(TOKENS, { topK: 5 });
      expect(fresh.lensOpened).toBe(false);
      const released = fresh.release();
      const done = await running;
      await released;
      expect(fresh.lensOpened).toBe(true);
      expect(done.lensLogp).toEqual(raw.lensLogp);
      await expect(fresh.run(TOKENS)).rejects.toThrow(/released/);
    } finally {
      await fresh.release();
    }
  });

  it('residual norms, and the norms of what attention and the MLP add, equal the export’s', async () => {
    const res = await exportResiduals(cfg, flat(cfg, fam.weights), TOKENS);
    const C = cfg.nEmbd;
    const norms = traceNorms(raw, C);
    expect(norms.length).toBe(cfg.nLayer + 1);
    const diff = (a: Float32Array, b: Float32Array) => a.map((x, i) => x - b[i]);
    for (let l = 0; l < cfg.nLayer; l++) {
      expect(maxDiff(norms[l].resid, rowNorms(res[2 * l], C))).toBeLessThan(1e-4);
      expect(maxDiff(norms[l].attn, rowNorms(diff(res[2 * l + 1], res[2 * l]), C))).toBeLessThan(1e-4);
      expect(maxDiff(norms[l].mlp, rowNorms(diff(res[2 * l + 2], res[2 * l + 1]), C))).toBeLessThan(1e-4);
    }
    expect(maxDiff(norms[cfg.nLayer].resid, rowNorms(res[2 * cfg.nLayer], C))).toBeLessThan(1e-4);
  });

  it('activations export as safetensors', () => {
    const bytes = traceSafetensors(raw, cfg);
    const dv = new DataView(bytes.buffer, bytes.byteOffset);
    const n = Number(dv.getBigUint64(0, true));
    const header = JSON.parse(Buffer.from(bytes.subarray(8, 8 + n)).toString());
    expect(JSON.parse(header.__metadata__.tokens)).toEqual(TOKENS);
    const e = header['attn.1'];
    expect(e.shape).toEqual([cfg.nHead, TOKENS.length, TOKENS.length]);
    const data = new Float32Array(bytes.slice(8 + n + e.data_offsets[0], 8 + n + e.data_offsets[1]).buffer);
    expect(maxDiff(data, raw.attn[1])).toBe(0);
  });
});

describe('ablation', () => {
  const hf = gpt2Hf;
  const w = gpt2Weights(hf, 11);
  const cfg = configFromHf(hf);
  const D = cfg.nEmbd / cfg.nHead;
  const C = cfg.nEmbd;

  /** Loss per token from a model with edited weights (InferenceModel, the decoding graph). */
  async function lossWith(edit: (w: Weights) => void): Promise<Float32Array> {
    const copy: Weights = new Map([...w].map(([k, t]) => [k, { shape: t.shape, data: t.data.slice() }]));
    edit(copy);
    const m = await InferenceModel.create(cfg, flat(cfg, copy));
    const logits = await m.forward(TOKENS, true);
    await m.release();
    const V = cfg.vocabSize;
    return Float32Array.from(
      { length: TOKENS.length - 1 },
      (_, t) => -logSoftmaxRow(logits, t * V, V)[TOKENS[t + 1]],
    );
  }

  it('zero- and mean-ablating heads and MLPs equals the model with those weights edited', async () => {
    const tracer = await TraceModel.create(cfg, flat(cfg, w));
    try {
      const none = await ablate(tracer, TOKENS, [], 'zero');
      expect(maxDiff(none.base, none.ablated)).toBe(0);
      expect(maxDiff(none.base, await lossWith(() => {}))).toBeLessThan(1e-4);

      // A head's output enters c_proj through rows h·D … (h+1)·D of its [in, out] weight.
      const zeroHead = await ablate(tracer, TOKENS, [{ layer: 1, head: 2 }], 'zero');
      const rows = (t: { data: Float32Array }, h: number) => t.data.fill(0, h * D * C, (h + 1) * D * C);
      expect(
        maxDiff(
          zeroHead.ablated,
          await lossWith((x) => rows(x.get('transformer.h.1.attn.c_proj.weight')!, 2)),
        ),
      ).toBeLessThan(1e-4);
      expect(maxDiff(zeroHead.ablated, zeroHead.base)).toBeGreaterThan(1e-3);

      const zeroMlp = await ablate(tracer, TOKENS, [{ layer: 0 }], 'zero');
      const want = await lossWith((x) => {
        x.get('transformer.h.0.mlp.c_proj.weight')!.data.fill(0);
        x.get('transformer.h.0.mlp.c_proj.bias')!.data.fill(0);
      });
      expect(maxDiff(zeroMlp.ablated, want)).toBeLessThan(1e-4);

      // Mean ablation of a head: its rows of c_proj removed and mean·W_h added to the bias.
      const base = await tracer.run(TOKENS);
      const mean = base.headMean[0].subarray(1 * D, 2 * D);
      const meanHead = await ablate(tracer, TOKENS, [{ layer: 0, head: 1 }], 'mean');
      const wantMean = await lossWith((x) => {
        const W = x.get('transformer.h.0.attn.c_proj.weight')!.data;
        const b = x.get('transformer.h.0.attn.c_proj.bias')!.data;
        for (let o = 0; o < C; o++) for (let i = 0; i < D; i++) b[o] += mean[i] * W[(D + i) * C + o];
        rows({ data: W }, 1);
      });
      expect(maxDiff(meanHead.ablated, wantMean)).toBeLessThan(1e-4);
      await expect(ablate(tracer, TOKENS, [{ layer: 2 }], 'zero')).rejects.toThrow(/components\[0\]\.layer/);
      await expect(ablate(tracer, TOKENS, [{ layer: 0, head: 4 }], 'zero')).rejects.toThrow(
        /components\[0\]\.head/,
      );
    } finally {
      await tracer.release();
    }
  });
});

describe('head patterns', () => {
  const n = 6;
  const tokens = repeatedRandomTokens(50, n, 3);
  const T = tokens.length;
  /** A pattern whose row i puts all its weight on column pick(i) (row 0 on itself). */
  const pattern = (pick: (i: number) => number) => {
    const a = new Float32Array(T * T);
    a[0] = 1;
    for (let i = 1; i < T; i++) a[i * T + pick(i)] = 1;
    return a;
  };

  it('repeated random tokens: n distinct ids, then the same again', () => {
    expect(tokens.slice(n)).toEqual(tokens.slice(0, n));
    expect(new Set(tokens.slice(0, n)).size).toBe(n);
    expect(repeatedRandomTokens(50, n, 3)).toEqual(tokens);
  });

  it('a perfect previous-token head scores 1 on previous-token and nothing on the others', () => {
    const s = scoreHead(
      pattern((i) => i - 1),
      tokens,
    );
    expect(s.previous).toBe(1);
    expect(s.first).toBeCloseTo(1 / (T - 1));
    expect(s.duplicate).toBe(0);
    expect(s.induction).toBe(0);
  });

  it('a sink head scores 1 on first-token', () => {
    expect(
      scoreHead(
        pattern(() => 0),
        tokens,
      ).first,
    ).toBe(1);
  });

  it('a duplicate-token head scores 1 on duplicate-token', () => {
    const s = scoreHead(
      pattern((i) => (i >= n ? i - n : i - 1)),
      tokens,
    );
    expect(s.duplicate).toBe(1);
    expect(s.induction).toBe(0);
  });

  it('an induction head (second half attends to the token after the earlier occurrence) scores 1', () => {
    const s = scoreHead(
      pattern((i) => (i >= n ? i - n + 1 : 0)),
      tokens,
    );
    expect(s.induction).toBe(1);
    expect(s.duplicate).toBe(0);
    // Spread evenly between the induction target and the sink: half.
    const half = pattern((i) => (i >= n ? i - n + 1 : 0));
    for (let i = n; i < T; i++) {
      half[i * T + i - n + 1] = 0.5;
      half[i * T] = 0.5;
    }
    expect(scoreHead(half, tokens).induction).toBeCloseTo(0.5);
  });

  it('no repeated token: duplicate and induction are not measurable (NaN)', () => {
    const a = new Float32Array(16);
    for (let i = 0; i < 4; i++) a[i * 4 + Math.max(0, i - 1)] = 1;
    const s = scoreHead(a, [1, 2, 3, 4]);
    expect(s.duplicate).toBeNaN();
    expect(s.induction).toBeNaN();
  });
});

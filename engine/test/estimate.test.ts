// One parameter count (issue 17, item 5): the estimate's count is the trainer's ParamLayout total, equals a
// closed form written out here independently of the model code, and matches published counts of real
// checkpoints (TinyLlama's GQA, Qwen2's qkv bias, GPT-2 medium's tied head).
import { describe, expect, it } from 'vitest';
import { countParameters, DAY_SECONDS, estimateModel, runWarnings } from '../src/estimate.ts';
import { gpt2Config, headDim, llamaConfig, type ModelConfig, preset } from '../src/models/config.ts';
import { paramLayout } from '../src/models/model.ts';

/** nn.Module by nn.Module, as a reader of nanoGPT's model.py or transformers' modeling_llama.py counts. */
function closedForm(c: ModelConfig): number {
  const { nEmbd: C, nHead: H, nKvHead: K, ffnHidden: F, vocabSize: V, blockSize: T, nLayer: L } = c;
  const d = headDim(c);
  const norm = C + (c.norm === 'layernorm' && c.bias ? C : 0);
  const qkv = (H + 2 * K) * d;
  const ffIn = c.activation === 'swiglu' ? 2 * F : F;
  let layer: number;
  if (c.family === 'gpt2') {
    const attn = C * qkv + (c.bias ? qkv : 0) + C * C + (c.bias ? C : 0);
    const mlp = C * ffIn + (c.bias ? ffIn : 0) + F * C + (c.bias ? C : 0);
    layer = 2 * norm + attn + mlp;
  } else {
    // Llama: bias only on q/k/v (Qwen2), never on o_proj or the MLP.
    const attn = qkv * C + (c.bias ? qkv : 0) + C * H * d;
    const mlp = ffIn * C + C * F;
    layer = 2 * norm + attn + mlp;
  }
  const positions = c.positions === 'learned' ? T * C : 0;
  return V * C + positions + L * layer + norm + (c.tieEmbeddings ? 0 : V * C);
}

const CONFIGS: [string, ModelConfig][] = [
  ['gpt2-small (bias, tied)', preset('gpt2-small')],
  ['gpt2 without bias (nanogpt-cpu, a char vocabulary of 64)', preset('nanogpt-cpu', { vocabSize: 64 })],
  [
    'gpt2 untied, with bias',
    gpt2Config({ nLayer: 2, nEmbd: 64, nHead: 4, tieEmbeddings: false, vocabSize: 300 }),
  ],
  [
    'gpt2 without bias, untied, GQA',
    gpt2Config({ nLayer: 3, nEmbd: 96, nHead: 6, nKvHead: 2, bias: false, tieEmbeddings: false }),
  ],
  ['llama-small (GQA 8/2, untied)', preset('llama-small')],
  [
    'llama tied, with qkv bias',
    llamaConfig({ nLayer: 2, nEmbd: 128, nHead: 4, nKvHead: 1, bias: true, tieEmbeddings: true }),
  ],
  [
    'llama with learned positions and LayerNorm',
    llamaConfig({ nLayer: 2, nEmbd: 64, nHead: 2, positions: 'learned', norm: 'layernorm', bias: true }),
  ],
];

describe('one parameter count', () => {
  it.each(CONFIGS)('%s: the estimate counts the ParamLayout the trainer allocates', (_, cfg) => {
    const layout = paramLayout(cfg);
    const est = estimateModel(cfg, 2, Math.min(cfg.blockSize, 64));
    expect(est.params.total).toBe(layout.total);
    expect(countParameters(cfg)).toEqual(est.params);
    expect(layout.entries.reduce((n, e) => n + e.size, 0)).toBe(layout.total);
    const p = est.params;
    expect(p.embeddings + p.attention + p.mlp + p.norms + p.head).toBe(p.total);
    expect(p.total).toBe(closedForm(cfg));
    expect(p.head).toBe(cfg.tieEmbeddings ? 0 : cfg.vocabSize * cfg.nEmbd);
  });

  it('matches published counts of real models', () => {
    expect(countParameters(preset('gpt2-medium')).total).toBe(354_823_168);
    // TinyLlama-1.1B: 22 layers, 2048 wide, 32 query and 4 key/value heads, untied.
    const tinyLlama = llamaConfig({
      nLayer: 22,
      nEmbd: 2048,
      nHead: 32,
      nKvHead: 4,
      ffnHidden: 5632,
      blockSize: 2048,
    });
    expect(countParameters(tinyLlama).total).toBe(1_100_048_384);
    // Qwen2-0.5B: qkv bias, 14 query and 2 key/value heads, tied.
    const qwen = llamaConfig({
      nLayer: 24,
      nEmbd: 896,
      nHead: 14,
      nKvHead: 2,
      ffnHidden: 4864,
      vocabSize: 151_936,
      bias: true,
      tieEmbeddings: true,
    });
    expect(countParameters(qwen).total).toBe(494_032_768);
  });

  it('the vocabulary is part of the count: a char vocabulary of 64 is not the preset’s 65', () => {
    // The numbers of the issue: the page estimated the preset's vocabulary, the job trained the data's.
    expect(countParameters(preset('nanogpt-cpu')).total).toBe(804_096);
    expect(countParameters(preset('nanogpt-cpu', { vocabSize: 64 })).total).toBe(803_968);
  });
});

describe('run warnings', () => {
  const GB = 2 ** 30;
  it('warns past the machine’s memory, naming what to change', () => {
    const big = estimateModel(preset('gpt2-medium'), 12, 1024);
    const w = runWarnings({ memory: big.memory, secondsPerStep: 1, steps: 10 }, 16 * GB);
    expect(w).toHaveLength(1);
    expect(w[0]).toMatchObject({ kind: 'memory', field: 'config.batchSize' });
    expect(w[0]!.message).toMatch(/needs about [\d.]+ GB of memory; this machine has 16\.0 GB/);
    // Weights and AdamW alone beyond the machine: a smaller batch cannot help.
    const xl = estimateModel(preset('gpt2-xl'), 1, 16);
    expect(runWarnings({ memory: xl.memory, secondsPerStep: 1, steps: 1 }, 8 * GB)[0]).toMatchObject({
      kind: 'memory',
      field: 'config.preset',
    });
    expect(runWarnings({ memory: big.memory, secondsPerStep: 1, steps: 10 }, 1024 * GB)).toEqual([]);
  });

  it('warns past a day of compute, and not at a day', () => {
    const m = estimateModel(preset('nanogpt-cpu'), 12, 64).memory;
    const w = runWarnings({ memory: m, secondsPerStep: 425.5, steps: 2000 }, 64 * GB);
    expect(w).toEqual([
      {
        kind: 'time',
        field: 'config.iters',
        message:
          '2,000 steps at about 426 s each take about 9.8 days of compute on this machine. Fewer steps or a smaller model finish sooner.',
      },
    ]);
    expect(runWarnings({ memory: m, secondsPerStep: DAY_SECONDS / 1000, steps: 1000 }, 64 * GB)).toEqual([]);
  });
});

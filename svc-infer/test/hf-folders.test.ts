// Hugging Face folders through the service: a Qwen2 model in bf16, sharded, written in Hugging Face's
// names and layouts, registered over HTTP and decoded greedily; its tokens equal an independent float64
// forward of the same (rounded) weights. And a broken folder is refused naming the tensor.
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import type { DoneEvent, ModelInfo, TokenEvent } from '@lab/proto/infer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  llamaWeights,
  qwen2Config as qwen2,
  refLlama,
  roundedWeights,
  writeHfFolder,
} from '../../engine/test/hf-fixtures.ts';
import { type InferFixture, postJson, postSse, startInfer } from './fixture.ts';

let fx: InferFixture;
const weights = llamaWeights(qwen2, 21, true);

beforeAll(async () => {
  fx = await startInfer();
  writeHfFolder(join(fx.home, 'qwen'), qwen2, weights, { dtype: 'BF16', shards: 3 });
}, 60_000);

afterAll(async () => {
  await fx?.close();
});

describe('Hugging Face folders', () => {
  it('registers a sharded bf16 Qwen2 folder and decodes it like an independent forward', async () => {
    const r = await postJson<ModelInfo>(`${fx.url}/api/infer/models`, {
      name: 'qwen',
      path: join(fx.home, 'qwen'),
    });
    expect(r.status).toBe(201);
    expect(r.body).toMatchObject({
      architecture: 'Qwen2ForCausalLM',
      family: 'llama',
      dtype: 'bfloat16',
      vocabSize: 44,
    });
    // The fixture's tokenizer knows "a" (id 1); eos (id 0) would end the answer, so it is allowed to run on.
    const out = await postSse(`${fx.url}/api/infer/generate`, {
      model: 'qwen',
      prompt: 'aaa',
      params: { maxTokens: 6, temperature: 0, stopAtEos: false },
    });
    const got = out.events.filter((e) => e.event === 'token').map((e) => (e.data as TokenEvent).id);
    const W = roundedWeights(weights, 'BF16');
    const seq = [1, 1, 1];
    const want: number[] = [];
    for (let i = 0; i < 6; i++) {
      const logits = refLlama(qwen2, W, seq);
      const row = logits.subarray((seq.length - 1) * 44, seq.length * 44);
      let best = 0;
      for (let v = 1; v < 44; v++) if (row[v]! > row[best]!) best = v;
      want.push(best);
      seq.push(best);
    }
    expect(got).toEqual(want);
    expect((out.events.at(-1)!.data as DoneEvent).completionTokens).toBe(6);
  });

  it('refuses a folder with a missing tensor, naming it', async () => {
    const dir = join(fx.home, 'broken');
    const w = new Map(weights);
    w.delete('model.layers.1.mlp.up_proj.weight');
    writeHfFolder(dir, qwen2, w, { dtype: 'F32' });
    const r = await postJson(`${fx.url}/api/infer/models`, { name: 'broken', path: dir });
    expect(r.status).toBe(400);
    expect(r.body.error.field).toBe('path');
    expect(r.body.error.message).toMatch(/model\.layers\.1\.mlp\.up_proj\.weight/);
    rmSync(dir, { recursive: true });
  });
});

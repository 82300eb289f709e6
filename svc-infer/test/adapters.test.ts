// The adapter registry through the real service (gRPC over loopback, the gateway over HTTP): PEFT import
// with its errors, serving an adapter's name as base + adapter, LoRA checkpoints listed with lineage, PEFT
// and Hugging Face exports (round trip, PEFT's layout), and merges with their fidelity report.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  ADAPTER_CONFIG,
  ADAPTER_WEIGHTS,
  type LoraConfig,
  loraLayout,
  mergeLora,
  onTheFlyLogits,
  paramLayout,
  Rng,
  readSafetensors,
  readSafetensorsHeader,
  saveCheckpoint,
  writePeftAdapter,
} from '@lab/engine';
import type { AdapterInfo, ModelInfo, TokenEvent } from '@lab/proto/infer';
import type { Job } from '@lab/proto/train';
import { saveTokenizer } from '@lab/tokenizer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { logSoftmax } from '../src/index.ts';
import { type InferFixture, postJson, postSse, startInfer, writeCharModel } from './fixture.ts';

let fx: InferFixture;
let base: ReturnType<typeof writeCharModel>;
let other: ReturnType<typeof writeCharModel>;

const LORA: LoraConfig = { rank: 4, alpha: 8, dropout: 0, targets: ['c_attn', 'c_fc'] };

/** Adapter values as training leaves them: A at init, B nonzero (an untrained B = 0 changes nothing). */
function adapterValues(lora: LoraConfig, seed: number, scale = 0.4): Float32Array {
  const layout = loraLayout(base.cfg, lora);
  const params = layout.init(seed);
  const rng = new Rng(seed);
  for (let i = 0; i < params.length; i++) if (params[i] === 0) params[i] = scale * rng.normal();
  return params;
}

function writeAdapter(name: string, lora: LoraConfig, seed: number): { dir: string; params: Float32Array } {
  const dir = join(fx.home, 'peft', name);
  const params = adapterValues(lora, seed);
  writePeftAdapter(dir, base.cfg, lora, params, 'bard');
  return { dir, params };
}

async function greedy(model: string, prompt: string, n = 10): Promise<TokenEvent[]> {
  const r = await postSse(`${fx.url}/api/infer/generate`, {
    model,
    prompt,
    params: { maxTokens: n, temperature: 0, stopAtEos: false },
  });
  expect(r.status, JSON.stringify(r.error)).toBe(200);
  return r.events.filter((e) => e.event === 'token').map((e) => e.data as TokenEvent);
}

const get = async <T>(path: string): Promise<{ status: number; body: T }> => {
  const res = await fetch(`${fx.url}${path}`);
  return { status: res.status, body: (await res.json()) as T };
};

let alpha: ReturnType<typeof writeAdapter>;

beforeAll(async () => {
  fx = await startInfer();
  base = writeCharModel(join(fx.home, 'models', 'bard'));
  other = writeCharModel(join(fx.home, 'models', 'llama-bard'), { family: 'llama' }, 9);
  expect((await postJson(`${fx.url}/api/infer/models`, { name: 'bard', path: base.dir })).status).toBe(201);
  expect((await postJson(`${fx.url}/api/infer/models`, { name: 'other', path: other.dir })).status).toBe(201);
  alpha = writeAdapter('alpha', LORA, 1);
}, 60_000);

afterAll(async () => {
  await fx?.close();
});

describe('importing PEFT adapters', () => {
  it('registers a LoRA for a base, lists it (filtered by base) and describes it', async () => {
    const r = await postJson<AdapterInfo>(`${fx.url}/api/infer/adapters`, {
      name: 'alpha',
      path: alpha.dir,
      base: 'bard',
    });
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    expect(r.body).toMatchObject({
      name: 'alpha',
      base: 'bard',
      source: 'imported',
      rank: 4,
      alpha: 8,
      targets: ['c_attn', 'c_fc'],
      parameters: loraLayout(base.cfg, LORA).total,
    });
    expect(
      (await get<{ adapters: AdapterInfo[] }>('/api/infer/adapters?base=bard')).body.adapters.map(
        (a) => a.name,
      ),
    ).toEqual(['alpha']);
    expect((await get<{ adapters: AdapterInfo[] }>('/api/infer/adapters?base=other')).body.adapters).toEqual(
      [],
    );
    expect((await get<AdapterInfo>('/api/infer/adapters/alpha')).body.rank).toBe(4);
    // It is servable: a model of source "adapter"; the base stays as it was.
    const models = (await get<{ models: ModelInfo[] }>('/api/infer/models')).body.models;
    expect(models.find((m) => m.name === 'alpha')).toMatchObject({ source: 'adapter', family: 'gpt2' });
    expect(models.find((m) => m.name === 'bard')).toMatchObject({ source: 'registered' });
  });

  it('refuses what is not a LoRA of that base, naming the field and what is wrong', async () => {
    const bad = async (body: Record<string, unknown>) =>
      postJson(`${fx.url}/api/infer/adapters`, { name: 'bad', base: 'bard', ...body });
    // Not LoRA.
    const ia3 = join(fx.home, 'peft', 'ia3');
    writePeftAdapter(ia3, base.cfg, LORA, alpha.params, 'bard');
    const cfg = JSON.parse(readFileSync(join(ia3, ADAPTER_CONFIG), 'utf8'));
    writeFileSync(join(ia3, ADAPTER_CONFIG), JSON.stringify({ ...cfg, peft_type: 'IA3' }));
    let r = await bad({ path: ia3 });
    expect(r.status).toBe(400);
    expect(r.body.error).toMatchObject({ field: 'path' });
    expect(r.body.error.message).toMatch(/peft_type is "IA3"; only LORA adapters load/);
    // A shape mismatch names the tensor: the llama-shaped base has other widths... use a wider rank file.
    const wrong = join(fx.home, 'peft', 'wrong-rank');
    writePeftAdapter(wrong, base.cfg, LORA, alpha.params, 'bard');
    writeFileSync(join(wrong, ADAPTER_CONFIG), JSON.stringify({ ...cfg, r: 2 }));
    r = await bad({ path: wrong });
    expect(r.status).toBe(400);
    expect(r.body.error.message).toMatch(
      /base_model\.model\.transformer\.h\.0\.attn\.c_attn\.lora_A\.weight has shape \[4, 32\], expected \[2, 32\]/,
    );
    // A target the family lacks.
    const llamaTargets = join(fx.home, 'peft', 'q-proj');
    writePeftAdapter(llamaTargets, base.cfg, LORA, alpha.params, 'bard');
    writeFileSync(join(llamaTargets, ADAPTER_CONFIG), JSON.stringify({ ...cfg, target_modules: ['q_proj'] }));
    r = await bad({ path: llamaTargets });
    expect(r.status).toBe(400);
    expect(r.body.error.message).toMatch(/gpt2 family has no module 'q_proj'/);
    // The same file against a base of other shapes: its first tensor's shape is named.
    r = await bad({ path: alpha.dir, base: 'other' });
    expect(r.status).toBe(400);
    expect(r.body.error.message).toMatch(/targets: the llama family has no module 'c_attn'/);
    // A folder outside the data roots.
    r = await bad({ path: '/etc' });
    expect(r.status).toBe(403);
    expect(r.body.error).toMatchObject({ field: 'path' });
    // An unknown base.
    r = await bad({ path: alpha.dir, base: 'nope' });
    expect(r.status).toBe(404);
    expect(r.body.error).toMatchObject({ field: 'base' });
    // Names are one namespace with models.
    r = await bad({ path: alpha.dir, name: 'bard' });
    expect(r.status).toBe(409);
    r = await bad({ path: alpha.dir, name: 'alpha' });
    expect(r.status).toBe(409);
    expect((await get('/api/infer/adapters/bad')).status).toBe(404);
  });
});

describe('serving an adapter', () => {
  it("the adapter's name generates as base + adapter (the LoRA graph's logits), and the base as before", async () => {
    const prompt = 'ROMEO:\n';
    const toks = await greedy('alpha', prompt, 12);
    const ids = [...base.tokenizer.encode(prompt), ...toks.map((t) => t.id)];
    const seq = ids.length;
    const reference = await onTheFlyLogits(
      base.cfg,
      paramLayout(base.cfg),
      base.params,
      [{ lora: LORA, params: alpha.params, weight: 1 }],
      [ids],
    );
    const V = base.cfg.vocabSize;
    const start = seq - toks.length - 1;
    for (const [i, t] of toks.entries()) {
      const lp = logSoftmax(reference.subarray((start + i) * V, (start + i + 1) * V));
      let best = 0;
      for (let v = 1; v < V; v++) if (lp[v]! > lp[best]!) best = v;
      expect(t.id).toBe(best);
      expect(Math.abs(t.logprob - lp[t.id]!)).toBeLessThan(1e-4);
    }
    const plain = await greedy('bard', prompt, 12);
    expect(plain.map((t) => t.logprob)).not.toEqual(toks.map((t) => t.logprob));
    const loaded = (await get<ModelInfo>('/api/infer/models/alpha')).body;
    expect(loaded.loaded).toBe(true);
  });
});

describe('LoRA checkpoints of jobs', () => {
  it('appear as adapters `<job>@<step>` with their lineage', async () => {
    const ckpt = join(fx.home, 'train', 'jobs', 'j1', 'checkpoints', 'step-40');
    const params = adapterValues({ ...LORA, targets: ['c_attn'] }, 5);
    const lora = { ...LORA, targets: ['c_attn'] };
    mkdirSync(ckpt, { recursive: true });
    saveCheckpoint(ckpt, {
      cfg: base.cfg,
      params: mergeLora(base.cfg, paramLayout(base.cfg), base.params, lora, params),
    });
    saveTokenizer(base.tokenizer, ckpt);
    writePeftAdapter(join(ckpt, 'adapter'), base.cfg, lora, params, 'bard');
    fx.jobs.push({
      id: 'j1',
      name: 'sft-bard',
      state: 'completed',
      step: 40,
      iters: 40,
      checkpoints: [ckpt],
      updatedAt: new Date().toISOString(),
      request: {
        datasetId: 'ds-alpaca',
        datasetVersion: 2,
        dataPath: '',
        finetune: {
          method: 'sft',
          baseModel: 'bard',
          adapter: 'lora',
          loraRank: 4,
          loraAlpha: 8,
          loraTargets: ['c_attn'],
        },
      },
    } as unknown as Job);
    const list = (await get<{ adapters: AdapterInfo[] }>('/api/infer/adapters?base=bard')).body.adapters;
    expect(list.find((a) => a.name === 'sft-bard@40')).toMatchObject({
      source: 'checkpoint',
      base: 'bard',
      jobId: 'j1',
      jobName: 'sft-bard',
      step: 40,
      dataset: 'ds-alpaca v2',
      method: 'sft',
      adapter: 'lora',
      rank: 4,
      alpha: 8,
      targets: ['c_attn'],
      parameters: loraLayout(base.cfg, lora).total,
      path: join(ckpt, 'adapter'),
    });
    expect((await get<AdapterInfo>('/api/infer/adapters/sft-bard@40')).body.jobId).toBe('j1');
    // A checkpoint's adapter goes away with its job, not from the registry.
    expect((await fetch(`${fx.url}/api/infer/adapters/sft-bard@40`, { method: 'DELETE' })).status).toBe(409);
  });
});

// adapter_config.json as PEFT 0.6.1 wrote it (huggingface/peft tests/regression/lora_opt-350m_bnb_8bit/0.6.1).
const PEFT_WRITTEN = {
  alpha_pattern: {},
  base_model_name_or_path: 'facebook/opt-350m',
  bias: 'none',
  fan_in_fan_out: false,
  inference_mode: true,
  init_lora_weights: false,
  layers_pattern: null,
  layers_to_transform: null,
  lora_alpha: 8,
  lora_dropout: 0.0,
  modules_to_save: null,
  peft_type: 'LORA',
  r: 8,
  rank_pattern: {},
  revision: null,
  target_modules: ['v_proj', 'q_proj'],
  task_type: null,
};

describe('exports', () => {
  it("PEFT export: PEFT's names, dtype, shapes and config; re-import serves the same logits", async () => {
    const dest = join(fx.home, 'exports', 'alpha-peft');
    const r = await postJson<{ files: string[] }>(`${fx.url}/api/infer/adapters/alpha/export`, {
      path: dest,
    });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body.files).toEqual([ADAPTER_CONFIG, ADAPTER_WEIGHTS]);
    const header = readSafetensorsHeader(join(dest, ADAPTER_WEIGHTS));
    expect(header.metadata).toEqual({ format: 'pt' });
    const names = [...header.tensors.keys()].sort();
    // PEFT's get_peft_model_state_dict: `base_model.model.<module>.lora_A.weight`, no adapter name.
    const want: string[] = [];
    for (let l = 0; l < base.cfg.nLayer; l++)
      for (const m of ['attn.c_attn', 'mlp.c_fc'])
        for (const ab of ['A', 'B']) want.push(`base_model.model.transformer.h.${l}.${m}.lora_${ab}.weight`);
    expect(names).toEqual(want.sort());
    const E = base.cfg.nEmbd;
    expect(header.tensors.get('base_model.model.transformer.h.0.attn.c_attn.lora_A.weight')).toMatchObject({
      dtype: 'F32',
      shape: [4, E],
    });
    expect(header.tensors.get('base_model.model.transformer.h.0.attn.c_attn.lora_B.weight')).toMatchObject({
      dtype: 'F32',
      shape: [3 * E, 4],
    });
    // The same tensors as the imported folder.
    const a = readSafetensors(join(alpha.dir, ADAPTER_WEIGHTS));
    const b = readSafetensors(join(dest, ADAPTER_WEIGHTS));
    for (const n of names) expect(b.tensors.get(n)!.data).toEqual(a.tensors.get(n)!.data);
    const cfg = JSON.parse(readFileSync(join(dest, ADAPTER_CONFIG), 'utf8')) as Record<string, unknown>;
    // Every key PEFT needs to load a LoRA is there, with PEFT's types; GPT-2's Conv1D sets fan_in_fan_out.
    for (const k of [
      'peft_type',
      'r',
      'lora_alpha',
      'lora_dropout',
      'target_modules',
      'bias',
      'fan_in_fan_out',
      'inference_mode',
      'modules_to_save',
      'base_model_name_or_path',
    ])
      expect([k, typeof cfg[k], Array.isArray(cfg[k])]).toEqual([
        k,
        typeof PEFT_WRITTEN[k as keyof typeof PEFT_WRITTEN],
        Array.isArray(PEFT_WRITTEN[k as keyof typeof PEFT_WRITTEN]),
      ]);
    expect(cfg).toMatchObject({
      peft_type: 'LORA',
      r: 4,
      lora_alpha: 8,
      bias: 'none',
      fan_in_fan_out: true,
      base_model_name_or_path: 'bard',
    });
    expect(cfg.target_modules).toEqual(['c_attn', 'c_fc']);
    // Round trip: imported again, it serves what the original does.
    expect(
      (await postJson(`${fx.url}/api/infer/adapters`, { name: 'alpha-again', path: dest, base: 'bard' }))
        .status,
    ).toBe(201);
    const [x, y] = [await greedy('alpha', 'JULIET:', 8), await greedy('alpha-again', 'JULIET:', 8)];
    expect(y.map((t) => t.id)).toEqual(x.map((t) => t.id));
    // Equal weights; two sessions may sum in other orders.
    for (const [i, t] of y.entries()) expect(t.logprob).toBeCloseTo(x[i]!.logprob, 5);
  });

  it('model export writes a Hugging Face folder of the merged adapter that serves the same', async () => {
    const dest = join(fx.home, 'exports', 'alpha-hf');
    const r = await postJson<{ files: string[]; bytes: number }>(`${fx.url}/api/infer/models/alpha/export`, {
      path: dest,
    });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body.files).toEqual(
      expect.arrayContaining(['config.json', 'model.safetensors', 'tokenizer.json']),
    );
    const st = readSafetensors(join(dest, 'model.safetensors'));
    const merged = mergeLora(base.cfg, paramLayout(base.cfg), base.params, LORA, alpha.params);
    const layout = paramLayout(base.cfg);
    for (const e of layout.entries) {
      const got = st.tensors.get(e.name)!.data;
      const want = layout.view(merged, e.name);
      let worst = 0;
      for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i]! - want[i]!));
      expect(worst, e.name).toBeLessThan(1e-6);
    }
    expect((await postJson(`${fx.url}/api/infer/models`, { name: 'alpha-hf', path: dest })).status).toBe(201);
    const [x, y] = [await greedy('alpha', 'JULIET:', 8), await greedy('alpha-hf', 'JULIET:', 8)];
    expect(y.map((t) => t.id)).toEqual(x.map((t) => t.id));
    // Never over a folder with files, never outside the data roots.
    const again = await postJson(`${fx.url}/api/infer/models/alpha/export`, { path: dest });
    expect(again.status).toBe(409);
    expect(again.body.error.field).toBe('path');
    const outside = await postJson(`${fx.url}/api/infer/adapters/alpha/export`, { path: '/etc/lab-export' });
    expect(outside.status).toBe(403);
    expect(outside.body.error.field).toBe('path');
  });
});

interface MergeBody {
  model: ModelInfo;
  adapter?: AdapterInfo;
  fidelity: { positions: number; klMean: number; top1Agreement: number; maxLogitDiff: number };
}

describe('merging adapters', () => {
  it('one adapter, linear, weight 1: exact (KL ~0, top-1 1.0); DARE at high drop is worse; all registered', async () => {
    const exact = await postJson<MergeBody>(`${fx.url}/api/infer/adapters/merge`, {
      name: 'alpha-merged',
      base: 'bard',
      adapters: [{ name: 'alpha', weight: 1 }],
      method: 'linear',
    });
    expect(exact.status, JSON.stringify(exact.body)).toBe(201);
    expect(exact.body.model).toMatchObject({ name: 'alpha-merged', source: 'registered' });
    expect(exact.body.fidelity.positions).toBeGreaterThanOrEqual(256);
    // The fixture's weights are 6× init, so its logits run to tens: float32 rounding of the served graph
    // (fused attention, fast layouts) against the LoRA graph stays under 1e-3 absolute.
    expect(exact.body.fidelity.maxLogitDiff).toBeLessThan(1e-3);
    expect(exact.body.fidelity.klMean).toBeLessThan(1e-8);
    expect(exact.body.fidelity.top1Agreement).toBe(1);
    const beta = writeAdapter('beta', { ...LORA, rank: 2, targets: ['c_proj'] }, 2);
    expect(
      (await postJson(`${fx.url}/api/infer/adapters`, { name: 'beta', path: beta.dir, base: 'bard' })).status,
    ).toBe(201);
    const two = [
      { name: 'alpha', weight: 1 },
      { name: 'beta', weight: 0.5 },
    ];
    const linear = await postJson<MergeBody>(`${fx.url}/api/infer/adapters/merge`, {
      name: 'ab-linear',
      base: 'bard',
      adapters: two,
      method: 'linear',
    });
    expect(linear.body.fidelity.maxLogitDiff).toBeLessThan(1e-3);
    expect(linear.body.fidelity.top1Agreement).toBe(1);
    const dare = await postJson<MergeBody>(`${fx.url}/api/infer/adapters/merge`, {
      name: 'ab-dare',
      base: 'bard',
      adapters: two,
      method: 'dare_linear',
      density: 0.1,
      seed: 3,
    });
    expect(dare.status, JSON.stringify(dare.body)).toBe(201);
    expect(dare.body.fidelity.klMean).toBeGreaterThan(1e-3);
    expect(dare.body.fidelity.top1Agreement).toBeLessThan(1);
    // The merged models serve.
    expect((await greedy('ab-dare', 'KING:', 4)).length).toBe(4);
    // Linear with equal ranks can stay an adapter (PEFT's linear): exact for one adapter.
    const asAdapter = await postJson<MergeBody>(`${fx.url}/api/infer/adapters/merge`, {
      name: 'alpha-as-adapter',
      base: 'bard',
      adapters: [{ name: 'alpha', weight: 1 }],
      method: 'linear',
      asAdapter: true,
    });
    expect(asAdapter.status, JSON.stringify(asAdapter.body)).toBe(201);
    expect(asAdapter.body.adapter).toMatchObject({
      source: 'merged',
      rank: 4,
      alpha: 4,
      mergeMethod: 'linear',
    });
    expect(asAdapter.body.fidelity.maxLogitDiff).toBeLessThan(1e-3);
  });

  it('refuses adapters of another base and bad settings, naming the field', async () => {
    const r = await postJson(`${fx.url}/api/infer/adapters/merge`, {
      name: 'x',
      base: 'other',
      adapters: [{ name: 'alpha', weight: 1 }],
      method: 'ties',
    });
    expect(r.status).toBe(400);
    expect(r.body.error.field).toBe('adapters[0].name');
    expect(r.body.error.message).toMatch(/"alpha" is an adapter of "bard", not of "other"/);
    const notLinear = await postJson(`${fx.url}/api/infer/adapters/merge`, {
      name: 'x',
      base: 'bard',
      adapters: [{ name: 'alpha', weight: 1 }],
      method: 'ties',
      asAdapter: true,
    });
    expect(notLinear.status).toBe(400);
    expect(notLinear.body.error.field).toBe('asAdapter');
    const unknown = await postJson(`${fx.url}/api/infer/adapters/merge`, {
      name: 'x',
      base: 'bard',
      adapters: [{ name: 'ghost', weight: 1 }],
      method: 'linear',
    });
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.field).toBe('adapters[0].name');
  });

  it('deleting an adapter removes it from serving; the base stays', async () => {
    const r = await fetch(`${fx.url}/api/infer/adapters/alpha-again`, { method: 'DELETE' });
    expect(r.status).toBe(200);
    const gone = await postSse(`${fx.url}/api/infer/generate`, { model: 'alpha-again', prompt: 'A' });
    expect(gone.status).toBe(404);
    expect((await greedy('bard', 'A', 2)).length).toBe(2);
  });
});

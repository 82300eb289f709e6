// Quantised models through the service: registration with `quantize` (gRPC and HTTP), shown in GET, and
// greedy generation running on the int4 weights (checked against the engine's own int4 model).
import { mkdirSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type ServiceError, status } from '@grpc/grpc-js';
import { fromServiceError, LabError, localCallContext } from '@lab/common';
import { InferenceModel } from '@lab/engine';
import type { ModelInfo, TokenEvent } from '@lab/proto/infer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { logSoftmax } from '../src/index.ts';
import { type InferFixture, postJson, postSse, startInfer, writeCharModel } from './fixture.ts';

let fx: InferFixture;
let model: ReturnType<typeof writeCharModel>;

beforeAll(async () => {
  fx = await startInfer();
  model = writeCharModel(join(fx.home, 'models', 'bard'));
}, 60_000);

afterAll(async () => {
  await fx?.close();
});

/** The quantised-weights cache of the service's $LAB_HOME, and the cache files in it. */
const cacheDir = () => join(fx.home, 'infer', 'quantized');
const cached = () => readdirSync(cacheDir()).filter((n) => n.endsWith('.lq'));

/** Unregisters `name` over HTTP; the status. */
const unregister = async (name: string) =>
  (await fetch(`${fx.url}/api/infer/models/${name}`, { method: 'DELETE' })).status;

/** Generates `maxTokens` greedy tokens from `model` over HTTP (loading it), and their events. */
async function generateGreedy(model: string, maxTokens: number, prompt = 'First'): Promise<TokenEvent[]> {
  const r = await postSse(`${fx.url}/api/infer/generate`, {
    model,
    prompt,
    params: { maxTokens, temperature: 0 },
  });
  return r.events.filter((e) => e.event === 'token').map((e) => e.data as TokenEvent);
}

/** Greedy ids and their log-probabilities from an engine model over the same weights. */
async function greedy(
  ids: number[],
  n: number,
  quantize?: 'int4',
): Promise<{ ids: number[]; logprobs: number[] }> {
  const lm = await InferenceModel.create(model.cfg, model.params, { quantize, threads: 1 });
  try {
    const out = { ids: [] as number[], logprobs: [] as number[] };
    let r = await lm.run(ids);
    for (let i = 0; i < n; i++) {
      const lp = logSoftmax(r.logits);
      let best = 0;
      for (let v = 1; v < lp.length; v++) if (lp[v]! > lp[best]!) best = v;
      out.ids.push(best);
      out.logprobs.push(lp[best]!);
      r = await lm.run([best], r.cache);
    }
    return out;
  } finally {
    await lm.release();
  }
}

describe('quantised registration', () => {
  it('stores quantize and shows it in GET and the list; float32 models show ""', async () => {
    const r = await postJson<ModelInfo>(`${fx.url}/api/infer/models`, {
      name: 'bard-q4',
      path: model.dir,
      quantize: 'int4',
    });
    expect(r.status).toBe(201);
    expect(r.body.quantize).toBe('int4');
    const plain = await postJson<ModelInfo>(`${fx.url}/api/infer/models`, { name: 'bard', path: model.dir });
    expect(plain.body.quantize).toBe('');
    const got = (await (await fetch(`${fx.url}/api/infer/models/bard-q4`)).json()) as ModelInfo;
    expect(got.quantize).toBe('int4');
    // Quantised, the model is expected to take less memory than float32 with its fast-layout copies.
    expect(got.memoryBytes).toBeLessThan(plain.body.memoryBytes);
    const list = (await (await fetch(`${fx.url}/api/infer/models`)).json()) as { models: ModelInfo[] };
    expect(Object.fromEntries(list.models.map((m) => [m.name, m.quantize]))).toMatchObject({
      'bard-q4': 'int4',
      bard: '',
    });
    const viaGrpc = await fx.services.infer.importModel!(
      { name: 'bard-q8', path: model.dir, quantize: 'int8' },
      localCallContext(),
    );
    expect(viaGrpc.quantize).toBe('int8');
  });

  it('a bad quantize value is INVALID_ARGUMENT naming quantize (gRPC) and a 400 naming it (HTTP)', async () => {
    for (const quantize of ['int3', 'nf4', 'INT4']) {
      const err = await fx.services.infer.importModel!(
        { name: `bad-${quantize}`, path: model.dir, quantize },
        localCallContext(),
      ).then(
        () => undefined,
        (e: unknown) => e,
      );
      // The gRPC status and the lab-error-field trailer, as the gateway reads them.
      expect(err).toMatchObject({ code: status.INVALID_ARGUMENT });
      expect((err as ServiceError).metadata.get('lab-error-field')).toEqual(['quantize']);
      const lab = fromServiceError(err as ServiceError);
      expect(lab).toBeInstanceOf(LabError);
      expect(lab).toMatchObject({ code: 'INVALID_ARGUMENT', field: 'quantize' });
      expect(lab.message).toMatch(/quantize: must be "int8" or "int4"/);
    }
    const http = await postJson(`${fx.url}/api/infer/models`, {
      name: 'bad',
      path: model.dir,
      quantize: 'int2',
    });
    expect(http.status).toBe(400);
    expect(http.body.error.field).toBe('quantize');
    // Nothing was registered by the refused calls.
    expect((await fetch(`${fx.url}/api/infer/models/bad-int3`)).status).toBe(404);
  });

  it('greedy generation runs on the int4 weights: the engine’s int4 tokens and log-probabilities', async () => {
    const prompt = 'First Citizen:';
    const ids = model.tokenizer.encode(prompt);
    const [want, fp32] = [await greedy(ids, 12, 'int4'), await greedy(ids, 12)];
    const toks = await generateGreedy('bard-q4', 12, prompt);
    expect(toks.map((t) => t.id)).toEqual(want.ids);
    for (const [i, t] of toks.entries()) expect(t.logprob).toBeCloseTo(want.logprobs[i]!, 4);
    // And not the float32 model's: its log-probabilities differ where the quantised ones are matched.
    const moved = want.logprobs.some(
      (lp, i) => want.ids[i] === fp32.ids[i] && Math.abs(lp - fp32.logprobs[i]!) > 1e-3,
    );
    expect(moved).toBe(true);
    const loaded = (await (await fetch(`${fx.url}/api/infer/models/bard-q4`)).json()) as ModelInfo;
    expect(loaded.loaded).toBe(true);
    expect(loaded.decoding).toMatch(/^MatMulNBits int4, /);
  });

  it('a reload maps the codes the first load left in $LAB_HOME/infer/quantized: same file, same tokens', async () => {
    // bard-q4's int4 codes only: bard-q8 was registered but never loaded.
    const files = cached();
    expect(files).toHaveLength(1);
    expect(files[0]).toMatch(/-int4-b32\.lq$/);
    const file = join(cacheDir(), files[0]!);
    const written = statSync(file, { bigint: true });
    const generate = () => generateGreedy('bard-q4', 8, 'First Citizen:');
    const before = await generate();
    expect(await fx.impl.pool.unload('bard-q4')).toBe(true);
    const after = await generate();
    expect(fx.impl.pool.isLoaded('bard-q4')).toBe(true);
    expect(after).toEqual(before);
    // Read back, not quantised and written again (a rewrite renames a new file into place).
    const now = statSync(file, { bigint: true });
    expect([now.ino, now.mtimeNs]).toEqual([written.ino, written.mtimeNs]);
  });

  it('unregistering a quantised model removes its codes, but not those another registration still uses', async () => {
    // A second int4 registration of the folder, loaded: it decodes from the same file.
    const twin = await postJson<ModelInfo>(`${fx.url}/api/infer/models`, {
      name: 'bard-q4-twin',
      path: model.dir,
      quantize: 'int4',
    });
    expect(twin.status).toBe(201);
    expect((await generateGreedy('bard-q4-twin', 2)).length).toBeGreaterThan(0);
    expect(cached()).toHaveLength(1);
    expect(await unregister('bard-q4')).toBe(200);
    expect(cached()).toHaveLength(1);
    // The last int4 registration gone, its codes go (bard-q8, int8 of the same folder, has none on disk).
    expect(await unregister('bard-q4-twin')).toBe(200);
    expect(cached()).toEqual([]);
    // A float32 registration of the folder is untouched by all this.
    expect((await fetch(`${fx.url}/api/infer/models/bard`)).status).toBe(200);
  });

  it('a registration through a link to the folder keeps the codes it decodes from when the direct one goes', async () => {
    const link = join(fx.home, 'models', 'bard-link');
    symlinkSync(model.dir, link);
    for (const [name, path] of [
      ['bard-direct-q4', model.dir],
      ['bard-link-q4', link],
    ] as const)
      expect((await postJson(`${fx.url}/api/infer/models`, { name, path, quantize: 'int4' })).status).toBe(
        201,
      );
    expect((await generateGreedy('bard-link-q4', 2)).length).toBeGreaterThan(0);
    // One file: the cache names the folder by its real path, whichever path a registration gave.
    expect(cached()).toHaveLength(1);
    expect(await unregister('bard-direct-q4')).toBe(200);
    expect(cached()).toHaveLength(1);
    expect(await unregister('bard-link-q4')).toBe(200);
    expect(cached()).toEqual([]);
  });

  it('codes that cannot be removed do not fail the unregistering: the model is gone all the same', async () => {
    const r = await postJson(`${fx.url}/api/infer/models`, {
      name: 'bard-stuck',
      path: model.dir,
      quantize: 'int4',
    });
    expect(r.status).toBe(201);
    await generateGreedy('bard-stuck', 1);
    const [name] = cached();
    expect(name).toBeDefined();
    // A non-empty directory under the file's name: removing it fails.
    const stuck = join(cacheDir(), name!);
    rmSync(stuck);
    mkdirSync(stuck);
    writeFileSync(join(stuck, 'x'), 'x');
    try {
      expect(await unregister('bard-stuck')).toBe(200);
      expect((await fetch(`${fx.url}/api/infer/models/bard-stuck`)).status).toBe(404);
    } finally {
      rmSync(stuck, { recursive: true, force: true });
    }
  });
});

// Activation patching and linear probes end to end: the gateway over real HTTP, svc-infer over gRPC, real
// ORT sessions of a char model.
import { join } from 'node:path';
import type { ModelInfo } from '@lab/proto/infer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type InferFixture, postJson, startInfer, writeCharModel } from './fixture.ts';

interface PatchJson {
  cleanTokens: { id: number; text: string }[];
  targetId: number;
  foilId: number;
  targetText: string;
  at: number;
  cleanDiff: number;
  corruptedDiff: number;
  streams: number[];
  positions: number[];
  patched: number[];
  restored: number[];
}
interface ProbeJson {
  tokens: number;
  train: number;
  test: number;
  classes: number;
  baseline: number;
  layers: { stream: number; accuracy: number; trainAccuracy: number; control: number }[];
  classCounts: number[];
}

let fx: InferFixture;
let model: ReturnType<typeof writeCharModel>;
const CLEAN = 'To be, or not to be';
const CORRUPT = 'To be, or not to me';
const PROBE_TEXT =
  'First Citizen: Before we proceed any further, hear me speak. All: Speak, speak. First Citizen: You are all resolved rather to die than to famish?';

beforeAll(async () => {
  fx = await startInfer();
  model = writeCharModel(join(fx.home, 'models', 'bard'));
  const r = await postJson<ModelInfo>(`${fx.url}/api/infer/models`, { name: 'bard', path: model.dir });
  expect(r.status).toBe(201);
}, 60_000);

afterAll(async () => {
  await fx?.close();
});

/** Logit difference target − foil at position `at` from the pool's decoding model (another graph). */
async function decodedDiff(text: string, target: number, foil: number, at: number): Promise<number> {
  const ids = model.tokenizer.encode(text);
  const logits = await fx.impl.pool.use(await fx.impl.catalog.resolve('bard'), (m) =>
    m.lm.forward(ids, true),
  );
  const V = model.cfg.vocabSize;
  return logits[at * V + target]! - logits[at * V + foil]!;
}

describe('POST /api/infer/patch', () => {
  it('sweeps every stream × position; the last stream at the last position restores the clean difference', async () => {
    const r = await postJson<PatchJson>(`${fx.url}/api/infer/patch`, {
      model: 'bard',
      clean: CLEAN,
      corrupted: CORRUPT,
      target: 'e',
      foil: 'a',
    });
    expect(r.status).toBe(200);
    const b = r.body;
    const T = CLEAN.length;
    const [e, a] = [model.tokenizer.encode('e')[0]!, model.tokenizer.encode('a')[0]!];
    expect([b.targetId, b.foilId, b.targetText, b.at]).toEqual([e, a, 'e', T - 1]);
    expect(b.cleanDiff).toBeCloseTo(await decodedDiff(CLEAN, e, a, T - 1), 4);
    expect(b.corruptedDiff).toBeCloseTo(await decodedDiff(CORRUPT, e, a, T - 1), 4);
    expect(b.streams).toEqual([0, 1, 2]);
    expect(b.positions.length).toBe(T);
    expect(b.patched.length).toBe(3 * T);
    expect(Math.abs(b.patched[2 * T + T - 1]! - b.cleanDiff)).toBeLessThan(1e-4);
    expect(b.restored[2 * T + T - 1]).toBeCloseTo(1, 4);
    // The prompts differ only at position T − 2 ('b' / 'm'): patching any earlier position puts in what is
    // already there.
    for (let s = 0; s < 3; s++)
      for (let p = 0; p < T - 2; p++)
        expect(Math.abs(b.patched[s * T + p]! - b.corruptedDiff)).toBeLessThan(1e-5);
    // The differing token's embedding restores everything; the last embedding (the same 'e') nothing.
    expect(Math.abs(b.patched[T - 2]! - b.cleanDiff)).toBeLessThan(1e-4);
    expect(Math.abs(b.patched[T - 1]! - b.corruptedDiff)).toBeLessThan(1e-5);
  });

  it('patches chosen streams and positions, by token ids', async () => {
    const clean = model.tokenizer.encode('abcdef');
    const corrupted = model.tokenizer.encode('abzdef');
    const r = await postJson<PatchJson>(`${fx.url}/api/infer/patch`, {
      model: 'bard',
      cleanTokens: clean,
      corruptedTokens: corrupted,
      targetId: 3,
      foilId: 4,
      streams: [1],
      positions: [1, 2, 4],
      at: 4,
    });
    expect(r.status).toBe(200);
    expect(r.body.patched.length).toBe(3);
    // Position 1 is before the change: nothing moves.
    expect(Math.abs(r.body.patched[0]! - r.body.corruptedDiff)).toBeLessThan(1e-5);
    expect(Math.abs(r.body.patched[1]! - r.body.corruptedDiff)).toBeGreaterThan(1e-4);
  });

  it('refuses bad input naming the field', async () => {
    const base = { model: 'bard', clean: CLEAN, corrupted: CORRUPT, target: 'e', foil: 'a' };
    const cases: [Record<string, unknown>, number, string, RegExp][] = [
      [{ ...base, corrupted: 'To be' }, 400, 'corrupted', /5 tokens.*19/],
      [{ ...base, target: 'ee' }, 400, 'target', /2 tokens/],
      [{ ...base, foil: undefined }, 400, 'foil', /give a token/],
      [{ ...base, target: undefined, targetId: 999 }, 400, 'target_id', /not a token id/],
      [{ ...base, clean: '' }, 400, 'clean', /empty/],
      [{ ...base, clean: 'x'.repeat(65), corrupted: 'y'.repeat(65) }, 400, 'clean', /context of 64/],
      [{ ...base, streams: [3] }, 400, 'streams', /streams\[0\]: 3/],
      [{ ...base, positions: [19] }, 400, 'positions', /positions\[0\]: 19/],
      [{ ...base, at: 40 }, 400, 'at', /at: 40/],
      [{ ...base, model: 'nobody' }, 404, 'model', /nobody/],
    ];
    for (const [body, status, field, message] of cases) {
      const r = await postJson(`${fx.url}/api/infer/patch`, body);
      expect([JSON.stringify(body), r.status, r.body.error.field]).toEqual([
        JSON.stringify(body),
        status,
        field,
      ]);
      expect(r.body.error.message).toMatch(message);
    }
  });
});

describe('POST /api/infer/probe', () => {
  it('fits a probe per stream; the built-in label equals the same labels given by hand', async () => {
    const r = await postJson<ProbeJson>(`${fx.url}/api/infer/probe`, {
      model: 'bard',
      text: PROBE_TEXT,
      label: 'next_vowel',
      seed: 2,
      control: true,
    });
    expect(r.status).toBe(200);
    const b = r.body;
    const n = PROBE_TEXT.length;
    expect(b.tokens).toBe(n);
    expect(b.layers.map((l) => l.stream)).toEqual([0, 1, 2]);
    // Every character but the last has a next one.
    expect(b.train + b.test).toBe(n - 1);
    const vowels = [...PROBE_TEXT.slice(1)].filter((c) => 'aeiouAEIOU'.includes(c)).length;
    expect(b.classCounts).toEqual([n - 1 - vowels, vowels]);
    for (const l of b.layers) {
      expect(l.accuracy).toBeGreaterThanOrEqual(0);
      expect(l.accuracy).toBeLessThanOrEqual(1);
      expect(l.control).toBeGreaterThan(0);
    }
    const labels = Array.from(PROBE_TEXT, (_, t) =>
      t + 1 < n ? ('aeiouAEIOU'.includes(PROBE_TEXT[t + 1]!) ? 1 : 0) : -1,
    );
    const byHand = await postJson<ProbeJson>(`${fx.url}/api/infer/probe`, {
      model: 'bard',
      text: PROBE_TEXT,
      labels,
      seed: 2,
      control: true,
    });
    expect(byHand.body).toEqual(b);
    // Another seed is another split.
    const other = await postJson<ProbeJson>(`${fx.url}/api/infer/probe`, {
      model: 'bard',
      text: PROBE_TEXT,
      label: 'next_vowel',
      seed: 3,
    });
    expect(other.body.layers.map((l) => l.accuracy)).not.toEqual(b.layers.map((l) => l.accuracy));
  });

  it('runs texts longer than the context in windows', async () => {
    const text = PROBE_TEXT.repeat(2);
    expect(text.length).toBeGreaterThan(64 * 4);
    const r = await postJson<ProbeJson>(`${fx.url}/api/infer/probe`, { model: 'bard', text, label: 'vowel' });
    expect(r.status).toBe(200);
    expect(r.body.train + r.body.test).toBe(text.length);
  });

  it('refuses bad input naming the field', async () => {
    const cases: [Record<string, unknown>, string, RegExp][] = [
      [{ model: 'bard', text: '', label: 'vowel' }, 'text', /empty/],
      [{ model: 'bard', text: 'abc', labels: [0, 1] }, 'labels', /2 labels for 3 tokens/],
      [{ model: 'bard', text: 'abc', labels: [1, 1, 1] }, 'labels', /one class/],
      [{ model: 'bard', text: 'bcd', label: 'vowel' }, 'text', /one class/],
      [{ model: 'bard', text: 'abc', label: 'colour' }, 'label', /./],
      [{ model: 'bard', text: 'abc', label: 'vowel', labels: [0, 1, 0] }, 'labels', /not both/],
    ];
    for (const [body, field, message] of cases) {
      const r = await postJson(`${fx.url}/api/infer/probe`, body);
      expect([JSON.stringify(body), r.status, r.body.error.field]).toEqual([
        JSON.stringify(body),
        400,
        field,
      ]);
      expect(r.body.error.message).toMatch(message);
    }
  });
});

// Attention page on the real stack: a small GPT-2-shaped model with random weights and GPT-2's tokenizer is
// registered in svc-infer; a prompt typed on the page shows a layer × head grid of heatmaps with pattern
// scores, a click opens one head large with token labels, and the weight read under the pointer is the
// gateway's own number. The induction demo runs random tokens repeated twice.
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LaunchedBrowser, launchBrowser } from './browser.ts';
import { ensureDist } from './dist.ts';

interface Stack {
  url: string;
  stop(graceMs?: number): Promise<void>;
}
type StartStack = (opts: {
  home?: string;
  ports?: 'config' | 'free';
  output?: 'inherit' | 'buffer';
}) => Promise<Stack>;
/** The part of @lab/engine used here; imported at run time like the stack, so web/ never type-checks it. */
interface Engine {
  gpt2Config(over: Record<string, unknown>): unknown;
  paramLayout(cfg: unknown): { init(seed: number): Float32Array };
  saveCheckpoint(dir: string, ck: { cfg: unknown; params: Float32Array }): void;
}
interface Trace {
  summary: { tokens: { id: number; text: string }[]; heads: number; layers: number };
  attention: { layer: number; tokens: number; weights: number[] }[];
}
const STACK_MODULE = new URL('../../supervisor/src/stack.ts', import.meta.url).href;
const ENGINE_MODULE = new URL('../../engine/src/index.ts', import.meta.url).href;
const SHOTS = process.env.LAB_SCREENSHOTS ?? '/tmp';
/** `datasetPath('gpt2-tokenizer', 'tokenizer.json')` of @lab/common. */
const GPT2_TOKENIZER =
  process.env.LAB_DATASETS !== undefined
    ? `${process.env.LAB_DATASETS}/gpt2-tokenizer/tokenizer.json`
    : fileURLToPath(new URL('../../../shared/datasets/gpt2-tokenizer/tokenizer.json', import.meta.url));
const MODEL = 'tiny-attn';
const PROMPT = 'The cat sat on the mat. The cat sat on the';

let stack: Stack;
let b: LaunchedBrowser;
let page: Page;
let home = '';

async function post<T>(path: string, body: unknown): Promise<T> {
  const res = await fetch(`${stack.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`POST ${path}: HTTP ${res.status} ${text}`);
  return JSON.parse(text) as T;
}

beforeAll(async () => {
  ensureDist();
  const [{ startStack }, engine] = (await Promise.all([
    import(/* @vite-ignore */ STACK_MODULE),
    import(/* @vite-ignore */ ENGINE_MODULE),
  ])) as [{ startStack: StartStack }, Engine];
  home = mkdtempSync(join(tmpdir(), 'lab-home-attn-ui-'));
  const dir = join(home, 'models', MODEL);
  const cfg = engine.gpt2Config({
    nLayer: 2,
    nHead: 4,
    nEmbd: 32,
    ffnHidden: 64,
    blockSize: 64,
    vocabSize: 50257,
    bias: true,
    activation: 'gelu',
  });
  const params = engine.paramLayout(cfg).init(5);
  // Larger weights than the init's give peaked patterns, closer to a trained model's.
  for (let i = 0; i < params.length; i++) params[i]! *= 6;
  mkdirSync(dir, { recursive: true });
  engine.saveCheckpoint(dir, { cfg, params });
  copyFileSync(GPT2_TOKENIZER, join(dir, 'tokenizer.json'));
  [stack, b] = await Promise.all([startStack({ home, ports: 'free', output: 'buffer' }), launchBrowser()]);
  page = b.page;
  await post('/api/infer/models', { name: MODEL, path: dir });
}, 180_000);

afterAll(async () => {
  await b?.close();
  await stack?.stop();
  if (home) rmSync(home, { recursive: true, force: true });
});

describe('Attention page', () => {
  it('shows a layer × head grid for a typed prompt, opens a head large, and reads weights under the pointer', async () => {
    await page.goto(`${stack.url}/#/attention`);
    await page.getByTestId('page-attention').waitFor();
    const select = page.getByTestId('attn-model');
    await expect.poll(() => select.locator(`option[value="${MODEL}"]`).count()).toBe(1);
    await select.selectOption(MODEL);
    await page.getByTestId('attn-prompt').fill(PROMPT);
    await page.getByTestId('attn-run').click();

    const grid = page.getByTestId('attn-grid');
    await grid.waitFor({ timeout: 60_000 });
    expect(await grid.getAttribute('data-layers')).toBe('2');
    expect(await grid.getAttribute('data-heads')).toBe('4');
    expect(await page.getByTestId('attn-cell').count()).toBe(8);
    const cellText = (await page.getByTestId('attn-cell').first().textContent()) ?? '';
    expect(cellText).toMatch(/P \d\.\d\d F \d\.\d\d/);
    expect(cellText).toMatch(/D \d\.\d\d I \d\.\d\d/);

    const api = await post<Trace>('/api/infer/trace', { model: MODEL, text: PROMPT });
    const T = api.summary.tokens.length;

    await page.locator('[data-testid="attn-cell"][data-layer="1"][data-head="2"]').click();
    const large = page.getByTestId('attn-large');
    await large.waitFor();
    expect(await large.getAttribute('data-tokens')).toBe(String(T));
    const queryLabels = await page.locator('.attn-query-label').allTextContents();
    expect(queryLabels.length).toBe(T);
    expect(queryLabels[1]).toBe('␣cat');
    expect(await page.locator('.attn-key-label').count()).toBe(T);

    const canvas = page.getByTestId('attn-large-canvas');
    const cell = Number(await canvas.getAttribute('data-cell'));
    const weights = api.attention.find((a) => a.layer === 1)!.weights;
    for (const [q, k] of [
      [5, 2],
      [T - 1, 0],
      [T - 1, T - 1],
    ] as const) {
      await canvas.hover({ position: { x: k * cell + cell / 2, y: q * cell + cell / 2 } });
      const readout = page.locator('[data-testid="attn-hover"] [data-q]');
      await expect.poll(() => readout.getAttribute('data-q')).toBe(String(q));
      expect(await readout.getAttribute('data-k')).toBe(String(k));
      const shown = Number(await readout.getAttribute('data-value'));
      expect(shown).toBe(weights[(2 * T + q) * T + k]);
      expect(await readout.textContent()).toContain(shown.toFixed(4));
    }
    // A future key says so instead of a weight.
    await canvas.hover({ position: { x: 6 * cell + cell / 2, y: 2 * cell + cell / 2 } });
    await expect.poll(() => page.getByTestId('attn-hover').textContent()).toContain('future token');
    await page.screenshot({ path: join(SHOTS, 'lab-attention.png'), fullPage: true });
  }, 120_000);

  it('opens on the model a link names (a checkpoint\'s "Open in Attention")', async () => {
    const other = `${MODEL}-linked`;
    await post('/api/infer/models', { name: other, path: join(home, 'models', MODEL) });
    for (const wanted of [other, MODEL]) {
      await page.goto(`${stack.url}/#/attention?model=${encodeURIComponent(wanted)}`);
      await page.reload();
      await page.getByTestId('page-attention').waitFor();
      await expect.poll(() => page.getByTestId('attn-model').inputValue()).toBe(wanted);
    }
    await page.goto(`${stack.url}/#/attention`);
    await page.reload();
    await page.getByTestId('attn-model').selectOption(MODEL);
  }, 60_000);

  it('runs the induction demo: random tokens repeated twice', async () => {
    await page.getByTestId('attn-induction').click();
    await page.locator('[data-testid="attn-result"][data-kind="induction"]').waitFor({ timeout: 60_000 });
    expect(await page.getByTestId('attn-cell').count()).toBe(8);
    await page.locator('[data-testid="attn-cell"][data-layer="0"][data-head="0"]').click();
    const labels = await page.locator('.attn-query-label').allTextContents();
    expect(labels.length).toBe(48);
    expect(labels.slice(24)).toEqual(labels.slice(0, 24));
    // Induction scores are measurable now (every token of the second half repeats one of the first).
    expect((await page.getByTestId('attn-cell').first().textContent()) ?? '').not.toContain('—');
    // Each trace's grid marks its drawing once all of its heads are drawn (web/bench/attention.bench.ts reads it).
    const marks = () => page.evaluate(() => performance.getEntriesByName('attention:draw').length);
    expect(await marks()).toBe(1);
    await page.getByTestId('attn-induction').click();
    await expect.poll(marks).toBe(2);
    await page.screenshot({ path: join(SHOTS, 'lab-attention-induction.png'), fullPage: true });
  }, 120_000);
});

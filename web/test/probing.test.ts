// Probing page on the real stack: a small GPT-2-shaped model with random weights and GPT-2's tokenizer in
// svc-infer. The page's logit lens, norms, ablation, patching grid and probe table must show the gateway's
// own numbers for the same requests.
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LaunchedBrowser, launchBrowser, unexpectedErrors } from './browser.ts';
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
interface Engine {
  gpt2Config(over: Record<string, unknown>): unknown;
  paramLayout(cfg: unknown): { init(seed: number): Float32Array };
  saveCheckpoint(dir: string, ck: { cfg: unknown; params: Float32Array }): void;
}
interface Trace {
  summary: {
    tokens: { id: number; text: string }[];
    streams: {
      layer: number;
      residNorm: number[];
      attnNorm: number[];
      lens: { texts: string[]; probs: number[] }[];
    }[];
  };
}
const STACK_MODULE = new URL('../../supervisor/src/stack.ts', import.meta.url).href;
const ENGINE_MODULE = new URL('../../engine/src/index.ts', import.meta.url).href;
const SHOTS = process.env.LAB_SCREENSHOTS ?? '/tmp';
const GPT2_TOKENIZER =
  process.env.LAB_DATASETS !== undefined
    ? `${process.env.LAB_DATASETS}/gpt2-tokenizer/tokenizer.json`
    : fileURLToPath(new URL('../../../shared/datasets/gpt2-tokenizer/tokenizer.json', import.meta.url));
const SHAKESPEARE =
  process.env.LAB_DATASETS !== undefined
    ? `${process.env.LAB_DATASETS}/tinyshakespeare/input.txt`
    : fileURLToPath(new URL('../../../shared/datasets/tinyshakespeare/input.txt', import.meta.url));
const MODEL = 'tiny-probe';
const TEXT = 'The cat sat on the mat. The cat sat on the';
const shown = (s: string) => s.replace(/ /g, '␣').replace(/\n/g, '↵').replace(/\t/g, '⇥') || '∅';

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
  home = mkdtempSync(join(tmpdir(), 'lab-home-probe-ui-'));
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

describe('Probing page', () => {
  it('shows the logit lens and the norms of a traced text, as the gateway computes them', async () => {
    await page.goto(`${stack.url}/#/probing`);
    await page.getByTestId('page-probing').waitFor();
    const select = page.getByTestId('probe-model');
    await expect.poll(() => select.locator(`option[value="${MODEL}"]`).count()).toBe(1);
    await select.selectOption(MODEL);
    await page.getByTestId('probe-prompt').fill(TEXT);
    await page.getByTestId('probe-trace').click();
    const table = page.getByTestId('lens-table');
    await table.waitFor({ timeout: 60_000 });

    const api = await post<Trace>('/api/infer/trace', {
      model: MODEL,
      text: TEXT,
      topK: 3,
      attention: false,
    });
    const T = api.summary.tokens.length;
    expect(await table.getAttribute('data-streams')).toBe('3');
    expect(await table.getAttribute('data-tokens')).toBe(String(T));
    expect(await page.getByTestId('lens-cell').count()).toBe(3 * T);
    for (const [s, p] of [
      [0, 0],
      [1, 4],
      [2, T - 1],
    ] as const) {
      const cell = page.locator(`[data-testid="lens-cell"][data-stream="${s}"][data-pos="${p}"]`);
      const lens = api.summary.streams[s]!.lens[p]!;
      expect(await cell.locator('.lens-top').textContent()).toBe(shown(lens.texts[0]!));
      expect(Number(await cell.getAttribute('data-prob'))).toBe(lens.probs[0]);
    }
    // The top row is the model's output: read top-down like the layers are stacked.
    expect(await page.getByTestId('lens-cell').first().getAttribute('data-stream')).toBe('2');

    const mean = (x: number[]) => x.reduce((a, v) => a + v, 0) / x.length;
    const resid = JSON.parse((await page.getByTestId('norm-resid').getAttribute('data-values'))!) as number[];
    expect(resid).toEqual(api.summary.streams.map((s) => mean(s.residNorm)));
    await page.getByTestId('norm-position').selectOption('3');
    const attn = JSON.parse((await page.getByTestId('norm-blocks').getAttribute('data-attn'))!) as number[];
    expect(attn).toEqual(api.summary.streams.slice(0, 2).map((s) => s.attnNorm[3]));
    expect(await page.locator('[data-testid="norms"] canvas').count()).toBeGreaterThan(0);
  }, 120_000);

  it('knocks out the heads clicked and shows each token’s loss change', async () => {
    await page.locator('[data-testid="ablate-toggle"][data-layer="1"][data-head="2"]').click();
    await page.locator('[data-testid="ablate-toggle"][data-layer="0"][data-head="mlp"]').click();
    // A second click puts a component back.
    await page.locator('[data-testid="ablate-toggle"][data-layer="0"][data-head="0"]').click();
    await page.locator('[data-testid="ablate-toggle"][data-layer="0"][data-head="0"]').click();
    expect(
      await page
        .locator('[data-testid="ablate-toggle"][data-layer="0"][data-head="0"]')
        .getAttribute('aria-pressed'),
    ).toBe('false');
    await page.getByTestId('ablate-run').click();
    await page.getByTestId('ablate-result').waitFor({ timeout: 60_000 });
    const api = await post<{ delta: number[]; ablatedMean: number }>('/api/infer/ablate', {
      model: MODEL,
      text: TEXT,
      components: [
        { layer: 1, head: 2 },
        { layer: 0, mlp: true },
      ],
      mode: 'zero',
    });
    expect(await page.getByTestId('ablate-after').textContent()).toBe(api.ablatedMean.toFixed(4));
    const deltas = await page
      .getByTestId('ablate-token')
      .evaluateAll((els) => els.map((e) => Number(e.getAttribute('data-delta'))));
    expect(deltas).toEqual(api.delta);
  }, 120_000);

  it('patches every layer × position and shows how much of the gap each cell restores', async () => {
    await page.getByTestId('patch-run').click();
    const grid = page.getByTestId('patch-grid');
    await grid.waitFor({ timeout: 120_000 });
    const api = await post<{ streams: number[]; positions: number[]; restored: number[]; cleanDiff: number }>(
      '/api/infer/patch',
      {
        model: MODEL,
        clean: await page.getByTestId('patch-clean').inputValue(),
        corrupted: await page.getByTestId('patch-corrupted').inputValue(),
        target: ' Mary',
        foil: ' John',
      },
    );
    const P = api.positions.length;
    expect(await grid.getAttribute('data-streams')).toBe('3');
    expect(await grid.getAttribute('data-positions')).toBe(String(P));
    expect(await page.getByTestId('patch-cell').count()).toBe(3 * P);
    // The last stream at the last position is the clean answer itself.
    const last = page.locator(`[data-testid="patch-cell"][data-stream="2"][data-pos="${P - 1}"]`);
    expect(await last.textContent()).toBe('1.00');
    const mid = page.locator('[data-testid="patch-cell"][data-stream="1"][data-pos="9"]');
    expect(Number(await mid.getAttribute('data-value'))).toBe(api.restored[1 * P + 9]);
    expect(await page.getByTestId('patch-clean-diff').textContent()).toBe(api.cleanDiff.toFixed(3));
    // A corrupted prompt of another length is refused with the field named.
    await page.getByTestId('patch-corrupted').fill('When Mary went to the store');
    await page.getByTestId('patch-run').click();
    await expect
      .poll(() => page.getByTestId('patch-error').textContent())
      .toMatch(/corrupted: .*same length/);
  }, 180_000);

  it('fits a probe per stream and shows held-out accuracy against the baseline', async () => {
    await page.getByTestId('probe-run').click();
    await page.getByTestId('probe-table').waitFor({ timeout: 120_000 });
    const api = await post<{ baseline: number; layers: { accuracy: number; control: number }[] }>(
      '/api/infer/probe',
      {
        model: MODEL,
        text: await page.getByTestId('probe-text').inputValue(),
        label: 'next_vowel',
        control: true,
        seed: 0,
      },
    );
    const rows = await page
      .getByTestId('probe-row')
      .evaluateAll((els) => els.map((e) => Number(e.getAttribute('data-accuracy'))));
    expect(rows).toEqual(api.layers.map((l) => l.accuracy));
    expect(await page.getByTestId('probe-baseline').textContent()).toBe(api.baseline.toFixed(3));
    await page.screenshot({ path: join(SHOTS, 'lab-probing.png'), fullPage: true });
    // Only the corrupted prompt of another length, refused above.
    expect(
      unexpectedErrors(b.consoleErrors, [/status of 400 \(Bad Request\) \(\/api\/infer\/patch\)$/]),
    ).toEqual([]);
  }, 180_000);

  it('probes the documents of a dataset version for a JSONL label field, showing the classes and the control', async () => {
    // Lines of the play labelled by how they end: the last token ('?' or '.') carries the class.
    const lines = readFileSync(SHAKESPEARE, 'utf8').split('\n');
    const pick = (end: string) => lines.filter((l) => l.endsWith(end)).slice(0, 40);
    const recs = [...pick('?'), ...pick('.')].map((text, i) => ({
      text,
      kind: text.endsWith('?') ? 'question' : 'statement',
      n: i,
    }));
    const form = new FormData();
    form.set('file', new Blob([recs.map((r) => JSON.stringify(r)).join('\n')]), 'endings.jsonl');
    form.set('name', 'endings');
    const created = await fetch(`${stack.url}/api/data/datasets`, { method: 'POST', body: form });
    expect(created.status).toBe(201);
    const { id } = (await created.json()) as { id: string };

    await page.getByTestId('probe-source').selectOption('dataset');
    const dataset = page.getByTestId('probe-dataset');
    await expect.poll(() => dataset.locator(`option[value="${id}"]`).count()).toBe(1);
    await dataset.selectOption(id);
    const field = page.getByTestId('probe-label-field');
    // The fields offered are those the documents carry: kind and n.
    await expect.poll(() => field.locator('option').allTextContents()).toEqual(['kind', 'n']);
    await field.selectOption('kind');
    await page.getByTestId('probe-run').click();
    await page.getByTestId('probe-classes').waitFor({ timeout: 120_000 });
    const api = await post<{
      baseline: number;
      documents: number;
      classNames: string[];
      classCounts: number[];
      layers: { accuracy: number; control: number }[];
    }>('/api/infer/probe', {
      model: MODEL,
      datasetId: id,
      datasetVersion: 0,
      labelField: 'kind',
      pool: 'last',
      maxDocuments: 1000,
      control: true,
      seed: 0,
    });
    expect(api.documents).toBe(80);
    expect(api.classNames).toEqual(['question', 'statement']);
    // The embeddings hold the last token itself.
    expect(api.layers[0]!.accuracy).toBeGreaterThan(0.9);
    const classes = await page
      .getByTestId('probe-class')
      .evaluateAll((els) =>
        els.map((e) => [e.getAttribute('data-name'), Number(e.getAttribute('data-count'))]),
      );
    expect(classes).toEqual([
      ['question', 40],
      ['statement', 40],
    ]);
    expect(await page.getByTestId('probe-documents').getAttribute('data-documents')).toBe('80');
    const rows = await page
      .getByTestId('probe-row')
      .evaluateAll((els) => els.map((e) => Number(e.getAttribute('data-accuracy'))));
    expect(rows).toEqual(api.layers.map((l) => l.accuracy));
    const control = await page
      .getByTestId('probe-row')
      .evaluateAll((els) => els.map((e) => Number(e.getAttribute('data-control'))));
    expect(control).toEqual(api.layers.map((l) => l.control));
    expect(control.every((c) => c > 0)).toBe(true);
    expect(await page.getByTestId('probe-baseline').textContent()).toBe(api.baseline.toFixed(3));
    await page.screenshot({ path: join(SHOTS, 'lab-probing-dataset.png'), fullPage: true });
    expect(
      unexpectedErrors(b.consoleErrors, [/status of 400 \(Bad Request\) \(\/api\/infer\/patch\)$/]),
    ).toEqual([]);
  }, 180_000);
});

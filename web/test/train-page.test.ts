// The Train page after a run and before one (issue 17, items 4 and 6), on the real stack: a dataset version
// without shards for the chosen tokenizer is marked not ready and "Make shards" makes them; a tiny run keeps its
// checkpoints by the visible retention rule (newest N plus best val loss), lists them with step and val loss,
// shows every evaluation's sample and perplexity in a timeline, and the elapsed time.
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LaunchedBrowser, launchBrowser } from './browser.ts';
import { ensureDist } from './dist.ts';

interface Stack {
  url: string;
  stop(graceMs?: number): Promise<void>;
}
type StartStack = (opts: { ports?: 'config' | 'free'; output?: 'inherit' | 'buffer' }) => Promise<Stack>;
const STACK_MODULE = new URL('../../supervisor/src/stack.ts', import.meta.url).href;
const SHOTS = process.env.LAB_SCREENSHOTS ?? '/tmp';
const SHAKESPEARE =
  process.env.LAB_DATASETS !== undefined
    ? `${process.env.LAB_DATASETS}/tinyshakespeare/input.txt`
    : fileURLToPath(new URL('../../../shared/datasets/tinyshakespeare/input.txt', import.meta.url));

const ITERS = 60;
const EVAL_EVERY = 20;

let stack: Stack;
let b: LaunchedBrowser;
let page: Page;
let datasetId = '';

async function api<T>(path: string, init?: RequestInit): Promise<T> {
  const res = await fetch(`${stack.url}${path}`, {
    ...init,
    headers: { 'content-type': 'application/json', ...init?.headers },
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${init?.method ?? 'GET'} ${path}: HTTP ${res.status} ${text}`);
  return JSON.parse(text) as T;
}

beforeAll(async () => {
  ensureDist();
  const { startStack } = (await import(/* @vite-ignore */ STACK_MODULE)) as { startStack: StartStack };
  [stack, b] = await Promise.all([startStack({ ports: 'free', output: 'buffer' }), launchBrowser()]);
  page = b.page;
}, 180_000);

afterAll(async () => {
  await b?.close();
  await stack?.stop();
});

describe('Train page: dataset readiness, checkpoints, evaluation timeline', () => {
  it('marks a version without shards for the tokenizer as not ready and makes them there', async () => {
    datasetId = (
      await api<{ id: string }>('/api/data/datasets', {
        method: 'POST',
        body: JSON.stringify({ path: SHAKESPEARE, name: 'train-page' }),
      })
    ).id;
    await page.goto(`${stack.url}/#/train`);
    const form = page.getByTestId('train-form');
    await form.locator('select[name="tokenizer"]').selectOption('char');
    const option = form.locator(`select[name="dataset"] option[value="${datasetId}@1"]`);
    await expect.poll(() => option.getAttribute('data-ready'), { timeout: 15_000 }).toBe('false');
    expect(await option.textContent()).toContain('no char shards');
    await form.locator('select[name="dataset"]').selectOption(`${datasetId}@1`);
    await page.getByTestId('train-not-ready').waitFor({ timeout: 5_000 });
    await page.getByTestId('train-make-shards').click();
    await expect.poll(() => option.getAttribute('data-ready'), { timeout: 90_000 }).toBe('true');
    expect(await option.textContent()).toContain('ready');
    expect(await page.getByTestId('train-not-ready').count()).toBe(0);
  }, 120_000);

  it('runs a tiny job: checkpoints with step and val loss by the shown rule, every evaluation in a timeline', async () => {
    const form = page.getByTestId('train-form');
    await form.locator('input[name="name"]').fill('retention-tiny');
    await form.locator('input[name="iters"]').fill(String(ITERS));
    await form.locator('summary').click();
    for (const [k, v] of [
      ['nLayer', '1'],
      ['nHead', '2'],
      ['nEmbd', '32'],
      ['context', '32'],
      ['batchSize', '4'],
      ['evalInterval', String(EVAL_EVERY)],
      ['keepLast', '2'],
    ] as const) {
      await form.locator(`input[name="${k}"]`).fill(v);
    }
    expect(await form.locator('input[name="keepBest"]').isChecked()).toBe(true);
    expect(await page.getByTestId('train-retention').textContent()).toMatch(
      /newest 2 plus the one with the best validation loss/,
    );
    await page.getByTestId('train-submit').click();

    const jobState = page.getByTestId('job-state');
    await expect.poll(() => jobState.getAttribute('data-state'), { timeout: 120_000 }).toBe('completed');
    await expect.poll(() => page.getByTestId('job-elapsed').count(), { timeout: 10_000 }).toBe(1);
    expect(await page.getByTestId('job-elapsed').textContent()).toMatch(/\d+ s elapsed|min/);

    // The rule is stated next to the list.
    expect(await page.getByTestId('checkpoint-retention').textContent()).toContain(
      'the newest 2 checkpoints plus the one with the best validation loss',
    );
    // Checkpoints every 20 steps (20, 40, 60): the newest 2 plus the best are kept, each with its val loss.
    const rows = page.getByTestId('job-checkpoints').locator('li[data-checkpoint]');
    await expect.poll(() => rows.count(), { timeout: 15_000 }).toBeGreaterThanOrEqual(2);
    const steps = await rows.evaluateAll((els) => els.map((e) => Number(e.getAttribute('data-step'))));
    expect(steps.slice(-2)).toEqual([40, 60]);
    expect(steps.length).toBeLessThanOrEqual(3);
    for (const text of await rows.getByTestId('checkpoint-val-loss').allTextContents())
      expect(Number(text)).toBeGreaterThan(0);
    expect(await page.locator('li[data-checkpoint][data-best="true"]').count()).toBe(1);
    // Actions: open in the Playground by <job id>@<step>; the folder is a Hugging Face model folder.
    const href = (await rows.last().getByTestId('checkpoint-playground').getAttribute('href')) ?? '';
    expect(decodeURIComponent(href)).toMatch(/#\/playground\?model=.+@60$/);
    expect(await rows.last().getByTestId('checkpoint-dir').textContent()).toMatch(/step-0+60$/);

    // Every evaluation, with its sample and perplexity.
    const evals = page.getByTestId('job-timeline').locator('[data-testid="timeline-eval"]');
    await expect.poll(() => evals.count(), { timeout: 10_000 }).toBe(ITERS / EVAL_EVERY);
    expect(await evals.evaluateAll((els) => els.map((e) => Number(e.getAttribute('data-step'))))).toEqual([
      60, 40, 20,
    ]);
    for (const s of await evals.getByTestId('timeline-sample').allTextContents())
      expect(s.length).toBeGreaterThan(10);
    for (const p of await evals.getByTestId('timeline-perplexity').allTextContents())
      expect(Number(p)).toBeGreaterThan(1);
    await page.screenshot({ path: `${SHOTS}/lab-train-checkpoints.png`, fullPage: true });
  }, 240_000);

  it('samples a checkpoint right there (svc-infer)', async () => {
    const row = page.getByTestId('job-checkpoints').locator('li[data-checkpoint]').last();
    await row.getByTestId('checkpoint-sample').click();
    await expect
      .poll(async () => ((await row.getByTestId('checkpoint-sample-text').textContent()) ?? '').length, {
        timeout: 60_000,
      })
      .toBeGreaterThan(5);
  }, 90_000);
});

// Data → Train end to end on the real stack: upload tiny Shakespeare through the Data page's file input, clean and
// split it, read the cleaning report, tokenize it into shards, then start a tiny pre-training run from the Train
// page, watch the loss chart fill, pause, resume, and see it complete with a checkpoint.
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
/** `datasetPath('tinyshakespeare', 'input.txt')` of @lab/common: the datasets beside the repository. */
const SHAKESPEARE =
  process.env.LAB_DATASETS !== undefined
    ? `${process.env.LAB_DATASETS}/tinyshakespeare/input.txt`
    : fileURLToPath(new URL('../../../shared/datasets/tinyshakespeare/input.txt', import.meta.url));

let stack: Stack;
let b: LaunchedBrowser;
let page: Page;

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

/** The dataset id (read from the UI). */
let datasetId = '';

async function tokenizeWith(p: Page, tokenizer: string): Promise<string> {
  const shards = p.getByTestId('data-shards');
  await shards.locator('select[name="tokenizer"]').selectOption(tokenizer);
  await shards.getByRole('button', { name: 'Tokenize' }).click();
  await p
    .locator(
      '[data-testid="data-shards"][data-state="done"], [data-testid="data-shards"][data-state="failed"]',
    )
    .waitFor({ timeout: 60_000 });
  return (await shards.getAttribute('data-state')) ?? '';
}

let uploadedAt = 0;

describe('Data and Train pages on the real stack', () => {
  it('uploads tiny Shakespeare, cleans and splits it with a report, shows stats and tokenizes it', async () => {
    await page.goto(`${stack.url}/#/data`);
    uploadedAt = performance.now();
    await page.getByTestId('data-upload').setInputFiles(SHAKESPEARE);
    const item = page.getByTestId('data-list').locator('li[data-id]');
    await expect.poll(() => item.count(), { timeout: 30_000 }).toBe(1);
    datasetId = (await item.first().getAttribute('data-id')) ?? '';
    expect(datasetId).not.toBe('');
    const versions = page.getByTestId('data-versions').locator('li[data-version]');
    await expect.poll(() => versions.count(), { timeout: 15_000 }).toBe(1);

    // Clean and split (both on by default): 90 % train, 10 % validation.
    const steps = page.getByTestId('data-steps');
    expect(await steps.locator('input[name="clean"]').isChecked()).toBe(true);
    expect(await steps.locator('input[name="split"]').isChecked()).toBe(true);
    await steps.locator('input[name="val"]').fill('0.1');
    await steps.locator('input[name="test"]').fill('0');
    // A dry run first, then the same steps applied.
    await page.getByTestId('data-preview').click();
    await expect.poll(() => page.getByTestId('data-apply').isEnabled(), { timeout: 60_000 }).toBe(true);
    await page.getByTestId('data-apply').click();
    const report = page.getByTestId('data-report');
    await report.locator('[data-kind="split"]').waitFor({ timeout: 60_000 });
    expect(await report.locator('[data-kind="clean"]').count()).toBe(1);
    expect(await report.locator('[data-kind="clean"] summary').textContent()).toMatch(/→ [\d,]+ documents/);
    // Cleaning changed some documents' whitespace: a before/after example is shown.
    expect(await report.locator('[data-kind="clean"] .before-after').count()).toBeGreaterThan(0);
    await expect.poll(() => versions.count(), { timeout: 15_000 }).toBe(2);
    expect(await versions.nth(1).textContent()).toMatch(/clean\+split/);

    // Statistics of the new version, with a token count and a histogram.
    const stats = page.getByTestId('data-stats');
    await stats.getByRole('button', { name: 'Compute statistics' }).click();
    await page.locator('[data-testid="data-stats"][data-state="ready"]').waitFor({ timeout: 60_000 });
    const docs = Number(
      ((await stats.locator('[data-stat="documents"]').textContent()) ?? '').replace(/,/g, ''),
    );
    expect(docs).toBeGreaterThan(1000);
    const tokens = Number(
      ((await stats.locator('[data-stat="tokens"]').textContent()) ?? '').replace(/,/g, ''),
    );
    expect(tokens).toBeGreaterThan(100_000);
    expect(await stats.locator('.hist-bar').count()).toBeGreaterThan(1);

    // Shards for the trainer, with the char tokenizer (the one the training run uses).
    expect(await tokenizeWith(page, 'char')).toBe('done');
    expect(await page.getByTestId('data-shards').textContent()).toMatch(/train: [\d,]+ tokens/);
    await page.screenshot({ path: `${SHOTS}/lab-data.png`, fullPage: true });
  });

  it('trains a tiny model from the UI: live loss curve, pause, resume, completion and a checkpoint', async () => {
    await page.goto(`${stack.url}/#/train`);
    const form = page.getByTestId('train-form');
    await form.locator('input[name="name"]').fill('ui-tiny');
    await form.locator('select[name="tokenizer"]').selectOption('char');
    await form.locator('input[name="iters"]').fill('300');
    await form.locator('summary').click();
    for (const [k, v] of [
      ['nLayer', '1'],
      ['nHead', '2'],
      ['nEmbd', '32'],
      ['context', '32'],
      ['batchSize', '4'],
      ['evalInterval', '50'],
    ] as const) {
      await form.locator(`input[name="${k}"]`).fill(v);
    }
    // From the dataset version made above (its char shards).
    const option = form.locator(`select[name="dataset"] option[value="${datasetId}@2"]`);
    await expect.poll(() => option.count(), { timeout: 10_000 }).toBe(1);
    await form.locator('select[name="dataset"]').selectOption(`${datasetId}@2`);
    // The estimate for this model shows its parameter count.
    await expect
      .poll(() => page.getByTestId('train-estimate').textContent(), { timeout: 10_000 })
      .toMatch(/[\d,.]+k? parameters/i);
    const submittedAt = performance.now();
    await page.getByTestId('train-submit').click();
    const row = page.getByTestId('job-list').locator('tbody tr[data-state]');
    await expect.poll(() => row.count(), { timeout: 15_000 }).toBe(1);
    const jobTestId = (await row.first().getAttribute('data-testid')) ?? '';
    expect(jobTestId).toMatch(/^job-/);

    // The loss chart fills as step events arrive.
    const chart = page.getByTestId('chart-loss');
    await expect
      .poll(async () => Number(await chart.getAttribute('data-points')), { timeout: 30_000 })
      .toBeGreaterThan(0);
    // Reported, not asserted: how long a learner waits (the browser drives the forms faster than a person).
    const now = performance.now();
    console.log(
      `upload → first metric point in the UI: ${((now - uploadedAt) / 1000).toFixed(1)} s ` +
        `(clean, split, stats, char shards, form); submit → first point: ${((now - submittedAt) / 1000).toFixed(1)} s`,
    );

    const jobState = page.getByTestId('job-state');
    await page.getByTestId('job-pause').click();
    await expect.poll(() => jobState.getAttribute('data-state'), { timeout: 30_000 }).toBe('paused');
    // The state arrives over SSE, the pause request's answer over HTTP (up to 100 ms later): either may be first.
    await expect.poll(() => page.getByTestId('job-resume').isEnabled()).toBe(true);
    expect(await page.getByTestId('job-pause').isDisabled()).toBe(true);
    const pausedPoints = Number(await chart.getAttribute('data-points'));
    await page.getByTestId('job-resume').click();
    await expect.poll(() => jobState.getAttribute('data-state'), { timeout: 90_000 }).toBe('completed');
    // The queue refreshes on its own timer (every 2 s): it catches up.
    await expect.poll(() => page.getByTestId(jobTestId).getAttribute('data-state')).toBe('completed');

    // Every step drawn once: no point repeated across the pause/resume reconnects.
    await expect
      .poll(async () => Number(await chart.getAttribute('data-points')), { timeout: 10_000 })
      .toBe(300);
    expect(pausedPoints).toBeGreaterThan(0);
    await expect
      .poll(() => page.getByTestId('job-checkpoints').locator('li[data-checkpoint]').count(), {
        timeout: 15_000,
      })
      .toBeGreaterThan(0);
    expect(((await page.getByTestId('job-sample').textContent()) ?? '').length).toBeGreaterThan(0);
    expect(await page.getByTestId('job-cancel').isDisabled()).toBe(true);
    await page.screenshot({ path: `${SHOTS}/lab-train.png`, fullPage: true });

    // Opened again later, the job's whole history is replayed once: still exactly one point per step.
    await page.getByTestId('nav-status').click();
    await page.getByTestId('nav-train').click();
    await page.getByTestId(jobTestId).click();
    await expect
      .poll(async () => Number(await chart.getAttribute('data-points')), { timeout: 15_000 })
      .toBe(300);
    expect(await page.getByTestId('job-state').getAttribute('data-state')).toBe('completed');
  });

  it('logs no console errors', () => {
    const unexpected = b.consoleErrors.filter((e) => !/EventSource/.test(e));
    expect(unexpected).toEqual([]);
  });
});

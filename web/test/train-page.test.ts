// The Train page after a run and before one (issue 17, items 4 and 6), on the real stack: a dataset version
// without shards for the chosen tokenizer is marked not ready and "Make shards" makes them; a tiny run keeps its
// checkpoints by the visible retention rule (newest N plus best val loss), lists them with step and val loss,
// shows every evaluation's sample and perplexity in a timeline, and the elapsed time.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LaunchedBrowser, launchBrowser } from './browser.ts';
import { ensureDist } from './dist.ts';
import { stackApi } from './stack-api.ts';

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

const api = stackApi(() => stack.url);

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

  it('downloads a checkpoint as its Hugging Face folder (.tar), without the resume state', async () => {
    const row = page.getByTestId('job-checkpoints').locator('li[data-checkpoint]').last();
    const href = (await row.getByTestId('checkpoint-download').getAttribute('href')) ?? '';
    expect(decodeURIComponent(href)).toMatch(/^\/api\/infer\/models\/.+@60\/download$/);
    const folder = (await row.getByTestId('checkpoint-dir').textContent()) ?? '';
    const res = await fetch(`${stack.url}${href}`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-disposition')).toMatch(/^attachment; filename=".+@60\.tar"$/);
    const out = mkdtempSync(join(tmpdir(), 'lab-ckpt-download-'));
    writeFileSync(join(out, 'ckpt.tar'), Buffer.from(await res.arrayBuffer()));
    execFileSync('tar', ['-xf', 'ckpt.tar'], { cwd: out });
    const top = readdirSync(out).find((f) => f !== 'ckpt.tar') ?? '';
    const got = readdirSync(join(out, top));
    expect(got).toEqual(expect.arrayContaining(['config.json', 'model.safetensors', 'onnx']));
    for (const resume of ['optimizer.safetensors', 'trainer_state.json', 'manifest.json'])
      expect(got).not.toContain(resume);
    const expected = readdirSync(folder).filter(
      (f) => !['optimizer.safetensors', 'trainer_state.json', 'manifest.json'].includes(f),
    );
    expect(got.sort()).toEqual(expected.sort());
    expect(
      readFileSync(join(out, top, 'model.safetensors')).equals(
        readFileSync(join(folder, 'model.safetensors')),
      ),
    ).toBe(true);
  }, 60_000);
});

// Issue 17, item 5: estimates that stop absurd runs. The Advanced fields show the chosen preset's real shape;
// the estimate gives the total time and the memory against this machine and asks before a run past either;
// its parameter count is the job's; a server error sits under its field as a sentence.
describe('Train page: estimates against this machine, preset shapes, errors at their field', () => {
  const shape = (form: ReturnType<Page['getByTestId']>) =>
    Promise.all(
      ['nLayer', 'nHead', 'nEmbd', 'ffnHidden', 'context'].map((k) =>
        form.locator(`input[name="${k}"]`).inputValue(),
      ),
    );
  /** A few paragraphs of Shakespeare: fewer distinct characters than the preset's 65. */
  const excerpt = join(tmpdir(), `lab-train-form-${process.pid}.txt`);

  it('shows the chosen preset’s layers, heads, width, FFN width and context in the Advanced fields', async () => {
    // A fresh page: a hash-only navigation would keep the form of the tests above.
    await page.goto('about:blank');
    await page.goto(`${stack.url}/#/train`);
    const form = page.getByTestId('train-form');
    await form.locator('summary').click();
    await expect.poll(() => shape(form)).toEqual(['4', '4', '128', '512', '64']);
    await form.locator('select[name="preset"]').selectOption('gpt2-medium');
    expect(await shape(form)).toEqual(['24', '16', '1024', '4096', '1024']);
    // Another preset replaces them all, not only the fields it differs in.
    await form.locator('select[name="preset"]').selectOption('llama-small');
    expect(await shape(form)).toEqual(['4', '8', '256', '688', '256']);
    await form.locator('select[name="preset"]').selectOption('gpt2-medium');
    expect(await shape(form)).toEqual(['24', '16', '1024', '4096', '1024']);
  }, 60_000);

  it('shows total time and memory against this machine, and asks before starting a run past either', async () => {
    const text = readFileSync(SHAKESPEARE, 'utf8').slice(0, 3000);
    writeFileSync(excerpt, text);
    expect(new Set(text).size).toBeLessThan(65);
    const form = page.getByTestId('train-form');
    await form.locator('input[value="path"]').check();
    await form.locator('input[name="dataPath"]').fill(excerpt);
    await form.locator('input[name="iters"]').fill('2000');
    const est = page.getByTestId('train-estimate');
    await expect
      .poll(() => est.textContent(), { timeout: 20_000 })
      .toMatch(/× 2,000 steps ≈ \d+ d \d+ h in all/);
    expect(await est.textContent()).toMatch(/of this machine’s [\d.]+ GB/);
    // The same estimate from the API says whether gpt2-medium fits this machine's memory.
    const body = { preset: 'gpt2-medium', iters: 2000, tokenizer: 'char', dataPath: excerpt };
    const api1 = await api<{ memory: { total: number }; machine: { memoryBytes: number } }>(
      '/api/train/estimate',
      {
        method: 'POST',
        body: JSON.stringify(body),
      },
    );
    const kinds = [...(api1.memory.total > api1.machine.memoryBytes ? ['memory'] : []), 'time'];
    const warnings = page.getByTestId('train-warnings').locator('li');
    expect(await warnings.evaluateAll((els) => els.map((e) => e.getAttribute('data-kind')))).toEqual(kinds);
    expect(await warnings.last().textContent()).toMatch(
      /^2,000 steps at about .* days of compute on this machine/,
    );

    // Start asks first; going back starts nothing.
    const before = (await api<{ total: number }>('/api/train/jobs')).total;
    await page.getByTestId('train-submit').click();
    const dialog = page.getByTestId('train-confirm');
    await dialog.waitFor({ state: 'visible', timeout: 10_000 });
    expect(await dialog.locator('li').count()).toBe(kinds.length);
    expect(await dialog.textContent()).toMatch(/days of compute/);
    await page.screenshot({ path: `${SHOTS}/lab-train-confirm.png`, fullPage: true });
    await page.getByTestId('train-confirm-cancel').click();
    await dialog.waitFor({ state: 'hidden' });
    await new Promise((r) => setTimeout(r, 500));
    expect((await api<{ total: number }>('/api/train/jobs')).total).toBe(before);

    // A small model for ten million steps is more than a day too; confirmed, it starts, and the job counts
    // the parameters the estimate showed (the excerpt's characters, not the preset's 65).
    await form.locator('select[name="preset"]').selectOption('nanogpt-cpu');
    await form.locator('input[name="iters"]').fill('10000000');
    await page.getByTestId('train-submit').click();
    await dialog.waitFor({ state: 'visible', timeout: 10_000 });
    expect(await dialog.locator('li[data-kind="time"]').count()).toBe(1);
    expect(await est.textContent()).not.toMatch(/the preset’s until the data is chosen/);
    const estimated = await page.getByTestId('train-estimate-parameters').textContent();
    await page.getByTestId('train-confirm-start').click();
    await dialog.waitFor({ state: 'hidden' });
    const view = page.getByTestId('job-view');
    await view.waitFor({ timeout: 15_000 });
    const jobId = (await view.getAttribute('data-job')) ?? '';
    try {
      await expect
        .poll(() => page.getByTestId('job-parameters').textContent(), { timeout: 60_000 })
        .toBe(estimated);
      expect(estimated).not.toBe('804,096');
    } finally {
      await api(`/api/train/jobs/${jobId}/cancel`, { method: 'POST', body: '{}' }).catch(() => {});
    }
  }, 120_000);

  it('puts a server error under its field as a sentence, until the field changes', async () => {
    const form = page.getByTestId('train-form');
    await form.locator('input[name="iters"]').fill('10');
    await form.locator('input[name="batchSize"]').fill('2000');
    await page.getByTestId('train-submit').click();
    const err = form.locator('[data-testid="train-field-error"][data-field="batchSize"]');
    await err.waitFor({ timeout: 10_000 });
    expect(await err.textContent()).toBe('Batch size must be at most 1024.');
    // Next to its field, which is marked, and nowhere the raw path or zod's wording.
    expect(await err.evaluate((el) => !!el.closest('label')?.querySelector('input[name="batchSize"]'))).toBe(
      true,
    );
    expect(await form.locator('input[name="batchSize"]').getAttribute('aria-invalid')).toBe('true');
    const pageText = (await page.getByTestId('train-form').locator('..').textContent()) ?? '';
    expect(pageText).not.toMatch(/config\.batchSize|Too big/);
    await form.locator('input[name="batchSize"]').fill('8');
    await err.waitFor({ state: 'detached' });
    expect(await form.locator('input[name="batchSize"]').getAttribute('aria-invalid')).toBeNull();
  }, 60_000);

  it('fills the form with the induction-head recipe in one click, and starts that job', async () => {
    await page.goto('about:blank');
    await page.goto(`${stack.url}/#/train`);
    const form = page.getByTestId('train-form');
    expect(await page.getByTestId('recipe-induction').textContent()).toMatch(/induction head/i);
    await page.getByTestId('recipe-induction-apply').click();
    expect(await form.locator('input[name="source"][value="repeated"]').isChecked()).toBe(true);
    expect(await form.locator('input[name="repeatVocab"]').inputValue()).toBe('64');
    expect(await form.locator('input[name="repeatHalf"]').inputValue()).toBe('16');
    expect(await form.locator('input[name="iters"]').inputValue()).toBe('3000');
    await expect.poll(() => shape(form)).toEqual(['2', '4', '64', '256', '32']);
    expect(await form.locator('input[name="learningRate"]').inputValue()).toBe('0.003');
    expect(await form.locator('input[name="seed"]').inputValue()).toBe('1');
    // The estimate counts the model the job trains: attention only, vocabulary 64, 32 positions of RoPE.
    // Token and tied head 64 × 64, no position table (RoPE), per layer ln_1 64 + c_attn 64 × 192 + c_proj
    // 64 × 64 and no MLP, ln_f 64. The estimate of the form before the recipe may still show: wait for it.
    const count = 64 * 64 + 2 * (64 + 64 * 192 + 64 * 64) + 64;
    const est = page.getByTestId('train-estimate-parameters');
    await expect
      .poll(() => est.textContent(), { timeout: 30_000 })
      .toBe(new Intl.NumberFormat('en').format(count));
    // A short run of it (the form checks the evaluation interval against the steps).
    await form.locator('input[name="iters"]').fill('20');
    await form.locator('input[name="evalInterval"]').fill('10');
    await page.getByTestId('train-submit').click();
    const view = page.getByTestId('job-view');
    await view.waitFor({ timeout: 15_000 });
    const id = (await view.getAttribute('data-job')) ?? '';
    const job = await api<{ request: Record<string, unknown>; parameters: number }>(`/api/train/jobs/${id}`);
    expect(job.request.repeatedTokens).toMatchObject({ vocabSize: 64, halfLength: 16 });
    const config = job.request.config as { modelJson: string; context: number };
    expect(JSON.parse(config.modelJson)).toMatchObject({ nLayer: 2, attnOnly: true, positions: 'rope' });
    expect(config.context).toBe(32);
    // What the worker allocates, as the estimate said.
    await expect
      .poll(async () => (await api<{ parameters: number }>(`/api/train/jobs/${id}`)).parameters, {
        timeout: 60_000,
      })
      .toBe(count);
    await page.screenshot({ path: `${SHOTS}/lab-train-induction-recipe.png`, fullPage: true });
  }, 90_000);
});

// Issue 17, item 11 ("loose ends"), and the Architecture page's "Train this", on the real stack (five services
// and the gateway serving the built UI) through Debian's chromium: messages that go away with their cause, a
// queue row that keeps up with the live header, an evaluation point whose hover shows both losses, a cancel
// that asks first, one way of writing numbers, no "done · done", a trained tokenizer offered in Compare, a
// Train page prefilled from the Architecture page, and checkpoint models with their own step's val loss.
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LaunchedBrowser, launchBrowser } from './browser.ts';
import { ensureDist } from './dist.ts';
import { holdRequests } from './held-requests.ts';
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

/** Numbers as the lab writes them: grouped by thousands with commas, or a short decimal below 1,000. */
const LAB_NUMBER = /^(?:\d{1,3}(?:,\d{3})*|\d{1,3}\.\d+|0\.\d+|\d(?:\.\d)?e-?\d+)$/;

let stack: Stack;
let b: LaunchedBrowser;
let page: Page;
let datasetId = '';

const api = stackApi(() => stack.url);

/** A fresh page load (a hash-only navigation would keep the page's state). */
async function open(hash: string): Promise<void> {
  await page.goto('about:blank');
  await page.goto(`${stack.url}/#/${hash}`);
}

beforeAll(async () => {
  ensureDist();
  const { startStack } = (await import(/* @vite-ignore */ STACK_MODULE)) as { startStack: StartStack };
  [stack, b] = await Promise.all([startStack({ ports: 'free', output: 'buffer' }), launchBrowser()]);
  page = b.page;
  datasetId = (
    await api<{ id: string }>('/api/data/datasets', {
      method: 'POST',
      body: JSON.stringify({ path: SHAKESPEARE, name: 'loose-ends' }),
    })
  ).id;
}, 180_000);

afterAll(async () => {
  await b?.close();
  await stack?.stop();
});

describe('messages that go away with their cause', () => {
  it('Train: "Pick a dataset version" goes once one is picked', async () => {
    await open('train');
    const form = page.getByTestId('train-form');
    await page.getByTestId('train-submit').click();
    const error = page.getByRole('alert').filter({ hasText: 'Pick a dataset version' });
    await error.waitFor({ timeout: 10_000 });
    const option = form.locator(`select[name="dataset"] option[value="${datasetId}@1"]`);
    await expect.poll(() => option.count()).toBe(1);
    await form.locator('select[name="dataset"]').selectOption(`${datasetId}@1`);
    await error.waitFor({ state: 'detached', timeout: 5_000 });
  });

  it('Train: the Start button stays where it is when the estimate arrives', async () => {
    // Hold the estimate until the form has laid out without it; a click made as it arrived used to land
    // on the estimate, which pushed the button down (the test above then waited for an alert in vain).
    const estimate = await holdRequests(page, '**/api/train/estimate');
    try {
      await open('train');
      const button = page.getByTestId('train-submit');
      const before = (await button.boundingBox())!.y;
      // Nor does what lies below the estimate (the job view): the line keeps its room.
      const line = page.getByTestId('train-estimate');
      const height = (await line.boundingBox())!.height;
      expect(await page.getByTestId('train-estimate-parameters').count()).toBe(0);
      estimate.release();
      await page.getByTestId('train-estimate-parameters').waitFor({ timeout: 15_000 });
      expect((await button.boundingBox())!.y).toBe(before);
      expect((await line.boundingBox())!.height).toBe(height);
    } finally {
      await estimate.stop();
    }
  });

  it('Tokenizer: a name already taken is no longer claimed once the mode changes; the new tokenizer is in Compare', async () => {
    await open('tokenizer');
    await page.getByTestId('tok-select').locator('option[value="gpt2"]').waitFor({ state: 'attached' });
    const train = page.getByTestId('train-form');
    await train.locator('input[name="name"]').fill('loose-bpe');
    await train.locator('input[name="vocabSize"]').fill('300');
    await train.getByRole('button', { name: 'Train' }).click();
    await page.locator('[data-testid="train-progress"][data-state="done"]').waitFor({ timeout: 60_000 });

    // Offered in Compare, ticked, with its own row beside the built-in ones.
    const row = page.getByTestId('compare-table').locator('tr[data-tokenizer="loose-bpe"]');
    await row.waitFor({ timeout: 15_000 });
    expect(Number((await row.locator('td').nth(1).textContent())?.replace(/,/g, ''))).toBeGreaterThan(0);
    expect(
      await page.locator('.chip', { hasText: 'loose-bpe' }).locator('input[type="checkbox"]').isChecked(),
    ).toBe(true);

    // The same name again: refused; then "a dataset" is chosen, and the refusal no longer stands.
    await train.getByRole('button', { name: 'Train' }).click();
    const error = page.getByTestId('train-error');
    await error.waitFor({ timeout: 15_000 });
    expect(await error.textContent()).toMatch(/already exists/);
    await train.getByLabel('a dataset').check();
    await error.waitFor({ state: 'detached', timeout: 5_000 });
  });
});

describe('Data page: a finished job says "done" once', () => {
  it('tokenizing into shards ends with "done", not "done · done"', async () => {
    await open(`data/${datasetId}/1`);
    const shards = page.getByTestId('data-shards');
    await shards.locator('select[name="tokenizer"]').selectOption('char');
    await shards.getByRole('button', { name: 'Tokenize' }).click();
    await page.locator('[data-testid="data-shards"][data-state="done"]').waitFor({ timeout: 90_000 });
    const line = (await shards.locator('.train-status > .small').textContent()) ?? '';
    expect(line.trim()).toBe('done');
  }, 120_000);
});

/** The job header's line as a learner reads it: "step 1,234 / 20,000 · … · loss 2.61 · 8,207 tokens/s · …". */
function readHeadline(text: string) {
  return {
    step: /step ([\d,]+) \//.exec(text)?.[1] ?? '',
    loss: /loss ([^ ]+) ·/.exec(text)?.[1] ?? '',
    tps: /· ([^ ]+) tokens\/s/.exec(text)?.[1] ?? '',
  };
}

describe('a running job on the Train page', () => {
  let jobId = '';
  const view = () => page.getByTestId('job-view');
  const headline = async () => readHeadline((await view().locator('.card-head').first().textContent()) ?? '');
  const stepNow = async () => Number((await headline()).step.replace(/,/g, '') || 0);

  it('starts a tiny run from the form', async () => {
    await open('train');
    const form = page.getByTestId('train-form');
    await form.locator('input[name="name"]').fill('loose-run');
    await form.locator('input[name="iters"]').fill('20000');
    await form.locator('input[value="path"]').check();
    await form.locator('input[name="dataPath"]').fill(SHAKESPEARE);
    await form.locator('summary').click();
    for (const [k, v] of [
      ['nLayer', '1'],
      ['nHead', '2'],
      ['nEmbd', '32'],
      ['context', '32'],
      ['batchSize', '4'],
      ['evalInterval', '40'],
      ['keepLast', '2'],
    ] as const)
      await form.locator(`input[name="${k}"]`).fill(v);
    await page.getByTestId('train-submit').click();
    await view().waitFor({ timeout: 20_000 });
    jobId = (await view().getAttribute('data-job')) ?? '';
    expect(jobId).not.toBe('');
    // Past a few evaluations (and so a few checkpoints).
    await expect.poll(stepNow, { timeout: 120_000 }).toBeGreaterThan(130);
  }, 180_000);

  it('the queue row shows what the live header shows, as it changes, in the same number format', async () => {
    const row = page.getByTestId(`job-${jobId}`);
    const seen: { header: string[]; row: string[] }[] = [];
    for (let i = 0; i < 12; i++) {
      // Header and row read in one go (one frame), each as a learner reads it. The row renders the header's
      // own status, so they agree in every frame however far the stream lags the list's poll.
      const s = (await page.evaluate((id) => {
        const head = document.querySelector('[data-testid="job-view"] .card-head')?.textContent ?? '';
        const cells = [...document.querySelectorAll(`[data-testid="job-${id}"] td`)].map(
          (td) => td.textContent?.trim() ?? '',
        );
        const state = document.querySelector('[data-testid="job-state"]')?.textContent?.trim() ?? '';
        return { head, cells, state };
      }, jobId)) as { head: string; cells: string[]; state: string };
      const h = readHeadline(s.head);
      seen.push({
        header: [h.step, h.loss, s.state],
        row: [s.cells[2]?.split(' / ')[0] ?? '', s.cells[3] ?? '', s.cells[1] ?? ''],
      });
      await new Promise((r) => setTimeout(r, 250));
    }
    for (const s of seen) expect(s.row).toEqual(s.header);
    // It was moving meanwhile (the row did not merely happen to match a still job).
    expect(new Set(seen.map((s) => s.header[0])).size).toBeGreaterThan(2);
    expect(await row.getAttribute('data-state')).toBe('running');

    // One way of writing numbers: the header's counts and rates and the row's, grouped alike.
    const h = await headline();
    const numbers = [
      h.step,
      h.tps,
      h.loss,
      ((await row.locator('td').nth(2).textContent()) ?? '').split(' / ')[1],
    ];
    for (const n of numbers) expect((n ?? '').trim()).toMatch(LAB_NUMBER);
    expect(numbers[3]?.trim()).toBe('20,000');
  }, 60_000);

  it('cancel asks first; "Keep it" leaves the run running', async () => {
    await page.getByTestId('job-cancel').click();
    const dialog = page.getByTestId('job-cancel-confirm');
    await dialog.waitFor({ state: 'visible', timeout: 5_000 });
    expect(await dialog.textContent()).toMatch(/cannot be resumed/);
    await page.getByTestId('job-cancel-confirm-cancel').click();
    await dialog.waitFor({ state: 'hidden' });
    await new Promise((r) => setTimeout(r, 1000));
    expect((await api<{ state: string }>(`/api/train/jobs/${jobId}`)).state).toBe('running');
  });

  it('an evaluation point’s hover shows the training loss of its step beside the validation loss', async () => {
    // At least one evaluation (every 40 steps) before the pause: a slow machine may not be there yet.
    await expect
      .poll(async () => (await api<{ step: number }>(`/api/train/jobs/${jobId}`)).step, { timeout: 60_000 })
      .toBeGreaterThan(45);
    await page.getByTestId('job-pause').click();
    await expect
      .poll(() => page.getByTestId('job-state').getAttribute('data-state'), { timeout: 30_000 })
      .toBe('paused');
    const chart = page.getByTestId('chart-loss');
    const over = chart.locator('.u-over');
    // The mouse hovers in viewport coordinates: the chart must be on screen (the recipe above moves it).
    await over.scrollIntoViewIfNeeded();
    const box = (await over.boundingBox())!;
    const lastStep = await stepNow();
    const legend = async () =>
      chart
        .locator('.u-legend .u-series')
        .evaluateAll((rows) =>
          Object.fromEntries(
            rows.map((r) => [
              r.querySelector('.u-label')?.textContent?.trim() ?? '',
              r.querySelector('.u-value')?.textContent?.trim() ?? '',
            ]),
          ),
        );
    const y = box.y + box.height / 2;
    // Where a step lies on screen, from the steps the legend reports at two points: the x-range is uPlot's
    // (it need not run from step 1 to the header's step), so a position assumed from the step count could
    // miss the evaluation points by more than the sweep below.
    const stepAt = async (x: number) => {
      await page.mouse.move(box.x + x, y);
      return Number(((await legend()).step ?? '').replace(/,/g, ''));
    };
    const [x0, x1] = [0.2 * box.width, 0.8 * box.width];
    const [s0, s1] = [await stepAt(x0), await stepAt(x1)];
    expect(s1).toBeGreaterThan(s0);
    const pairs: { train: string; val: string }[] = [];
    for (const step of [40, 80, 120].filter((x) => x < lastStep)) {
      const x = x0 + ((step - s0) / (s1 - s0)) * (x1 - x0);
      for (let dx = -3; dx <= 3; dx += 0.5) {
        await page.mouse.move(box.x + x + dx, y);
        const l = await legend();
        if (l['val loss'] && l['val loss'] !== '—')
          pairs.push({ train: l['train loss'] ?? '', val: l['val loss'] });
      }
    }
    await page.screenshot({ path: `${SHOTS}/lab-loose-ends-hover.png`, fullPage: true });
    expect(pairs.length).toBeGreaterThan(0);
    for (const p of pairs) expect(p.train).toMatch(LAB_NUMBER);
  }, 60_000);

  it('checkpoint models carry the val loss of their own step (svc-infer)', async () => {
    const job = await api<{ checkpointInfo: { step: number; valLoss?: number }[] }>(
      `/api/train/jobs/${jobId}`,
    );
    const { models } = await api<{
      models: { name: string; jobId?: string; step?: number; valLoss: number }[];
    }>('/api/infer/models');
    const mine = models.filter((m) => m.jobId === jobId);
    expect(mine.length).toBe(job.checkpointInfo.length);
    // At least one evaluated checkpoint older than the job's step (the job's latest val loss belongs to no
    // other step); a checkpoint the pause wrote was not evaluated and has none (ModelInfo's 0).
    expect(job.checkpointInfo.filter((c) => (c.valLoss ?? 0) > 0).length).toBeGreaterThanOrEqual(1);
    for (const c of job.checkpointInfo)
      expect(mine.find((m) => m.step === c.step)?.valLoss).toBe(c.valLoss ?? 0);
  });

  it('cancels once confirmed', async () => {
    await page.getByTestId('job-cancel').click();
    await page.getByTestId('job-cancel-confirm').waitFor({ state: 'visible' });
    await page.getByTestId('job-cancel-confirm-confirm').click();
    await expect
      .poll(() => page.getByTestId('job-state').getAttribute('data-state'), { timeout: 30_000 })
      .toBe('cancelled');
    await expect.poll(() => page.getByTestId(`job-${jobId}`).getAttribute('data-state')).toBe('cancelled');
  }, 60_000);
});

describe('Architecture → Train', () => {
  it('“Train this” opens the Train page with the preset, the Advanced fields and the context filled in', async () => {
    await open('architecture');
    await page.getByTestId('page-architecture').waitFor();
    // Each edit: the page's own estimate (debounced) moves to a new parameter count.
    const total = async () => Number(await page.getByTestId('arch-total').getAttribute('data-value'));
    let last = 0;
    const settled = async () => {
      await expect.poll(total, { timeout: 30_000 }).not.toBe(last);
      last = await total();
    };
    await settled();
    await page.locator('[data-testid="arch-preset"][data-preset="llama-small"]').click();
    await settled();
    await page.getByTestId('arch-nLayer').fill('3');
    await settled();
    await page.getByTestId('arch-activation').selectOption('gelu');
    await settled();
    const href = (await page.getByTestId('arch-train').getAttribute('href')) ?? '';
    expect(href).toContain('%22nLayer%22%3A3');
    expect(href).toContain('%22gelu%22');
    const designed = last;
    await page.getByTestId('arch-train').click();
    await page.getByTestId('page-train').waitFor();

    const form = page.getByTestId('train-form');
    expect(await form.locator('select[name="preset"]').inputValue()).toBe('llama-small');
    const advanced = form.locator('details.advanced');
    expect(await advanced.evaluate((d) => (d as HTMLDetailsElement).open)).toBe(true);
    const values = () =>
      Promise.all(
        ['nLayer', 'nHead', 'nKvHead', 'nEmbd', 'ffnHidden', 'context'].map((k) =>
          form.locator(`input[name="${k}"]`).inputValue(),
        ),
      );
    // Kept when the presets arrive from the gateway (which fill only empty fields).
    await expect.poll(values).toEqual(['3', '8', '2', '256', '688', '256']);
    await new Promise((r) => setTimeout(r, 500));
    expect(await values()).toEqual(['3', '8', '2', '256', '688', '256']);
    expect(await page.getByTestId('train-link-extras').textContent()).toContain('activation gelu');
    // The estimate is of the run designed there: the same parameter count (vocabulary: the preset's, as there).
    await expect
      .poll(
        async () =>
          Number(
            ((await page.getByTestId('train-estimate-parameters').textContent()) ?? '').replace(/,/g, ''),
          ),
        {
          timeout: 20_000,
        },
      )
      .toBe(designed);
    await page.screenshot({ path: `${SHOTS}/lab-train-from-architecture.png`, fullPage: true });
  }, 60_000);
});

describe('the console', () => {
  it('logs no errors', () => {
    const unexpected = b.consoleErrors.filter((e) => !/EventSource|already exists|409/.test(e));
    expect(unexpected).toEqual([]);
  });
});

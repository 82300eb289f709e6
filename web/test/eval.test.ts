// Eval page on the real stack: a small GPT-2-shaped model with random weights and GPT-2's real tokenizer (a
// Shakespeare char model lacks HellaSwag's characters) is registered in svc-infer; from the Eval page a 3-item
// HellaSwag run is started and followed to the end, its scores are read with their explanations, its wrong
// items are opened with every choice's log-likelihoods, and its score is found on the leaderboard. Every
// number on the page is checked against the gateway's own answer.
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LaunchedBrowser, launchBrowser, unexpectedErrors } from './browser.ts';
import { ensureDist } from './dist.ts';
import { stackApi } from './stack-api.ts';

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
const STACK_MODULE = new URL('../../supervisor/src/stack.ts', import.meta.url).href;
const ENGINE_MODULE = new URL('../../engine/src/index.ts', import.meta.url).href;
const SHOTS = process.env.LAB_SCREENSHOTS ?? '/tmp';
/** `datasetPath('gpt2-tokenizer', 'tokenizer.json')` of @lab/common. */
const GPT2_TOKENIZER =
  process.env.LAB_DATASETS !== undefined
    ? `${process.env.LAB_DATASETS}/gpt2-tokenizer/tokenizer.json`
    : fileURLToPath(new URL('../../../shared/datasets/gpt2-tokenizer/tokenizer.json', import.meta.url));
const EOT = 50256;
const MODEL = 'tiny-gpt2';
const OTHER = 'tiny-gpt2-b';
const LIMIT = 3;

interface Metric {
  name: string;
  value: number | null;
  stderr: number | null;
  group: string;
}
interface Run {
  id: string;
  state: string;
  error: string;
  metrics: Metric[];
  prompt: { fewshot: number; firstItem: string } | null;
}
interface Item {
  index: number;
  details: unknown;
  choices: { text: string; loglik: number; loglikNorm: number; gold: boolean }[];
}
interface Task {
  name: string;
  metrics: string[];
}

let stack: Stack;
let b: LaunchedBrowser;
let page: Page;
/** The stack's LAB_HOME: model folders live under it, inside the lab's data roots. */
let home = '';
let runId = '';
let run: Run;
let headlineMetric = '';

const api = stackApi(() => stack.url);
const post = <T>(path: string, body: unknown) => api<T>(path, { method: 'POST', body: JSON.stringify(body) });

/** A 1-layer GPT-2 with random weights (scaled up so the choices' logliks differ) and GPT-2's tokenizer. */
function tinyGpt2(engine: Engine, seed: number): string {
  const dir = join(home, 'models', `tiny-gpt2-seed-${seed}`);
  const cfg = engine.gpt2Config({
    nLayer: 1,
    nHead: 2,
    nEmbd: 32,
    ffnHidden: 64,
    blockSize: 256,
    vocabSize: 50257,
    bias: true,
    activation: 'gelu',
  });
  const params = engine.paramLayout(cfg).init(seed);
  for (let i = 0; i < params.length; i++) params[i]! *= 4;
  mkdirSync(dir, { recursive: true });
  engine.saveCheckpoint(dir, { cfg, params });
  copyFileSync(GPT2_TOKENIZER, join(dir, 'tokenizer.json'));
  writeFileSync(
    join(dir, 'generation_config.json'),
    JSON.stringify({ eos_token_id: EOT, bos_token_id: EOT }),
  );
  return dir;
}

beforeAll(async () => {
  ensureDist();
  const [{ startStack }, engine] = (await Promise.all([
    import(/* @vite-ignore */ STACK_MODULE),
    import(/* @vite-ignore */ ENGINE_MODULE),
  ])) as [{ startStack: StartStack }, Engine];
  home = mkdtempSync(join(tmpdir(), 'lab-home-eval-ui-'));
  const models = [tinyGpt2(engine, 1), tinyGpt2(engine, 2)];
  [stack, b] = await Promise.all([startStack({ home, ports: 'free', output: 'buffer' }), launchBrowser()]);
  page = b.page;
  // Seeds whose 3-item HellaSwag scores differ (acc_norm 1/3 and 0), so a wrong number cannot pass.
  await post('/api/infer/models', { name: MODEL, path: models[0] });
  await post('/api/infer/models', { name: OTHER, path: models[1] });
}, 180_000);

afterAll(async () => {
  await b?.close();
  await stack?.stop();
  if (home) rmSync(home, { recursive: true, force: true });
});

describe('Eval page on the real stack', () => {
  it('shows the service’s refusal next to the field it names', async () => {
    await page.goto(`${stack.url}/#/eval`);
    await page.getByTestId('page-eval').waitFor();
    const modelSelect = page.getByTestId('eval-model');
    await modelSelect.locator(`option[value="${MODEL}"]`).waitFor({ state: 'attached', timeout: 15_000 });
    await modelSelect.selectOption(MODEL);
    const taskSelect = page.getByTestId('eval-task');
    await taskSelect.locator('option[value="hellaswag"]').waitFor({ state: 'attached' });
    await taskSelect.selectOption('hellaswag');
    expect(await page.getByTestId('eval-task-desc').textContent()).toMatch(/HellaSwag/);

    await page.getByTestId('eval-fewshot').fill('30');
    await page.getByTestId('eval-submit').click();
    const err = page.getByTestId('eval-error-fewshot');
    await err.waitFor();
    expect(await err.textContent()).toMatch(/fewshot.*25/);
    // Next to its field: inside the same label as the input.
    expect(
      await err.evaluate((el) => !!el.closest('label')?.querySelector('[data-testid="eval-fewshot"]')),
    ).toBe(true);
    await page.getByTestId('eval-fewshot').fill('');
  });

  it('runs a 3-item HellaSwag eval and follows its progress live to the end', async () => {
    const streams: string[] = [];
    page.on('request', (r) => {
      if (/\/api\/eval\/runs\/[^/]+\/events$/.test(r.url())) streams.push(r.url());
    });
    await page.getByTestId('eval-limit').fill(String(LIMIT));
    const submitted = page.waitForResponse(
      (r) => r.url().endsWith('/api/eval/runs') && r.request().method() === 'POST',
    );
    await page.getByTestId('eval-submit').click();
    const res = await submitted;
    expect(res.status()).toBe(201);
    runId = ((await res.json()) as Run).id;

    const row = page.getByTestId(`eval-run-${runId}`);
    await row.waitFor();
    await expect.poll(() => row.getAttribute('data-state'), { timeout: 120_000 }).toBe('completed');
    const bar = row.getByTestId('eval-run-progress');
    expect(await bar.getAttribute('data-done')).toBe(String(LIMIT));
    expect(await bar.getAttribute('data-total')).toBe(String(LIMIT));
    // The page followed the run over its event stream.
    expect(streams.some((u) => u.includes(runId))).toBe(true);

    run = await api<Run>(`/api/eval/runs/${runId}`);
    expect(run.state).toBe('completed');
    expect(run.error).toBe('');
  }, 150_000);

  it('shows acc and acc_norm with their uncertainty and a two-line explanation of each', async () => {
    const view = page.getByTestId('eval-run-view');
    await expect.poll(() => view.getAttribute('data-run')).toBe(runId);
    await expect.poll(() => view.getAttribute('data-state')).toBe('completed');
    const tasks = (await api<{ tasks: Task[] }>('/api/eval/tasks')).tasks;
    headlineMetric = tasks.find((t) => t.name === 'hellaswag')!.metrics[0]!;
    for (const name of ['acc', 'acc_norm']) {
      const m = run.metrics.find((x) => x.name === name && x.group === '')!;
      const card = view.getByTestId(`eval-metric-${name}`);
      expect(Number(await card.getAttribute('data-value'))).toBe(m.value);
      expect(await card.getByTestId('eval-metric-value').textContent()).toBe(m.value!.toFixed(4));
      expect(await card.textContent()).toContain('95% interval');
      const explain = card.getByTestId(`eval-explain-${name}`);
      expect(await explain.locator('br').count()).toBe(1);
      expect(await explain.textContent()).toMatch(name === 'acc' ? /log-likelihood/ : /characters/);
    }
    // The headline (leaderboard) metric is marked.
    expect(await view.getByTestId(`eval-metric-${headlineMetric}`).textContent()).toContain('leaderboard');

    // The prompt format: zero-shot, no chat template, and the first item exactly as the model read it.
    const prompt = view.getByTestId('eval-prompt');
    await prompt.locator('summary').click();
    expect(await prompt.getByTestId('eval-prompt-fewshot').textContent()).toMatch(/^0/);
    expect(await prompt.getByTestId('eval-first-item').textContent()).toBe(run.prompt!.firstItem);
  });

  it('browses the wrong items, each choice with its loglik and loglik per character', async () => {
    const items = page.getByTestId('eval-items');
    await page.getByTestId('eval-wrong-only').check();
    const wrong = await api<{ items: Item[]; total: number }>(
      `/api/eval/runs/${runId}/items?wrong=true&limit=5`,
    );
    expect(wrong.total).toBeGreaterThan(0);
    await expect
      .poll(() => items.getByTestId('eval-items-range').getAttribute('data-total'))
      .toBe(String(wrong.total));
    await expect.poll(() => items.getByTestId('eval-item').count()).toBe(wrong.items.length);

    const first = wrong.items[0]!;
    const shown = items.locator(`[data-testid="eval-item"][data-index="${first.index}"]`);
    expect(await shown.getAttribute('data-correct')).toBe('false');
    const choices = shown.getByTestId('eval-choice');
    expect(await choices.count()).toBe(first.choices.length);
    const rows = await choices.evaluateAll((els) =>
      els.map((el) => ({
        loglik: Number(el.querySelector('.eval-ll')?.getAttribute('data-value')),
        loglikNorm: Number(el.querySelector('.eval-lln')?.getAttribute('data-value')),
        llText: el.querySelector('.eval-ll')?.textContent ?? '',
        gold: el.getAttribute('data-gold') === 'true',
        acc: el.getAttribute('data-acc-pick') === 'true',
        norm: el.getAttribute('data-norm-pick') === 'true',
      })),
    );
    const argmax = (xs: number[]) => xs.indexOf(Math.max(...xs));
    const accPick = argmax(first.choices.map((c) => c.loglik));
    const normPick = argmax(first.choices.map((c) => c.loglikNorm));
    first.choices.forEach((c, i) => {
      expect(rows[i]!.loglik).toBe(c.loglik);
      expect(rows[i]!.loglikNorm).toBe(c.loglikNorm);
      expect(rows[i]!.llText).toBe(c.loglik.toFixed(3));
      expect(rows[i]!.gold).toBe(c.gold);
      expect(rows[i]!.acc).toBe(i === accPick);
      expect(rows[i]!.norm).toBe(i === normPick);
    });
    // Each metric's verdict, as the service recorded it and as the picks imply.
    const details = first.details as Record<string, boolean>;
    const verdicts = await shown
      .getByTestId('eval-verdict')
      .evaluateAll((els) =>
        els.map((el) => [el.getAttribute('data-metric'), el.getAttribute('data-right') === 'true']),
      );
    expect(Object.fromEntries(verdicts)).toEqual(details);
    expect(details.acc).toBe(first.choices[accPick]!.gold);
    expect(details.acc_norm).toBe(first.choices[normPick]!.gold);
    expect(await shown.getByTestId('eval-why').textContent()).toMatch(
      accPick === normPick ? /agree/ : /the choices’ lengths decided/,
    );
    await page.screenshot({ path: `${SHOTS}/lab-eval.png`, fullPage: true });
  });

  it('lists the model on the leaderboard with its score, sortable, and on the radar', async () => {
    // A second model, scored over HTTP, so the table has an order to sort.
    const other = await post<Run>('/api/eval/runs', { model: OTHER, task: 'hellaswag', limit: LIMIT });
    await expect
      .poll(async () => (await api<Run>(`/api/eval/runs/${other.id}`)).state, { timeout: 120_000 })
      .toBe('completed');
    const otherRun = await api<Run>(`/api/eval/runs/${other.id}`);

    await page.getByTestId('eval-tab-leaderboard').click();
    const board = page.getByTestId('eval-leaderboard');
    const cell = (model: string) =>
      board.locator(
        `[data-testid="lb-row"][data-model="${model}"] [data-testid="lb-cell"][data-task="hellaswag"]`,
      );
    await cell(MODEL).waitFor();
    await cell(OTHER).waitFor();
    const expected = run.metrics.find((m) => m.name === headlineMetric && m.group === '')!.value;
    expect(await cell(MODEL).getAttribute('data-metric')).toBe(headlineMetric);
    expect(Number(await cell(MODEL).getAttribute('data-value'))).toBe(expected);
    expect((await cell(MODEL).textContent())?.trim().startsWith(expected!.toFixed(4))).toBe(true);
    const lb = await api<{ rows: { model: string; scores: { task: string; metric: Metric }[] }[] }>(
      '/api/eval/leaderboard',
    );
    const lbScore = lb.rows.find((r) => r.model === MODEL)!.scores.find((s) => s.task === 'hellaswag')!;
    expect(lbScore.metric.value).toBe(expected);

    // Sorting by the task's column, both ways.
    const mine = expected!;
    const theirs = otherRun.metrics.find((m) => m.name === headlineMetric && m.group === '')!.value!;
    expect(mine).not.toBe(theirs);
    const order = () =>
      board
        .getByTestId('lb-row')
        .evaluateAll((els) => els.map((el) => el.getAttribute('data-model')))
        .then((ms) => ms.filter((m) => m === MODEL || m === OTHER));
    const byScore = (desc: boolean) =>
      [
        [MODEL, mine],
        [OTHER, theirs],
      ]
        .sort((a, b) => (desc ? Number(b[1]) - Number(a[1]) : Number(a[1]) - Number(b[1])))
        .map((x) => x[0]);
    await board.getByTestId('lb-sort-hellaswag').click();
    await expect.poll(order).toEqual(byScore(true));
    await board.getByTestId('lb-sort-hellaswag').click();
    await expect.poll(order).toEqual(byScore(false));

    const radar = board.getByTestId('eval-radar');
    await radar.waitFor();
    expect(Number(await radar.getAttribute('data-axes'))).toBeGreaterThanOrEqual(1);
    expect(await radar.locator(`.radar-series[data-model="${MODEL}"]`).count()).toBe(1);
    await page.screenshot({ path: `${SHOTS}/lab-eval-leaderboard.png`, fullPage: true });

    // A score opens its run.
    await cell(MODEL).locator('button').click();
    await expect.poll(() => page.getByTestId('eval-run-view').getAttribute('data-run')).toBe(runId);
  }, 180_000);

  it('logs no console errors beyond the refused run', () => {
    // The browser logs the deliberate 400 (few-shot 30) as a failed resource load: once, and nothing else.
    const refused = /status of 400 \(Bad Request\) \(\/api\/eval\/runs\)$/;
    expect(b.consoleErrors.filter((e) => refused.test(e))).toHaveLength(1);
    expect(unexpectedErrors(b.consoleErrors, [refused])).toEqual([]);
  });
});

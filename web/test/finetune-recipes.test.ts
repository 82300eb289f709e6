// The Fine-tune page's two recipes on the real stack (services as processes, nats-server, the gateway serving a
// fresh build of the UI) in Debian's chromium. A small character-level GPT-2 is pre-trained through svc-train
// and registered in svc-infer as "char-base" (its vocabulary covers the GSM8K examples and WikiText-2). The
// sweep starts one LoRA job per (rank, learning rate) pair from the form, named `<name>-r<rank>-lr<lr>`, with
// exactly those settings, overlays their curves and marks the lowest final validation loss; the forgetting
// check runs svc-eval's perplexity of WikiText-2 for the base and for the fine-tuned checkpoint and shows both
// and the change.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LaunchedBrowser, launchBrowser } from './browser.ts';
import { buildDistInto } from './dist.ts';
import { stackApi } from './stack-api.ts';

interface Stack {
  url: string;
  stop(graceMs?: number): Promise<void>;
}
type StartStack = (opts: {
  ports?: 'config' | 'free';
  output?: 'inherit' | 'buffer';
  env?: NodeJS.ProcessEnv;
}) => Promise<Stack>;
// Imported by URL so that the web's type check never reaches into the service packages.
const STACK_MODULE = new URL('../../supervisor/src/stack.ts', import.meta.url).href;
const SHOTS = process.env.LAB_SCREENSHOTS ?? '/tmp';
const DATASETS =
  process.env.LAB_DATASETS ?? fileURLToPath(new URL('../../../shared/datasets', import.meta.url));
const WIKITEXT = join(DATASETS, 'wikitext-2/wiki.test.raw.crlf-nonempty-lines');

const SWEEP = 'sw';
const RANKS = [2, 4];
const LRS = ['1e-3', '3e-3'];
const STEPS = 6;
const EVAL_EVERY = 3;
const TOKENS = 400;

interface Rec {
  instruction: string;
  input: string;
  output: string;
}
interface JobJson {
  id: string;
  name: string;
  state: string;
  error: string;
  valLoss: number;
  checkpoints: string[];
  request: { finetune?: { loraRank?: number; adapter?: string }; config?: { learningRate?: number } };
}
interface EvalRunJson {
  id: string;
  model: string;
  task: string;
  state: string;
  request: { textPath?: string; limit?: number };
  metrics: { name: string; value: number | null }[];
}

let stack: Stack;
let b: LaunchedBrowser;
let page: Page;
let dir = '';
let dataPath = '';

const api = stackApi(() => stack.url);

async function finished(id: string): Promise<JobJson> {
  for (let i = 0; i < 1200; i++) {
    const j = await api<JobJson>(`/api/train/jobs/${id}`);
    if (['completed', 'failed', 'cancelled'].includes(j.state)) return j;
    await new Promise((r) => setTimeout(r, 300));
  }
  throw new Error(`job ${id} did not finish`);
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'lab-ft-recipes-'));
  const alpaca = (file: string) => JSON.parse(readFileSync(join(DATASETS, 'alpaca', file), 'utf8')) as Rec[];
  const records = alpaca('gsm8k_train_alpaca.json')
    .filter((r) => r.instruction.length + r.output.length < 200)
    .slice(0, 80);
  dataPath = join(dir, 'gsm8k-alpaca.json');
  writeFileSync(dataPath, JSON.stringify(records));
  // The base reads Alpaca's prose, plus one line holding every character of the examples and of WikiText-2
  // (svc-eval encodes the whole text before it takes the first tokens).
  const prose = alpaca('alpaca_data_first335.json')
    .slice(0, 120)
    .map((r) => `${r.instruction}\n${r.input}\n${r.output}\n\n`)
    .join('');
  const chars = new Set(
    `User: Assistant: ${records.map((r) => `${r.instruction}\n${r.input}${r.output}`).join('')}${readFileSync(WIKITEXT, 'utf8')}`,
  );
  writeFileSync(join(dir, 'prose.txt'), `${prose}${[...chars].join('')}\n`);

  const build = buildDistInto(dir);
  const { startStack } = (await import(/* @vite-ignore */ STACK_MODULE)) as { startStack: StartStack };
  [stack, b] = await Promise.all([
    build.then((dist) =>
      startStack({ ports: 'free', output: 'buffer', env: { ...process.env, LAB_WEB_DIST: dist } }),
    ),
    launchBrowser(),
  ]);
  page = b.page;

  const pre = await api<{ id: string }>('/api/train/jobs', {
    method: 'POST',
    body: JSON.stringify({
      name: 'char-pre',
      dataPath: join(dir, 'prose.txt'),
      tokenizer: 'char',
      config: {
        iters: 30,
        batchSize: 8,
        context: 128,
        learningRate: 3e-3,
        evalInterval: 30,
        sampleTokens: 0,
        model: { nLayer: 1, nHead: 2, nEmbd: 32 },
      },
    }),
  });
  const done = await finished(pre.id);
  expect(done.error).toBe('');
  await api('/api/infer/models', {
    method: 'POST',
    body: JSON.stringify({ name: 'char-base', path: done.checkpoints.at(-1) }),
  });
}, 240_000);

afterAll(async () => {
  await b?.close();
  await stack?.stop();
});

describe('Fine-tune recipes on the real stack', () => {
  it('sweeps rank × learning rate from the form: one job per pair, curves overlaid, the best marked', async () => {
    await page.goto(`${stack.url}/#/finetune`);
    const form = page.getByTestId('ft-form');
    const base = form.locator('select[name="baseModel"]');
    await expect.poll(() => base.locator('option[value="char-base"]').count(), { timeout: 30_000 }).toBe(1);
    await base.selectOption('char-base');
    await form.locator('input[name="source"][value="path"]').check();
    await form.locator('input[name="dataPath"]').fill(dataPath);
    await form.locator('input[name="name"]').fill(SWEEP);
    for (const [k, v] of [
      ['iters', String(STEPS)],
      ['batchSize', '4'],
      ['context', '128'],
      ['evalInterval', String(EVAL_EVERY)],
    ] as const)
      await form.locator(`input[name="${k}"]`).fill(v);

    const sweep = page.getByTestId('ft-sweep');
    await sweep.locator('input[name="sweepRanks"]').fill(RANKS.join(', '));
    await sweep.locator('input[name="sweepLrs"]').fill(LRS.join(' '));
    const names = RANKS.flatMap((r) => LRS.map((lr) => `${SWEEP}-r${r}-lr${lr}`));
    expect(await sweep.getByTestId('ft-sweep-plan').textContent()).toContain(`4 jobs: ${names.join(', ')}`);
    await sweep.getByTestId('ft-sweep-run').click();

    const rows = sweep.getByTestId('ft-sweep-row');
    await expect.poll(() => rows.count(), { timeout: 30_000 }).toBe(4);
    expect(await page.getByTestId('ft-sweep-error').count()).toBe(0);
    // The jobs: the form's settings, each with its own rank and learning rate.
    const ids = await rows.evaluateAll((els) => els.map((e) => e.getAttribute('data-job') ?? ''));
    const jobs = await Promise.all(ids.map((id) => api<JobJson>(`/api/train/jobs/${id}`)));
    expect(jobs.map((j) => j.name)).toEqual(names);
    expect(jobs.map((j) => [j.request.finetune?.loraRank, j.request.config?.learningRate])).toEqual(
      RANKS.flatMap((r) => LRS.map((lr) => [r, Number(lr)])),
    );
    expect(jobs.every((j) => j.request.finetune?.adapter === 'lora')).toBe(true);

    const results = sweep.getByTestId('ft-sweep-results');
    await expect.poll(() => results.getAttribute('data-done'), { timeout: 180_000 }).toBe('true');
    const final = await Promise.all(ids.map((id) => finished(id)));
    expect(final.map((j) => [j.state, j.error])).toEqual(ids.map(() => ['completed', '']));

    // One chart: a validation and a training series per job, every evaluation of every job drawn.
    const chart = sweep.getByTestId('ft-sweep-chart');
    expect(await chart.getAttribute('data-series')).toBe('8');
    expect(Number(await chart.getAttribute('data-points'))).toBe(4 * (STEPS / EVAL_EVERY));
    expect(await chart.locator('canvas').count()).toBeGreaterThan(0);
    const legend = await chart.locator('.u-legend .u-label').allTextContents();
    for (const r of RANKS)
      for (const lr of LRS)
        expect(legend).toEqual(expect.arrayContaining([`r${r} lr${lr} val`, `r${r} lr${lr} train`]));

    // The table: each job's last validation loss, as svc-train recorded it, and the lowest one marked.
    const vals = (await rows.evaluateAll((els) => els.map((e) => e.getAttribute('data-val')))).map(Number);
    for (let i = 0; i < 4; i++) expect(vals[i]).toBeCloseTo(final[i]!.valLoss, 5);
    const low = vals.indexOf(Math.min(...vals));
    expect(await rows.evaluateAll((els) => els.map((e) => e.getAttribute('data-best')))).toEqual(
      vals.map((_, i) => (i === low ? 'true' : 'false')),
    );
    expect(await sweep.getByTestId('ft-sweep-best').count()).toBe(1);
    expect(await sweep.getByTestId('ft-sweep-summary').textContent()).toContain(
      `rank ${RANKS[Math.floor(low / 2)]} at learning rate ${LRS[low % 2]}`,
    );
    await page.screenshot({ path: `${SHOTS}/lab-finetune-sweep.png`, fullPage: true });
  }, 240_000);

  it('checks forgetting: perplexity of WikiText-2 for the base and the fine-tuned checkpoint, and the change', async () => {
    const best = await page
      .getByTestId('ft-sweep-row')
      .and(page.locator('[data-best="true"]'))
      .getAttribute('data-job');
    await page.getByTestId(`ft-job-${best}`).click();
    const view = page.getByTestId('ft-job');
    await expect.poll(() => view.getAttribute('data-job'), { timeout: 15_000 }).toBe(best);
    const check = view.getByTestId('ft-forget');
    await check.waitFor({ timeout: 30_000 });
    const tuned = `${best}@${STEPS}`;
    await expect
      .poll(() => check.locator('select[name="forgetStep"]').inputValue(), { timeout: 15_000 })
      .toBe(String(STEPS));
    await check.locator('input[name="forgetLimit"]').fill(String(TOKENS));
    await check.getByTestId('ft-forget-run').click();

    const result = check.getByTestId('ft-forget-result');
    await result.waitFor({ timeout: 120_000 });
    expect(await check.getByTestId('ft-forget-error').count()).toBe(0);
    const rows = check.getByTestId('ft-forget-row');
    expect(await rows.evaluateAll((els) => els.map((e) => e.getAttribute('data-model')))).toEqual([
      'char-base',
      tuned,
    ]);
    // The numbers are svc-eval's: perplexity runs over the first tokens of WikiText-2's raw test split.
    const runIds = await rows.evaluateAll((els) => els.map((e) => e.getAttribute('data-run') ?? ''));
    const runs = await Promise.all(runIds.map((id) => api<EvalRunJson>(`/api/eval/runs/${id}`)));
    const ppl = runs.map((r) => r.metrics.find((m) => m.name === 'perplexity')?.value ?? Number.NaN);
    for (const r of runs) {
      expect(r.state).toBe('completed');
      expect(r.task).toBe('perplexity');
      expect(r.request.textPath).toBe(WIKITEXT);
      expect(r.request.limit).toBe(TOKENS);
    }
    expect(runs.map((r) => r.model)).toEqual(['char-base', tuned]);
    expect(ppl[0]).toBeGreaterThan(1);
    expect(ppl[1]).not.toBe(ppl[0]);
    expect(Number(await result.getAttribute('data-base'))).toBeCloseTo(ppl[0]!, 6);
    expect(Number(await result.getAttribute('data-tuned'))).toBeCloseTo(ppl[1]!, 6);
    const change = ppl[1]! / ppl[0]! - 1;
    expect(Number(await result.getAttribute('data-change'))).toBeCloseTo(change, 9);
    expect(await result.getAttribute('data-verdict')).toBe(
      change > 0.01 ? 'forgot' : change < -0.01 ? 'improved' : 'unchanged',
    );
    expect(await result.textContent()).toContain(`${change >= 0 ? '+' : ''}${(change * 100).toFixed(1)}%`);
    await page.screenshot({ path: `${SHOTS}/lab-finetune-forgetting.png`, fullPage: true });
  }, 180_000);

  it('logs no console errors', () => {
    expect(b.consoleErrors).toEqual([]);
  });
});

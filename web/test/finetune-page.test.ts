// The Fine-tune page on the real stack (services as processes, nats-server, the gateway serving a fresh build
// of the UI) in Debian's chromium: a small character-level GPT-2 is pre-trained through svc-train on Alpaca's
// prose and registered in svc-infer as "char-base"; the page fine-tunes it with LoRA on GSM8K examples in
// Alpaca form, its curves fill while it runs, the finished job lists its checkpoints with their lineage, and
// "Chat with it" opens the Playground on the adapted model, which answers. A bad request shows the server's
// sentence next to the field it names.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LaunchedBrowser, launchBrowser } from './browser.ts';
import { buildDistInto } from './dist.ts';
import { holdRequests } from './held-requests.ts';
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
const ALPACA =
  process.env.LAB_DATASETS !== undefined
    ? `${process.env.LAB_DATASETS}/alpaca`
    : fileURLToPath(new URL('../../../shared/datasets/alpaca', import.meta.url));

const JOB = 'ft-page';
const STEPS = 40;
const EVAL_EVERY = 10;
const DPO_STEPS = 8;

interface Rec {
  instruction: string;
  input: string;
  output: string;
}
const read = (file: string) => JSON.parse(readFileSync(join(ALPACA, file), 'utf8')) as Rec[];

let stack: Stack;
let b: LaunchedBrowser;
let page: Page;
let dir = '';
let dataPath = '';

const api = stackApi(() => stack.url);

interface JobJson {
  id: string;
  state: string;
  error: string;
  checkpoints: string[];
}

async function finished(id: string): Promise<JobJson> {
  for (let i = 0; i < 1200; i++) {
    const j = await api<JobJson>(`/api/train/jobs/${id}`);
    if (['completed', 'failed', 'cancelled'].includes(j.state)) return j;
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`job ${id} did not finish`);
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'lab-ft-page-'));
  // The examples: short GSM8K problems in Alpaca form. The base reads Alpaca's prose as plain text (as
  // pre-training would leave it) plus one line holding every character of the examples, so the character
  // vocabulary covers them.
  const records = read('gsm8k_train_alpaca.json')
    .filter((r) => r.instruction.length + r.output.length < 220)
    .slice(0, 240);
  dataPath = join(dir, 'gsm8k-alpaca.json');
  writeFileSync(dataPath, JSON.stringify(records));
  const prose = read('alpaca_data_first335.json')
    .map((r) => `${r.instruction}\n${r.input}\n${r.output}\n\n`)
    .join('');
  const chars = new Set(
    records.map((r) => `User: Assistant: ${r.instruction}\n${r.input}${r.output}`).join(''),
  );
  writeFileSync(join(dir, 'prose.txt'), `${prose}${[...chars].join('')}\n`);

  // A build of the UI as it is now (with this page), served by this stack only.
  const build = buildDistInto(dir);
  const { startStack } = (await import(/* @vite-ignore */ STACK_MODULE)) as { startStack: StartStack };
  [stack, b] = await Promise.all([
    build.then((dist) =>
      startStack({ ports: 'free', output: 'buffer', env: { ...process.env, LAB_WEB_DIST: dist } }),
    ),
    launchBrowser(),
  ]);
  page = b.page;

  // The base model: pre-trained here by svc-train, its last checkpoint registered in svc-infer's registry.
  const pre = await api<{ id: string }>('/api/train/jobs', {
    method: 'POST',
    body: JSON.stringify({
      name: 'char-pre',
      dataPath: join(dir, 'prose.txt'),
      tokenizer: 'char',
      config: {
        iters: 100,
        batchSize: 8,
        context: 192,
        learningRate: 3e-3,
        evalInterval: 50,
        sampleTokens: 0,
        model: { nLayer: 2, nHead: 4, nEmbd: 64 },
      },
    }),
  });
  const done = await finished(pre.id);
  expect(done.error).toBe('');
  await api('/api/infer/models', {
    method: 'POST',
    body: JSON.stringify({ name: 'char-base', path: done.checkpoints.at(-1) }),
  });
}, 480_000);

afterAll(async () => {
  await b?.close();
  await stack?.stop();
});

describe('Fine-tune page on the real stack', () => {
  it('offers the base model with its family’s LoRA targets', async () => {
    await page.goto(`${stack.url}/#/finetune`);
    await page.getByTestId('page-finetune').waitFor();
    const form = page.getByTestId('ft-form');
    const base = form.locator('select[name="baseModel"]');
    await expect.poll(() => base.locator('option[value="char-base"]').count(), { timeout: 30_000 }).toBe(1);
    await base.selectOption('char-base');
    await expect.poll(() => page.getByTestId('ft-targets').getAttribute('data-family')).toBe('gpt2');
    const boxes = form.locator('input[name="loraTargets"]');
    expect(await boxes.evaluateAll((els) => els.map((e) => (e as HTMLInputElement).value))).toEqual([
      'c_attn',
      'c_proj',
      'c_fc',
    ]);
    // GPT-2's default (PEFT's): the fused attention projection.
    expect(
      await boxes.evaluateAll((els) =>
        els.filter((e) => (e as HTMLInputElement).checked).map((e) => e.getAttribute('value')),
      ),
    ).toEqual(['c_attn']);
    // DPO is offered, with its beta.
    await form.locator('input[name="method"][value="dpo"]').check();
    expect(await form.locator('input[name="beta"]').inputValue()).toBe('0.1');
    await form.locator('input[name="method"][value="sft"]').check();
    expect(await form.locator('input[name="beta"]').count()).toBe(0);
  }, 60_000);

  it('estimates before submitting, following rank and adapter', async () => {
    const form = page.getByTestId('ft-form');
    const est = page.getByTestId('ft-estimate');
    await est.waitFor({ timeout: 30_000 });
    const trainable = () => est.getAttribute('data-trainable').then(Number);
    // char-base: 2 layers of width 64; c_attn maps 64 → 192, so a rank-r adapter holds 2 · r · (64 + 192).
    await form.locator('input[name="loraRank"]').fill('8');
    await expect.poll(trainable, { timeout: 15_000 }).toBe(2 * 8 * (64 + 192));
    await form.locator('input[name="loraRank"]').fill('16');
    await expect.poll(trainable, { timeout: 15_000 }).toBe(2 * 16 * (64 + 192));
    // Adding c_fc (64 → the MLP's width) adds its adapter, which scales with the rank as c_attn's does.
    await form.locator('input[name="loraTargets"][value="c_fc"]').check();
    await expect.poll(trainable, { timeout: 15_000 }).toBeGreaterThan(2 * 16 * (64 + 192));
    const cfc16 = (await trainable()) - 2 * 16 * (64 + 192);
    await form.locator('input[name="loraRank"]').fill('8');
    await expect.poll(trainable, { timeout: 15_000 }).toBe(2 * 8 * (64 + 192) + cfc16 / 2);
    await form.locator('input[name="loraTargets"][value="c_fc"]').uncheck();
    await expect.poll(trainable, { timeout: 15_000 }).toBe(2 * 8 * (64 + 192));
    const weights = () => est.getByTestId('ft-estimate-weights').getAttribute('data-bytes').then(Number);
    const fp32 = await weights();
    // QLoRA holds the projections in 4 bits: the base's weights shrink, the adapter stays.
    await form.locator('input[name="adapter"][value="qlora"]').check();
    await expect.poll(weights, { timeout: 15_000 }).toBeLessThan(fp32);
    expect(await est.getByTestId('ft-estimate-weights').textContent()).toMatch(/NF4/);
    expect(await trainable()).toBe(2 * 8 * (64 + 192));
    await form.locator('input[name="adapter"][value="full"]').check();
    await expect.poll(trainable, { timeout: 15_000 }).toBeGreaterThan(100_000);
    await form.locator('input[name="adapter"][value="lora"]').check();
    await expect.poll(trainable, { timeout: 15_000 }).toBe(2 * 8 * (64 + 192));
    expect(
      await est
        .getByTestId('ft-estimate-fit')
        .evaluateAll((els) => els.map((e) => e.getAttribute('data-device'))),
    ).toEqual(['this machine', 'a 16 GB GPU']);
  }, 60_000);

  it('previews the rendered examples with the answer tokens highlighted and checks the end of turn', async () => {
    const form = page.getByTestId('ft-form');
    await form.locator('input[name="source"][value="path"]').check();
    await form.locator('input[name="dataPath"]').fill(dataPath);
    await form.locator('input[name="context"]').fill('192');
    await page.getByTestId('ft-preview-run').click();
    const preview = page.getByTestId('ft-preview');
    await preview.waitFor({ timeout: 30_000 });
    const records = JSON.parse(readFileSync(dataPath, 'utf8')) as Rec[];
    const shown = (t: string) => t.replace(/\n/g, '↵\n');
    const first = preview.getByTestId('ft-preview-example').first().getByTestId('ft-preview-tokens');
    const r0 = records[0]!;
    // The answer (what follows "Assistant:") carries the loss; the prompt is context.
    const loss = await first.locator('span[data-loss="true"]').allTextContents();
    expect(loss.join('')).toBe(shown(` ${r0.output}\n\n`));
    const context = await first.locator('span[data-loss="false"]').allTextContents();
    expect(context.join('')).toBe(
      shown(`User: ${r0.instruction}${r0.input ? `\n\n${r0.input}` : ''}\n\nAssistant:`),
    );
    // Highlighted: the loss tokens are drawn on a background the context tokens lack.
    const bg = (sel: string) =>
      first
        .locator(sel)
        .first()
        .evaluate((el) => getComputedStyle(el).backgroundColor);
    expect(await bg('span[data-loss="true"]')).toBe('rgb(255, 224, 138)');
    expect(await bg('span[data-loss="false"]')).toBe('rgba(0, 0, 0, 0)');
    // Truncation over every example at the context: a row holds context + 1 tokens.
    const rendered = records.map(
      (r) => `User: ${r.instruction}${r.input ? `\n\n${r.input}` : ''}\n\nAssistant: ${r.output}\n\n`.length,
    );
    const cut = rendered.filter((n) => n > 193).length;
    expect(Number(await page.getByTestId('ft-preview-truncation').getAttribute('data-truncated'))).toBe(cut);
    // A char model has no EOS: the line says what ends an answer instead.
    const eos = page.getByTestId('ft-eos');
    expect(await eos.getAttribute('data-status')).toBe('info');
    expect(await eos.textContent()).toMatch(/no EOS token/);
    expect(await eos.textContent()).toMatch(/“User:”/);
    await page.screenshot({ path: `${SHOTS}/lab-finetune-preview.png`, fullPage: true });
    // Another context makes the preview stale.
    await form.locator('input[name="context"]').fill('');
    await preview.waitFor({ state: 'detached' });
  }, 60_000);

  it('puts a server error next to its field', async () => {
    const form = page.getByTestId('ft-form');
    await form.locator('input[name="source"][value="path"]').check();
    await form.locator('input[name="dataPath"]').fill(dataPath);
    await form.locator('input[name="iters"]').fill('5');
    await form.locator('input[name="loraRank"]').fill('0');
    const before = (await api<{ total: number }>('/api/train/jobs')).total;
    await page.getByTestId('ft-submit').click();
    const err = form.locator('[data-testid="ft-field-error"][data-field="loraRank"]');
    await err.waitFor({ timeout: 15_000 });
    expect(await err.textContent()).toMatch(/rank/i);
    expect(await err.textContent()).not.toMatch(/finetune\.loraRank/);
    expect(await err.evaluate((el) => !!el.closest('label')?.querySelector('input[name="loraRank"]'))).toBe(
      true,
    );
    expect(await form.locator('input[name="loraRank"]').getAttribute('aria-invalid')).toBe('true');
    expect((await api<{ total: number }>('/api/train/jobs')).total).toBe(before);

    // A file without instruction examples: svc-train's sentence under the path.
    const plain = join(dir, 'plain.jsonl');
    writeFileSync(plain, '{"text": "just some prose"}\n{"title": "x"}\n');
    await form.locator('input[name="loraRank"]').fill('8');
    await err.waitFor({ state: 'detached' });
    await form.locator('input[name="dataPath"]').fill(plain);
    await page.getByTestId('ft-submit').click();
    const pathErr = form.locator('[data-testid="ft-field-error"][data-field="dataPath"]');
    await pathErr.waitFor({ timeout: 15_000 });
    expect(await pathErr.textContent()).toMatch(/Example 1 is not an instruction example/);
    await page.screenshot({ path: `${SHOTS}/lab-finetune-error.png`, fullPage: true });
  }, 60_000);

  it('fine-tunes with LoRA: live curves and sample, checkpoints with lineage', async () => {
    const form = page.getByTestId('ft-form');
    await form.locator('input[name="dataPath"]').fill(dataPath);
    await form.locator('input[name="name"]').fill(JOB);
    await form.locator('input[name="loraTargets"][value="c_fc"]').check();
    for (const [k, v] of [
      ['loraRank', '8'],
      ['iters', String(STEPS)],
      ['batchSize', '8'],
      ['learningRate', '3e-3'],
      ['context', '192'],
      ['evalInterval', String(EVAL_EVERY)],
    ] as const)
      await form.locator(`input[name="${k}"]`).fill(v);
    await page.getByTestId('ft-submit').click();

    const view = page.getByTestId('ft-job');
    await view.waitFor({ timeout: 15_000 });
    const state = page.getByTestId('ft-job-state');
    // The curves fill while it runs: some points are drawn before the last step (a live stream, not a
    // history shown after the end).
    const lossPoints = () => page.getByTestId('ft-chart-loss').getAttribute('data-points').then(Number);
    await expect
      .poll(
        async () => {
          const n = await lossPoints();
          return n > 0 && n < STEPS;
        },
        { timeout: 240_000, interval: 100 },
      )
      .toBe(true);
    await expect.poll(() => state.getAttribute('data-state'), { timeout: 300_000 }).toBe('completed');
    expect(await page.getByTestId('ft-job-error').count()).toBe(0);
    expect(await lossPoints()).toBe(STEPS);
    expect(Number(await page.getByTestId('ft-chart-val').getAttribute('data-points'))).toBe(
      STEPS / EVAL_EVERY,
    );
    // uPlot drew them (its canvas exists and its data holds the points).
    expect(await page.getByTestId('ft-chart-loss').locator('canvas').count()).toBeGreaterThan(0);
    const sample = (await page.getByTestId('ft-sample').textContent()) ?? '';
    expect(sample.length).toBeGreaterThan(0);
    expect(sample).not.toMatch(/No sample yet/);

    // Checkpoints with lineage.
    // (The state arrives on the stream a moment before the job record with its last checkpoint.)
    const rows = page.getByTestId('ft-checkpoint');
    await expect.poll(() => rows.last().getAttribute('data-step'), { timeout: 15_000 }).toBe(String(STEPS));
    const lineage = page.getByTestId('ft-lineage');
    expect(await lineage.getByTestId('lineage-base').textContent()).toBe('char-base');
    expect(await lineage.getByTestId('lineage-method').textContent()).toMatch(/^SFT/);
    expect(await lineage.getByTestId('lineage-rank').textContent()).toBe('8');
    expect(await lineage.getByTestId('lineage-alpha').textContent()).toBe('16');
    expect(await lineage.getByTestId('lineage-targets').textContent()).toBe('c_attn, c_fc');
    expect(await lineage.getByTestId('lineage-data').textContent()).toBe(dataPath);
    // The job list shows it as a fine-tune of the base.
    const listed = page.getByTestId('ft-job-list').locator('tr[data-state="completed"]');
    expect(await listed.first().textContent()).toContain('char-base');
    await page.screenshot({ path: `${SHOTS}/lab-finetune.png`, fullPage: true });
  }, 420_000);

  it('“Chat with it” opens the Playground on the adapted model, which answers', async () => {
    const link = page.getByTestId('ft-checkpoint').last().getByTestId('ft-chat');
    await link.click();
    await page.getByTestId('page-playground').waitFor();
    await expect
      .poll(() => page.getByTestId('pg-model').inputValue(), { timeout: 30_000 })
      .toBe(`${JOB}@${STEPS}`);
    await page
      .getByTestId('chat-input')
      .fill('Tom has 3 apples and buys 2 more. How many apples does he have?');
    const requestP = page.waitForRequest((r) => r.url().endsWith('/api/infer/chat'), { timeout: 60_000 });
    await page.getByTestId('chat-send').click();
    const sent = (await requestP).postDataJSON() as { model: string };
    expect(sent.model).toBe(`${JOB}@${STEPS}`);
    const answer = page.locator('.msg.assistant').last();
    await expect
      .poll(() => answer.getAttribute('data-status'), { timeout: 120_000 })
      .toMatch(/^(done|stopped)$/);
    expect(await answer.getAttribute('data-status')).toBe('done');
    const text = (await answer.getByTestId('assistant-text').textContent()) ?? '';
    expect(text.trim().length).toBeGreaterThan(0);
    await page.screenshot({ path: `${SHOTS}/lab-finetune-chat.png`, fullPage: true });
  }, 180_000);

  it('fine-tunes from a svc-data version in Alpaca form, which the lineage names', async () => {
    const created = await api<{ id: string }>('/api/data/datasets', {
      method: 'POST',
      body: JSON.stringify({ path: dataPath, name: 'gsm8k-alpaca', format: 'alpaca' }),
    });
    await page.goto('about:blank');
    await page.goto(`${stack.url}/#/finetune`);
    const form = page.getByTestId('ft-form');
    const option = form.locator(`select[name="dataset"] option[value="${created.id}@1"]`);
    await expect.poll(() => option.count(), { timeout: 30_000 }).toBe(1);
    expect(await option.getAttribute('data-fits')).toBe('true');
    await form.locator('select[name="dataset"]').selectOption(`${created.id}@1`);
    await expect
      .poll(() => form.locator('select[name="baseModel"]').inputValue(), { timeout: 30_000 })
      .toBe('char-base');
    await form.locator('input[name="name"]').fill('ft-dataset');
    await form.locator('input[name="iters"]').fill('400');
    await page.getByTestId('ft-submit').click();
    const view = page.locator('[data-testid="ft-job"]');
    await view.waitFor({ timeout: 30_000 });
    expect(await page.locator('[data-testid="ft-field-error"], [data-testid="ft-error"]').count()).toBe(0);
    await expect
      .poll(() => view.getByTestId('lineage-data').textContent(), { timeout: 15_000 })
      .toBe(`${created.id} v1`);
    expect(await view.getByTestId('lineage-targets').textContent()).toBe('c_attn');
    await view.getByTestId('ft-cancel').click();
    await expect
      .poll(() => view.getByTestId('ft-job-state').getAttribute('data-state'), { timeout: 60_000 })
      .toBe('cancelled');
  }, 150_000);

  it('a short DPO run draws the rewards and the preference accuracy live', async () => {
    // Pairs from the same examples (so the char vocabulary covers them): the right answer is chosen, another
    // problem's answer rejected.
    const records = JSON.parse(readFileSync(dataPath, 'utf8')) as Rec[];
    const pairs = records.slice(0, 48).map((r, i) => ({
      prompt: r.instruction,
      chosen: r.output,
      rejected: records[(i + 7) % 48]!.output,
    }));
    const pairsPath = join(dir, 'pairs.jsonl');
    writeFileSync(pairsPath, pairs.map((p) => JSON.stringify(p)).join('\n'));
    const form = page.getByTestId('ft-form');
    await form.locator('input[name="source"][value="path"]').check();
    await form.locator('input[name="dataPath"]').fill(pairsPath);
    await form.locator('input[name="method"][value="dpo"]').check();
    await form.locator('input[name="name"]').fill('ft-dpo');
    for (const [k, v] of [
      ['iters', String(DPO_STEPS)],
      ['batchSize', '4'],
      ['learningRate', '3e-3'],
      ['context', '192'],
      ['evalInterval', '4'],
    ] as const)
      await form.locator(`input[name="${k}"]`).fill(v);
    await page.getByTestId('ft-submit').click();
    const view = page.locator('[data-testid="ft-job"]');
    await expect.poll(() => view.locator('h2').textContent(), { timeout: 30_000 }).toBe('ft-dpo');
    const rewards = view.getByTestId('ft-chart-rewards');
    await rewards.waitFor({ timeout: 30_000 });
    await expect
      .poll(() => view.getByTestId('ft-job-state').getAttribute('data-state'), { timeout: 120_000 })
      .toBe('completed');
    expect(await page.getByTestId('ft-job-error').count()).toBe(0);
    expect(Number(await rewards.getAttribute('data-points'))).toBe(DPO_STEPS);
    const plot = (testId: string) => view.getByTestId(testId).locator('canvas').count();
    expect(await plot('ft-chart-rewards')).toBeGreaterThan(0);
    expect(await plot('ft-chart-accuracy')).toBeGreaterThan(0);
    expect(await view.getByTestId('ft-pref-latest').textContent()).toMatch(
      /margin -?[\d.]+(e-?\d+)?, accuracy \d+%/,
    );
    await page.screenshot({ path: `${SHOTS}/lab-finetune-dpo.png`, fullPage: true });
  }, 180_000);

  it('keeps Preview and Start where they are when the estimate arrives', async () => {
    // Hold the first estimate of a fresh page until the buttons have been measured: above them, its table
    // (~10 rows) pushed them down under a click made as it arrived.
    const estimate = await holdRequests(page, '**/api/train/finetune/estimate');
    try {
      await page.goto('about:blank');
      await page.goto(`${stack.url}/#/finetune`);
      const base = page.getByTestId('ft-form').locator('select[name="baseModel"]');
      await expect.poll(() => base.locator('option[value="char-base"]').count(), { timeout: 30_000 }).toBe(1);
      await base.selectOption('char-base');
      const y = async () =>
        Promise.all(
          ['ft-preview-run', 'ft-submit'].map(async (id) => (await page.getByTestId(id).boundingBox())!.y),
        );
      const before = await y();
      expect(await page.getByTestId('ft-estimate').count()).toBe(0);
      estimate.release();
      await page.getByTestId('ft-estimate').waitFor({ timeout: 15_000 });
      expect(await y()).toEqual(before);
    } finally {
      await estimate.stop();
    }
  }, 60_000);

  it('logs no console errors but the two refused requests', () => {
    // Chromium logs every 4xx response; the only ones are the two bad submissions above.
    expect(b.consoleErrors).toEqual([
      'Failed to load resource: the server responded with a status of 400 (Bad Request) (/api/train/jobs)',
      'Failed to load resource: the server responded with a status of 400 (Bad Request) (/api/train/jobs)',
    ]);
  });
});

// Status page on the real stack (issue 17 item 9): each service says how many of its RPCs are implemented,
// running work of every kind is listed, bus events read as sentences (raw JSON behind a toggle), and with the
// in-process bus the events panel says why it stays empty.
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeEvent, rpcsText } from '../src/pages/status/describe.ts';
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

const SERVICES = ['tokenize', 'data', 'train', 'infer', 'eval'];

let stack: Stack;
let b: LaunchedBrowser;
let page: Page;
let jobId = '';
/** Responses of 500 and above that the page received, to name them when console errors are checked. */
const failed: string[] = [];

const api = stackApi(() => stack.url);

beforeAll(async () => {
  ensureDist();
  const { startStack } = (await import(/* @vite-ignore */ STACK_MODULE)) as { startStack: StartStack };
  [stack, b] = await Promise.all([startStack({ ports: 'free', output: 'buffer' }), launchBrowser()]);
  page = b.page;
  page.on('response', (r) => {
    if (r.status() >= 500) failed.push(`${r.status()} ${r.url()}`);
  });
}, 180_000);

afterAll(async () => {
  if (jobId)
    await api(`/api/train/jobs/${encodeURIComponent(jobId)}/cancel`, { method: 'POST' }).catch(() => {});
  await b?.close();
  await stack?.stop();
});

describe('Status page on the real stack', () => {
  it('says per service how many of its RPCs are implemented', async () => {
    const health = await api<{
      services: { name: string; rpcs: { implemented: number; total: number; missing: string[] } | null }[];
    }>('/api/health');
    for (const s of health.services) {
      expect(s.rpcs, s.name).toBeTruthy();
      expect(s.rpcs!.total, s.name).toBeGreaterThan(1);
      expect(s.rpcs!.implemented + s.rpcs!.missing.length, s.name).toBe(s.rpcs!.total);
    }
    await page.goto(stack.url);
    for (const s of health.services) {
      const r = s.rpcs!;
      await expect
        .poll(() => page.getByTestId(`service-${s.name}`).getByTestId('service-rpcs').textContent(), {
          timeout: 15_000,
        })
        .toBe(`serving · ${r.implemented} of ${r.total} RPCs`);
    }
    expect(health.services.map((s) => s.name).sort()).toEqual([...SERVICES].sort());
  });

  it('lists a running training job, and its metrics events read as sentences', async () => {
    await page.goto(stack.url);
    await page.getByTestId('events-state').filter({ hasText: 'live' }).waitFor({ timeout: 15_000 });
    // Long enough to be seen running (tiny steps run fast); cancelled below.
    const job = await api<{ id: string }>('/api/train/jobs', {
      method: 'POST',
      body: JSON.stringify({
        name: 'status-running',
        dataPath: SHAKESPEARE,
        tokenizer: 'char',
        config: {
          iters: 1_000_000,
          batchSize: 2,
          context: 32,
          evalInterval: 10_000,
          sampleTokens: 0,
          threads: 1,
          model: { nLayer: 1, nHead: 2, nEmbd: 16 },
        },
      }),
    });
    jobId = job.id;
    const row = page.locator(`[data-testid="running-row"][data-id="${jobId}"]`);
    await row.waitFor({ timeout: 30_000 });
    expect(await row.getAttribute('data-kind')).toBe('training');
    await expect.poll(() => row.textContent(), { timeout: 60_000 }).toMatch(/running/);
    await expect
      .poll(() => row.getByTestId('running-progress').textContent())
      .toMatch(/^step \d+ of 1000000/);
    expect(await row.locator('a').getAttribute('href')).toBe('#/train');

    // A metrics event of this job: "step N · loss X.XX", not JSON.
    const metrics = page.locator(`[data-testid="event-row"][data-kind="metrics"]`).filter({ hasText: jobId });
    await metrics.first().waitFor({ timeout: 60_000 });
    const text = (await metrics.first().getByTestId('event-text').textContent()) ?? '';
    expect(text).toMatch(/^step \d+ · loss \d+\.\d\d\b/);
    expect(text).not.toContain('{');
    // The raw JSON is behind the row's toggle.
    const raw = metrics.first().locator('details.event-raw');
    expect(await raw.locator('pre').isVisible()).toBe(false);
    await raw.locator('summary').click();
    expect(await raw.locator('pre').textContent()).toContain(`"jobId": "${jobId}"`);
    await page.screenshot({ path: `${SHOTS}/lab-status-running.png`, fullPage: true });

    // Cancelled, it leaves the running table, and its state event reads as a sentence too (the newest row
    // of the job once its metrics stop; while it trains, metrics push older rows out of the last 50).
    await api(`/api/train/jobs/${encodeURIComponent(jobId)}/cancel`, { method: 'POST' });
    await expect.poll(() => row.count(), { timeout: 15_000 }).toBe(0);
    const state = page.locator(`[data-testid="event-row"][data-kind="job"]`).filter({ hasText: jobId });
    await expect
      .poll(() => state.first().getByTestId('event-text').textContent(), { timeout: 15_000 })
      .toMatch(/^job cancelled\b/);
  }, 150_000);

  it('explains an empty events panel when the bus is in-process (no NATS)', async () => {
    // The stack here has NATS when nats-server is on PATH; answer /api/health as a NATS-less lab would.
    await page.route('**/api/health', async (route) => {
      try {
        const res = await route.fetch();
        const body = (await res.json()) as { bus: { kind: string } };
        body.bus.kind = 'memory';
        await route.fulfill({ response: res, json: body });
      } catch {
        await route.continue().catch(() => {});
      }
    });
    try {
      await page.goto(stack.url);
      const note = page.getByTestId('events-no-nats');
      await note.waitFor({ timeout: 15_000 });
      expect(await note.textContent()).toMatch(/cannot\s+reach the gateway/);
      expect(await note.textContent()).toContain('nats-server');
      expect(await note.textContent()).toMatch(/PATH/);
    } finally {
      await page.unroute('**/api/health');
    }
  });

  it('logs no console errors', () => {
    expect(
      b.consoleErrors.filter((e) => !/EventSource/.test(e)),
      failed.join('; '),
    ).toEqual([]);
  });
});

describe('bus events and RPC counts as words', () => {
  it('reads each kind of subject as a sentence', () => {
    expect(describeEvent('lab.run.job-1.metrics', { step: 10, loss: 3.2104, kind: 'step' })).toEqual({
      kind: 'metrics',
      about: 'job-1',
      text: 'step 10 · loss 3.21',
    });
    expect(describeEvent('lab.job.job-1.state', { state: 'running', step: 0 }).text).toBe('job running');
    expect(
      describeEvent('lab.job.tokenize-bpe.state', {
        kind: 'tokenizer-train',
        name: 'bpe',
        state: 'running',
        done: 5,
        total: 40,
      }).text,
    ).toBe('tokenizer bpe running · 5 of 40 merges');
    expect(
      describeEvent('lab.job.data-ds1.state', { kind: 'data', datasetId: 'ds1', state: 'done' }).text,
    ).toBe('dataset ds1 done');
    expect(
      describeEvent('lab.eval.run-1.progress', {
        task: 'hellaswag',
        model: 'tiny@100',
        state: 'running',
        progress: { done: 3, total: 10, message: '' },
        metrics: [{ name: 'acc', value: 0.25 }],
      }).text,
    ).toBe('hellaswag on tiny@100 · running · 3/10 · acc 0.25');
    expect(
      describeEvent('lab.infer.generation', {
        model: 'tiny@100',
        completionTokens: 12,
        promptTokens: 4,
        ms: 30,
      }).text,
    ).toBe('tiny@100 generated 12 tokens · prompt 4 tokens · 30 ms');
    expect(describeEvent('lab.service.train.state', { state: 'serving', port: 7103, pid: 42 })).toEqual({
      kind: 'service',
      about: 'train',
      text: 'train serving · port 7103 · pid 42',
    });
    expect(describeEvent('lab.other', { a: 1 })).toEqual({ kind: 'other', about: '', text: 'lab.other' });
  });

  it('says "not built yet" for a service with no RPC implemented', () => {
    expect(rpcsText({ implemented: 0, total: 9, missing: [], version: '0.1.0' })).toBe('not built yet');
    expect(rpcsText({ implemented: 12, total: 12, missing: [], version: '0.1.0' })).toBe('12 of 12 RPCs');
    expect(rpcsText(null)).toBe('RPCs unknown');
  });
});

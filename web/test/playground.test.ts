// Train → Playground on the real stack: a tiny char-level model is trained through svc-train (over HTTP: the
// Train page's own flow is data-train.test.ts), its checkpoint shows up in the Playground's model picker, and a
// chat with it streams tokens whose hover card lists the alternatives the gateway sent, with their percentages.
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

const JOB_NAME = 'pg-tiny';
const ITERS = 150;

interface Alternative {
  id: number;
  text: string;
  logprob: number;
}
interface StreamedToken {
  index: number;
  id: number;
  token: string;
  logprob: number;
  top: Alternative[];
  stages: { name: string }[];
}

/** The `token` events of a finished SSE body. */
function tokenEvents(body: string): StreamedToken[] {
  const out: StreamedToken[] = [];
  for (const block of body.replace(/\r\n/g, '\n').split('\n\n')) {
    const lines = block.split('\n');
    if (!lines.includes('event: token')) continue;
    const data = lines
      .filter((l) => l.startsWith('data:'))
      .map((l) => l.slice(5).replace(/^ /, ''))
      .join('\n');
    out.push(JSON.parse(data) as StreamedToken);
  }
  return out;
}

let stack: Stack;
let b: LaunchedBrowser;
let page: Page;
let jobId = '';

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

describe('Playground on the real stack', () => {
  it('trains a tiny model whose checkpoint appears in the model picker', async () => {
    // Context 128 leaves room for an answer after the chat template's "User: …\n\nAssistant:".
    const job = await api<{ id: string }>('/api/train/jobs', {
      method: 'POST',
      body: JSON.stringify({
        name: JOB_NAME,
        dataPath: SHAKESPEARE,
        tokenizer: 'char',
        config: {
          iters: ITERS,
          batchSize: 4,
          context: 128,
          evalInterval: 50,
          sampleTokens: 0,
          model: { nLayer: 1, nHead: 2, nEmbd: 32 },
        },
      }),
    });
    jobId = job.id;
    await page.goto(`${stack.url}/#/playground`);
    await page.getByTestId('page-playground').waitFor();
    const option = page.getByTestId('pg-model').locator(`option[value="${JOB_NAME}@${ITERS}"]`);
    await expect.poll(() => option.count(), { timeout: 180_000, interval: 1000 }).toBe(1);
    const state = await api<{ state: string }>(`/api/train/jobs/${encodeURIComponent(jobId)}`);
    expect(state.state).toBe('completed');
    await page.getByTestId('pg-model').selectOption(`${JOB_NAME}@${ITERS}`);
    await expect.poll(() => page.getByTestId('pg-model-facts').textContent()).toMatch(/context 128 tokens/);
  }, 240_000);

  it('shows the exact prompt before generating (preflight)', async () => {
    await page.getByTestId('chat-input').fill('Good morrow');
    const preflight = page.getByTestId('preflight');
    await page.locator('[data-testid="preflight"][data-state="ready"]').waitFor({ timeout: 60_000 });
    // The lab's default template for a model without one: "User: …\n\nAssistant:", one char token each.
    const rendered = 'User: Good morrow\n\nAssistant:';
    await expect
      .poll(async () => Number(await preflight.getAttribute('data-tokens')))
      .toBeGreaterThanOrEqual(rendered.length);
    // A beginning-of-text token, if the model has one, is the only extra.
    expect(Number(await preflight.getAttribute('data-tokens'))).toBeLessThanOrEqual(rendered.length + 1);
    await preflight.locator('summary').click();
    expect(await page.getByTestId('preflight-tokens').textContent()).toContain('User: Good morrow');
    await preflight.locator('summary').click();
  });

  it('chats: tokens stream in, hovering one lists the alternatives the server sent', async () => {
    // Count the token view's sizes as they change: more than one distinct size means they streamed.
    await page.evaluate(() => {
      const seen = new Set<string>();
      (window as unknown as { __counts: Set<string> }).__counts = seen;
      new MutationObserver(() => {
        const el = document.querySelector('[data-testid="token-view"]');
        if (el) seen.add(el.getAttribute('data-count') ?? '');
      }).observe(document.body, { subtree: true, childList: true, attributes: true });
    });
    const responseP = page.waitForResponse((r) => r.url().endsWith('/api/infer/chat'), { timeout: 60_000 });
    await page.getByTestId('chat-send').click();
    const response = await responseP;
    expect(response.status()).toBe(200);

    const answer = page.locator('.msg.assistant').last();
    await expect
      .poll(() => answer.getAttribute('data-status'), { timeout: 120_000 })
      .toMatch(/^(done|stopped)$/);
    expect(await answer.getAttribute('data-status')).toBe('done');
    const text = (await answer.getByTestId('assistant-text').textContent()) ?? '';
    expect(text.trim().length).toBeGreaterThan(0);

    const view = page.getByTestId('token-view');
    const count = Number(await view.getAttribute('data-count'));
    expect(count).toBeGreaterThan(1);
    const sizes = await page.evaluate(() =>
      [...(window as unknown as { __counts: Set<string> }).__counts].filter((c) => c && c !== '0'),
    );
    expect(sizes.length).toBeGreaterThan(1);

    // What the gateway streamed, to check the page against.
    const streamed = tokenEvents(await response.text());
    expect(streamed.length).toBe(count);
    // A visible token on one line (no newline, not only spaces) makes an unambiguous hover target.
    const at = Math.max(
      0,
      streamed.findIndex((t) => !t.token.includes('\n') && /\S/.test(t.token)),
    );
    const first = streamed[at]!;
    expect(first.top.length).toBe(5); // the page asks for 5 alternatives by default

    // Let the page settle first (the model's facts line and the next preflight update after an answer): a
    // layout shift under the pointer ends a hover, in a browser as for a person.
    await expect.poll(() => page.getByTestId('pg-model-facts').textContent()).toContain('in memory');
    await page.locator('[data-testid="preflight"][data-state="ready"]').waitFor({ timeout: 30_000 });
    await view.locator(`.ptok[data-i="${at}"]`).hover();
    const tip = page.getByTestId('token-tip');
    await tip.waitFor();
    // Read the card in one go.
    const card = await tip.evaluate((el) => ({
      head: el.querySelector('.tip-head strong')?.textContent ?? '',
      alts: [...el.querySelectorAll('li[data-alt-id]')].map((li) => ({
        id: Number(li.getAttribute('data-alt-id')),
        pct: li.querySelector('.tip-pct')?.textContent ?? '',
      })),
    }));
    expect(card.alts.map((a) => a.id)).toEqual(first.top.map((a) => a.id));
    card.alts.forEach((shown, i) => {
      expect(shown.pct).toMatch(/^\d+(\.\d+)?%$/);
      expect(Math.abs(Number.parseFloat(shown.pct) - 100 * Math.exp(first.top[i]!.logprob))).toBeLessThan(
        0.051,
      );
    });
    expect(Math.abs(Number.parseFloat(card.head) - 100 * Math.exp(first.logprob))).toBeLessThan(0.051);

    // The sampler view shows the chain's stages for a clicked token (trace is on by default).
    await view.locator(`.ptok[data-i="${at}"]`).click();
    const sampler = page.getByTestId('sampler-view');
    expect(await sampler.locator('th[data-stage="raw"]').count()).toBe(1);
    expect(await sampler.locator(`tr.chosen[data-token-id="${first.id}"]`).count()).toBe(1);
    expect(first.stages.map((s) => s.name)).toContain('raw');
    // The facts line says what the loaded model decodes with (the API's ModelInfo.decoding).
    expect(await page.getByTestId('pg-model-facts').textContent()).toMatch(
      /decodes with (lab\.engine::Linear (avx512|avx2|scalar)|ORT Gemm), /,
    );

    await page.screenshot({ path: `${SHOTS}/lab-playground.png`, fullPage: true });
  }, 150_000);

  it('stores the conversation', async () => {
    const list = page.getByTestId('conversations');
    await list.locator('summary').click();
    await expect.poll(() => list.locator('li[data-conversation]').count(), { timeout: 10_000 }).toBe(1);
    expect(await list.locator('li[data-conversation]').first().textContent()).toContain('Good morrow');
  });

  it('completes text with top-k shown in the sampler view, and the stop button ends it early', async () => {
    await page.getByTestId('pg-mode-complete').click();
    const settings = page.getByTestId('pg-settings');
    await settings.locator('input[name="topK"]').fill('3');
    await settings.locator('input[name="topK"]').press('Tab');
    await page.getByTestId('complete-prompt').fill('ROMEO:\n');
    // A tiny model writes its whole answer in a blink on a fast machine; a slow link (as over a remote lab)
    // keeps the stream open long enough for a person's click to land in the middle of it.
    const cdp = await page.context().newCDPSession(page);
    await cdp.send('Network.emulateNetworkConditions', {
      offline: false,
      latency: 0,
      downloadThroughput: 4096,
      uploadThroughput: -1,
    });
    await page.getByTestId('complete-run').click();
    const view = page.getByTestId('token-view');
    await expect
      .poll(async () => Number(await view.getAttribute('data-count')), { timeout: 60_000 })
      .toBeGreaterThan(3);
    await page.getByTestId('complete-stop').click();
    await page.getByTestId('complete-run').waitFor();
    await cdp.send('Network.emulateNetworkConditions', {
      offline: false,
      latency: 0,
      downloadThroughput: -1,
      uploadThroughput: -1,
    });
    const stoppedAt = Number(await view.getAttribute('data-count'));
    expect(await page.getByTestId('gen-stats').textContent()).toContain('stopped');
    await page.waitForTimeout(1000);
    expect(Number(await view.getAttribute('data-count'))).toBe(stoppedAt);
    expect(stoppedAt).toBeLessThan(128 - 7);

    // Top-k = 3: after that stage only three tokens are allowed, and the drawn one is among them.
    await view.locator('.ptok[data-i="1"]').click();
    const sampler = page.getByTestId('sampler-view');
    expect(await sampler.locator('th[data-stage="top_k"] .stage-allowed').textContent()).toBe('3 allowed');
    const chosenTopK = sampler.locator('tr.chosen td.stage-cell').nth(3);
    expect(await chosenTopK.textContent()).toMatch(/\d%/);
  });

  it('runs the same prompt with two settings side by side', async () => {
    await page.getByTestId('pg-mode-compare').click();
    await page.getByTestId('compare-prompt').fill('JULIET:\n');
    await page.getByTestId('compare-run').click();
    for (const side of ['A', 'B']) {
      await expect
        .poll(
          async () => Number(await page.getByTestId(`compare-tokens-${side}`).getAttribute('data-count')),
          {
            timeout: 60_000,
          },
        )
        .toBeGreaterThan(0);
    }
    await page.getByTestId('compare-run').waitFor({ timeout: 60_000 });
    // B is greedy: every token it drew was the most likely one.
    const b = page.getByTestId('compare-tokens-B');
    const ps = await b
      .locator('.ptok')
      .evaluateAll((els) => els.map((e) => Number(e.getAttribute('data-p'))));
    expect(ps.length).toBeGreaterThan(0);
    await b.locator('.ptok[data-i="0"]').hover();
    const tip = page.getByTestId('token-tip');
    await tip.waitFor();
    expect(await tip.locator('li[data-alt-id]').first().getAttribute('class')).toContain('chosen');
    await page.screenshot({ path: `${SHOTS}/lab-playground-compare.png`, fullPage: true });
  });

  it('opens a checkpoint from the Train page in the Playground', async () => {
    await page.goto(`${stack.url}/#/train`);
    await page.getByTestId(`job-${jobId}`).click();
    const link = page.getByTestId('checkpoint-playground').last();
    await link.waitFor({ timeout: 15_000 });
    await link.click();
    await page.getByTestId('page-playground').waitFor();
    await expect
      .poll(() => page.getByTestId('pg-model').inputValue(), { timeout: 15_000 })
      .toBe(`${JOB_NAME}@${ITERS}`);
  });

  it('logs no console errors', () => {
    expect(b.consoleErrors).toEqual([]);
  });
});

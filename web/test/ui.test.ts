// End-to-end UI tests: the real stack (five services + gateway serving web/dist, from supervisor/src/stack.ts)
// driven through Debian's chromium. Assumes web/dist is built (`npm run build -w web`); builds it when missing.
import { getEncoding } from 'js-tiktoken';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LaunchedBrowser, launchBrowser, PAGE_OF_TEXT, unexpectedErrors } from './browser.ts';
import { ensureDist } from './dist.ts';

/** The part of supervisor/src/stack.ts this test uses. Imported at run time (not type-checked with web/) so that
 * a type error elsewhere in the repository can never break `npm run build -w web`. */
interface Stack {
  url: string;
  children: Map<string, { pid?: number }>;
  stop(graceMs?: number): Promise<void>;
}
type StartStack = (opts: {
  ports?: 'config' | 'free';
  output?: 'inherit' | 'buffer';
  nats?: 'auto' | boolean;
}) => Promise<Stack>;
const STACK_MODULE = new URL('../../supervisor/src/stack.ts', import.meta.url).href;

const SERVICES = ['tokenize', 'data', 'train', 'infer', 'eval'];
const SHOTS = process.env.LAB_SCREENSHOTS ?? '/tmp';

async function countLine(p: Page): Promise<number> {
  const attr = await p.getByTestId('tok-count').getAttribute('data-count');
  const text = (await p.getByTestId('tok-count').textContent()) ?? '';
  const fromText = Number((/^\s*([\d,]+)\s+tokens/.exec(text)?.[1] ?? 'NaN').replace(/,/g, ''));
  expect(Number(attr)).toBe(fromText);
  return fromText;
}

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

describe('web UI on the real stack', () => {
  it('Status page shows all five services SERVING, the event bus, and live bus events', async () => {
    await page.goto(stack.url);
    for (const name of SERVICES) {
      await expect
        .poll(() => page.getByTestId(`service-${name}`).getByTestId('service-status').textContent(), {
          timeout: 15_000,
        })
        .toBe('SERVING');
    }
    expect(await page.getByTestId('bus').textContent()).toMatch(/(nats|memory) · connected/);
    await page.getByTestId('events-state').filter({ hasText: 'live' }).waitFor({ timeout: 10_000 });
    // Something real on the bus: training a tokenizer publishes lab.job.tokenize-<name>.state events.
    const res = await fetch(`${stack.url}/api/tokenize/train`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        name: 'ui-events-bpe',
        vocabSize: 300,
        text: 'low lower lowest newer newest '.repeat(50),
      }),
    });
    expect(res.status).toBe(202);
    await page
      .getByTestId('event-list')
      .getByText('lab.job.tokenize-ui-events-bpe.state')
      .first()
      .waitFor({ timeout: 15_000 });
    await page.screenshot({ path: `${SHOTS}/lab-status.png`, fullPage: true });
  });

  it('Tokenizer page: typed text becomes token spans matching the count line; comparison lists ≥2 tokenizers', async () => {
    await page.goto(`${stack.url}/#/tokenizer`);
    await expect
      .poll(() => page.getByTestId('tok-select').locator('option[value]:not([value=""])').count(), {
        timeout: 15_000,
      })
      .toBeGreaterThanOrEqual(2);
    await page.getByTestId('tok-select').selectOption('gpt2');
    const input = page.getByTestId('tok-input');
    await input.fill('');
    const typed = 'Hello world! Tokenizers cut text into pieces: 12345, naïve café, 東京.';
    await input.pressSequentially(typed, { delay: 2 });
    await page.locator('[data-testid="tok-spans"][data-state="ready"]').waitFor();
    const spans = page.getByTestId('tok-spans').locator('span[data-id]');
    const expected = getEncoding('gpt2').encode(typed);
    await expect.poll(() => spans.count()).toBe(expected.length);
    const n = expected.length;
    const ids = await spans.evaluateAll((els) => els.map((e) => Number((e as HTMLElement).dataset.id)));
    expect(ids).toEqual(expected);
    const count = page.getByTestId('tok-count');
    const line = (await count.textContent()) ?? '';
    expect(Number((/^\s*([\d,]+)\s+tokens/.exec(line)?.[1] ?? 'NaN').replace(/,/g, ''))).toBe(n);
    expect(await count.getAttribute('data-count')).toBe(String(n));
    await expect
      .poll(() => page.getByTestId('compare-table').locator('tbody tr[data-tokenizer]').count(), {
        timeout: 10_000,
      })
      .toBeGreaterThanOrEqual(2);
    await spans.nth(2).hover();
    await page.screenshot({ path: `${SHOTS}/lab-tokenizer.png`, fullPage: true });
  });

  it('Tokenizer page: training a tokenizer shows progress to done and makes it selectable', async () => {
    const form = page.getByTestId('train-form');
    await form.locator('input[name="name"]').fill('ui-test-bpe');
    await form.locator('input[name="vocabSize"]').fill('320');
    await form
      .locator('textarea[name="text"]')
      .fill('low lower lowest newer newest wider widest '.repeat(100));
    await form.getByRole('button', { name: 'Train' }).click();
    const progress = page.locator(
      '[data-testid="train-progress"][data-state="done"], [data-testid="train-progress"][data-state="failed"]',
    );
    await progress.waitFor({ timeout: 60_000 });
    expect(await page.getByTestId('train-progress').getAttribute('data-state')).toBe('done');
    await expect
      .poll(() => page.getByTestId('tok-select').inputValue(), { timeout: 10_000 })
      .toBe('ui-test-bpe');
    await page.locator('[data-testid="tok-spans"][data-state="ready"]').waitFor();
    expect(await page.getByTestId('tok-spans').locator('span[data-id]').count()).toBeGreaterThan(0);
    // The vocabulary browser follows the new tokenizer; its last page holds learned merges.
    await expect
      .poll(() => page.getByTestId('vocab-select').inputValue(), { timeout: 10_000 })
      .toBe('ui-test-bpe');
    await page.getByRole('button', { name: 'Last »' }).click();
    await expect
      .poll(
        () => page.getByTestId('vocab-table').locator('tbody tr[data-id] td:nth-child(4) .vtok').count(),
        {
          timeout: 10_000,
        },
      )
      .toBeGreaterThan(0);
  });

  it('pages that are not built say so, and built ones do not', async () => {
    await page.getByTestId('nav-experiments').click();
    await page.getByTestId('page-experiments').waitFor();
    expect(await page.getByTestId('not-built').textContent()).toContain('Not built yet');
    for (const id of ['architecture', 'probing', 'finetune']) {
      await page.getByTestId(`nav-${id}`).click();
      await page.getByTestId(`page-${id}`).waitFor();
      expect(await page.getByTestId('not-built').count()).toBe(0);
    }
  });

  // Keystroke latency is measured by `npm run bench:ui`; here: a page of text, edited, stays consistent.
  it('Tokenizer page: a page of text is re-tokenized on each keystroke', async () => {
    await page.goto(`${stack.url}/#/tokenizer`);
    await page.getByTestId('tok-select').locator('option[value="gpt2"]').waitFor({ state: 'attached' });
    await page.getByTestId('tok-select').selectOption('gpt2');
    const input = page.getByTestId('tok-input');
    await input.fill(PAGE_OF_TEXT);
    await input.press('End');
    await input.pressSequentially(' extra words', { delay: 20 });
    const text = `${PAGE_OF_TEXT} extra words`;
    const expected = getEncoding('gpt2').encode(text).length;
    expect(expected).toBeGreaterThan(500);
    await expect.poll(() => page.getByTestId('tok-spans').locator('span[data-id]').count()).toBe(expected);
    expect(await countLine(page)).toBe(expected);
  });

  it('Tokenizer page: the vocabulary browser pages through ids', async () => {
    await page.goto(`${stack.url}/#/tokenizer`);
    const rows = page.getByTestId('vocab-table').locator('tbody tr[data-id]');
    await expect.poll(() => rows.count(), { timeout: 15_000 }).toBe(100);
    const first = Number(await rows.first().getAttribute('data-id'));
    await page.getByRole('button', { name: 'Next ›' }).click();
    await expect.poll(() => rows.first().getAttribute('data-id')).toBe(String(first + 100));
  });

  it('Status page follows a service that stops answering and comes back, and shows a banner while the gateway is unreachable', async () => {
    await page.goto(stack.url);
    const status = (name: string) =>
      page.getByTestId(`service-${name}`).getByTestId('service-status').textContent();
    await expect.poll(() => status('infer'), { timeout: 15_000 }).toBe('SERVING');
    // A stopped process holds its port but answers nothing: health goes UNKNOWN until it continues.
    const infer = stack.children.get('infer')!.pid!;
    process.kill(infer, 'SIGSTOP');
    try {
      await expect.poll(() => status('infer'), { timeout: 10_000 }).toBe('UNKNOWN');
    } finally {
      process.kill(infer, 'SIGCONT');
    }
    await expect.poll(() => status('infer'), { timeout: 15_000 }).toBe('SERVING');
    const gateway = stack.children.get('gateway')!.pid!;
    process.kill(gateway, 'SIGSTOP');
    try {
      await page.getByTestId('gateway-error').waitFor({ timeout: 10_000 });
    } finally {
      process.kill(gateway, 'SIGCONT');
    }
    // The page recovers by itself once the gateway answers again.
    await page.getByTestId('gateway-error').waitFor({ state: 'detached', timeout: 15_000 });
  });

  it('logs no console errors', () => {
    // The gateway was stopped (SIGSTOP), not gone: requests meanwhile wait rather than fail, so none is
    // expected to fail; a failed request would show here with its URL.
    expect(unexpectedErrors(b.consoleErrors)).toEqual([]);
  });
});

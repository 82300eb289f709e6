// Browser harness for UI tests: Debian's chromium driven by playwright-core, with a fresh temporary profile
// (user-data-dir) per launch, and every console error / uncaught page error collected for assertions.
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export interface LaunchedBrowser {
  /** The browser that owns the persistent context. */
  browser: Browser;
  context: BrowserContext;
  /** The first page of the context, ready to navigate. */
  page: Page;
  /** Console messages of type "error" and uncaught exceptions, from every page of the context. */
  consoleErrors: string[];
  /** Closes the browser and deletes its temporary profile. */
  close(): Promise<void>;
}

/** Waits for the chromium binary, which may still be being installed by apt when the tests start. */
export async function waitForChromium(timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!existsSync(CHROMIUM_PATH)) {
    if (Date.now() > deadline)
      throw new Error(`${CHROMIUM_PATH} did not appear within ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 2000));
  }
}

export async function launchBrowser(
  opts: { viewport?: { width: number; height: number } } = {},
): Promise<LaunchedBrowser> {
  await waitForChromium();
  const userDataDir = await mkdtemp(join(tmpdir(), 'lab-chromium-'));
  let context: BrowserContext;
  try {
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM_PATH,
      headless: true,
      args: CHROMIUM_ARGS,
      viewport: opts.viewport ?? { width: 1280, height: 900 },
      timeout: 60_000,
    });
  } catch (err) {
    await rm(userDataDir, { recursive: true, force: true });
    throw err;
  }

  const consoleErrors: string[] = [];
  const watch = (p: Page) => {
    p.on('console', (msg) => {
      if (msg.type() !== 'error') return;
      // Chromium's "Failed to load resource: …" names neither the request nor the page's call: add the URL
      // (path and query of the lab's own), so a test names each failure it expects and any other shows.
      const url = msg.location().url;
      const where = url && /^Failed to load resource/.test(msg.text()) ? ` (${shortUrl(url)})` : '';
      consoleErrors.push(`${msg.text()}${where}`);
    });
    p.on('pageerror', (err) => consoleErrors.push(`pageerror: ${err.message}`));
  };
  context.pages().forEach(watch);
  context.on('page', watch);

  const page = context.pages()[0] ?? (await context.newPage());
  const browser = context.browser();
  if (!browser) {
    await context.close();
    await rm(userDataDir, { recursive: true, force: true });
    throw new Error('playwright returned a persistent context without a browser');
  }

  let closed = false;
  return {
    browser,
    context,
    page,
    consoleErrors,
    async close() {
      if (closed) return;
      closed = true;
      await context.close().catch(() => {});
      await rm(userDataDir, { recursive: true, force: true }).catch(() => {});
    },
  };
}

/** A URL as the lab's tests name it: path and query for http(s) URLs, as it is otherwise. */
function shortUrl(url: string): string {
  try {
    const u = new URL(url);
    return u.protocol.startsWith('http') ? `${u.pathname}${u.search}` : url;
  } catch {
    return url;
  }
}

/**
 * The console errors no pattern of `expected` matches. Failed requests carry their URL (see launchBrowser),
 * so a test lists what it makes fail on purpose — e.g. `/status of 400 .*\(\/api\/data\/datasets\)/` —
 * and every other failed request, and every other error, is returned.
 */
export function unexpectedErrors(errors: readonly string[], expected: readonly RegExp[] = []): string[] {
  return errors.filter((e) => !expected.some((re) => re.test(e)));
}

/** About one printed page of English prose with some code and numbers (~3,800 characters), for typing tests. */
export const PAGE_OF_TEXT = Array.from(
  { length: 24 },
  (_, i) =>
    `Paragraph ${i + 1}: language models read text as tokens, not letters; the tokenizer decides where the cuts fall. ` +
    `const total${i} = values.reduce((a, b) => a + b, ${i * 17});`,
).join('\n');

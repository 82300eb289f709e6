// Requests a browser test holds back until it has measured the page without their answers: the layout
// tests check that what arrives later does not move what a user is about to click.
import type { Page, Route } from 'playwright-core';

export interface HeldRequests {
  /** Lets the held requests, and every later one, through to the stack. */
  release(): void;
  /** Releases them and stops holding. */
  stop(): Promise<void>;
}

/** Holds every request to `url` (a Playwright glob) made from now on, until release(). */
export async function holdRequests(page: Page, url: string): Promise<HeldRequests> {
  let release: () => void = () => {};
  const held = new Promise<void>((r) => {
    release = r;
  });
  const handler = async (route: Route) => {
    await held;
    await route.continue().catch(() => {});
  };
  await page.route(url, handler);
  return {
    release,
    stop: async () => {
      release();
      await page.unroute(url, handler);
    },
  };
}

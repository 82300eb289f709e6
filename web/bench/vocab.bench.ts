// The vocabulary browser on the real stack: how long one page of o200k_base (100 ids) takes through the gateway,
// how long the page takes to appear in the browser after "Next ›" and after "Go to id", and what a page load
// does to live tokenizing (an encode sent while a page is being served). The targets: a page in ≤ 100 ms,
// and an encode during a page load as fast as one without.
import { startStack } from '../../supervisor/src/stack.ts';
import { launchBrowser, PAGE_OF_TEXT } from '../test/browser.ts';
import { ensureDist } from '../test/dist.ts';

const TOKENIZER = 'o200k_base';
const OFFSETS = [0, 256, 50_000, 100_000, 150_000, 199_900];
const ROUNDS = 3;

const q = (xs: number[], p: number) =>
  [...xs].sort((x, y) => x - y)[Math.min(xs.length - 1, Math.floor(xs.length * p))]!;
const fmt = (xs: number[]) =>
  `median ${q(xs, 0.5).toFixed(0)} ms, p90 ${q(xs, 0.9).toFixed(0)} ms, max ${Math.max(...xs).toFixed(0)} ms`;

// In-page code as strings: tsx's transform would add helpers to a function that the browser lacks.
const DRAWN = `(table, id) => table.querySelector('tbody tr[data-id]') &&
  !table.classList.contains('stale') && !!table.querySelector('tbody tr[data-id="' + id + '"]')`;
const NEXT = `new Promise((resolve) => {
  const table = document.querySelector('[data-testid="vocab-table"]');
  const want = String(Number(table.querySelector('tbody tr[data-id]').getAttribute('data-id')) + 100);
  const t0 = performance.now();
  const mo = new MutationObserver(() => {
    if (!(${DRAWN})(table, want)) return;
    mo.disconnect();
    resolve(performance.now() - t0);
  });
  mo.observe(table, { subtree: true, childList: true, attributes: true });
  [...document.querySelectorAll('button')].find((b) => b.textContent.includes('Next')).click();
})`;
const GO_TO = `(id) => new Promise((resolve) => {
  const table = document.querySelector('[data-testid="vocab-table"]');
  const input = document.querySelector('input[aria-label="Jump to token id"]');
  const t0 = performance.now();
  const mo = new MutationObserver(() => {
    if (!(${DRAWN})(table, id) || !table.querySelector('tr[data-highlight]')) return;
    mo.disconnect();
    resolve(performance.now() - t0);
  });
  mo.observe(table, { subtree: true, childList: true, attributes: true });
  input.value = String(id);
  input.dispatchEvent(new InputEvent('input', { bubbles: true }));
  input.form.requestSubmit();
})`;

ensureDist();
const stack = await startStack({ ports: 'free', output: 'buffer' });
const b = await launchBrowser();
try {
  const get = async (path: string) => {
    const t0 = performance.now();
    const res = await fetch(`${stack.url}${path}`);
    if (!res.ok) throw new Error(`${path}: HTTP ${res.status} ${await res.text()}`);
    await res.arrayBuffer();
    return performance.now() - t0;
  };
  const encode = async () => {
    const t0 = performance.now();
    const res = await fetch(`${stack.url}/api/tokenize/encode`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ tokenizer: TOKENIZER, text: PAGE_OF_TEXT }),
    });
    if (!res.ok) throw new Error(`encode: HTTP ${res.status}`);
    await res.arrayBuffer();
    return performance.now() - t0;
  };
  const page = (offset: number) => `/api/tokenize/tokenizers/${TOKENIZER}/vocab?offset=${offset}&limit=100`;

  // The tokenizer's own load (its rank file) happens on first use, before any vocabulary page.
  await encode();
  const first = await get(page(100));
  const pages: number[] = [];
  for (let r = 0; r < ROUNDS; r++) for (const off of OFFSETS) pages.push(await get(page(off)));
  const alone: number[] = [];
  for (let i = 0; i < 10; i++) alone.push(await encode());
  const during: number[] = [];
  for (let i = 0; i < 10; i++) {
    const loading = get(page(OFFSETS[i % OFFSETS.length]!));
    await new Promise((r) => setTimeout(r, 2));
    during.push(await encode());
    await loading;
  }

  // In the browser, timed inside the page (as in keystroke.bench.ts): from the click to the rows drawn.
  const p = b.page;
  await p.goto(`${stack.url}/#/tokenizer`);
  await p.getByTestId('vocab-select').locator(`option[value="${TOKENIZER}"]`).waitFor({ state: 'attached' });
  await p.getByTestId('vocab-select').selectOption(TOKENIZER);
  await p.waitForFunction(
    () =>
      document.querySelector('[data-testid="vocab-table"] tbody tr[data-id]')?.getAttribute('data-id') ===
      '0',
  );
  const next: number[] = [];
  for (let i = 0; i < 5; i++) next.push((await p.evaluate(NEXT)) as number);
  const jump: number[] = [];
  for (const id of [123_456, 7_777, 199_000, 50_001, 150_150])
    jump.push((await p.evaluate(`(${GO_TO})(${id})`)) as number);

  console.log(`vocabulary page of ${TOKENIZER} (100 ids) through the gateway:`);
  console.log(`  first page after the tokenizer loaded: ${first.toFixed(0)} ms`);
  console.log(`  ${pages.length} pages at offsets ${OFFSETS.join(', ')}: ${fmt(pages)}`);
  console.log(`encode of a page of text (${TOKENIZER}): alone ${fmt(alone)}`);
  console.log(`  while a vocabulary page loads: ${fmt(during)}`);
  console.log(`in the browser, click → rows drawn: "Next ›" ${fmt(next)}; "Go to id" ${fmt(jump)}`);
} finally {
  await b.close();
  await stack.stop();
}

// Keystroke latency of the Tokenizer page on the real stack: from an input event to the token spans of a
// page of text (~3,500 characters) drawn again. Includes the page's 30 ms debounce and the round trip to
// svc-tokenize through the gateway. Prints the distribution; the target is under 100 ms.
import { startStack } from '../../supervisor/src/stack.ts';
import { launchBrowser, PAGE_OF_TEXT } from '../test/browser.ts';
import { ensureDist } from '../test/dist.ts';

const KEYS = 30;

// In-page code as a string: tsx's transform would add helpers to a function that the browser lacks.
const KEYSTROKE = `(ch) => new Promise((resolve) => {
  const ta = document.querySelector('[data-testid="tok-input"]');
  const spans = document.querySelector('[data-testid="tok-spans"]');
  const perf = () => document.querySelector('[data-testid="tok-perf"]')?.textContent ?? '';
  let input = 0;
  const t0 = performance.now();
  const mo = new MutationObserver(() => {
    if (spans.dataset.state !== 'ready') return;
    mo.disconnect();
    const t = performance.now() - t0;
    queueMicrotask(() => resolve({ total: t, input, draw: Number(/draw ([\\d.]+) ms/.exec(perf())?.[1] ?? 'NaN') }));
  });
  mo.observe(spans, { attributes: true });
  ta.value += ch;
  ta.dispatchEvent(new InputEvent('input', { bubbles: true, data: ch, inputType: 'insertText' }));
  input = performance.now() - t0;
})`;

ensureDist();
const stack = await startStack({ ports: 'free', output: 'buffer' });
const b = await launchBrowser();
try {
  const page = b.page;
  await page.goto(`${stack.url}/#/tokenizer`);
  await page.getByTestId('tok-select').locator('option[value="cl100k_base"]').waitFor({ state: 'attached' });
  await page.getByTestId('tok-select').selectOption('cl100k_base');
  await page.getByTestId('tok-input').fill(PAGE_OF_TEXT);
  await page.locator('[data-testid="tok-spans"][data-state="ready"]').waitFor();
  const total: number[] = [];
  const ui: number[] = [];
  for (let i = 0; i < KEYS; i++) {
    const r = (await page.evaluate(`(${KEYSTROKE})(${JSON.stringify('abcdefghij'[i % 10])})`)) as {
      total: number;
      input: number;
      draw: number;
    };
    total.push(r.total);
    ui.push(r.input + r.draw);
  }
  const q = (xs: number[], p: number) =>
    [...xs].sort((x, y) => x - y)[Math.min(xs.length - 1, Math.floor(xs.length * p))]!;
  const tokens = await page.getByTestId('tok-spans').locator('span[data-id]').count();
  console.log(
    `page of text: ${PAGE_OF_TEXT.length} characters, ${tokens} tokens (cl100k_base), ${KEYS} keystrokes`,
  );
  console.log(
    `keystroke → spans drawn: median ${q(total, 0.5).toFixed(0)} ms, p90 ${q(total, 0.9).toFixed(0)} ms (incl. 30 ms debounce)`,
  );
  console.log(
    `browser work per keystroke: median ${q(ui, 0.5).toFixed(1)} ms, p90 ${q(ui, 0.9).toFixed(1)} ms`,
  );
} finally {
  await b.close();
  await stack.stop();
}

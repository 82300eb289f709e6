// Base against fine-tune in the Playground, on the real stack (services as processes, nats-server, the
// gateway serving a fresh build of the UI) in Debian's chromium. A small char-level GPT-2 (svc-infer's test
// fixture: random weights, peaked like a trained model's) is registered as "cmp-base" and fine-tuned with
// LoRA for a few steps through svc-train. On the Fine-tune page the job's end-of-turn check runs beside the
// check before training, and "Compare with base" opens the Playground's side-by-side view on the base and
// the checkpoint with the same settings and seed: each column names its adapter and lineage, both stream,
// and the adapted column writes something else than the base.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page, Request } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LaunchedBrowser, launchBrowser, unexpectedErrors } from './browser.ts';
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
type WriteCharModel = (dir: string) => { dir: string };
// Imported by URL so that the web's type check never reaches into the service packages.
const STACK_MODULE = new URL('../../supervisor/src/stack.ts', import.meta.url).href;
const INFER_FIXTURE = new URL('../../svc-infer/test/fixture.ts', import.meta.url).href;
const SHOTS = process.env.LAB_SCREENSHOTS ?? '/tmp';

const JOB = 'cmp-lora';
const STEPS = 6;

let stack: Stack;
let b: LaunchedBrowser;
let page: Page;
let jobId = '';

const api = stackApi(() => stack.url);

beforeAll(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'lab-ft-compare-'));
  const fixture = (await import(/* @vite-ignore */ INFER_FIXTURE)) as {
    writeCharModel: WriteCharModel;
    SHAKESPEARE: string;
  };
  const base = fixture.writeCharModel(join(dir, 'base'));
  // Instruction examples in the base's characters: a line of the play, and the line after it.
  const lines = fixture.SHAKESPEARE.split('\n').filter((l) => l.trim().length > 8);
  const records = lines
    .slice(0, 48)
    .map((l, i) => ({ instruction: l, input: '', output: lines[i + 1] ?? l }));
  const dataPath = join(dir, 'lines.json');
  writeFileSync(dataPath, JSON.stringify(records));

  // A build of the UI as it is now, served by this stack only.
  const build = buildDistInto(dir);
  const { startStack } = (await import(/* @vite-ignore */ STACK_MODULE)) as { startStack: StartStack };
  [stack, b] = await Promise.all([
    build.then((dist) =>
      startStack({ ports: 'free', output: 'buffer', env: { ...process.env, LAB_WEB_DIST: dist } }),
    ),
    launchBrowser(),
  ]);
  page = b.page;
  await api('/api/infer/models', {
    method: 'POST',
    body: JSON.stringify({ name: 'cmp-base', path: base.dir }),
  });
  const job = await api<{ id: string }>('/api/train/jobs', {
    method: 'POST',
    body: JSON.stringify({
      name: JOB,
      dataPath,
      finetune: { baseModel: 'cmp-base', loraRank: 8, loraTargets: ['c_attn', 'c_fc'] },
      // A large rate, so that a few steps move the adapter far from zero.
      config: {
        iters: STEPS,
        batchSize: 4,
        learningRate: 3e-2,
        evalInterval: STEPS,
        context: 64,
        sampleTokens: 0,
      },
    }),
  });
  jobId = job.id;
  for (let i = 0; ; i++) {
    const j = await api<{ state: string; error: string }>(`/api/train/jobs/${jobId}`);
    if (j.state === 'completed') break;
    if (['failed', 'cancelled'].includes(j.state) || i > 600)
      throw new Error(`job ${jobId}: ${j.state} ${j.error}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}, 480_000);

afterAll(async () => {
  await b?.close();
  await stack?.stop();
});

describe('comparing a fine-tune with its base', () => {
  it('checks the end of turn after training beside the check before it', async () => {
    await page.goto(`${stack.url}/#/finetune`);
    await page.getByTestId(`ft-job-${jobId}`).click();
    const view = page.getByTestId('ft-job');
    await expect
      .poll(() => view.getByTestId('ft-job-state').getAttribute('data-state'), { timeout: 30_000 })
      .toBe('completed');
    await view.getByTestId('ft-eos-check').click();
    const after = view.getByTestId('ft-eos-after');
    await after.waitFor({ timeout: 60_000 });
    // A char vocabulary has no EOS: both checks say what ends an answer instead of failing.
    expect(await after.getAttribute('data-status')).toBe('info');
    expect(await after.textContent()).toMatch(/no end-of-turn token/);
    expect(await view.getByTestId('ft-eos-before').getByTestId('ft-eos').getAttribute('data-status')).toBe(
      'info',
    );
  }, 90_000);

  it('“Compare with base” opens both columns with their lineage and the same settings', async () => {
    const row = page.getByTestId('ft-checkpoint').last();
    await expect.poll(() => row.getAttribute('data-step'), { timeout: 15_000 }).toBe(String(STEPS));
    const adapted = `${JOB}@${STEPS}`;
    expect(await row.getAttribute('data-model')).toBe(`${jobId}@${STEPS}`);
    await row.getByTestId('ft-compare').click();
    await page.getByTestId('page-playground').waitFor();
    await page.getByTestId('compare').waitFor();
    expect(await page.getByTestId('pg-mode-compare').getAttribute('aria-selected')).toBe('true');
    await expect
      .poll(() => page.getByTestId('compare-model-A').inputValue(), { timeout: 30_000 })
      .toBe('cmp-base');
    // The link names the checkpoint by job id; the picker shows it by its served name.
    await expect.poll(() => page.getByTestId('compare-model-B').inputValue()).toBe(adapted);
    const lineageB = page.getByTestId('compare-lineage-B');
    await expect.poll(() => lineageB.getAttribute('data-adapter')).toBe(adapted);
    expect(await lineageB.getAttribute('data-base')).toBe('cmp-base');
    const text = (await lineageB.textContent()) ?? '';
    expect(text).toContain(`adapter of cmp-base · job ${JOB} (${jobId}) at step ${STEPS}`);
    expect(text).toMatch(/SFT · LoRA r8 α16/);
    const lineageA = page.getByTestId('compare-lineage-A');
    expect(await lineageA.getAttribute('data-adapter')).toBe('');
    expect(await lineageA.textContent()).toBe('base model: no adapter');
    // Only the model differs between the columns.
    expect(await page.getByTestId('compare').locator('.card-head .small').textContent()).toBe(
      'A and B differ in: model',
    );
  }, 90_000);

  it('streams both columns on one prompt, and the adapted one writes something else', async () => {
    await page.getByTestId('compare-prompt').fill('ROMEO:\n');
    const sent: Request[] = [];
    // When each generation request went out and when its stream ended (ms since the click).
    const spans = new Map<Request, { start: number; end?: number }>();
    let t0 = 0;
    const onRequest = (r: Request) => {
      if (!r.url().endsWith('/api/infer/generate')) return;
      sent.push(r);
      spans.set(r, { start: performance.now() - t0 });
    };
    const onFinished = (r: Request) => {
      const span = spans.get(r);
      if (span) span.end = performance.now() - t0;
    };
    page.on('request', onRequest);
    page.on('requestfinished', onFinished);
    t0 = performance.now();
    await page.getByTestId('compare-run').click();
    await expect.poll(() => sent.length).toBe(2);
    await expect
      .poll(() => [...spans.values()].every((s) => s.end !== undefined), { timeout: 120_000 })
      .toBe(true);
    await page.getByTestId('compare-run').waitFor({ timeout: 120_000 });
    page.off('request', onRequest);
    page.off('requestfinished', onFinished);
    // Side by side: both streams were open at once (each went out before the other ended), not one after
    // the other — a timing-free check, where watching token counts mid-run races a fast model.
    const [one, two] = [...spans.values()] as [
      { start: number; end: number },
      { start: number; end: number },
    ];
    expect(one.start).toBeLessThan(two.end);
    expect(two.start).toBeLessThan(one.end);
    for (const r of sent)
      expect((await r.response())?.headers()['content-type']).toMatch(/text\/event-stream/);
    const textOf = (side: string) =>
      page
        .getByTestId(`compare-tokens-${side}`)
        .locator('.ptok')
        .allTextContents()
        .then((t) => t.join(''));
    const [a, bText] = [await textOf('A'), await textOf('B')];
    expect(a.length).toBeGreaterThan(0);
    expect(bText.length).toBeGreaterThan(0);
    expect(bText).not.toBe(a);
    const bodies = sent.map((r) => r.postDataJSON() as { model: string; params: Record<string, unknown> });
    expect(bodies.map((x) => x.model).sort()).toEqual(['cmp-base', `${JOB}@${STEPS}`].sort());
    // The same sampling settings and seed on both sides.
    expect(bodies[0]!.params).toEqual(bodies[1]!.params);
    expect(bodies[0]!.params.seed).toBeTypeOf('number');
    await page.screenshot({ path: `${SHOTS}/lab-finetune-compare.png`, fullPage: true });
  }, 180_000);

  it('logs no console errors', () => {
    expect(unexpectedErrors(b.consoleErrors)).toEqual([]);
  });
});

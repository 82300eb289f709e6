// Architecture page on the real stack: presets, edits that redraw the diagram, the parameter count (checked
// against GPT-2's published 124,439,808 and hand arithmetic per layer), memory from the engine's estimate
// plus the KV cache, fit bars, and the link that carries the config to the Train page.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LaunchedBrowser, launchBrowser } from './browser.ts';
import { ensureDist } from './dist.ts';

interface Stack {
  url: string;
  stop(graceMs?: number): Promise<void>;
}
type StartStack = (opts: {
  home?: string;
  ports?: 'config' | 'free';
  output?: 'inherit' | 'buffer';
}) => Promise<Stack>;
const STACK_MODULE = new URL('../../supervisor/src/stack.ts', import.meta.url).href;
const SHOTS = process.env.LAB_SCREENSHOTS ?? '/tmp';

let stack: Stack;
let b: LaunchedBrowser;
let page: Page;
let home = '';

const attr = async (testId: string, name: string) => page.getByTestId(testId).getAttribute(name);
const total = async () => Number(await attr('arch-total', 'data-value'));
/** Sets a number field and waits for the debounced estimate to show `want`. */
async function setField(id: string, value: number) {
  await page.getByTestId(`arch-${id}`).fill(String(value));
}

beforeAll(async () => {
  ensureDist();
  const { startStack } = (await import(/* @vite-ignore */ STACK_MODULE)) as { startStack: StartStack };
  home = mkdtempSync(join(tmpdir(), 'lab-home-arch-ui-'));
  [stack, b] = await Promise.all([startStack({ home, ports: 'free', output: 'buffer' }), launchBrowser()]);
  page = b.page;
}, 180_000);

afterAll(async () => {
  await b?.close();
  await stack?.stop();
  if (home) rmSync(home, { recursive: true, force: true });
});

describe('Architecture page', () => {
  it('counts GPT-2 small as 124,439,808 parameters and redraws as layers change', async () => {
    await page.goto(`${stack.url}/#/architecture`);
    await page.getByTestId('page-architecture').waitFor();
    await page.locator('[data-testid="arch-preset"][data-preset="gpt2-small"]').click();
    await expect.poll(total, { timeout: 30_000 }).toBe(124_439_808);
    expect(await attr('arch-diagram', 'data-layers')).toBe('12');
    expect(await page.getByTestId('diag-repeat').textContent()).toBe('× 12');
    expect(await page.locator('[data-testid="diag-attn"] .diag-sub').textContent()).toBe(
      '12 heads × 64 · multi-head',
    );
    expect(await page.locator('[data-testid="diag-mlp"] .diag-sub').textContent()).toBe(
      '768 → 3072 → 768 · GELU (tanh)',
    );
    expect(await page.locator('.diag-layer').count()).toBe(12);
    // Tied embeddings: no separate unembedding row in the breakdown.
    expect(await page.locator('[data-testid="arch-params"] tr[data-part="head"]').count()).toBe(0);

    // One GPT-2 small layer: attention 4·768² + 4·768 (qkv, proj with biases), MLP 8·768² + 768·4 + 768,
    // two LayerNorms 4·768.
    const perLayer = 4 * 768 * 768 + 4 * 768 + 8 * 768 * 768 + 5 * 768 + 4 * 768;
    expect(perLayer).toBe(7_087_872);
    await setField('nLayer', 6);
    await expect.poll(total).toBe(124_439_808 - 6 * perLayer);
    expect(await attr('arch-diagram', 'data-layers')).toBe('6');
    expect(await page.locator('.diag-layer').count()).toBe(6);
    // Forward FLOPs per token: 2 per matmul weight, the unembedding, attention over the context.
    const matmul = 6 * (4 * 768 * 768 + 8 * 768 * 768 + 4 * 768 + 5 * 768);
    const forward = 2 * matmul + 2 * 768 * 50257 + 4 * 6 * 1024 * 768;
    expect(Number(await attr('arch-flops', 'data-forward'))).toBe(forward);
  }, 120_000);

  it('switches family, checks head shapes, and sizes the KV cache by KV heads', async () => {
    await page.getByTestId('arch-family').selectOption('llama');
    await expect
      .poll(() => page.locator('[data-testid="diag-attn"] .diag-sub').textContent())
      .toContain('RoPE');
    expect(await page.locator('[data-testid="diag-embed"] .diag-sub').textContent()).toContain('RoPE');
    expect(await page.locator('[data-testid="diag-mlp"] .diag-sub').textContent()).toContain('SwiGLU');
    await expect.poll(() => page.locator('[data-testid="arch-params"] tr[data-part="head"]').count()).toBe(1);

    await setField('nKvHead', 5);
    await expect
      .poll(() => page.getByTestId('arch-invalid').textContent())
      .toMatch(/^nKvHead: 12 query heads/);
    await setField('nKvHead', 4);
    await page.getByTestId('arch-invalid').waitFor({ state: 'detached' });
    await expect
      .poll(() => page.locator('[data-testid="diag-attn"] .diag-sub').textContent())
      .toContain('4 KV heads (GQA)');
    // Inference memory: float32 weights plus keys and values of 4 heads × 64 per layer and token.
    await expect
      .poll(async () => {
        const t = await total();
        const mem = Number(await attr('arch-infer-mem', 'data-value'));
        const kv = 4 * 2 * 6 * 4 * 64 * 1024;
        const scratch = 4 * (4 * 768 + 2 * 3072 + 50257 + 12 * 1024);
        return mem - (4 * t + kv + scratch);
      })
      .toBe(0);
  }, 120_000);

  it('shows training memory as the engine estimates it, with fit bars for this machine and a 16 GB GPU', async () => {
    await page.locator('[data-testid="arch-preset"][data-preset="gpt2-medium"]').click();
    await expect.poll(total).toBe(354_823_168);
    await page.getByTestId('arch-batch').fill('4');
    const res = await fetch(`${stack.url}/api/train/estimate`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        preset: 'gpt2-medium',
        model: {
          family: 'gpt2',
          nLayer: 24,
          nHead: 16,
          nKvHead: 16,
          nEmbd: 1024,
          ffnHidden: 4096,
          positions: 'learned',
          norm: 'layernorm',
          activation: 'gelu_tanh',
          bias: true,
          tieEmbeddings: true,
        },
        context: 1024,
        vocabSize: 50257,
        batchSize: 4,
      }),
    });
    const api = (await res.json()) as { memory: { total: number }; machine?: { memoryBytes: number } };
    await expect.poll(async () => Number(await attr('arch-train-mem', 'data-value'))).toBe(api.memory.total);
    const gpu = 16 * 2 ** 30;
    expect(await attr('fit-train-gpu', 'data-fits')).toBe(String(api.memory.total <= gpu));
    expect(await attr('fit-infer-gpu', 'data-fits')).toBe('true');
    const machine = api.machine?.memoryBytes;
    expect(await attr('fit-train-cpu', 'data-fits')).toBe(
      machine ? String(api.memory.total <= machine) : 'unknown',
    );
    expect(Number(await attr('arch-time', 'data-seconds'))).toBeGreaterThan(0);
    await page.screenshot({ path: join(SHOTS, 'lab-architecture.png'), fullPage: true });
  }, 120_000);

  it('“Train this” opens the Train page with the config in the link', async () => {
    await page.locator('[data-testid="arch-preset"][data-preset="llama-small"]').click();
    await setField('nLayer', 3);
    await expect.poll(async () => (await attr('arch-train', 'href')) ?? '').toContain('%22nLayer%22%3A3');
    await page.getByTestId('arch-train').click();
    await page.getByTestId('page-train').waitFor();
    const hash = await page.evaluate(() => location.hash);
    const q = new URLSearchParams(hash.split('?')[1]);
    expect(q.get('preset')).toBe('llama-small');
    expect(JSON.parse(q.get('model')!)).toMatchObject({ family: 'llama', nLayer: 3, nHead: 8, nKvHead: 2 });
    expect(q.get('context')).toBe('256');
    expect(b.consoleErrors).toEqual([]);
  }, 60_000);
});

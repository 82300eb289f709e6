import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { pretrain } from '../src/commands/pretrain.ts';
import { sample } from '../src/commands/sample.ts';

const dir = mkdtempSync(join(tmpdir(), 'pretrain-cmd-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const data = join(dir, 'input.txt');
writeFileSync(
  data,
  readFileSync(join(import.meta.dirname, '../../../shared/datasets/tinyshakespeare/input.txt'), 'utf8').slice(
    0,
    60_000,
  ),
);

async function capture(fn: () => Promise<void>): Promise<string> {
  const lines: string[] = [];
  const log = vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => {
    lines.push(a.join(' '));
  });
  const write = vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => {
    lines.push(String(s));
    return true;
  });
  try {
    await fn();
  } finally {
    log.mockRestore();
    write.mockRestore();
  }
  return lines.join('\n');
}

describe('lab-train pretrain / sample commands', () => {
  const out = join(dir, 'ckpt');
  it('pretrain prints nanoGPT-style logs, ends with val_loss=, and writes a checkpoint', async () => {
    const text = await capture(() =>
      pretrain([
        '--data',
        data,
        '--tokenizer',
        'char',
        '--preset',
        'nanogpt-cpu',
        '--iters',
        '30',
        '--out',
        out,
        '--layers',
        '1',
        '--width',
        '32',
        '--heads',
        '2',
        '--context',
        '16',
        '--batch',
        '4',
        '--eval-interval',
        '15',
        '--eval-iters',
        '2',
        '--log-interval',
        '5',
      ]),
    );
    expect(text).toMatch(/^plan: 1 run of 4 rows per step on /m);
    expect(text).toMatch(/^iter 0: loss \d+\.\d+, time \d+\.\d+ms$/m);
    expect(text).toMatch(/^step 15: train loss \d+\.\d+, val loss \d+\.\d+$/m);
    expect(text).toMatch(/^step 30: train loss/m);
    const last = text.trim().split('\n').pop()!;
    expect(last).toMatch(/val_loss=\d+\.\d+$/);
    for (const f of [
      'model.safetensors',
      'config.json',
      'optimizer.safetensors',
      'trainer_state.json',
      'tokenizer.json',
    ]) {
      expect(existsSync(join(out, f)), f).toBe(true);
    }
    // Hugging Face's tokenizer.json: a BPE whose vocabulary is the characters, ids in sorted order.
    const tok = JSON.parse(readFileSync(join(out, 'tokenizer.json'), 'utf8'));
    expect(tok.model.type).toBe('BPE');
    const byId = Object.entries(tok.model.vocab as Record<string, number>).sort((a, b) => a[1] - b[1]);
    expect(byId.map(([c]) => c).join('')).toBe([...new Set(readFileSync(data, 'utf8'))].sort().join(''));
    const cfg = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'));
    expect(cfg).toMatchObject({ model_type: 'gpt2', n_layer: 1, n_embd: 32, n_positions: 16 });
  });

  it('sample generates the requested number of characters, reproducibly', async () => {
    const args = ['--ckpt', out, '--prompt', 'ROMEO:', '--tokens', '40', '--seed', '7'];
    const a = await capture(() => sample(args));
    const b = await capture(() => sample(args));
    expect(a).toBe(b);
    expect(a.startsWith('ROMEO:')).toBe(true);
    expect([...a.trimEnd()].length).toBeGreaterThanOrEqual(6 + 30);
  });

  it('--help prints usage', async () => {
    expect(await capture(() => pretrain(['--help']))).toMatch(/usage: lab-train pretrain/);
    expect(await capture(() => sample(['-h']))).toMatch(/usage: lab-train sample/);
  });

  it('errors name the bad flag', async () => {
    await expect(pretrain(['--data', data, '--out', out, '--bogus'])).rejects.toThrow(
      /Unknown option '--bogus'/,
    );
    await expect(pretrain(['--data', data, '--out', out, '--iters', 'many'])).rejects.toThrow(
      /--iters must be a number, got 'many'/,
    );
    await expect(pretrain(['--out', out])).rejects.toThrow(/--data FILE is required/);
    await expect(pretrain(['--data', data, '--out', out, '--preset', 'gpt5'])).rejects.toThrow(
      /--preset 'gpt5' is unknown/,
    );
    await expect(pretrain(['--data', data, '--out', out, '--tokenizer', 'bpe'])).rejects.toThrow(
      /--tokenizer 'bpe'/,
    );
    await expect(sample(['--ckpt', out, '--prompt', 'ROMEO:\u00e9'])).rejects.toThrow(
      /--prompt: character "é"/,
    );
    await expect(sample(['--ckpt', join(dir, 'nope')])).rejects.toThrow(/has no config.json/);
    await expect(sample(['--ckpt', out, '--top-k=-1'])).rejects.toThrow(/--top-k must be an integer/);
  });
});

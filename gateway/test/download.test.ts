// "Download as a Hugging Face folder" on the real stack (every service a process, the gateway over HTTP): a
// tiny model folder written by the engine's saveCheckpoint — with the lab's resume state beside it, as a
// training checkpoint has — is registered in svc-infer, downloaded through the gateway and unpacked with the
// system `tar`. The archive holds the Hugging Face files byte for byte and none of the resume state, a
// symlink out of the folder is not followed, and an unknown name is a 404 that names it.
import { execFileSync } from 'node:child_process';
import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { gpt2Config, paramLayout, saveCheckpoint } from '@lab/engine';
import { type Stack, startStack } from '@lab/supervisor';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tarBytes, ustarHeader } from '../src/tar.ts';

let stack: Stack;
let dir: string;
let out: string;

const files = (root: string): string[] => {
  const all: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d)) {
      const p = join(d, e);
      if (statSync(p).isDirectory()) walk(p);
      else all.push(relative(root, p));
    }
  };
  walk(root);
  return all.sort();
};

beforeAll(async () => {
  const home = mkdtempSync(join(tmpdir(), 'lab-download-'));
  dir = join(home, 'tiny-model');
  out = join(home, 'out');
  mkdirSync(out);
  const cfg = gpt2Config({
    nLayer: 1,
    nHead: 2,
    nEmbd: 16,
    ffnHidden: 32,
    blockSize: 32,
    vocabSize: 64,
    bias: true,
    activation: 'gelu',
  });
  const layout = paramLayout(cfg);
  const params = layout.init(5);
  // Weights, optimizer moments and trainer state, as a training checkpoint writes them.
  saveCheckpoint(dir, {
    cfg,
    params,
    m: new Float32Array(params.length).fill(0.25),
    v: new Float32Array(params.length).fill(0.5),
    state: { step: 3, rng: [1, 2, 3, 4] },
  });
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify({ step: 3, files: {} }));
  writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify({ model_max_length: 32 }));
  writeFileSync(join(dir, 'generation_config.json'), JSON.stringify({ eos_token_id: 0 }));
  mkdirSync(join(dir, 'onnx'));
  writeFileSync(join(dir, 'onnx', 'model.onnx'), Buffer.alloc(1000, 7)); // not a multiple of 512
  writeFileSync(join(dir, 'empty.txt'), '');
  symlinkSync('/etc/hostname', join(dir, 'README.md'));
  stack = await startStack({ ports: 'free', output: 'buffer' });
  const reg = await fetch(`${stack.url}/api/infer/models`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'tiny-dl', path: dir }),
  });
  expect(reg.status, await reg.text()).toBe(201);
}, 180_000);

afterAll(async () => {
  await stack?.stop();
});

describe('GET /api/infer/models/{name}/download', () => {
  it('streams the Hugging Face folder as a ustar archive, without resume state', async () => {
    const res = await fetch(`${stack.url}/api/infer/models/tiny-dl/download`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/x-tar');
    expect(res.headers.get('content-disposition')).toBe('attachment; filename="tiny-dl.tar"');
    const tar = Buffer.from(await res.arrayBuffer());
    expect(tar.length).toBe(Number(res.headers.get('content-length')));
    expect(tar.length % 512).toBe(0);
    writeFileSync(join(out, 'tiny-dl.tar'), tar);
    // The system tar is strict about checksums and the ustar magic.
    execFileSync('tar', ['-xf', 'tiny-dl.tar'], { cwd: out });
    const got = join(out, 'tiny-dl');
    expect(files(got)).toEqual([
      'config.json',
      'empty.txt',
      'generation_config.json',
      'model.safetensors',
      join('onnx', 'model.onnx'),
      'tokenizer_config.json',
    ]);
    for (const f of files(got))
      expect(readFileSync(join(got, f)).equals(readFileSync(join(dir, f))), f).toBe(true);
  });

  it('downloads a checkpoint name with `@` too, and answers 404 naming an unknown model', async () => {
    const res = await fetch(`${stack.url}/api/infer/models/${encodeURIComponent('nojob@12')}/download`);
    expect(res.status).toBe(404);
    const body = (await res.json()) as { error: { code: string; message: string; field: string } };
    expect(body.error.code).toBe('NOT_FOUND');
    expect(body.error.field).toBe('name');
    expect(body.error.message).toContain('nojob@12');
  });

  it('writes headers tar reads for long names and sizes past 8 GiB', () => {
    const long = `${'a'.repeat(90)}/${'b'.repeat(60)}/model.safetensors`;
    const h = ustarHeader({ name: long, size: 9 * 2 ** 30, mtimeSec: 0 });
    const field = (at: number, n: number) =>
      Buffer.from(h.subarray(at, at + n))
        .toString()
        .replace(/\0+$/, '');
    expect(`${field(345, 155)}/${field(0, 100)}`).toBe(long);
    expect(h[124]).toBe(0x80); // base-256 size
    expect(tarBytes([{ size: 1 }, { size: 512 }])).toBe(512 * 2 + 512 + 512 + 512 * 2);
  });
});

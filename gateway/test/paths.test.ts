// Every server-side path the API takes is confined to the data roots (LAB_DATA_ROOTS): files outside,
// `..` that climbs out, and a symlink inside a root that points out are refused with 403 naming the field
// and the roots; a file inside a root is accepted.
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Stack, startStack } from '@lab/supervisor';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

let stack: Stack;
let root: string;

const post = async (path: string, body: unknown) => {
  const res = await fetch(`${stack.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return {
    status: res.status,
    body: (await res.json()) as { error?: { code: string; field: string; message: string } },
  };
};

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'lab-roots-'));
  mkdirSync(join(root, 'inside'));
  writeFileSync(join(root, 'inside', 'ok.txt'), 'To be, or not to be, that is the question.\n'.repeat(50));
  symlinkSync('/etc/passwd', join(root, 'inside', 'sneaky.txt'));
  stack = await startStack({
    ports: 'free',
    output: 'buffer',
    env: { LAB_DATA_ROOTS: join(root, 'inside') },
  });
}, 120_000);

afterAll(async () => {
  await stack?.stop();
});

describe('data roots', () => {
  const outside = () => [
    '/etc/passwd',
    `${root}/inside/../../../../etc/hostname`,
    join(root, 'inside', 'sneaky.txt'),
  ];

  it('refuses a dataset from a file outside the roots, through `..` or a symlink, and takes one inside', async () => {
    for (const path of outside()) {
      const r = await post('/api/data/datasets', { path, name: 'x', format: 'txt' });
      expect({ path, status: r.status, field: r.body.error?.field }).toEqual({
        path,
        status: 403,
        field: 'path',
      });
      expect(r.body.error?.code).toBe('PERMISSION_DENIED');
      expect(r.body.error?.message).toContain(join(root, 'inside'));
    }
    const ok = await post('/api/data/datasets', {
      path: join(root, 'inside', 'ok.txt'),
      name: 'ok',
      format: 'txt',
    });
    expect(ok.status).toBeLessThan(300);
  });

  it('refuses outside paths for training text, tokenizer training and import, model import and eval text', async () => {
    const cases: [string, (p: string) => unknown, string][] = [
      ['/api/train/jobs', (p) => ({ dataPath: p, tokenizer: 'char', config: { iters: 1 } }), 'dataPath'],
      ['/api/tokenize/train', (p) => ({ name: 'evil', vocabSize: 300, path: p }), 'path'],
      ['/api/tokenize/tokenizers', (p) => ({ name: 'evil2', path: p }), 'path'],
      ['/api/infer/models', (p) => ({ name: 'evil3', path: p }), 'path'],
      ['/api/eval/runs', (p) => ({ model: 'any', task: 'perplexity', textPath: p }), 'textPath'],
    ];
    for (const [route, body, field] of cases)
      for (const path of outside()) {
        const r = await post(route, body(path));
        expect({ route, path, status: r.status, field: r.body.error?.field }).toEqual({
          route,
          path,
          status: 403,
          field,
        });
      }
  });
});

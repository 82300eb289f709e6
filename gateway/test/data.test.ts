import { readFileSync } from 'node:fs';
import { datasetPath } from '@lab/common';
import { type Stack, startStack } from '@lab/supervisor';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openSse } from '../../supervisor/test/sse.ts';

// Needs `dataRoutes(app, deps.services)` registered in gateway/src/app.ts.
let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ ports: 'free', nats: true, output: 'buffer' });
}, 120_000);
afterAll(async () => {
  await stack?.stop();
});

const shakespeare = datasetPath('tinyshakespeare', 'input.txt');
const post = (path: string, body: unknown) =>
  fetch(`${stack.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
const upload = (file: Blob, name: string, fields: Record<string, string> = {}) => {
  const form = new FormData();
  form.set('file', file, name);
  for (const [k, v] of Object.entries(fields)) form.set(k, v);
  return fetch(`${stack.url}/api/data/datasets`, { method: 'POST', body: form });
};
type ErrorJson = { error: { code: string; message: string; field?: string } };

describe('data routes of the gateway', () => {
  let id = '';

  it('creates a dataset from an uploaded file, streamed to the Upload RPC', async () => {
    const res = await upload(new Blob([readFileSync(shakespeare)]), 'input.txt', { name: 'bard' });
    expect(res.status).toBe(201);
    const body = (await res.json()) as {
      id: string;
      version: number;
      dataset: { name: string; versions: { documents: number }[] };
    };
    expect(body.version).toBe(1);
    expect(body.dataset.name).toBe('bard');
    expect(body.dataset.versions[0]!.documents).toBe(7222);
    id = body.id;
  });

  it('creates a dataset from a server-side path, with a warning for a malformed line', async () => {
    const res = await post('/api/data/datasets', {
      path: datasetPath('arc', 'arc_easy_test.jsonl'),
      textField: 'query',
    });
    expect(res.status).toBe(201);
    const jsonl = `{"text":"a"}\n{broken\n{"text":"b"}\n`;
    const up = await upload(new Blob([jsonl]), 'x.jsonl');
    expect(up.status).toBe(201);
    const body = (await up.json()) as { warnings: string[]; dataset: { versions: { documents: number }[] } };
    expect(body.dataset.versions[0]!.documents).toBe(2);
    expect(body.warnings[0]).toMatch(/^line 2: not valid JSON/);
  });

  it('makes a new version from steps, with the cleaning report, and lists lineage', async () => {
    const res = await post(`/api/data/datasets/${id}/versions`, {
      steps: [
        { kind: 'clean' },
        { kind: 'pii' },
        { kind: 'dedup_exact' },
        { kind: 'dedup_near', threshold: 0.8 },
        { kind: 'split', seed: 1 },
      ],
    });
    expect(res.status).toBe(201);
    const body = (await res.json()) as {
      version: { version: number; parent: number; splits: Record<string, number> };
      reports: { kind: string; removed: Record<string, number>; clusters: number }[];
    };
    expect(body.version).toMatchObject({ version: 2, parent: 1 });
    expect(body.reports.map((r) => r.kind)).toEqual(['clean', 'pii', 'dedup_exact', 'dedup_near', 'split']);
    expect(body.reports[2]!.removed.exact_duplicate).toBeGreaterThan(0); // "All:\nSpeak, speak." and friends
    expect(Object.keys(body.version.splits).sort()).toEqual(['test', 'train', 'val']);

    const ds = (await (await fetch(`${stack.url}/api/data/datasets/${id}`)).json()) as {
      versions: { parent: number }[];
    };
    expect(ds.versions.map((v) => v.parent)).toEqual([0, 1]);
    const list = (await (await fetch(`${stack.url}/api/data/datasets`)).json()) as {
      datasets: { id: string }[];
    };
    expect(list.datasets.map((d) => d.id)).toContain(id);
    const report = (await (await fetch(`${stack.url}/api/data/datasets/${id}/versions/2`)).json()) as {
      reports: { examples: unknown[] }[];
    };
    expect(report.reports).toHaveLength(5);
  });

  it('answers stats, a page of documents, and shards', async () => {
    const stats = (await (
      await fetch(`${stack.url}/api/data/datasets/${id}/versions/0/stats?tokenizer=gpt2&topK=5`)
    ).json()) as {
      tokens: number;
      topNgrams: unknown[];
    };
    expect(stats.tokens).toBeGreaterThan(0);
    expect(stats.topNgrams).toHaveLength(5);
    const docs = (await (
      await fetch(`${stack.url}/api/data/datasets/${id}/versions/1/documents?offset=1&limit=1`)
    ).json()) as {
      total: number;
      documents: { index: number; text: string }[];
    };
    expect(docs).toMatchObject({ total: 7222, documents: [{ index: 1, text: 'All:\nSpeak, speak.' }] });
    const shards = await post(`/api/data/datasets/${id}/versions/2/shards`, { tokenizer: 'gpt2' });
    expect(shards.status).toBe(201);
    expect(await shards.json()).toMatchObject({ dtype: 'uint16', tokenizer: 'gpt2' });
  });

  it('runs a transform as a job with SSE progress, replayable from the start', async () => {
    const res = await post(`/api/data/datasets/${id}/versions/jobs`, {
      from: 1,
      steps: [{ kind: 'clean' }, { kind: 'dedup_near', threshold: 0.7 }],
    });
    expect(res.status).toBe(202);
    const { jobId } = (await res.json()) as { jobId: string };
    const sse = await openSse(`${stack.url}/api/data/jobs/${jobId}/events`);
    const events = await sse.waitFor(
      (evs) => evs.some((e) => JSON.parse(e.data).state !== 'running'),
      60_000,
    );
    sse.close();
    const last = JSON.parse(events.at(-1)!.data);
    expect(last.state).toBe('done');
    expect(last.version).toMatchObject({ parent: 1 });
    expect(last.reports.map((r: { kind: string }) => r.kind)).toEqual(['clean', 'dedup_near']);
    expect(events.length).toBeGreaterThan(1);
    const replay = await openSse(`${stack.url}/api/data/jobs/${jobId}/events`, { 'last-event-id': '0' });
    const again = await replay.waitFor((evs) => evs.length === events.length);
    replay.close();
    expect(again.map((e) => e.data)).toEqual(events.map((e) => e.data));

    const bad = await post(`/api/data/datasets/${id}/versions/jobs`, {
      steps: [{ kind: 'split', train: 2 }],
    });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as ErrorJson).error.field).toBe('steps[0].train');
    expect((await fetch(`${stack.url}/api/data/jobs/nope/events`)).status).toBe(404);

    const shards = await post(`/api/data/datasets/${id}/versions/1/shards/jobs`, {
      tokenizer: 'cl100k_base',
    });
    expect(shards.status).toBe(202);
    const s2 = await openSse(
      `${stack.url}/api/data/jobs/${((await shards.json()) as { jobId: string }).jobId}/events`,
    );
    const se = await s2.waitFor((evs) => evs.some((e) => JSON.parse(e.data).state !== 'running'), 60_000);
    s2.close();
    expect(JSON.parse(se.at(-1)!.data)).toMatchObject({
      state: 'done',
      index: { dtype: 'uint32', tokenizer: 'cl100k_base' },
    });
  });

  it('rejects bad input with a clear error and creates nothing', async () => {
    const before = ((await (await fetch(`${stack.url}/api/data/datasets`)).json()) as { total: number })
      .total;
    const exe = await upload(new Blob(['MZ']), 'tool.exe');
    expect(exe.status).toBe(400);
    expect(((await exe.json()) as ErrorJson).error).toMatchObject({
      code: 'INVALID_ARGUMENT',
      field: 'format',
    });
    const empty = await upload(new Blob([]), 'empty.txt');
    expect(empty.status).toBe(400);
    expect(((await empty.json()) as ErrorJson).error.message).toMatch(/empty/);
    const big = await upload(new Blob([Buffer.alloc(200_000, 97)]), 'big.txt', { maxBytes: '1000' });
    expect(big.status).toBe(413);
    const noPath = await post('/api/data/datasets', { name: 'x' });
    expect(noPath.status).toBe(400);
    expect(((await noPath.json()) as ErrorJson).error.field).toBe('path');
    expect(((await (await fetch(`${stack.url}/api/data/datasets`)).json()) as { total: number }).total).toBe(
      before,
    );

    const unknown = await fetch(`${stack.url}/api/data/datasets/nope`);
    expect(unknown.status).toBe(404);
    const noVersion = await fetch(`${stack.url}/api/data/datasets/${id}/versions/99/stats`);
    expect(noVersion.status).toBe(404);
    expect(((await noVersion.json()) as ErrorJson).error.field).toBe('version');
    const badStep = await post(`/api/data/datasets/${id}/versions`, {
      steps: [{ kind: 'dedup_near', threshold: 3 }],
    });
    expect(badStep.status).toBe(400);
    expect(((await badStep.json()) as ErrorJson).error.field).toBe('steps[0].threshold');
    const unknownStep = await post(`/api/data/datasets/${id}/versions`, { steps: [{ kind: 'shuffle' }] });
    expect(((await unknownStep.json()) as ErrorJson).error.field).toBe('steps[0].kind');
  });

  it('describes every route in the OpenAPI document', async () => {
    const doc = (await (await fetch(`${stack.url}/api/openapi.json`)).json()) as {
      paths: Record<string, unknown>;
    };
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining([
        '/api/data/datasets',
        '/api/data/datasets/{id}',
        '/api/data/datasets/{id}/versions',
        '/api/data/datasets/{id}/versions/{version}',
        '/api/data/datasets/{id}/versions/{version}/stats',
        '/api/data/datasets/{id}/versions/{version}/documents',
        '/api/data/datasets/{id}/versions/{version}/shards',
        '/api/data/datasets/{id}/versions/jobs',
        '/api/data/datasets/{id}/versions/{version}/shards/jobs',
        '/api/data/jobs/{jobId}/events',
        '/api/data/datasets/{id}/step-defaults',
        '/api/data/datasets/{id}/dependents',
      ]),
    );
    const item = doc.paths['/api/data/datasets/{id}'] as Record<string, unknown>;
    expect(Object.keys(item)).toEqual(expect.arrayContaining(['get', 'delete']));
  });

  it('dry-runs steps, gives the defaults that fit the dataset, and deletes only what is confirmed', async () => {
    const defaults = (await (await fetch(`${stack.url}/api/data/datasets/${id}/step-defaults`)).json()) as {
      documentSplit: string;
      steps: { kind: string; minWords?: number }[];
    };
    expect(defaults.documentSplit).toBe('paragraph');
    expect(defaults.steps.find((st) => st.kind === 'quality')).toMatchObject({ minWords: 3 });
    const before = (
      (await (await fetch(`${stack.url}/api/data/datasets/${id}`)).json()) as { versions: unknown[] }
    ).versions.length;
    const dry = await post(`/api/data/datasets/${id}/versions`, {
      from: 1,
      dryRun: true,
      steps: [{ kind: 'quality', minWords: 50 }],
    });
    expect(dry.status).toBe(200);
    const body = (await dry.json()) as {
      version?: unknown;
      documents: number;
      reports: { warnings: string[]; examples: { measure: string; limit: number }[] }[];
    };
    expect(body.version).toBeUndefined();
    expect(body.documents).toBeLessThan(7222 / 4);
    expect(body.reports[0]!.warnings[0]).toMatch(/^quality removes 8\d % of the documents/);
    expect(body.reports[0]!.examples[0]).toMatchObject({ measure: 'words', limit: 50 });
    const after = (
      (await (await fetch(`${stack.url}/api/data/datasets/${id}`)).json()) as { versions: unknown[] }
    ).versions.length;
    expect(after).toBe(before);

    // v1 has later versions made from it: listed, and deleting needs force=true.
    const deps = (await (
      await fetch(`${stack.url}/api/data/datasets/${id}/dependents?version=1`)
    ).json()) as {
      dependents: { kind: string; needsForce: boolean }[];
    };
    expect(deps.dependents.filter((d) => d.kind === 'version').every((d) => d.needsForce)).toBe(true);
    const refused = await fetch(`${stack.url}/api/data/datasets/${id}/versions/1`, { method: 'DELETE' });
    expect(refused.status).toBe(409);
    expect(((await refused.json()) as ErrorJson).error).toMatchObject({
      code: 'FAILED_PRECONDITION',
      field: 'force',
    });
    const bad = await fetch(`${stack.url}/api/data/datasets/${id}/versions/1?force=maybe`, {
      method: 'DELETE',
    });
    expect(bad.status).toBe(400);
    const ok = await fetch(`${stack.url}/api/data/datasets/${id}/versions/1?force=true`, {
      method: 'DELETE',
    });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toMatchObject({ deletedVersions: [1], datasetDeleted: false });
    const gone = await fetch(`${stack.url}/api/data/datasets/${id}/versions/1/documents`);
    expect(gone.status).toBe(404);
  });
});

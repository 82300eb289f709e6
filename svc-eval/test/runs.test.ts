// Eval runs on the real stack (every service a process, gRPC over loopback, nats-server, the gateway over
// HTTP): a small GPT-2-shaped model with GPT-2's real tokenizer is registered in svc-infer, and svc-eval
// scores HellaSwag and perplexity with it. The numbers are checked against a computation made here from the
// model's logits over the whole sequence (no KV cache, no shared context), so the shared-context path and
// lm-evaluation-harness's tokenisation rules are what is tested.
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { datasetPath } from '@lab/common';
import {
  gpt2Config,
  type InferenceModel,
  loadInferenceModel,
  paramLayout,
  saveCheckpoint,
} from '@lab/engine';
import { type Stack, startStack } from '@lab/supervisor';
import { parseTokenizerJson, type Tokenizer } from '@lab/tokenizer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../supervisor/test/fixture.ts';
import { openSse } from '../../supervisor/test/sse.ts';
import { textMetrics } from '../src/metrics/index.ts';
import { hellaswagQuery } from '../src/tasks/hellaswag.ts';
import { evalClient, type Item, type Run } from './client.ts';

let stack: Stack;
let dir: string;
let lm: InferenceModel;
let tok: Tokenizer;
const EOT = 50256;
const bin = fileURLToPath(new URL('../bin/lab-eval.js', import.meta.url));

const { api, post, follow } = evalClient(() => stack.url);

const logSoftmaxAt = (row: Float32Array, t: number): number => {
  let max = -Infinity;
  for (const v of row) if (v > max) max = v;
  let sum = 0;
  for (const v of row) sum += Math.exp(v - max);
  return row[t]! - max - Math.log(sum);
};

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'lab-eval-model-'));
  const cfg = gpt2Config({
    nLayer: 2,
    nHead: 2,
    nEmbd: 32,
    ffnHidden: 64,
    blockSize: 256,
    vocabSize: 50257,
    bias: true,
    activation: 'gelu',
  });
  const params = paramLayout(cfg).init(11);
  for (let i = 0; i < params.length; i++) params[i]! *= 4;
  mkdirSync(dir, { recursive: true });
  saveCheckpoint(dir, { cfg, params });
  copyFileSync(datasetPath('gpt2-tokenizer', 'tokenizer.json'), join(dir, 'tokenizer.json'));
  writeFileSync(
    join(dir, 'generation_config.json'),
    JSON.stringify({ eos_token_id: EOT, bos_token_id: EOT }),
  );
  tok = parseTokenizerJson(readFileSync(join(dir, 'tokenizer.json'), 'utf8'));
  [stack, lm] = await Promise.all([startStack({ ports: 'free', output: 'buffer' }), loadInferenceModel(dir)]);
  const reg = await post('/api/infer/models', { name: 'tiny-gpt2', path: dir });
  expect(reg.status).toBe(201);
}, 180_000);

afterAll(async () => {
  await lm?.release();
  await stack?.stop();
});

describe('eval runs', () => {
  it('scores HellaSwag like a full forward of each choice, with acc_norm dividing by characters, and streams progress', async () => {
    const sub = await post<Run>('/api/eval/runs', { model: 'tiny-gpt2', task: 'hellaswag', limit: 4 });
    expect(sub.status).toBe(201);
    const { kinds, runs } = await follow(sub.body.id);
    const run = runs.at(-1)!;
    expect(run.error).toBe('');
    expect(run.state).toBe('completed');
    expect(kinds[0]).toMatch(/state|progress/);
    expect(kinds).toContain('progress');
    expect(runs.some((r) => r.progress.done > 0 && r.progress.done < 4 && r.progress.total === 4)).toBe(true);
    expect(run.request).toMatchObject({ limit: 4, fewshot: 0, seed: 0 });

    const items = (await api<{ items: Item[]; total: number }>(`/api/eval/runs/${run.id}/items?limit=10`))
      .body;
    expect(items.total).toBe(4);
    // The first item, scored here from one forward over context + choice, as lm-evaluation-harness builds it.
    const doc = JSON.parse(
      readFileSync(datasetPath('hellaswag', 'hellaswag_val_subset1000.jsonl'), 'utf8').split('\n')[0]!,
    ) as {
      activity_label: string;
      ctx_a: string;
      ctx_b: string;
    };
    const first = items.items[0]!;
    expect(first.prompt).toBe(hellaswagQuery(doc));
    for (const choice of first.choices) {
      const ctxIds = tok.encode(first.prompt);
      const whole = tok.encode(first.prompt + choice.text);
      const cont = whole.slice(ctxIds.length);
      const input = [...ctxIds, ...cont].slice(0, -1);
      const logits = await lm.forward(input, true);
      const V = lm.cfg.vocabSize;
      let expected = 0;
      cont.forEach((t, j) => {
        const row = ctxIds.length - 1 + j;
        expected += logSoftmaxAt(logits.subarray(row * V, (row + 1) * V), t);
      });
      expect(choice.tokens).toBe(cont.length);
      expect(Math.abs(choice.loglik - expected)).toBeLessThan(2e-3);
      // acc_norm's measure: the choice's characters, without the space that joins it to the context.
      expect(choice.loglikNorm).toBeCloseTo(choice.loglik / (choice.text.length - 1), 9);
    }
    // Both accuracies from the items, as the metric defines them.
    const accNorm =
      items.items.filter((it) => {
        const best = it.choices.reduce((b, c, i, all) => (c.loglikNorm > all[b]!.loglikNorm ? i : b), 0);
        return it.choices[best]!.gold;
      }).length / 4;
    const acc =
      items.items.filter((it) => {
        const best = it.choices.reduce((b, c, i, all) => (c.loglik > all[b]!.loglik ? i : b), 0);
        return it.choices[best]!.gold;
      }).length / 4;
    const metric = (name: string) => run.metrics.find((m) => m.name === name && m.group === '')!;
    expect(metric('acc').value).toBeCloseTo(acc, 12);
    expect(metric('acc_norm').value).toBeCloseTo(accNorm, 12);
    expect(metric('acc').n).toBe(4);
    expect(run.prompt?.firstItem.startsWith(first.prompt)).toBe(true);
  }, 240_000);

  it('computes perplexity and bits per byte of WikiText-2 with a sliding window, as a forward per window does', async () => {
    const text = readFileSync(datasetPath('wikitext-2', 'wiki.test.tokens'), 'utf8').slice(0, 4000);
    const textPath = join(mkdtempSync(join(tmpdir(), 'lab-eval-text-')), 'wiki.txt');
    writeFileSync(textPath, text);
    const sub = await post<Run>('/api/eval/runs', {
      model: 'tiny-gpt2',
      task: 'perplexity',
      textPath,
      context: 128,
      stride: 64,
    });
    expect(sub.status).toBe(201);
    const run = (await follow(sub.body.id)).runs.at(-1)!;
    expect(run.error).toBe('');
    // Every token scored once: the first after the end-of-text token, each later one in the first window
    // whose new part holds it.
    const seq = [EOT, ...tok.encode(text)];
    const V = lm.cfg.vocabSize;
    let nll = 0;
    let scored = 0;
    let prevEnd = 1;
    for (let begin = 0; ; begin += 64) {
      const end = Math.min(begin + 128, seq.length);
      const logits = await lm.forward(seq.slice(begin, end - 1), true);
      for (let pos = Math.max(prevEnd, begin + 1); pos < end; pos++) {
        const row = pos - 1 - begin;
        nll -= logSoftmaxAt(logits.subarray(row * V, (row + 1) * V), seq[pos]!);
        scored++;
      }
      prevEnd = end;
      if (end === seq.length) break;
    }
    const m = (name: string) => run.metrics.find((x) => x.name === name)!.value;
    expect(run.details.tokens as number).toBe(seq.length - 1);
    expect(scored).toBe(seq.length - 1);
    expect(Math.abs(m('nll') - nll / scored)).toBeLessThan(1e-4);
    expect(m('perplexity')).toBeCloseTo(Math.exp(m('nll')), 6);
    const bytes = Buffer.byteLength(text, 'utf8');
    expect(run.details.bytes as number).toBe(bytes);
    expect(m('bits_per_byte')).toBeCloseTo(nll / Math.LN2 / bytes, 4);
  }, 240_000);

  it('lists the model on the leaderboard with its latest scores', async () => {
    const lb = (
      await api<{
        rows: { model: string; scores: { task: string; metric: { name: string; value: number } }[] }[];
      }>('/api/eval/leaderboard')
    ).body;
    const row = lb.rows.find((r) => r.model === 'tiny-gpt2')!;
    expect(row.scores.map((s) => s.task).sort()).toEqual(['hellaswag', 'perplexity']);
    expect(row.scores.find((s) => s.task === 'perplexity')!.metric.name).toBe('bits_per_byte');
  });

  it('answers Alpaca instructions and scores them with every text metric, as the metrics compute them', async () => {
    const sub = await post<Run>('/api/eval/runs', {
      model: 'tiny-gpt2',
      task: 'alpaca_generation',
      limit: 2,
      maxTokens: 8,
    });
    expect(sub.status).toBe(201);
    const run = (await follow(sub.body.id)).runs.at(-1)!;
    expect(run.error).toBe('');
    const items = (
      await api<{ items: (Item & { references: string[] })[] }>(`/api/eval/runs/${run.id}/items`)
    ).body.items;
    expect(items.map((i) => i.prompt)).toEqual([
      'Give three tips for staying healthy.',
      'What are the three primary colors?',
    ]);
    expect(items[1]!.references).toEqual(['The three primary colors are red, blue, and yellow.']);
    const want = textMetrics(
      items.map((i) => i.outputs[0]!),
      [items.map((i) => i.references[0]!)],
    ).metrics;
    for (const [name, value] of Object.entries(want))
      expect({ name, value: run.metrics.find((m) => m.name === name)?.value }).toEqual({ name, value });
    expect(run.metrics[0]!.name).toBe('rougeL');
  }, 120_000);

  it('reports the spread of a score across seeds and few-shot counts, apart from the leaderboard', async () => {
    const before = (await api<{ rows: unknown[] }>('/api/eval/leaderboard')).body;
    const sub = await post<{ id: string; runs: Run[] }>('/api/eval/variance', {
      base: { model: 'tiny-gpt2', task: 'hellaswag', limit: 3 },
      seeds: [1, 2],
      fewshots: [0, 1],
    });
    expect(sub.status).toBe(201);
    expect(sub.body.runs.map((r) => [r.request.seed, r.request.fewshot])).toEqual([
      [1, 0],
      [1, 1],
      [2, 0],
      [2, 1],
    ]);
    for (const r of sub.body.runs) expect((await follow(r.id)).runs.at(-1)!.state).toBe('completed');
    const rep = (
      await api<{
        completed: number;
        metric: string;
        mean: number;
        std: number;
        min: number;
        max: number;
        runs: Run[];
      }>(`/api/eval/variance/${sub.body.id}`)
    ).body;
    expect(rep.completed).toBe(4);
    expect(rep.metric).toBe('acc_norm');
    const values = rep.runs.map((r) => r.metrics.find((m) => m.name === 'acc_norm' && m.group === '')!.value);
    const mean = values.reduce((a, b) => a + b, 0) / 4;
    expect(rep.mean).toBeCloseTo(mean, 12);
    expect(rep.std).toBeCloseTo(Math.sqrt(values.reduce((a, b) => a + (b - mean) ** 2, 0) / 3), 12);
    expect([rep.min, rep.max]).toEqual([Math.min(...values), Math.max(...values)]);
    // The 1-shot prompts carry an example before the item; the 0-shot ones do not.
    expect(rep.runs[1]!.prompt!.firstItem.length).toBeGreaterThan(rep.runs[0]!.prompt!.firstItem.length);
    expect((await api('/api/eval/leaderboard')).body).toEqual(before);
  }, 240_000);

  it('runs from lab-eval against the service: run prints scores, runs lists, show prints items; bad flags exit 1', async () => {
    const env = { ...process.env, LAB_EVAL_ADDR: stack.config.addresses.eval };
    const run = await runCli(
      bin,
      ['run', '--model', 'tiny-gpt2', '--task', 'arc_easy', '--limit', '2', '--json'],
      { env },
    );
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const r = JSON.parse(run.stdout) as Run & { task: string };
    expect(r).toMatchObject({ state: 'completed', task: 'arc_easy', request: { limit: 2 } });
    const runs = await runCli(bin, ['runs'], { env });
    expect(runs.stdout).toContain(r.id);
    const show = await runCli(bin, ['show', r.id, '--items', '1'], { env });
    expect(show.code).toBe(0);
    expect(show.stdout).toContain('acc_norm');
    expect(show.stdout).toContain('Question:');
    const bad = await runCli(bin, ['run', '--model', 'tiny-gpt2', '--task', 'arc_easy', '--limit', '0'], {
      env,
    });
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/limit/);
  }, 120_000);

  it('publishes a run’s progress and end on NATS, and renders prompts with the chat template when asked', async () => {
    const bus = await openSse(`${stack.url}/api/events?subject=${encodeURIComponent('lab.eval.>')}`);
    const sub = await post<Run>('/api/eval/runs', {
      model: 'tiny-gpt2',
      task: 'truthfulqa_mc1',
      limit: 2,
      chatTemplate: true,
    });
    const run = (await follow(sub.body.id)).runs.at(-1)!;
    expect(run.state).toBe('completed');
    // The model has no template of its own: the lab's default frames the item as the user's turn.
    expect(run.prompt).toMatchObject({ chatTemplate: true });
    expect(run.prompt!.firstItem.startsWith('User: Q: What is human life expectancy')).toBe(true);
    const events = await bus.waitFor(
      (es) =>
        es.some(
          (e) =>
            JSON.parse(e.data).subject === `lab.eval.${run.id}.state` &&
            JSON.parse(e.data).data.state === 'completed',
        ),
      30_000,
    );
    bus.close();
    const mine = events
      .map(
        (e) =>
          JSON.parse(e.data) as { subject: string; data: { state: string; metrics: { name: string }[] } },
      )
      .filter((e) => e.subject.startsWith(`lab.eval.${run.id}.`));
    expect(mine.map((e) => e.data.state)).toContain('running');
    expect(mine.at(-1)!.data.metrics.map((m) => m.name)).toContain('mc1');
  }, 120_000);

  it('scores texts over HTTP with every metric, and refuses a reference set of the wrong length', async () => {
    const r = await post<Record<string, number>>('/api/eval/metrics', {
      hypotheses: ['the cat sat on the mat', 'a dog'],
      references: [['the cat is on the mat', 'a dog']],
    });
    expect(r.status).toBe(200);
    expect(Object.keys(r.body)).toEqual(
      expect.arrayContaining([
        'bleu',
        'chrf',
        'ter',
        'rouge1',
        'rouge2',
        'rougeL',
        'rougeLsum',
        'meteor',
        'exact_match',
        'f1',
      ]),
    );
    expect(r.body.exact_match).toBe(50);
    const bad = await post<{ error: { field: string } }>('/api/eval/metrics', {
      hypotheses: ['a', 'b'],
      references: [['a']],
    });
    expect(bad.status).toBe(400);
    expect(bad.body.error.field).toMatch(/^references/);
  });

  it('refuses bad runs naming the field: unknown task or model, limit ≤ 0, options of another task', async () => {
    const cases: [Record<string, unknown>, number, string][] = [
      [{ model: 'tiny-gpt2', task: 'nope' }, 400, 'task'],
      [{ model: 'no-such-model', task: 'hellaswag' }, 404, 'model'],
      [{ model: 'tiny-gpt2', task: 'hellaswag', limit: 0 }, 400, 'limit'],
      [{ model: 'tiny-gpt2', task: 'hellaswag', limit: -3 }, 400, 'limit'],
      [{ model: 'tiny-gpt2', task: 'hellaswag', stride: 4 }, 400, 'stride'],
      [{ model: 'tiny-gpt2', task: 'mmlu', fewshot: 9 }, 400, 'fewshot'],
      [{ model: 'tiny-gpt2', task: 'perplexity' }, 400, 'text'],
    ];
    for (const [body, status, field] of cases) {
      const r = await post<{ error: { field: string; message: string } }>('/api/eval/runs', body);
      expect({ body, status: r.status, field: r.body.error?.field }).toEqual({ body, status, field });
      expect(r.body.error.message.length).toBeGreaterThan(8);
    }
    expect((await api('/api/eval/runs/ev-none')).status).toBe(404);
  });

  it('cancels a queued run and a running one', async () => {
    const a = await post<Run>('/api/eval/runs', { model: 'tiny-gpt2', task: 'hellaswag', limit: 200 });
    const b = await post<Run>('/api/eval/runs', { model: 'tiny-gpt2', task: 'hellaswag', limit: 5 });
    const cb = await post<Run>(`/api/eval/runs/${b.body.id}/cancel`, {});
    expect(cb.body.state).toBe('cancelled');
    const sse = await openSse(`${stack.url}/api/eval/runs/${a.body.id}/events`);
    await sse.waitFor(
      (es) => es.some((e) => e.event === 'progress' && (JSON.parse(e.data) as Run).progress.done > 0),
      120_000,
    );
    sse.close();
    await post(`/api/eval/runs/${a.body.id}/cancel`, {});
    const end = (await follow(a.body.id)).runs.at(-1)!;
    expect(end.state).toBe('cancelled');
    expect((await post<{ error: { code: string } }>(`/api/eval/runs/${a.body.id}/cancel`, {})).status).toBe(
      409,
    );
  }, 180_000);
});

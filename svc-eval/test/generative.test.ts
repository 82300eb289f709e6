// HumanEval and LLM-as-judge runs on the real stack. Two tiny character models are trained by svc-train
// on texts they can learn by heart (about 20 s each here): one on HumanEval/0's prompt and canonical body,
// so its completion passes the problem's tests in the sandbox, and one on a chat whose answer is always
// "Rating: [[7]]", which then judges through the lab's own OpenAI-compatible /v1.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { datasetPath } from '@lab/common';
import { type Stack, startStack } from '@lab/supervisor';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { evalClient, type Item, type Run } from './client.ts';

let stack: Stack;

const { api, post, follow: followAll } = evalClient(() => stack.url);
const follow = async (id: string): Promise<Run> => (await followAll(id)).runs.at(-1)!;

/** Trains a char model on `text` repeated and answers its last checkpoint's model name. */
async function train(name: string, text: string, iters: number, nEmbd: number): Promise<string> {
  const file = join(mkdtempSync(join(tmpdir(), 'lab-eval-train-')), `${name}.txt`);
  writeFileSync(file, text.repeat(Math.ceil(60_000 / text.length)));
  const job = await post<{ id: string }>('/api/train/jobs', {
    name,
    dataPath: file,
    tokenizer: 'char',
    config: {
      iters,
      batchSize: 8,
      context: 128,
      evalInterval: iters,
      sampleTokens: 0,
      learningRate: 3e-3,
      warmupIters: 10,
      model: { nLayer: 2, nHead: 4, nEmbd },
    },
  });
  expect(job.status).toBe(201);
  for (;;) {
    const j = (await api<{ state: string; error: string }>(`/api/train/jobs/${job.body.id}`)).body;
    if (j.state === 'completed') return `${name}@${iters}`;
    if (['failed', 'cancelled'].includes(j.state)) throw new Error(`training ${name}: ${j.state} ${j.error}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

const problem0 = JSON.parse(
  readFileSync(datasetPath('humaneval', 'HumanEval.jsonl'), 'utf8').split('\n')[0]!,
) as {
  prompt: string;
  canonical_solution: string;
};
let coder = '';
let judge = '';

beforeAll(async () => {
  stack = await startStack({ ports: 'free', output: 'buffer' });
  coder = await train('coder', `${problem0.prompt}${problem0.canonical_solution}\n\n`, 600, 128);
  judge = await train('judge', 'User: Rate\n\nAssistant: Rating: [[7]]\n\n', 400, 64);
}, 600_000);

afterAll(async () => {
  await stack?.stop();
});

describe('generative eval runs', () => {
  it('runs HumanEval completions in the sandbox and reports pass@k by the unbiased estimator', async () => {
    const sub = await post<Run>('/api/eval/runs', {
      model: coder,
      task: 'humaneval',
      limit: 2,
      samples: 2,
      k: [1, 2],
      temperature: 0,
    });
    expect(sub.status).toBe(201);
    const run = await follow(sub.body.id);
    expect(run.error).toBe('');
    const items = (await api<{ items: Item[] }>(`/api/eval/runs/${run.id}/items`)).body.items;
    expect(items.map((i) => i.id)).toEqual(['HumanEval/0', 'HumanEval/1']);
    // The memorised body passes problem 0's tests; problem 1 is not something it learnt.
    expect(items[0]!.outputs).toHaveLength(2);
    expect(items[0]!.outputs[0]).toContain('for idx, elem in enumerate(numbers)');
    expect(items[0]!.correct).toBe(true);
    expect(items[1]!.correct).toBe(false);
    const statuses = (items[1]!.details as { status: string }[]).map((d) => d.status);
    expect(statuses).toHaveLength(2);
    expect(statuses.every((s) => s !== 'passed')).toBe(true);
    // pass@k = mean over problems of 1 - C(n-c, k)/C(n, k).
    const c0 = items[0]!.score * 2;
    const pass1 = (c0 / 2 + 0) / 2;
    const pass2 = ((c0 > 0 ? 1 : 0) + 0) / 2;
    expect(run.metrics.find((m) => m.name === 'pass@1')!.value).toBeCloseTo(pass1, 12);
    expect(run.metrics.find((m) => m.name === 'pass@2')!.value).toBeCloseTo(pass2, 12);
  }, 240_000);

  it('has a lab model judge answers through the lab’s own /v1 and records its reasoning', async () => {
    const sub = await post<Run>('/api/eval/runs', {
      model: judge,
      task: 'judge',
      questions: ['Rate', 'Rate'],
      judgeModel: judge,
      judgePrompt: 'Rate {answer}',
      maxTokens: 24,
    });
    expect(sub.status).toBe(201);
    const run = await follow(sub.body.id);
    expect(run.error).toBe('');
    expect(run.details).toMatchObject({ judged: 2, unparsed: 0, mode: 'single' });
    expect(String((run.details.judge as { url: string }).url)).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/v1$/);
    expect(run.metrics.find((m) => m.name === 'score')!.value).toBe(7);
    const items = (await api<{ items: Item[] }>(`/api/eval/runs/${run.id}/items`)).body.items;
    const d = items[0]!.details as { judgePrompt: string; judgement: string; rating: number };
    expect(d.judgePrompt).toBe(`Rate ${items[0]!.outputs[0]}`);
    expect(d.judgement).toContain('[[7]]');
    expect(d.rating).toBe(7);
  }, 240_000);

  it('refuses a judge run without questions, and a pairwise one without a baseline', async () => {
    const a = await post<{ error: { field: string } }>('/api/eval/runs', { model: judge, task: 'judge' });
    expect([a.status, a.body.error.field]).toEqual([400, 'questions']);
    const b = await post<{ error: { field: string } }>('/api/eval/runs', {
      model: judge,
      task: 'judge',
      judgeMode: 'pairwise',
      questions: ['q'],
    });
    expect([b.status, b.body.error.field]).toEqual([400, 'baseline']);
  });
});

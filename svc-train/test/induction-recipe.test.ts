// The induction-head recipe end to end on svc-train's side: a SubmitJob request with repeated random tokens
// is validated into a job, its worker thread trains the two-layer attention-only model and reports, at each
// evaluation, the losses on both halves and the best head's induction score; its checkpoint, read back the
// way the Attention page reads it, holds a real induction head. Bad input names its field.
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { headInductionScores, TraceModel } from '@lab/engine';
import { SubmitJobRequest } from '@lab/proto/train';
import { afterAll, describe, expect, it } from 'vitest';
import { listCheckpoints } from '../src/jobs/checkpoints.ts';
import { TrainRun } from '../src/jobs/runner.ts';
import type { InductionPoint, WorkerMessage } from '../src/jobs/types.ts';
import { specToRequest, validateSubmit } from '../src/jobs/validate.ts';

const home = mkdtempSync(join(tmpdir(), 'induction-recipe-'));
afterAll(() => rmSync(home, { recursive: true, force: true }));

/** The Train page's recipe (web/src/pages/train/InductionRecipe.tsx), with a horizon the test may cut short. */
const recipe = (over: Partial<SubmitJobRequest> = {}, config: Record<string, unknown> = {}) =>
  SubmitJobRequest.fromPartial({
    name: 'induction heads',
    repeatedTokens: { vocabSize: 64, halfLength: 16 },
    config: {
      preset: 'nanogpt-cpu',
      modelJson: JSON.stringify({
        nLayer: 2,
        nHead: 4,
        nEmbd: 64,
        ffnHidden: 256,
        attnOnly: true,
        positions: 'rope',
      }),
      batchSize: 32,
      iters: 3000,
      learningRate: 0.003,
      warmupIters: 20,
      evalInterval: 100,
      evalIters: 2,
      sampleOff: true,
      seed: 1,
      ...config,
    },
    ...over,
  });

describe('the induction-head recipe', () => {
  it('trains an induction head: the second-half loss falls and the best head scores above 0.5', async () => {
    const spec = validateSubmit(recipe());
    expect(spec.context).toBe(32);
    expect(spec.source).toEqual({ kind: 'repeated', vocab: 64, half: 16, seed: 1 });
    const dir = join(home, 'job');
    mkdirSync(dir);
    const run = new TrainRun({ jobId: 'induction', spec, dir, home, resumeLimit: Number.MAX_SAFE_INTEGER });
    const evals: { step: number; induction: InductionPoint }[] = [];
    let last: WorkerMessage | undefined;
    // Stopped (with a checkpoint) once an evaluation shows the phase change, so the test takes as long as
    // the model does; iters is only the schedule's horizon.
    for await (const batch of run.batches()) {
      for (const m of batch) {
        last = m;
        if (m.type === 'error') throw new Error(m.message);
        if (m.type !== 'eval') continue;
        expect(m.induction, 'every evaluation of a repeated-tokens job has induction numbers').toBeDefined();
        evals.push({ step: m.step, induction: m.induction! });
        if (m.induction!.inductionScore > 0.5) run.pause();
      }
    }
    expect(last?.type).toBe('paused');
    const first = evals[0]!.induction;
    const end = evals.at(-1)!.induction;
    // Before: nothing can be predicted, both halves sit near ln 64 ≈ 4.16 and no head does induction.
    expect(first.secondHalfLoss).toBeGreaterThan(3);
    expect(first.inductionScore).toBeLessThan(0.3);
    // After: the repeat is copied (the first half stays unpredictable) by a head of the second layer — the
    // only place an induction head can be, as it reads what a first-layer head wrote.
    expect(end.inductionScore).toBeGreaterThan(0.5);
    expect(end.secondHalfLoss).toBeLessThan(0.5 * end.firstHalfLoss);
    expect(end.firstHalfLoss).toBeGreaterThan(3.5);
    expect(end.bestLayer).toBe(1);

    // The checkpoint the pause wrote, opened as svc-infer's Trace opens it: the head does induction on
    // repeats of other lengths it trained on too (a head that copied from a fixed distance back would not).
    // (The pause lands after the step in flight when the evaluation arrived.)
    const ck = listCheckpoints(dir).at(-1)!;
    expect(ck.step).toBeGreaterThanOrEqual(evals.at(-1)!.step);
    const config = JSON.parse(readFileSync(join(ck.dir, 'config.json'), 'utf8')) as Record<string, unknown>;
    expect(config.lab_attn_only).toBe(true);
    const trace = await TraceModel.load(ck.dir, { threads: 1 });
    try {
      for (const half of [10, 13]) {
        const scores = await headInductionScores(trace, half, { seed: 100 });
        expect(scores[end.bestLayer]![end.bestHead], `runs of ${half}`).toBeGreaterThan(0.5);
      }
    } finally {
      await trace.release();
    }
  }, 240_000);

  it('keeps the source in the stored request, and refuses bad input naming the field', () => {
    const spec = validateSubmit(recipe({}, { seed: 9 }));
    expect(specToRequest(spec).repeatedTokens).toEqual({ vocabSize: 64, halfLength: 16, seed: 9 });
    expect(
      validateSubmit(recipe({ repeatedTokens: { vocabSize: 64, halfLength: 16, seed: 5 } })).source,
    ).toEqual({ kind: 'repeated', vocab: 64, half: 16, seed: 5 });
    const field = (req: SubmitJobRequest): string | undefined => {
      try {
        validateSubmit(req);
      } catch (err) {
        return (err as { field?: string }).field;
      }
      return undefined;
    };
    expect(field(recipe({ repeatedTokens: { vocabSize: 1, halfLength: 16 } }))).toBe(
      'repeatedTokens.vocabSize',
    );
    expect(field(recipe({ repeatedTokens: { vocabSize: 5000, halfLength: 16 } }))).toBe(
      'repeatedTokens.vocabSize',
    );
    expect(field(recipe({ repeatedTokens: { vocabSize: 64, halfLength: 1 } }))).toBe(
      'repeatedTokens.halfLength',
    );
    expect(field(recipe({ repeatedTokens: { vocabSize: 64, halfLength: 16, seed: 2 ** 32 } }))).toBe(
      'repeatedTokens.seed',
    );
    expect(field(recipe({ dataPath: '/etc/hostname' }))).toBe('repeatedTokens');
    expect(field(recipe({ tokenizer: 'gpt2' }))).toBe('tokenizer');
    expect(field(recipe({}, { context: 64 }))).toBe('config.context');
    expect(field(recipe({}, { modelJson: '{"attnOnly":"yes"}' }))).toBe('config.modelJson.attnOnly');
    expect(field(recipe({ finetune: { baseModel: 'm' } as SubmitJobRequest['finetune'] }))).toBe(
      'repeatedTokens',
    );
  });
});

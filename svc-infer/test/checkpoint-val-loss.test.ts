// A checkpoint model `<job>@<step>` carries the validation loss of the evaluation at its own step (svc-train's
// checkpointInfo), not the job's latest one; a step that was not evaluated has none.
import { Job } from '@lab/proto/train';
import { describe, expect, it } from 'vitest';
import { checkpointEntries } from '../src/models/catalog.ts';

const dir = (step: number) => `/lab/train/jobs/j1/checkpoints/step-${String(step).padStart(9, '0')}`;

describe('checkpoint models and their validation loss', () => {
  it('takes each checkpoint’s own val loss from checkpointInfo', () => {
    // Evaluated every 20 steps, checkpoints every 25: the newest (step 50) was not evaluated; the job's latest
    // validation loss (1.61, at step 40) belongs to no kept checkpoint.
    const job = Job.fromPartial({
      id: 'j1',
      name: 'bard',
      state: 'running',
      step: 52,
      iters: 100,
      valLoss: 1.61,
      checkpoints: [dir(20), dir(25), dir(50)],
      checkpointInfo: [
        { dir: dir(20), step: 20, valLoss: 2.05, best: true },
        { dir: dir(25), step: 25, best: false },
        { dir: dir(50), step: 50, best: false },
      ],
    });
    const byName = new Map(checkpointEntries([job]).map((e) => [e.name, e.valLoss]));
    expect(byName).toEqual(
      new Map([
        ['bard@50', undefined],
        ['bard@25', undefined],
        ['bard@20', 2.05],
      ]),
    );
  });

  it('gives the newest checkpoint the job’s val loss at its step, not an older checkpoint', () => {
    const job = Job.fromPartial({
      id: 'j2',
      name: 'done-run',
      state: 'completed',
      step: 60,
      iters: 60,
      valLoss: 1.9,
      checkpoints: [dir(40), dir(60)],
      checkpointInfo: [
        { dir: dir(40), step: 40, valLoss: 2.2, best: false },
        { dir: dir(60), step: 60, valLoss: 1.9, best: true },
      ],
    });
    const entries = checkpointEntries([job]);
    expect(entries.map((e) => [e.name, e.step, e.valLoss])).toEqual([
      ['done-run@60', 60, 1.9],
      ['done-run@40', 40, 2.2],
    ]);
  });
});

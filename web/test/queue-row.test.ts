// The Train page's queue row of the open job against its live header (issue 17, item 11), without a browser:
// the list's poll and the header's stream are read at different moments of a moving job, so the row must
// take the header's values whichever of the two is ahead (loose-ends.test.ts once saw the row at step 390
// while the header said 385).
import { describe, expect, it } from 'vitest';
import type { TrainJob } from '../src/api.ts';
import type { LiveStatus } from '../src/pages/train/JobHeader.tsx';
import { rowValues } from '../src/pages/train/Queue.tsx';

const polled = (p: Partial<TrainJob>): TrainJob =>
  ({
    id: 'job-a',
    name: 'run',
    state: 'running',
    step: 390,
    iters: 20_000,
    loss: 2.5,
    valLoss: 2.7,
    ...p,
  }) as TrainJob;
const header = (s: Partial<LiveStatus>): { id: string; status: LiveStatus } => ({
  id: 'job-a',
  status: { state: 'running', step: 385, loss: 2.61, tokensPerSecond: 8207, ...s },
});

describe('the queue row of the open job', () => {
  it('shows the header’s step, loss and state whether the poll is ahead of the header or behind it', () => {
    for (const [row, live] of [
      [polled({ step: 390, loss: 2.5 }), header({ step: 385, loss: 2.61 })],
      [polled({ step: 380, loss: 2.7 }), header({ step: 385, loss: 2.61 })],
      [polled({ step: 385, state: 'running' }), header({ step: 385, state: 'paused' })],
    ] as const) {
      const v = rowValues(row, live);
      expect([v.state, v.step, v.loss]).toEqual([live.status.state, live.status.step, live.status.loss]);
    }
  });

  it('shows no loss where the header shows none, rather than the poll’s', () => {
    expect(rowValues(polled({ loss: 2.5 }), header({ loss: undefined })).loss).toBeUndefined();
  });

  it('takes the poll’s validation loss (not in the header) only until the header has one', () => {
    expect(rowValues(polled({ valLoss: 2.7 }), header({ valLoss: undefined })).valLoss).toBe(2.7);
    expect(rowValues(polled({ valLoss: 2.7 }), header({ valLoss: 2.65 })).valLoss).toBe(2.65);
  });

  it('is the polled job while the header knows no state yet, and for every other job', () => {
    const row = polled({ step: 390, loss: 2.5, valLoss: 2.7 });
    const asPolled = { state: 'running', step: 390, loss: 2.5, valLoss: 2.7 };
    expect(rowValues(row, header({ state: '', step: 0 }))).toEqual(asPolled);
    expect(rowValues(row, { ...header({}), id: 'job-b' })).toEqual(asPolled);
    expect(rowValues(row, undefined)).toEqual(asPolled);
  });
});

// Checkpoint retention (issue 17): a job keeps its newest `keepLast` checkpoints plus, with keepBest, the one with
// the lowest validation loss; the rest are deleted only after a newer checkpoint is complete on disk.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SubmitJobRequest } from '@lab/proto/train';
import { afterAll, describe, expect, it } from 'vitest';
import {
  bestStep,
  describeRetention,
  latestValidCheckpoint,
  listCheckpoints,
  retainedSteps,
  writeCheckpoint,
} from '../src/jobs/checkpoints.ts';
import { specToRequest, validateSubmit } from '../src/jobs/validate.ts';
import { tinyCheckpoint } from './tiny-checkpoint.ts';

const sorted = (s: Set<number>) => [...s].sort((a, b) => a - b);

describe('retainedSteps', () => {
  const list = [
    { step: 20, valLoss: 3.1 },
    { step: 40, valLoss: 2.5 },
    { step: 60, valLoss: 2.7 },
    { step: 70 },
    { step: 80, valLoss: 2.9 },
  ];
  it('keeps the newest keepLast plus the best validation loss', () => {
    expect(sorted(retainedSteps(list, { keepLast: 2, keepBest: true }))).toEqual([40, 70, 80]);
    expect(bestStep(list)).toBe(40);
  });
  it('without keepBest keeps only the newest keepLast', () => {
    expect(sorted(retainedSteps(list, { keepLast: 2, keepBest: false }))).toEqual([70, 80]);
  });
  it('does not add a second entry when the best is among the newest', () => {
    expect(sorted(retainedSteps(list, { keepLast: 4, keepBest: true }))).toEqual([40, 60, 70, 80]);
  });
  it('always keeps the newest (keepLast below 1 counts as 1) and ignores checkpoints without a val loss', () => {
    expect(sorted(retainedSteps(list, { keepLast: 0, keepBest: false }))).toEqual([80]);
    expect(sorted(retainedSteps([{ step: 5 }, { step: 9 }], { keepLast: 1, keepBest: true }))).toEqual([9]);
  });
  it('breaks a tie in favour of the earlier step', () => {
    expect(
      bestStep([
        { step: 3, valLoss: 1 },
        { step: 6, valLoss: 1 },
      ]),
    ).toBe(3);
  });
  it('describes the rule in words', () => {
    expect(describeRetention({ keepLast: 2, keepBest: true })).toBe(
      'the newest 2 checkpoints plus the one with the best validation loss',
    );
    expect(describeRetention({ keepLast: 1, keepBest: false })).toBe('the newest checkpoint');
  });
});

describe('validateSubmit retention fields', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lab-retention-data-'));
  const dataPath = join(dir, 'data.txt');
  writeFileSync(dataPath, 'hello world\n');
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const req = (config: Record<string, unknown>) =>
    SubmitJobRequest.fromPartial({ dataPath, config: { iters: 10, ...config } });
  it('defaults to the newest 2 plus the best', () => {
    const spec = validateSubmit(req({}));
    expect([spec.keepLast, spec.keepBest]).toEqual([2, true]);
    expect(specToRequest(spec).config).toMatchObject({ keepLast: 2, keepBest: true });
  });
  it('takes keepLast and keepBest, and refuses keepLast above 1000', () => {
    const spec = validateSubmit(req({ keepLast: 5, keepBest: false }));
    expect([spec.keepLast, spec.keepBest]).toEqual([5, false]);
    expect(() => validateSubmit(req({ keepLast: 1001 }))).toThrow(
      /^Checkpoints kept must be a whole number from 1 to 1000 \(got 1001\)/,
    );
    try {
      validateSubmit(req({ keepLast: 1001 }));
    } catch (err) {
      expect((err as { field?: string }).field).toBe('config.keepLast');
    }
  });
});

describe('writeCheckpoint with a retention rule', () => {
  const home = mkdtempSync(join(tmpdir(), 'lab-retention-'));
  afterAll(() => rmSync(home, { recursive: true, force: true }));
  const ck = tinyCheckpoint;

  it('keeps the newest 2 and the best val loss, records val loss in the manifest, and resumes from the newest', () => {
    const rule = { keepLast: 2, keepBest: true };
    const losses: Record<number, number | undefined> = { 10: 3, 20: 2, 30: 2.5, 35: undefined, 40: 2.8 };
    let last: ReturnType<typeof writeCheckpoint> | undefined;
    for (const [step, valLoss] of Object.entries(losses))
      last = writeCheckpoint(
        home,
        Number(step),
        ck(Number(step)),
        valLoss === undefined ? {} : { valLoss },
        rule,
      );
    expect(last!.entries.map((e) => [e.step, e.valLoss])).toEqual([
      [20, 2],
      [35, undefined],
      [40, 2.8],
    ]);
    expect(listCheckpoints(home).map((e) => e.step)).toEqual([20, 35, 40]);
    expect(latestValidCheckpoint(home).found?.step).toBe(40);
    // A number keeps the newest that many, as before.
    writeCheckpoint(home, 50, ck(50), { valLoss: 1 }, 1);
    expect(listCheckpoints(home).map((e) => [e.step, e.valLoss])).toEqual([[50, 1]]);
  });
});

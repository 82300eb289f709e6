// Checkpoint directories on disk: their names, the manifest (every file, sizes and SHA-256 checked here
// against node:crypto), rewriting a step, leftovers of interrupted writes, listing, each reason
// verifyCheckpoint gives, and how latestValidCheckpoint falls back.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  bestStep,
  DEFAULT_RETENTION,
  latestValidCheckpoint,
  listCheckpoints,
  retainedSteps,
  verifyCheckpoint,
  writeCheckpoint,
} from '../src/jobs/checkpoints.ts';
import { resumeLimit } from '../src/jobs/manager.ts';
import { tinyCheckpoint } from './tiny-checkpoint.ts';

const scratch = mkdtempSync(join(tmpdir(), 'lab-ck-files-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));
let n = 0;
const freshRoot = () => {
  const root = join(scratch, `job-${n++}`);
  mkdirSync(root);
  return root;
};

const ck = tinyCheckpoint;

interface ManifestFile {
  step: number;
  valLoss?: number;
  files: Record<string, { bytes: number; sha256: string }>;
}
const manifestOf = (dir: string) =>
  JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as ManifestFile;
const sha256 = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');
/** A checkpoint directory made by hand: `step-<name>` with an optional manifest body. */
const fakeStep = (root: string, name: string, manifest?: string) => {
  const dir = join(root, 'checkpoints', name);
  mkdirSync(dir, { recursive: true });
  if (manifest !== undefined) writeFileSync(join(dir, 'manifest.json'), manifest);
  return dir;
};

describe('retention helpers', () => {
  it('the default keeps the newest two and the best', () => {
    expect(DEFAULT_RETENTION).toEqual({ keepLast: 2, keepBest: true });
  });
  it('bestStep ignores missing and non-finite losses', () => {
    expect(bestStep([{ step: 1 }, { step: 2, valLoss: 3 }])).toBe(2);
    expect(
      bestStep([
        { step: 1, valLoss: Number.NaN },
        { step: 2, valLoss: 3 },
      ]),
    ).toBe(2);
    expect(
      bestStep([
        { step: 1, valLoss: Number.NEGATIVE_INFINITY },
        { step: 2, valLoss: 3 },
      ]),
    ).toBe(2);
    expect(bestStep([{ step: 1 }])).toBeUndefined();
  });
  it('retainedSteps orders steps numerically whatever the order of the list', () => {
    const list = [{ step: 30 }, { step: 100 }, { step: 9 }, { step: 20 }];
    expect([...retainedSteps(list, { keepLast: 2, keepBest: false })].sort((a, b) => a - b)).toEqual([
      30, 100,
    ]);
  });
});

describe('writeCheckpoint', () => {
  it('writes step-<9 digits>/ with a manifest of every file, subdirectories included, sorted, with true sizes and hashes', () => {
    const root = freshRoot();
    const { dir, kept, entries } = writeCheckpoint(
      root,
      7,
      ck(7),
      {
        files: { 'tokenizer.json': '{"v":1}' },
        valLoss: 2.5,
        write: (d) => {
          mkdirSync(join(d, 'adapter'));
          writeFileSync(join(d, 'adapter', 'b.bin'), 'bbbb');
          writeFileSync(join(d, 'adapter', 'a.bin'), 'a');
        },
      },
      3,
    );
    expect(basename(dir)).toBe('step-000000007');
    expect(kept).toEqual([dir]);
    expect(entries).toEqual([{ dir, step: 7, valLoss: 2.5 }]);
    const m = manifestOf(dir);
    expect(m.step).toBe(7);
    expect(m.valLoss).toBe(2.5);
    const names = Object.keys(m.files);
    expect(names).toEqual([...names].sort());
    expect(names).toEqual(expect.arrayContaining(['adapter/a.bin', 'adapter/b.bin', 'tokenizer.json']));
    expect(names).not.toContain('manifest.json');
    expect(names.some((f) => f.startsWith('onnx/'))).toBe(false);
    for (const name of names) {
      const path = join(dir, name);
      expect(m.files[name], name).toEqual({ bytes: statSync(path).size, sha256: sha256(path) });
    }
    expect(m.files['adapter/b.bin'].bytes).toBe(4);
    expect(verifyCheckpoint(dir)).toBeUndefined();
  });

  it('with onnx, also writes onnx/model.onnx under the manifest', () => {
    const root = freshRoot();
    const { dir } = writeCheckpoint(root, 1, ck(1), { onnx: true });
    expect(existsSync(join(dir, 'onnx', 'model.onnx'))).toBe(true);
    expect(Object.keys(manifestOf(dir).files)).toContain('onnx/model.onnx');
  });

  it('rewrites an existing step, and clears a stale temp directory of this process first', () => {
    const root = freshRoot();
    writeCheckpoint(root, 4, ck(4), { files: { 'note.txt': 'old' } });
    const stale = join(root, 'checkpoints', `step-000000004.tmp-${process.pid}`);
    mkdirSync(join(stale, 'junk'), { recursive: true });
    writeFileSync(join(stale, 'junk', 'x'), 'x');
    const { dir } = writeCheckpoint(root, 4, ck(4), { files: { 'note.txt': 'new!' } });
    expect(readFileSync(join(dir, 'note.txt'), 'utf8')).toBe('new!');
    expect(Object.keys(manifestOf(dir).files).some((f) => f.startsWith('junk/'))).toBe(false);
    expect(existsSync(stale)).toBe(false);
    expect(verifyCheckpoint(dir)).toBeUndefined();
  });

  it('a number keeps the newest that many, without keeping the best besides', () => {
    const root = freshRoot();
    writeCheckpoint(root, 1, ck(1), { valLoss: 1 }, 1);
    const { entries } = writeCheckpoint(root, 2, ck(2), { valLoss: 5 }, 1);
    expect(entries.map((e) => e.step)).toEqual([2]);
  });

  it("removes other processes' interrupted writes, and nothing else", () => {
    const root = freshRoot();
    const other = fakeStep(root, 'step-000000003.tmp-999999999');
    writeFileSync(join(root, 'checkpoints', 'README'), 'keep me');
    writeCheckpoint(root, 5, ck(5));
    expect(existsSync(other)).toBe(false);
    expect(existsSync(join(root, 'checkpoints', 'README'))).toBe(true);
  });
});

describe('listCheckpoints', () => {
  it('is empty without a checkpoints directory', () => {
    expect(listCheckpoints(freshRoot())).toEqual([]);
  });

  it('lists step-<digits> directories only, in numeric order, with the val loss a manifest records as a number', () => {
    const root = freshRoot();
    fakeStep(root, 'step-20', JSON.stringify({ step: 20, valLoss: 1.5, files: {} }));
    fakeStep(root, 'step-3', JSON.stringify({ step: 3, valLoss: '2', files: {} }));
    fakeStep(root, 'step-100', '{ not json');
    fakeStep(root, 'step-7');
    for (const bad of ['step-5.tmp-12', 'xstep-4', 'step-9x', 'step-']) fakeStep(root, bad);
    const list = listCheckpoints(root);
    expect(list.map((e) => e.step)).toEqual([3, 7, 20, 100]);
    expect(list.map((e) => basename(e.dir))).toEqual(['step-3', 'step-7', 'step-20', 'step-100']);
    expect(list[2].valLoss).toBe(1.5);
    for (const i of [0, 1, 3]) expect('valLoss' in list[i], basename(list[i].dir)).toBe(false);
  });
});

describe('verifyCheckpoint and latestValidCheckpoint', () => {
  it('gives each reason a checkpoint must not be loaded', () => {
    const root = freshRoot();
    const { dir } = writeCheckpoint(root, 1, ck(1), { files: { 'a.txt': 'hello', 'b.txt': 'world' } }, 5);
    expect(verifyCheckpoint(dir)).toBeUndefined();
    writeFileSync(join(dir, 'a.txt'), 'jello');
    expect(verifyCheckpoint(dir)).toBe('a.txt fails its SHA-256 check');
    writeFileSync(join(dir, 'a.txt'), 'hello!');
    expect(verifyCheckpoint(dir)).toBe('a.txt has 6 bytes, expected 5');
    writeFileSync(join(dir, 'a.txt'), 'hello');
    rmSync(join(dir, 'b.txt'));
    expect(verifyCheckpoint(dir)).toBe('b.txt is missing');
    writeFileSync(join(dir, 'manifest.json'), '{"files":');
    expect(verifyCheckpoint(dir)).toBe('manifest.json is not valid JSON');
    rmSync(join(dir, 'manifest.json'));
    expect(verifyCheckpoint(dir)).toBe('no manifest.json (written last): the checkpoint is incomplete');
  });

  it('falls back past corrupt, unloadable and too-new checkpoints, listing why', () => {
    const root = freshRoot();
    for (const step of [1, 2, 3, 4]) writeCheckpoint(root, step, ck(step), {}, 10);
    const dirs = listCheckpoints(root).map((e) => e.dir);
    // step 3: weights replaced by garbage with a manifest that matches it, so only loading fails.
    const weights = join(dirs[2], 'model.safetensors');
    writeFileSync(weights, 'garbage');
    const m = manifestOf(dirs[2]);
    m.files['model.safetensors'] = { bytes: statSync(weights).size, sha256: sha256(weights) };
    writeFileSync(join(dirs[2], 'manifest.json'), JSON.stringify(m));
    expect(verifyCheckpoint(dirs[2])).toBeUndefined();
    // step 2: fails its checksum.
    writeFileSync(join(dirs[1], 'trainer_state.json'), '{}');

    const latest = latestValidCheckpoint(root);
    expect(latest.found?.step).toBe(4);
    expect(latest.rejected).toEqual([]);
    // A checkpoint at exactly the last metric point is not past it.
    expect(latestValidCheckpoint(root, 4).found?.step).toBe(4);
    const upTo3 = latestValidCheckpoint(root, 3);
    expect(upTo3.found?.step).toBe(1);
    expect(upTo3.found?.dir).toBe(dirs[0]);
    expect(upTo3.found?.checkpoint.state?.step).toBe(1);
    expect(upTo3.rejected.map((r) => r.dir)).toEqual([dirs[3], dirs[2], dirs[1]]);
    expect(upTo3.rejected[0].reason).toBe("step 4 is past the last checkpoint the job's record holds (3)");
    expect(upTo3.rejected[1].reason).toBeTruthy();
    expect(upTo3.rejected[2].reason).toMatch(/fails its SHA-256 check|bytes, expected/);
    // Nothing at or below step 0.
    const none = latestValidCheckpoint(root, 0);
    expect(none.found).toBeUndefined();
    expect(none.rejected).toHaveLength(4);
    expect(latestValidCheckpoint(freshRoot())).toEqual({ rejected: [] });
  });
});

describe('resumeLimit', () => {
  it('is the newest checkpoint the record holds, not the last stored step point', () => {
    // Killed after the step-300 point was stored, before its evaluation and the checkpoint's message: the
    // checkpoint at 300 on disk must not be resumed from, or the evaluation at 300 is never stored.
    const entries = [100, 200].map((step) => ({ dir: `step-${step}`, step }));
    expect(resumeLimit({ lastStepPoint: 300, checkpointInfo: entries })).toBe(200);
    expect(resumeLimit({ lastStepPoint: 300, checkpointInfo: [] })).toBe(0);
    // records from before checkpointInfo keep the step-point limit
    expect(resumeLimit({ lastStepPoint: 300 })).toBe(300);
  });
});

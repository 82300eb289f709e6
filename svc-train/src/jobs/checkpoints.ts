// Checkpoints of a job, each a directory `checkpoints/step-<N>/` written so that a crash at any moment
// never leaves one that gets loaded half-written:
//  - the engine's saveCheckpoint writes each file to a temp name and renames it, but a directory holds
//    several files (weights, optimizer moments, trainer_state.json), so a crash between two of them would
//    pair new weights with an old step and RNG state. Here the whole checkpoint is written into
//    `step-<N>.tmp-<pid>`, every file is fsynced, a manifest.json with each file's size and SHA-256 is
//    written last, and only then is the directory renamed to `step-<N>`;
//  - loading verifies the manifest's checksums and falls back to the previous checkpoint when one fails.
// A checkpoint is also a Hugging Face model directory (hf-model.ts): tokenizer files and onnx/model.onnx are
// written into the same temporary directory, so they are covered by the manifest and the rename too.
import { createHash } from 'node:crypto';
import {
  closeSync,
  existsSync,
  fsyncSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { type Checkpoint, loadCheckpoint, saveCheckpoint } from '@lab/engine';
import { writeOnnxModel } from './hf-model.ts';

const MANIFEST = 'manifest.json';
const stepDir = (step: number) => `step-${String(step).padStart(9, '0')}`;

interface Manifest {
  step: number;
  /** Validation loss of the evaluation at this step, when the step was evaluated (for keeping the best). */
  valLoss?: number;
  files: Record<string, { bytes: number; sha256: string }>;
}

/** Which checkpoints a job keeps: the newest `keepLast`, plus the one with the lowest validation loss. */
export interface RetentionRule {
  /** Newest checkpoints kept, 1 or more (the newest is what a resume continues from). */
  keepLast: number;
  /** Also keep the checkpoint with the lowest validation loss among those written at an evaluation. */
  keepBest: boolean;
}

export const DEFAULT_RETENTION: RetentionRule = { keepLast: 2, keepBest: true };

/** A finished checkpoint directory. */
export interface CheckpointEntry {
  dir: string;
  step: number;
  /** Validation loss at its step; undefined when the step was not evaluated. */
  valLoss?: number;
}

/** The step of the checkpoint with the lowest validation loss (the earliest on a tie), if any has one. */
export function bestStep(list: readonly { step: number; valLoss?: number }[]): number | undefined {
  let best: { step: number; valLoss: number } | undefined;
  for (const c of list)
    if (c.valLoss !== undefined && Number.isFinite(c.valLoss) && (!best || c.valLoss < best.valLoss))
      best = { step: c.step, valLoss: c.valLoss };
  return best?.step;
}

/** The steps `rule` keeps out of `list` (any order): the newest keepLast (at least 1) and, with keepBest, the best. */
export function retainedSteps(
  list: readonly { step: number; valLoss?: number }[],
  rule: RetentionRule,
): Set<number> {
  const steps = list.map((c) => c.step).sort((a, b) => a - b);
  const kept = new Set(steps.slice(Math.max(0, steps.length - Math.max(1, rule.keepLast))));
  const best = rule.keepBest ? bestStep(list) : undefined;
  if (best !== undefined) kept.add(best);
  return kept;
}

/** A sentence saying what `rule` keeps. */
export function describeRetention(rule: RetentionRule): string {
  const last = rule.keepLast === 1 ? 'the newest checkpoint' : `the newest ${rule.keepLast} checkpoints`;
  return rule.keepBest ? `${last} plus the one with the best validation loss` : last;
}

// In chunks: readFileSync refuses files over 2 GiB, which weights and ONNX external data of big models are.
function sha256(path: string): string {
  const hash = createHash('sha256');
  const buf = Buffer.allocUnsafe(1 << 20);
  const fd = openSync(path, 'r');
  try {
    for (let n = readSync(fd, buf); n > 0; n = readSync(fd, buf)) hash.update(buf.subarray(0, n));
  } finally {
    closeSync(fd);
  }
  return hash.digest('hex');
}

function fsyncPath(path: string): void {
  const fd = openSync(path, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Files under `dir` as slash-separated relative paths, sorted, and the directories holding them. */
function walk(dir: string): { files: string[]; dirs: string[] } {
  const files: string[] = [];
  const dirs: string[] = [];
  const visit = (d: string, prefix: string) => {
    dirs.push(d);
    for (const name of readdirSync(d).sort()) {
      if (statSync(join(d, name)).isDirectory()) visit(join(d, name), `${prefix}${name}/`);
      else files.push(prefix + name);
    }
  };
  visit(dir, '');
  return { files, dirs };
}

export interface CheckpointExtras {
  /** Files written into the checkpoint as they are, by name (tokenizer.json, tokenizer_config.json, ...). */
  files?: Readonly<Record<string, string>>;
  /** Also write onnx/model.onnx, the inference graph with these weights (for transformers.js). */
  onnx?: boolean;
  /** Validation loss of the evaluation at this step (recorded in the manifest, for keeping the best). */
  valLoss?: number;
  /** Writes more files into the (temporary) checkpoint directory, covered by the manifest (a LoRA's adapter). */
  write?: (dir: string) => void;
}

/**
 * Writes a checkpoint for `step` under `<root>/checkpoints/`, plus `extras`, then deletes the finished ones
 * `keep` does not retain (a number keeps the newest that many). Deleting happens only after the new one is
 * renamed into place, so a crash at any moment leaves the newest complete checkpoint. Returns the directory
 * and the checkpoints kept (oldest first).
 */
export function writeCheckpoint(
  root: string,
  step: number,
  ck: Omit<Checkpoint, 'layout'> & { layout?: Checkpoint['layout'] },
  extras: CheckpointExtras = {},
  keep: number | RetentionRule = 2,
): { dir: string; kept: string[]; entries: CheckpointEntry[] } {
  const rule: RetentionRule = typeof keep === 'number' ? { keepLast: keep, keepBest: false } : keep;
  const base = join(root, 'checkpoints');
  const final = join(base, stepDir(step));
  const tmp = `${final}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  saveCheckpoint(tmp, ck);
  for (const [name, text] of Object.entries(extras.files ?? {})) writeFileSync(join(tmp, name), text);
  if (extras.onnx) writeOnnxModel(tmp, ck.cfg, ck.params);
  extras.write?.(tmp);
  const manifest: Manifest = {
    step,
    ...(extras.valLoss !== undefined ? { valLoss: extras.valLoss } : {}),
    files: {},
  };
  const { files, dirs } = walk(tmp);
  for (const name of files) {
    const path = join(tmp, name);
    fsyncPath(path);
    manifest.files[name] = { bytes: statSync(path).size, sha256: sha256(path) };
  }
  writeFileSync(join(tmp, MANIFEST), `${JSON.stringify(manifest, null, 2)}\n`);
  fsyncPath(join(tmp, MANIFEST));
  for (const d of dirs) fsyncPath(d);
  rmSync(final, { recursive: true, force: true });
  renameSync(tmp, final);
  fsyncPath(base);
  // Checkpoints the retention rule does not keep, and leftovers of interrupted writes, go.
  const all = listCheckpoints(root);
  const keepSteps = retainedSteps(all, rule);
  for (const d of all) if (!keepSteps.has(d.step)) rmSync(d.dir, { recursive: true, force: true });
  for (const name of readdirSync(base))
    if (name.includes('.tmp-') && !name.endsWith(`.tmp-${process.pid}`))
      rmSync(join(base, name), { recursive: true, force: true });
  const entries = listCheckpoints(root);
  return { dir: final, kept: entries.map((d) => d.dir), entries };
}

/** The validation loss a checkpoint's manifest records, if any (small file; unreadable = none). */
function manifestValLoss(dir: string): number | undefined {
  try {
    const v = (JSON.parse(readFileSync(join(dir, MANIFEST), 'utf8')) as Manifest).valLoss;
    return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
  } catch {
    return undefined;
  }
}

/** Finished checkpoint directories (renamed into place), oldest first, with their validation loss. */
export function listCheckpoints(root: string): CheckpointEntry[] {
  const base = join(root, 'checkpoints');
  if (!existsSync(base)) return [];
  return readdirSync(base)
    .filter((n) => /^step-\d+$/.test(n))
    .map((n) => {
      const dir = join(base, n);
      const valLoss = manifestValLoss(dir);
      return { dir, step: Number(n.slice(5)), ...(valLoss !== undefined ? { valLoss } : {}) };
    })
    .sort((a, b) => a.step - b.step);
}

/** Why a checkpoint directory must not be loaded, or undefined when its manifest and checksums hold. */
export function verifyCheckpoint(dir: string): string | undefined {
  const mpath = join(dir, MANIFEST);
  if (!existsSync(mpath)) return 'no manifest.json (written last): the checkpoint is incomplete';
  let manifest: Manifest;
  try {
    manifest = JSON.parse(readFileSync(mpath, 'utf8')) as Manifest;
  } catch {
    return 'manifest.json is not valid JSON';
  }
  for (const [name, want] of Object.entries(manifest.files ?? {})) {
    const path = join(dir, name);
    if (!existsSync(path)) return `${name} is missing`;
    if (statSync(path).size !== want.bytes)
      return `${name} has ${statSync(path).size} bytes, expected ${want.bytes}`;
    if (sha256(path) !== want.sha256) return `${name} fails its SHA-256 check`;
  }
  return undefined;
}

/** The newest checkpoint that verifies and is not past `maxStep`, with the ones refused on the way. */
export function latestValidCheckpoint(
  root: string,
  maxStep = Number.POSITIVE_INFINITY,
): {
  found?: { dir: string; step: number; checkpoint: Checkpoint };
  rejected: { dir: string; reason: string }[];
} {
  const rejected: { dir: string; reason: string }[] = [];
  for (const c of listCheckpoints(root).reverse()) {
    const reason =
      verifyCheckpoint(c.dir) ??
      (c.step > maxStep
        ? `step ${c.step} is past the last checkpoint the job's record holds (${maxStep})`
        : undefined);
    if (reason) {
      rejected.push({ dir: c.dir, reason });
      continue;
    }
    try {
      return { found: { ...c, checkpoint: loadCheckpoint(c.dir) }, rejected };
    } catch (err) {
      rejected.push({ dir: c.dir, reason: (err as Error).message });
    }
  }
  return { rejected };
}

// Every model the service can serve: folders registered by name (kept in lmdb) and the checkpoints of
// svc-train jobs, which appear without registering as `<job name or id>@<step>`.
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { LabError, type Store } from '@lab/common';
import { DECODE_FORMATS, type DecodeFormat, inspectModelFolder } from '@lab/engine';
import type { Job } from '@lab/proto/train';

export interface ModelRecord {
  name: string;
  path: string;
  createdAt: string;
  /** Weight format decoding uses (absent: float32). */
  quantize?: DecodeFormat;
}

/** A resolvable model: where its files are and where it came from. */
export interface ModelEntry {
  name: string;
  source: 'registered' | 'checkpoint' | 'adapter';
  path: string;
  createdAt: string;
  jobId?: string;
  step?: number;
  valLoss?: number;
  /** The built-in tokenizer a job trained with, for checkpoints written without tokenizer.json. */
  builtinTokenizer?: string;
  /** Weight format decoding uses (absent: float32). */
  quantize?: DecodeFormat;
}

/** A registry record as an entry. */
const entryOf = (r: ModelRecord): ModelEntry => ({
  name: r.name,
  source: 'registered',
  path: r.path,
  createdAt: r.createdAt,
  ...(r.quantize ? { quantize: r.quantize } : {}),
});

/** `quantize` of a registration: "" or absent = float32, else one of DECODE_FORMATS. */
export function parseQuantize(value: string | undefined): DecodeFormat | undefined {
  if (!value) return undefined;
  if ((DECODE_FORMATS as readonly string[]).includes(value)) return value as DecodeFormat;
  throw new LabError(
    'INVALID_ARGUMENT',
    `quantize: must be ${DECODE_FORMATS.map((f) => `"${f}"`).join(' or ')}, or empty for float32 (got ${JSON.stringify(value)})`,
    'quantize',
  );
}

export const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;
const key = (name: string) => `model:${name}`;

/** Jobs of svc-train, asked over gRPC; undefined when svc-train cannot be reached. */
export type JobLister = () => Promise<Job[] | undefined>;

const stepOf = (dir: string): number => Number(/step-(\d+)$/.exec(dir)?.[1] ?? Number.NaN);

/**
 * The validation loss of the evaluation at a checkpoint's step, from the job's checkpointInfo (not the job's
 * latest); a svc-train without checkpointInfo gives only the latest, which belongs to the latest step.
 */
function valLossAt(j: Job, dir: string, step: number): number | undefined {
  const info = j.checkpointInfo?.find((c) => c.dir === dir) ?? j.checkpointInfo?.find((c) => c.step === step);
  if (info) return info.valLoss;
  return !j.checkpointInfo?.length && step === j.step && j.valLoss ? j.valLoss : undefined;
}

/** Checkpoint entries of jobs: `<name>@<step>` when the job's name is unique among jobs, else `<id>@<step>`. */
export function checkpointEntries(jobs: readonly Job[]): ModelEntry[] {
  const names = new Map<string, number>();
  for (const j of jobs) if (j.name) names.set(j.name, (names.get(j.name) ?? 0) + 1);
  const out: ModelEntry[] = [];
  for (const j of jobs) {
    const label = j.name && names.get(j.name) === 1 && NAME_RE.test(j.name) ? j.name : j.id;
    for (const dir of [...j.checkpoints].reverse()) {
      const step = stepOf(dir);
      if (!Number.isFinite(step)) continue;
      out.push({
        name: `${label}@${step}`,
        source: 'checkpoint',
        path: dir,
        createdAt: j.updatedAt,
        jobId: j.id,
        step,
        valLoss: valLossAt(j, dir, step),
        builtinTokenizer: j.request?.tokenizer,
      });
    }
  }
  return out;
}

export class ModelCatalog {
  private adapters?: { entries(): ModelEntry[]; entry(name: string): ModelEntry | undefined };

  constructor(
    private readonly store: Store,
    private readonly listJobs: JobLister,
  ) {}

  /** Lets adapter names resolve as models (their base with the adapter merged in). */
  serveAdapters(adapters: { entries(): ModelEntry[]; entry(name: string): ModelEntry | undefined }): void {
    this.adapters = adapters;
  }

  /** svc-train's jobs; undefined when svc-train cannot be reached. */
  jobs(): Promise<Job[] | undefined> {
    return this.listJobs();
  }

  /** Whether a model of that name is in the registry (checkpoints and adapters aside). */
  isRegistered(name: string): boolean {
    return this.store.get(key(name)) !== undefined;
  }

  registered(): ModelEntry[] {
    const out: ModelEntry[] = [];
    for (const { value } of this.store.getRange({ start: 'model:', end: 'model;' })) {
      out.push(entryOf(value as ModelRecord));
    }
    return out;
  }

  async checkpoints(): Promise<ModelEntry[]> {
    const jobs = await this.listJobs();
    return jobs ? checkpointEntries(jobs) : [];
  }

  async list(): Promise<ModelEntry[]> {
    return [...this.registered(), ...(this.adapters?.entries() ?? []), ...(await this.checkpoints())];
  }

  /** A model by name; NOT_FOUND lists what there is. */
  async resolve(name: string, field = 'model'): Promise<ModelEntry> {
    if (!name) throw new LabError('INVALID_ARGUMENT', `${field}: required`, field);
    const rec = this.store.get(key(name)) as ModelRecord | undefined;
    if (rec) return entryOf(rec);
    const adapter = this.adapters?.entry(name);
    if (adapter) return adapter;
    if (name.includes('@')) {
      const hit = (await this.checkpoints()).find((e) => e.name === name || `${e.jobId}@${e.step}` === name);
      if (hit) return hit;
    }
    const known = (await this.list()).map((e) => e.name);
    throw new LabError(
      'NOT_FOUND',
      `${field}: no model "${name}"${known.length ? ` (known: ${known.slice(0, 20).join(', ')}${known.length > 20 ? ', …' : ''})` : ' (none registered yet: import one or train a job)'}`,
      field,
    );
  }

  /** Registers a directory after checking its configuration, tensors and tokenizer files from their headers. */
  async register(name: string, path: string, quantizeValue?: string): Promise<ModelEntry> {
    if (!NAME_RE.test(name ?? ''))
      throw new LabError(
        'INVALID_ARGUMENT',
        `name: must be 1-100 letters, digits, '.', '_' or '-', starting with a letter or digit (got ${JSON.stringify(name)})`,
        'name',
      );
    const quantize = parseQuantize(quantizeValue);
    if (!path) throw new LabError('INVALID_ARGUMENT', 'path: required', 'path');
    if (path.includes('\0')) throw new LabError('INVALID_ARGUMENT', 'path: contains a NUL character', 'path');
    const abs = resolve(path);
    if (!existsSync(abs)) throw new LabError('INVALID_ARGUMENT', `path: ${abs} does not exist`, 'path');
    if (this.store.get(key(name)))
      throw new LabError('ALREADY_EXISTS', `name: a model named "${name}" is already registered`, 'name');
    if (this.adapters?.entry(name))
      throw new LabError('ALREADY_EXISTS', `name: an adapter named "${name}" is already registered`, 'name');
    try {
      // Headers only: the architecture, every tensor's name, dtype and shape, the tokenizer files.
      inspectModelFolder(abs, { maxBytes: Number.POSITIVE_INFINITY, requireTokenizer: false });
    } catch (err) {
      throw new LabError('INVALID_ARGUMENT', `path: ${(err as Error).message}`, 'path');
    }
    const rec: ModelRecord = {
      name,
      path: abs,
      createdAt: new Date().toISOString(),
      ...(quantize ? { quantize } : {}),
    };
    await this.store.put(key(name), rec);
    return entryOf(rec);
  }

  async remove(name: string): Promise<ModelEntry> {
    const rec = this.store.get(key(name)) as ModelRecord | undefined;
    if (!rec) {
      if (name.includes('@'))
        throw new LabError(
          'FAILED_PRECONDITION',
          `name: "${name}" is a training checkpoint; it goes away with its job, not from the registry`,
          'name',
        );
      if (this.adapters?.entry(name))
        throw new LabError(
          'FAILED_PRECONDITION',
          `name: "${name}" is an adapter; remove it from the adapters (DELETE /api/infer/adapters/${name})`,
          'name',
        );
      throw new LabError('NOT_FOUND', `name: no registered model "${name}"`, 'name');
    }
    await this.store.remove(key(name));
    return entryOf(rec);
  }
}

// The adapter registry: PEFT LoRA adapters per base model, kept in the service's lmdb (`adapter:<name>`) with
// a copy of their files under `$LAB_HOME/infer/adapters/<name>/` — `adapter/` (PEFT's format) and `model/`
// (the base with the adapter merged in, which is what the adapter's name serves: a mapped float32 folder
// loads like any model, and svc-eval or a fine-tuning job reading the path get the adapted model too). The
// LoRA checkpoints of svc-train's jobs appear as adapters `<job>@<step>` without registering, with lineage.
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { LabError, type Store } from '@lab/common';
import {
  ADAPTER_CONFIG,
  ADAPTER_WEIGHTS,
  type DecodeFormat,
  type LoraConfig,
  LoraError,
  loadModelFolder,
  loraLayout,
  mergeLora,
  type PeftAdapter,
  readPeftAdapter,
  writePeftAdapter,
} from '@lab/engine';
import type { AdapterInfo } from '@lab/proto/infer';
import type { Job } from '@lab/proto/train';
import { checkpointEntries, type ModelCatalog, type ModelEntry, NAME_RE } from '../models/catalog.ts';
import { describeFolder } from '../models/folder.ts';
import { writeModelFolder } from '../models/write.ts';

export interface AdapterRecord {
  name: string;
  base: string;
  source: 'imported' | 'merged';
  /** The registry's copy of the PEFT folder. */
  path: string;
  /** The base with the adapter merged in: what the name serves. */
  modelPath: string;
  createdAt: string;
  lora: LoraConfig;
  parameters: number;
  /** Inherited from the base: the merged model decodes in the base's format. */
  quantize?: DecodeFormat;
  builtinTokenizer?: string;
  importedFrom?: string;
  mergedFrom?: string[];
  mergeMethod?: string;
}

/** An adapter ready to merge: its settings and values, and its base. */
export interface LoadedAdapter extends PeftAdapter {
  name: string;
  base: string;
}

const key = (name: string) => `adapter:${name}`;

/** A LoraError (bad file, shape, target) as INVALID_ARGUMENT on `field`, its message kept. */
export function asFieldError(err: unknown, field: string, prefix = ''): unknown {
  if (err instanceof LoraError)
    return new LabError('INVALID_ARGUMENT', `${field}: ${prefix}${err.message}`, field);
  return err;
}

function recordInfo(r: AdapterRecord): AdapterInfo {
  return {
    name: r.name,
    base: r.base,
    source: r.source,
    path: r.path,
    rank: r.lora.rank,
    alpha: r.lora.alpha,
    dropout: r.lora.dropout,
    targets: [...r.lora.targets],
    parameters: r.parameters,
    createdAt: r.createdAt,
    jobId: '',
    jobName: '',
    step: 0,
    dataset: '',
    method: '',
    adapter: 'lora',
    mergedFrom: r.mergedFrom ?? [],
    mergeMethod: r.mergeMethod ?? '',
  };
}

/** adapter_config.json's LoRA settings, read without the weights. */
function peftSettings(dir: string): LoraConfig | undefined {
  try {
    const c = JSON.parse(readFileSync(join(dir, ADAPTER_CONFIG), 'utf8')) as Record<string, unknown>;
    if (c.peft_type !== 'LORA' || !Array.isArray(c.target_modules)) return undefined;
    return {
      rank: Number(c.r),
      alpha: Number(c.lora_alpha),
      dropout: Number(c.lora_dropout ?? 0),
      targets: c.target_modules.map(String),
    };
  } catch {
    return undefined;
  }
}

/** The adapters of LoRA jobs' checkpoints, named as the checkpoints are, with the job's lineage. */
export function checkpointAdapters(jobs: readonly Job[]): AdapterInfo[] {
  const byId = new Map(jobs.map((j) => [j.id, j]));
  const out: AdapterInfo[] = [];
  for (const e of checkpointEntries(jobs)) {
    const job = byId.get(e.jobId ?? '');
    const ft = job?.request?.finetune;
    if (!job || !ft || ft.adapter === 'full') continue;
    const dir = join(e.path, 'adapter');
    if (!existsSync(join(dir, ADAPTER_WEIGHTS))) continue;
    const lora = peftSettings(dir);
    if (!lora) continue;
    let parameters = 0;
    try {
      parameters = loraLayout(describeFolder(e.path).cfg, lora).total;
    } catch {
      // A checkpoint being replaced: listed without its size.
    }
    const req = job.request!;
    out.push({
      name: e.name,
      base: ft.baseModel,
      source: 'checkpoint',
      path: dir,
      rank: lora.rank,
      alpha: lora.alpha,
      dropout: lora.dropout,
      targets: lora.targets as string[],
      parameters,
      createdAt: e.createdAt,
      jobId: job.id,
      jobName: job.name,
      step: e.step ?? 0,
      dataset: req.datasetId ? `${req.datasetId} v${req.datasetVersion || 'latest'}` : req.dataPath,
      method: ft.method || 'sft',
      adapter: ft.adapter || 'lora',
      mergedFrom: [],
      mergeMethod: '',
    });
  }
  return out;
}

export class AdapterRegistry {
  constructor(
    private readonly store: Store,
    private readonly catalog: ModelCatalog,
    /** `$LAB_HOME/infer/adapters`. */
    private readonly root: string,
  ) {}

  private records(): AdapterRecord[] {
    const out: AdapterRecord[] = [];
    for (const { value } of this.store.getRange({ start: 'adapter:', end: 'adapter;' }))
      out.push(value as AdapterRecord);
    return out;
  }

  record(name: string): AdapterRecord | undefined {
    return this.store.get(key(name)) as AdapterRecord | undefined;
  }

  /** Registered adapters as servable models (source "adapter"). */
  modelEntries(): ModelEntry[] {
    return this.records().map((r) => this.modelEntry(r));
  }

  /** A registered adapter as a model entry, for the catalog's resolve. */
  entry(name: string): ModelEntry | undefined {
    const r = this.record(name);
    return r && this.modelEntry(r);
  }

  /** Whether `name` is taken by a registered model or adapter. */
  assertFree(name: string): void {
    this.checkName(name);
  }

  modelEntry(r: AdapterRecord): ModelEntry {
    return {
      name: r.name,
      source: 'adapter',
      path: r.modelPath,
      createdAt: r.createdAt,
      ...(r.quantize ? { quantize: r.quantize } : {}),
      ...(r.builtinTokenizer ? { builtinTokenizer: r.builtinTokenizer } : {}),
    };
  }

  async list(base = ''): Promise<AdapterInfo[]> {
    const all = [...this.records().map(recordInfo), ...checkpointAdapters((await this.catalog.jobs()) ?? [])];
    return base ? all.filter((a) => a.base === base) : all;
  }

  /** An adapter by name; NOT_FOUND lists what there is. */
  async get(name: string, field = 'name'): Promise<AdapterInfo> {
    if (!name) throw new LabError('INVALID_ARGUMENT', `${field}: required`, field);
    const rec = this.record(name);
    if (rec) return recordInfo(rec);
    const all = await this.list();
    const hit = all.find((a) => a.name === name || (a.jobId && `${a.jobId}@${a.step}` === name));
    if (hit) return hit;
    throw new LabError(
      'NOT_FOUND',
      `${field}: no adapter "${name}"${
        all.length
          ? ` (known: ${all
              .slice(0, 20)
              .map((a) => a.name)
              .join(', ')})`
          : ' (none yet: import a PEFT folder or train a LoRA job)'
      }`,
      field,
    );
  }

  /** An adapter's settings and values, read against its base's architecture. */
  async load(name: string, field = 'name'): Promise<LoadedAdapter> {
    const info = await this.get(name, field);
    const base = await this.catalog.resolve(info.base, field);
    const cfg = describeFolder(base.path, field).cfg;
    try {
      return { ...readPeftAdapter(info.path, cfg), name: info.name, base: info.base };
    } catch (err) {
      throw asFieldError(err, field, `${info.name}: `);
    }
  }

  /**
   * Registers a PEFT folder as an adapter of `base`: checks it against the base (LoRA, targets the family
   * has, every tensor's shape), keeps a copy in PEFT's names and writes the merged model it serves.
   */
  async register(
    name: string,
    path: string,
    baseName: string,
    extra: Pick<AdapterRecord, 'source' | 'mergedFrom' | 'mergeMethod'> = { source: 'imported' },
  ): Promise<AdapterInfo> {
    this.checkName(name);
    if (!path) throw new LabError('INVALID_ARGUMENT', 'path: required', 'path');
    const abs = resolve(path);
    if (!existsSync(abs)) throw new LabError('INVALID_ARGUMENT', `path: ${abs} does not exist`, 'path');
    const base = await this.catalog.resolve(baseName, 'base');
    const baseInfo = describeFolder(base.path, 'base');
    let adapter: PeftAdapter;
    try {
      adapter = readPeftAdapter(abs, baseInfo.cfg);
    } catch (err) {
      throw asFieldError(err, 'path');
    }
    const rec = this.materialize(name, baseName, base, adapter, extra);
    if (extra.source === 'imported') rec.importedFrom = abs;
    await this.store.put(key(name), rec);
    return recordInfo(rec);
  }

  /** Registers adapter values computed here (a merge) without a source folder. */
  async registerValues(
    name: string,
    baseName: string,
    adapter: PeftAdapter,
    extra: Pick<AdapterRecord, 'source' | 'mergedFrom' | 'mergeMethod'>,
  ): Promise<AdapterInfo> {
    this.checkName(name);
    const base = await this.catalog.resolve(baseName, 'base');
    const rec = this.materialize(name, baseName, base, adapter, extra);
    await this.store.put(key(name), rec);
    return recordInfo(rec);
  }

  private checkName(name: string): void {
    if (!NAME_RE.test(name ?? ''))
      throw new LabError(
        'INVALID_ARGUMENT',
        `name: must be 1-100 letters, digits, '.', '_' or '-', starting with a letter or digit (got ${JSON.stringify(name)})`,
        'name',
      );
    if (this.record(name))
      throw new LabError('ALREADY_EXISTS', `name: an adapter named "${name}" is already registered`, 'name');
    if (this.catalog.isRegistered(name))
      throw new LabError('ALREADY_EXISTS', `name: a model named "${name}" is already registered`, 'name');
  }

  private materialize(
    name: string,
    baseName: string,
    base: ModelEntry,
    adapter: PeftAdapter,
    extra: Pick<AdapterRecord, 'source' | 'mergedFrom' | 'mergeMethod'>,
  ): AdapterRecord {
    const dir = join(this.root, name);
    rmSync(dir, { recursive: true, force: true });
    try {
      const folder = loadModelFolder(base.path, {
        maxBytes: Number.POSITIVE_INFINITY,
        requireTokenizer: false,
      });
      writePeftAdapter(join(dir, 'adapter'), folder.cfg, adapter.lora, adapter.params, baseName);
      writeModelFolder(
        join(dir, 'model'),
        folder.cfg,
        mergeLora(folder.cfg, folder.layout, folder.params, adapter.lora, adapter.params),
        { dir: base.path, builtinTokenizer: base.builtinTokenizer },
      );
      return {
        name,
        base: baseName,
        path: join(dir, 'adapter'),
        modelPath: join(dir, 'model'),
        createdAt: new Date().toISOString(),
        lora: adapter.lora,
        parameters: adapter.params.length,
        ...(base.quantize ? { quantize: base.quantize } : {}),
        ...(base.builtinTokenizer ? { builtinTokenizer: base.builtinTokenizer } : {}),
        ...extra,
      };
    } catch (err) {
      rmSync(dir, { recursive: true, force: true });
      throw err;
    }
  }

  async remove(name: string): Promise<AdapterInfo> {
    const rec = this.record(name);
    if (!rec) {
      if (name.includes('@'))
        throw new LabError(
          'FAILED_PRECONDITION',
          `name: "${name}" is a training checkpoint's adapter; it goes away with its job`,
          'name',
        );
      throw new LabError('NOT_FOUND', `name: no registered adapter "${name}"`, 'name');
    }
    await this.store.remove(key(name));
    rmSync(join(this.root, name), { recursive: true, force: true });
    return recordInfo(rec);
  }
}

// Submit-time work of a fine-tuning job: the base model resolved through svc-infer (no service reads
// another's storage), its adapter targets checked against its family, and the examples of a svc-data
// version copied into the job's folder, so the worker and a resumed job read local files.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fromServiceError, LabError } from '@lab/common';
import { inspectModelFolder, type ModelFolderInfo } from '@lab/engine';
import { fieldError } from '../jobs/field-error.ts';
import { sourcePath } from '../jobs/resolve-tokens.ts';
import type { JobSpec } from '../jobs/types.ts';
import { conversationsOf, preferencesOf, readRecords } from './examples.ts';
import { EXAMPLES_FILE } from './run.ts';
import { checkTargets } from './validate.ts';

export interface FinetuneDeps {
  resolveModel?(name: string): Promise<string>;
  readDocuments?(datasetId: string, version: number): Promise<string[]>;
}

/** The base model's folder through svc-infer, described from its headers (no weights are read). */
export async function resolveBase(
  name: string,
  deps: FinetuneDeps,
): Promise<{ path: string; info: ModelFolderInfo }> {
  if (!deps.resolveModel)
    throw new LabError('UNAVAILABLE', 'svc-infer is not configured: base models cannot be resolved');
  const path = await deps.resolveModel(name).catch((err) => {
    const e = fromServiceError(err);
    throw e.code === 'NOT_FOUND'
      ? fieldError('finetune.baseModel', `"${name}" is not a registered model (${e.message}).`)
      : e;
  });
  try {
    return { path, info: inspectModelFolder(path) };
  } catch (err) {
    throw fieldError('finetune.baseModel', `The base model cannot be read: ${(err as Error).message}`);
  }
}

export async function prepareFinetune(spec: JobSpec, dir: string, deps: FinetuneDeps): Promise<void> {
  const ft = spec.finetune!;
  const { path, info } = await resolveBase(ft.baseModel, deps);
  ft.baseDir = path;
  if (ft.lora) ft.lora = checkTargets(ft.lora, info.cfg);
  let records: Record<string, unknown>[];
  if (spec.source.kind === 'dataset') {
    if (!deps.readDocuments) throw new LabError('UNAVAILABLE', 'svc-data is not configured');
    const { datasetId, version } = spec.source;
    const docs = await deps.readDocuments(datasetId, version).catch((err) => {
      const e = fromServiceError(err);
      throw e.code === 'NOT_FOUND'
        ? fieldError('datasetId', `The dataset version could not be found (${e.message}).`)
        : e;
    });
    records = docs.map((text) => ({ text }));
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, EXAMPLES_FILE), records.map((r) => JSON.stringify(r)).join('\n'));
  } else records = readRecords(sourcePath(spec.source), 'dataPath');
  // The fields are checked now, so a wrong file fails the request rather than the job.
  const field = spec.source.kind === 'dataset' ? 'datasetId' : 'dataPath';
  if (ft.method !== 'sft') preferencesOf(records, field);
  else conversationsOf(records, field);
  if (records.length < 2)
    throw fieldError(field, `The data has ${records.length} example(s); fine-tuning needs at least 2.`);
}

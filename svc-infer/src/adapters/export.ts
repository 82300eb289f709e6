// Exports: an adapter as a PEFT folder, any servable model (an adapter merged into its base included) as a
// Hugging Face folder. Destinations must be absent or empty: an export never overwrites a user's files.
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { loadModelFolder, writePeftAdapter } from '@lab/engine';
import type { ExportResponse } from '@lab/proto/infer';
import type { ModelCatalog } from '../models/catalog.ts';
import { describeFolder } from '../models/folder.ts';
import { checkEmptyDestination, folderBytes, writeModelFolder } from '../models/write.ts';
import type { AdapterRegistry } from './registry.ts';

export async function exportAdapter(
  registry: AdapterRegistry,
  catalog: ModelCatalog,
  name: string,
  dest: string,
): Promise<ExportResponse> {
  checkEmptyDestination(dest);
  const adapter = await registry.load(name, 'name');
  const base = await catalog.resolve(adapter.base, 'name');
  const cfg = describeFolder(base.path, 'name').cfg;
  mkdirSync(dest, { recursive: true });
  try {
    writePeftAdapter(dest, cfg, adapter.lora, adapter.params, adapter.base);
  } catch (err) {
    rmSync(dest, { recursive: true, force: true });
    throw err;
  }
  const files = readdirSync(dest).sort();
  return { path: dest, files, bytes: folderBytes(dest, files) };
}

export async function exportModel(
  catalog: ModelCatalog,
  name: string,
  dest: string,
): Promise<ExportResponse> {
  checkEmptyDestination(dest);
  const entry = await catalog.resolve(name, 'name');
  const folder = loadModelFolder(entry.path, { maxBytes: Number.POSITIVE_INFINITY, requireTokenizer: false });
  const files = writeModelFolder(dest, folder.cfg, folder.params, {
    dir: entry.path,
    builtinTokenizer: entry.builtinTokenizer,
  });
  return { path: dest, files, bytes: folderBytes(dest, files) };
}

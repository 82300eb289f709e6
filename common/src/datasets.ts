import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * A file of the reference datasets that sit beside the repository (`../shared/datasets`), or under
 * LAB_DATASETS when set. Tests and benchmarks use these; nothing is downloaded.
 */
export function datasetPath(...parts: string[]): string {
  const root =
    process.env.LAB_DATASETS ?? resolve(dirname(fileURLToPath(import.meta.url)), '../../../shared/datasets');
  return join(root, ...parts);
}

// Server-side paths the API accepts (files to ingest or train on, folders to import) are confined to the
// lab's data roots: without this, anyone who can reach the gateway — a page in the user's browser after a
// DNS rebinding, say — could have the lab read /etc/passwd into a dataset. Symlinks and `..` are resolved
// before the check, so neither leads out of a root.
import { realpathSync } from 'node:fs';
import { basename, dirname, join, resolve, sep } from 'node:path';
import { LabError } from './errors.ts';

/** The real path of `p`, or of its deepest existing ancestor with the rest appended (for a path to be created). */
function realOrAncestor(p: string): string {
  try {
    return realpathSync(p);
  } catch {
    const parent = dirname(p);
    return parent === p ? p : join(realOrAncestor(parent), basename(p));
  }
}

/**
 * The absolute, symlink-free form of `path` when it lies under one of `roots`; PERMISSION_DENIED naming
 * `field` and the roots otherwise. `roots` undefined means no confinement (a CLI working in the user's own
 * process reads what the user can).
 */
export function confinePath(path: string, field: string, roots: readonly string[] | undefined): string {
  const real = realOrAncestor(resolve(path));
  if (!roots) return real;
  for (const root of roots) {
    const r = realOrAncestor(resolve(root));
    if (real === r || real.startsWith(r.endsWith(sep) ? r : r + sep)) return real;
  }
  throw new LabError(
    'PERMISSION_DENIED',
    `${field}: ${path} is outside the lab's data roots (${roots.join(', ')}); move it under one of them or add its folder to LAB_DATA_ROOTS`,
    field,
  );
}

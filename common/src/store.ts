import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { open, type RootDatabase } from 'lmdb';

export type Store = RootDatabase<unknown, string>;

/** Opens the service's own lmdb database under `<home>/<service>/db`; no service opens another's. */
export function openStore(home: string, service: string): Store {
  const dir = join(home, service);
  mkdirSync(dir, { recursive: true });
  return open<unknown, string>({ path: join(dir, 'db'), compression: true });
}

import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { RootDatabase } from 'lmdb';

export type Store = RootDatabase<unknown, string>;

// lmdb (a native addon, ~11 MiB resident) is loaded by the first openStore, not at import: processes that
// import @lab/common without a store of their own (the gateway, the supervisor) never load it.
const require = createRequire(import.meta.url);

/** Opens the service's own lmdb database under `<home>/<service>/db`; no service opens another's. */
export function openStore(home: string, service: string): Store {
  const { open } = require('lmdb') as typeof import('lmdb');
  const dir = join(home, service);
  mkdirSync(dir, { recursive: true });
  return open<unknown, string>({ path: join(dir, 'db'), compression: true });
}

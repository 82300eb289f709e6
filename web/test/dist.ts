import { execFile, execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

export const WEB_DIR = fileURLToPath(new URL('..', import.meta.url));
export const DIST_INDEX = fileURLToPath(new URL('../dist/index.html', import.meta.url));

/** The UI tests use the built UI; build it once (vite only, no type check) when web/dist is missing. */
export function ensureDist(): void {
  if (existsSync(DIST_INDEX)) return;
  execFileSync('npx', ['vite', 'build', '--logLevel', 'warn'], { cwd: WEB_DIR, stdio: 'inherit' });
}

/**
 * A build of the UI as the sources are now, in `dir`/dist, for a test whose stack serves it alone
 * (LAB_WEB_DIST): a page under test is never judged on a web/dist older than its sources.
 */
export async function buildDistInto(dir: string): Promise<string> {
  const dist = join(dir, 'dist');
  await promisify(execFile)(
    'npx',
    ['vite', 'build', '--outDir', dist, '--emptyOutDir', '--logLevel', 'warn'],
    {
      cwd: WEB_DIR,
    },
  );
  return dist;
}

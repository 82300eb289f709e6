import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const WEB_DIR = fileURLToPath(new URL('..', import.meta.url));
export const DIST_INDEX = fileURLToPath(new URL('../dist/index.html', import.meta.url));

/** The UI tests use the built UI; build it once (vite only, no type check) when web/dist is missing. */
export function ensureDist(): void {
  if (existsSync(DIST_INDEX)) return;
  execFileSync('npx', ['vite', 'build', '--logLevel', 'warn'], { cwd: WEB_DIR, stdio: 'inherit' });
}

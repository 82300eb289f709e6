import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const webDir = resolve(dirname(fileURLToPath(import.meta.url)), '../../web');

function newestMtime(path: string): number {
  const st = statSync(path);
  if (!st.isDirectory()) return st.mtimeMs;
  let newest = st.mtimeMs;
  for (const entry of readdirSync(path)) newest = Math.max(newest, newestMtime(join(path, entry)));
  return newest;
}

/** True when web/dist is missing or older than any UI source. */
export function uiNeedsBuild(): boolean {
  const built = join(webDir, 'dist/index.html');
  if (!existsSync(built)) return true;
  const sources = ['src', 'index.html', 'vite.config.ts', 'package.json']
    .map((p) => join(webDir, p))
    .filter(existsSync);
  return Math.max(...sources.map(newestMtime)) > statSync(built).mtimeMs;
}

/** Builds the UI with Vite when its sources changed since the last build; a no-op otherwise. */
export function ensureUiBuilt(say: (msg: string) => void): void {
  if (!uiNeedsBuild()) return;
  say('building the web UI (once, and again whenever web/ changes)…');
  const r = spawnSync(
    process.execPath,
    [join(webDir, '../node_modules/vite/bin/vite.js'), 'build', '--logLevel', 'warn'],
    {
      cwd: webDir,
      stdio: 'inherit',
    },
  );
  if (r.status !== 0) throw new Error('the web UI failed to build (see above)');
}

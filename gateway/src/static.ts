import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { serveStatic } from '@hono/node-server/serve-static';
import type { Hono } from 'hono';

export const defaultWebDist = join(dirname(fileURLToPath(import.meta.url)), '../../web/dist');

/** Serves the built UI; any non-API path falls back to index.html so client-side routes load. */
export function staticRoutes(app: Hono, distDir: string = defaultWebDist) {
  app.use('/*', async (c, next) => {
    if (c.req.path.startsWith('/api/')) return next();
    return serveStatic({ root: distDir })(c, next);
  });
  app.get('*', (c) => {
    if (c.req.path.startsWith('/api/')) return c.notFound();
    const index = join(distDir, 'index.html');
    if (!existsSync(index)) {
      return c.text('The web UI is not built yet: run `npm run build` (npm start does it for you).', 503);
    }
    return c.html(readFileSync(index, 'utf8'));
  });
}

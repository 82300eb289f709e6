import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';
import solid from 'vite-plugin-solid';

// The gateway (Hono) listens on 7100 by default; in `npm run dev -w web` the Vite dev server forwards /api
// (JSON and SSE) to it. In production the gateway serves `web/dist` itself, so the UI always uses relative URLs.
const gateway = process.env.LAB_GATEWAY_URL ?? 'http://127.0.0.1:7100';

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  plugins: [solid()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: true,
  },
  server: {
    host: '127.0.0.1',
    port: 5173,
    proxy: {
      '/api': { target: gateway, changeOrigin: true },
    },
  },
  preview: {
    host: '127.0.0.1',
    proxy: {
      '/api': { target: gateway, changeOrigin: true },
    },
  },
});

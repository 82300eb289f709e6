// The gateway against a hostile browser tab: a foreign Host (DNS rebinding), a foreign Origin on a write,
// and a lab bound beyond loopback, which needs its token — and refuses to start without one.
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { loadConfig, MemoryBus } from '@lab/common';
import { describe, expect, it } from 'vitest';
import { createApp } from '../src/app.ts';
import { connectServices } from '../src/clients.ts';

// Services are not running: the guard answers before any route, and /api/health answers without them.
const services = connectServices(loadConfig({ LAB_HOME: '/tmp/lab-guard-test' }));
const open = createApp({ services, bus: new MemoryBus() });
const TOKEN = 'a-token-of-sixteen-chars';
const locked = createApp({
  services,
  bus: new MemoryBus(),
  guard: { token: TOKEN, allowedHosts: ['lab.example'] },
});

const req = (app: typeof open, path: string, init: RequestInit & { headers?: Record<string, string> } = {}) =>
  app.request(`http://127.0.0.1:7100${path}`, init);

describe('gateway guard', () => {
  it('answers loopback host names and refuses others (DNS rebinding)', async () => {
    for (const host of ['127.0.0.1:7100', 'localhost:7100', '[::1]:7100', 'LOCALHOST'])
      expect((await req(open, '/api/health', { headers: { host } })).status).toBe(200);
    const r = await req(open, '/api/health', { headers: { host: 'attacker.example:7100' } });
    expect(r.status).toBe(403);
    const body = (await r.json()) as { error: { code: string; field: string; message: string } };
    expect(body.error).toMatchObject({ code: 'PERMISSION_DENIED', field: 'host' });
    expect(body.error.message).toMatch(/LAB_ALLOWED_HOSTS/);
    // The built UI is guarded too, not only the API.
    expect((await req(open, '/', { headers: { host: 'attacker.example' } })).status).toBe(403);
  });

  it('refuses writes from another site, allows them from its own pages and from scripts', async () => {
    const write = (origin?: string) =>
      req(open, '/api/infer/prompts/x', {
        method: 'PUT',
        headers: {
          host: '127.0.0.1:7100',
          'content-type': 'application/json',
          ...(origin ? { origin } : {}),
        },
        body: JSON.stringify({ kind: 'system', text: 'hi' }),
      });
    const foreign = await write('https://attacker.example');
    expect(foreign.status).toBe(403);
    expect(((await foreign.json()) as { error: { field: string } }).error.field).toBe('origin');
    expect((await write('null')).status).toBe(403);
    // Same-origin and origin-less writes pass the guard (and then fail on the absent service, not with 403).
    expect((await write('http://127.0.0.1:7100')).status).not.toBe(403);
    expect((await write()).status).not.toBe(403);
    // Reads from other origins are not state-changing; the browser's same-origin policy keeps their answers.
    expect(
      (
        await req(open, '/api/health', {
          headers: { host: '127.0.0.1:7100', origin: 'https://attacker.example' },
        })
      ).status,
    ).toBe(200);
  });

  it('with a token: 401 without it, bearer or cookie with it, and the ?token= link sets the cookie', async () => {
    const h = { host: 'lab.example' };
    const none = await req(locked, '/api/health', { headers: h });
    expect(none.status).toBe(401);
    expect(((await none.json()) as { error: { code: string } }).error.code).toBe('UNAUTHENTICATED');
    expect(
      (await req(locked, '/api/health', { headers: { ...h, authorization: 'Bearer wrong-token-0123456' } }))
        .status,
    ).toBe(401);
    expect(
      (await req(locked, '/api/health', { headers: { ...h, authorization: `Bearer ${TOKEN}` } })).status,
    ).toBe(200);
    const link = await req(locked, `/?token=${TOKEN}`, { headers: h });
    expect(link.status).toBe(302);
    expect(link.headers.get('location')).toBe('/');
    const cookie = link.headers.get('set-cookie')!;
    expect(cookie).toMatch(/HttpOnly/i);
    expect(cookie).toMatch(/SameSite=Strict/i);
    const withCookie = await req(locked, '/api/health', { headers: { ...h, cookie: cookie.split(';')[0]! } });
    expect(withCookie.status).toBe(200);
    expect(
      (
        await req(locked, '/api/health', {
          headers: { host: 'other.example', authorization: `Bearer ${TOKEN}` },
        })
      ).status,
    ).toBe(403);
  });

  it('refuses to start on a non-loopback address without LAB_TOKEN', async () => {
    const server = resolve(import.meta.dirname, '../src/server.ts');
    const run = () =>
      new Promise<{ code: number | null; stderr: string }>((done) => {
        const child = spawn(process.execPath, ['--import', 'tsx', server], {
          env: {
            ...process.env,
            LAB_HOST: '0.0.0.0',
            LAB_PORT: '0',
            LAB_TOKEN: '',
            LAB_HOME: '/tmp/lab-guard-test',
          },
          stdio: ['ignore', 'ignore', 'pipe'],
        });
        let stderr = '';
        child.stderr.setEncoding('utf8').on('data', (d: string) => {
          stderr += d;
        });
        child.on('close', (code) => done({ code, stderr }));
      });
    const r = await run();
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/LAB_HOST=0\.0\.0\.0 .*set LAB_TOKEN/);
  });
});

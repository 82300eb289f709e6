// What keeps a local lab local. Any web page the user opens can make the browser send requests to
// 127.0.0.1:7100, and a page whose domain re-resolves to 127.0.0.1 (DNS rebinding) can also read the answers.
// As Jupyter and Ollama do: only loopback host names (and LAB_ALLOWED_HOSTS) are answered, requests that
// change state must not come from another site's page, and a lab bound beyond loopback needs a token.
import { timingSafeEqual } from 'node:crypto';
import { isLoopbackHost } from '@lab/common';
import type { Context, MiddlewareHandler } from 'hono';
import { getCookie, setCookie } from 'hono/cookie';
import { errorResponse } from './errors.ts';

export interface GuardOptions {
  /** Host names answered besides loopback ones; `*` answers any. */
  allowedHosts?: readonly string[];
  /** When set, every request must carry it: `Authorization: Bearer …`, the `lab_token` cookie, or `?token=`. */
  token?: string;
}

export const TOKEN_COOKIE = 'lab_token';
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** The host name of a Host header or URL authority, without port or brackets. */
export function hostName(authority: string): string {
  const a = authority.trim().toLowerCase();
  if (a.startsWith('[')) return a.slice(1, a.indexOf(']'));
  return a.split(':')[0]!;
}

function sameToken(given: string | undefined, token: string): boolean {
  if (!given) return false;
  const a = Buffer.from(given);
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}

function bearer(c: Context): string | undefined {
  const h = c.req.header('authorization');
  return h?.toLowerCase().startsWith('bearer ') ? h.slice(7).trim() : undefined;
}

export function guard(opts: GuardOptions = {}): MiddlewareHandler {
  const allowed = new Set((opts.allowedHosts ?? []).map((h) => h.toLowerCase()));
  const hostOk = (name: string) => isLoopbackHost(name) || allowed.has('*') || allowed.has(name);
  return async (c, next) => {
    // Over HTTP the URL's authority is the Host header; in-process requests (app.request) carry only the URL.
    const host = c.req.header('host') ?? new URL(c.req.url).host;
    if (!host || !hostOk(hostName(host)))
      return errorResponse(
        c,
        403,
        'PERMISSION_DENIED',
        `host: the lab answers only loopback host names${allowed.size ? ` and ${[...allowed].join(', ')}` : ''} (got ${JSON.stringify(host ?? '')}); add it to LAB_ALLOWED_HOSTS to allow it`,
        'host',
      );
    const origin = c.req.header('origin');
    if (!SAFE_METHODS.has(c.req.method) && origin !== undefined) {
      let originHost: string | undefined;
      try {
        originHost = new URL(origin).host;
      } catch {
        originHost = undefined;
      }
      // A write from a page of this same lab, or of an allowed host; not from any other site.
      if (originHost === undefined || (originHost !== host.toLowerCase() && !hostOk(hostName(originHost))))
        return errorResponse(
          c,
          403,
          'PERMISSION_DENIED',
          `origin: requests that change the lab must come from its own pages (got ${JSON.stringify(origin)})`,
          'origin',
        );
    }
    if (opts.token) {
      const token = opts.token;
      const query = c.req.query('token');
      if (sameToken(query, token) && SAFE_METHODS.has(c.req.method)) {
        // The link `npm start` prints: remember the token in a cookie and drop it from the address bar.
        setCookie(c, TOKEN_COOKIE, token, { httpOnly: true, sameSite: 'Strict', path: '/' });
        const url = new URL(c.req.url);
        url.searchParams.delete('token');
        return c.redirect(`${url.pathname}${url.search}`, 302);
      }
      if (!sameToken(bearer(c), token) && !sameToken(getCookie(c, TOKEN_COOKIE), token))
        return errorResponse(
          c,
          401,
          'UNAUTHENTICATED',
          'token: this lab needs its token — open the link `npm start` printed (…/?token=…), or send Authorization: Bearer <LAB_TOKEN>',
          'token',
        );
    }
    await next();
  };
}

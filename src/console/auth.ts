// Who may see the console: a caller with `Authorization: Bearer <ADMIN_TOKEN>`, or a browser
// holding the session cookie that `/console?token=<ADMIN_TOKEN>` set once. The cookie holds an
// HMAC derived from the token, not the token: a leaked cookie does not reveal the admin token
// (which also opens /admin/*), and changing ADMIN_TOKEN invalidates every cookie.
import { createHmac } from 'node:crypto';
import type { Context } from 'koa';
import { bearerToken, sameSecret } from '../http/credentials.js';

export const CONSOLE_COOKIE = 'mg_console';

export function cookieValue(token: string): string {
  return createHmac('sha256', token).update('model-gateway console session v1').digest('base64url');
}

/** True when the request carries the admin token or a console cookie made from it. */
export function consoleAuthorized(ctx: Context, token: string): boolean {
  const given = bearerToken(ctx);
  if (given !== undefined) return sameSecret(given, token);
  const cookie = ctx.cookies.get(CONSOLE_COOKIE);
  return cookie !== undefined && sameSecret(cookie, cookieValue(token));
}

/** Sets the session cookie: HttpOnly, SameSite=Strict, Secure when the request came over https. */
export function setConsoleCookie(ctx: Context, token: string): void {
  ctx.cookies.set(CONSOLE_COOKIE, cookieValue(token), {
    path: '/',
    httpOnly: true,
    sameSite: 'strict',
    // Behind a proxy, Koa (proxy: true) takes this from X-Forwarded-Proto.
    secure: ctx.secure,
    overwrite: true,
  });
}

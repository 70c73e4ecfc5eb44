// GET /console and its assets, data and event stream. Read-only: nothing here changes the
// gateway. Without ADMIN_TOKEN none of it exists (404, like /admin/*); without credentials it
// answers 401. The token is accepted once in the query and swapped for a cookie by a redirect,
// so it leaves the address bar and history.
import { PassThrough } from 'node:stream';
import type { Context, Next } from 'koa';
import { Router } from '@koa/router';
import { GatewayError } from '../errors/catalogue.js';
import { sameSecret } from '../http/credentials.js';
import { consoleAuthorized, setConsoleCookie } from './auth.js';
import type { ConsoleFeed } from './feed.js';
import { CONSOLE_SCRIPT } from './page-script.js';
import { CONSOLE_STYLE } from './page-style.js';
import { CONSOLE_HTML } from './page.js';

const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "connect-src 'self'",
  "img-src 'self' data:",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

function hardened(ctx: Context): void {
  ctx.set('Cache-Control', 'no-store');
  ctx.set('Referrer-Policy', 'no-referrer');
  ctx.set('X-Content-Type-Options', 'nosniff');
}

function guard(token: string | undefined) {
  return async (ctx: Context, next: Next): Promise<void> => {
    if (token === undefined) throw new GatewayError('NOT_FOUND', `no route for ${ctx.method} ${ctx.path}`);
    hardened(ctx);
    if (!consoleAuthorized(ctx, token)) {
      ctx.set('WWW-Authenticate', 'Bearer realm="model-gateway console"');
      throw new GatewayError('UNAUTHORIZED', 'the console needs Authorization: Bearer <ADMIN_TOKEN>, or open /console?token=<ADMIN_TOKEN> once');
    }
    await next();
  };
}

export function consoleRouter(feed: ConsoleFeed, token: string | undefined): Router {
  const router = new Router();
  const authorized = guard(token);

  router.get('/console', async (ctx, next) => {
    const given = ctx.query.token;
    if (token !== undefined && typeof given === 'string') {
      hardened(ctx);
      if (!sameSecret(given, token)) throw new GatewayError('UNAUTHORIZED', 'the token in the link is not valid');
      setConsoleCookie(ctx, token);
      ctx.status = 303;
      ctx.redirect('/console');
      return;
    }
    await authorized(ctx, next);
    ctx.set('Content-Security-Policy', CSP);
    ctx.set('X-Frame-Options', 'DENY');
    ctx.type = 'text/html; charset=utf-8';
    ctx.body = CONSOLE_HTML;
  });
  router.get('/console/app.js', authorized, (ctx) => {
    ctx.type = 'text/javascript; charset=utf-8';
    ctx.body = CONSOLE_SCRIPT;
  });
  router.get('/console/app.css', authorized, (ctx) => {
    ctx.type = 'text/css; charset=utf-8';
    ctx.body = CONSOLE_STYLE;
  });
  router.get('/console/data', authorized, async (ctx) => {
    ctx.body = await feed.snapshot();
  });
  router.get('/console/events', authorized, (ctx) => {
    if (!feed.open) throw new GatewayError('OVERLOADED', 'the gateway is shutting down', { retryAfterSeconds: 5 });
    const stream = new PassThrough();
    // An event stream lives until the page closes: no socket timeout; the socket closes with it,
    // so a server shutting down never waits on an idle keep-alive after the stream ended.
    ctx.req.socket.setTimeout(0);
    ctx.req.socket.setNoDelay(true);
    ctx.status = 200;
    ctx.type = 'text/event-stream';
    ctx.set('Connection', 'close');
    ctx.set('X-Accel-Buffering', 'no');
    ctx.body = stream;
    stream.write('retry: 2000\n\n');
    const unsubscribe = feed.subscribe({
      send: (json) => stream.write(`data: ${json}\n\n`),
      end: () => stream.end(),
    });
    // Koa destroys the body stream when the response finishes or the client goes away.
    stream.on('close', unsubscribe);
  });
  return router;
}

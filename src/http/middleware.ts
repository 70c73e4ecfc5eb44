// Request id, security headers, access log and error rendering: every response carries
// x-request-id and the headers below, every error is JSON {error, code} from the catalogue, and
// no stack trace or internal path leaves here.
import { randomUUID } from 'node:crypto';
import type { Middleware } from 'koa';
import { ERROR_CATALOGUE, GatewayError, isGatewayError, publicMessageOf } from '../errors/catalogue.js';

export interface HttpLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

const REQUEST_ID_RE = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * What helmet and the OWASP REST guidance set for a JSON API: no MIME sniffing, no caching of
 * answers (they depend on the request and may carry model output), nothing may frame or embed
 * a response or run script from it, no referrer leaks. Set before the route runs, so a route
 * that serves something else (an HTML page) can override a header. Neither Koa nor Node sends
 * `X-Powered-By` or `Server`.
 */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'X-Content-Type-Options': 'nosniff',
  'Cache-Control': 'no-store',
  'Content-Security-Policy': "default-src 'none'; frame-ancestors 'none'",
  'X-Frame-Options': 'DENY',
  'Referrer-Policy': 'no-referrer',
  'Cross-Origin-Resource-Policy': 'same-origin',
});

export function requestContext(log: HttpLogger): Middleware {
  return async (ctx, next) => {
    const given = ctx.get('x-request-id');
    const id = REQUEST_ID_RE.test(given) ? given : randomUUID();
    ctx.state.requestId = id;
    ctx.set('x-request-id', id);
    ctx.set(SECURITY_HEADERS);
    const started = performance.now();
    try {
      await next();
      if (ctx.body === undefined || ctx.body === null) {
        if (ctx.status === 404) throw new GatewayError('NOT_FOUND', `no route for ${ctx.method} ${ctx.path}`);
        if (ctx.status === 405) throw new GatewayError('METHOD_NOT_ALLOWED', `${ctx.method} is not allowed on ${ctx.path}`);
      }
    } catch (err) {
      render(ctx, err, log, id);
    } finally {
      const ms = Math.round((performance.now() - started) * 100) / 100;
      const line = { requestId: id, method: ctx.method, path: ctx.path, status: ctx.status, ms, ...ctx.state.logFields };
      if (ctx.status >= 500) log.warn(line, 'request');
      else log.info(line, 'request');
    }
  };
}

function render(ctx: Parameters<Middleware>[0], err: unknown, log: HttpLogger, requestId: string): void {
  const error = isGatewayError(err) ? err : new GatewayError('INTERNAL', String(err), { cause: err });
  const { status } = ERROR_CATALOGUE[error.code];
  if (status >= 500) {
    const cause = error.cause instanceof Error ? error.cause.stack : undefined;
    log.error({ requestId, code: error.code, err: error.message, cause }, 'request failed');
  }
  ctx.status = status;
  if (error.retryAfterSeconds !== undefined) ctx.set('Retry-After', String(error.retryAfterSeconds));
  ctx.body = { error: publicMessageOf(error), code: error.code };
}

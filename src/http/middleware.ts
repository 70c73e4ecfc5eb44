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
// W3C Trace Context: version-traceid(32 hex)-parentid(16 hex)-flags; all-zero ids are invalid.
const TRACEPARENT_RE = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}(-.*)?$/;
// Google's X-Cloud-Trace-Context: TRACE_ID/SPAN_ID;o=OPTIONS, the span id in decimal.
const CLOUD_TRACE_RE = /^([0-9a-fA-F]{32})(?:\/(\d{1,20}))?(?:;o=\d)?$/;

export interface TraceContext {
  /** 32 lower-case hex digits. */
  readonly traceId: string;
  /** 16 lower-case hex digits, when the header had a usable one. */
  readonly spanId?: string;
}

const ALL_ZERO = /^0+$/;

/** The caller's trace: `traceparent` first (the standard), else `x-cloud-trace-context`. */
export function traceContext(header: (name: string) => string): TraceContext | undefined {
  const tp = TRACEPARENT_RE.exec(header('traceparent').trim().toLowerCase());
  if (tp) {
    const [, version, traceId = '', spanId = ''] = tp;
    if (version !== 'ff' && !ALL_ZERO.test(traceId) && !ALL_ZERO.test(spanId)) return { traceId, spanId };
  }
  const ct = CLOUD_TRACE_RE.exec(header('x-cloud-trace-context').trim());
  if (!ct) return undefined;
  const [, traceId = '', span = '0'] = ct;
  if (ALL_ZERO.test(traceId)) return undefined;
  const spanNumber = BigInt(span);
  const spanId = spanNumber > 0n && spanNumber < 2n ** 64n ? spanNumber.toString(16).padStart(16, '0') : undefined;
  return { traceId: traceId.toLowerCase(), ...(spanId === undefined ? {} : { spanId }) };
}

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

const SECURITY_ENTRIES = Object.entries(SECURITY_HEADERS);

export function requestContext(log: HttpLogger): Middleware {
  return async (ctx, next) => {
    // The caller's id, else its trace id (so the id in the response finds the trace), else new.
    const headers = ctx.req.headers;
    const given = headers['x-request-id'];
    // Most requests carry no trace header: skip the parse (two regular expressions) for them.
    const traced = headers.traceparent !== undefined || headers['x-cloud-trace-context'] !== undefined;
    const trace = traced ? traceContext((name) => ctx.get(name)) : undefined;
    const id = typeof given === 'string' && REQUEST_ID_RE.test(given) ? given : (trace?.traceId ?? randomUUID());
    ctx.state.requestId = id;
    // Straight onto the response: Koa's ctx.set re-checks and re-converts each value per call.
    const res = ctx.res;
    res.setHeader('x-request-id', id);
    for (const [name, value] of SECURITY_ENTRIES) res.setHeader(name, value);
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
      const latencyMs = Math.round((performance.now() - started) * 100) / 100;
      // One line per request; logFields (model, version, route reason) never holds tensor values.
      const line = { requestId: id, ...trace, method: ctx.method, path: ctx.path, status: ctx.status, latencyMs, ...ctx.state.logFields };
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

// Request id, security headers, access log and error rendering: every response carries
// x-request-id and the security headers (http/response-head.ts), every error is JSON
// {error, code} from the catalogue, and no stack trace or internal path leaves here.
import { randomUUID } from 'node:crypto';
import type { Middleware } from 'koa';
import { ERROR_CATALOGUE, GatewayError, isGatewayError, publicMessageOf } from '../errors/catalogue.js';
import { ResponseHead } from './response-head.js';

/** The request logger (pino): fields whose value is undefined must be left out of the line. */
export interface HttpLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
  /**
   * The access line's fast path (logging/logger.ts), writing what `info`/`warn`(fields,
   * 'request') would; loggers without it get those calls instead.
   */
  readonly requestLine?: (fields: Readonly<Record<string, unknown>>, level: 'info' | 'warn') => void;
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
 * What a request's log line says of routing (set by the inference routes): the version that
 * answered, the one that failed before a fallback, and how the version was chosen.
 */
export interface RouteLogFields {
  model: string;
  version: string;
  fallbackFrom: string | undefined;
  reason: string | undefined;
}

export function requestContext(log: HttpLogger): Middleware {
  return async (ctx, next) => {
    // The caller's id, else its trace id (so the id in the response finds the trace), else new.
    const headers = ctx.req.headers;
    const given = headers['x-request-id'];
    // Most requests carry no trace header: skip the parse (two regular expressions) for them.
    const traced = headers.traceparent !== undefined || headers['x-cloud-trace-context'] !== undefined;
    const trace = traced ? traceContext((name) => ctx.get(name)) : undefined;
    const id = typeof given === 'string' && REQUEST_ID_RE.test(given) ? given : (trace?.traceId ?? randomUUID());
    // The id and security headers go out with the response (http/response-head.ts): in one
    // writeHead where a route answers itself, else added below before Koa renders it.
    const head = new ResponseHead(id);
    ctx.state.head = head;
    const started = performance.now();
    try {
      await next();
      if (ctx.respond !== false && (ctx.body === undefined || ctx.body === null)) {
        if (ctx.status === 404) throw new GatewayError('NOT_FOUND', `no route for ${ctx.method} ${ctx.path}`);
        if (ctx.status === 405) throw new GatewayError('METHOD_NOT_ALLOWED', `${ctx.method} is not allowed on ${ctx.path}`);
      }
    } catch (err) {
      render(ctx, err, log, id);
    } finally {
      if (ctx.respond !== false) head.applyTo(ctx.res);
      const latencyMs = Math.round((performance.now() - started) * 100) / 100;
      // One line per request; it never holds tensor values. Fields left undefined are not
      // written (pino skips them): a fixed literal rather than spreads, which cost ~1 µs a line.
      const routeFields = ctx.state.logFields as RouteLogFields | undefined;
      const line = {
        requestId: id,
        traceId: trace?.traceId,
        spanId: trace?.spanId,
        method: ctx.method,
        path: ctx.path,
        status: ctx.status,
        latencyMs,
        model: routeFields?.model,
        version: routeFields?.version,
        fallbackFrom: routeFields?.fallbackFrom,
        reason: routeFields?.reason,
      };
      const level = ctx.status >= 500 ? 'warn' : 'info';
      if (log.requestLine) log.requestLine(line, level);
      else log[level](line, 'request');
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

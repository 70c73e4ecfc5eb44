// The head every HTTP response carries: the request id, the security headers, and what a route
// adds (the model and version that answered). Inference answers are sent with it in one
// writeHead call; everything else is rendered by Koa, with these headers added after the route
// ran. Node checks and stores each setHeader call on its own: for this dozen headers that cost
// ~6 µs a request, against ~1 µs as one writeHead list (docs/benchmarks.md).
import { validateHeaderName, validateHeaderValue, type ServerResponse } from 'node:http';
import type { Context } from 'koa';

/**
 * What helmet and the OWASP REST guidance set for a JSON API: no MIME sniffing, no caching of
 * answers (they depend on the request and may carry model output), nothing may frame or embed
 * a response or run script from it, no referrer leaks. A route that serves something else (an
 * HTML page) may set its own value; it is kept. Neither Koa nor Node sends `X-Powered-By` or
 * `Server`.
 */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'X-Content-Type-Options': 'nosniff',
  'Cache-Control': 'no-store',
  'Content-Security-Policy': "default-src 'none'; frame-ancestors 'none'",
  'X-Frame-Options': 'DENY',
  'Referrer-Policy': 'no-referrer',
  'Cross-Origin-Resource-Policy': 'same-origin',
});

const SECURITY_FIELDS: readonly string[] = Object.entries(SECURITY_HEADERS).flat();

export const JSON_TYPE = 'application/json; charset=utf-8';

/** Written by send() itself from its arguments; a route may not set them. */
const OWN_FIELDS = new Set(['x-request-id', 'content-type', 'content-length']);

const SECURITY_NAMES = new Set(Object.keys(SECURITY_HEADERS).map((name) => name.toLowerCase()));

export class ResponseHead {
  /** Headers routes added, as [name, value, name, value, ...]; names as given, unique. */
  private readonly added: string[] = [];
  /** Whether a route set one of the security headers (rare: send() then leaves the default out). */
  private securityOverridden = false;

  constructor(readonly requestId: string | undefined) {}

  /**
   * Sets a header for this response however it is sent; a second call (in any letter case)
   * replaces the value, and a security header set here replaces the default. A name or value
   * node would refuse throws here, as setHeader would, not later in the answer.
   */
  set(name: string, value: string): void {
    validateHeaderName(name);
    validateHeaderValue(name, value);
    const lower = name.toLowerCase();
    if (OWN_FIELDS.has(lower)) throw new TypeError(`${name} is written by the response head itself`);
    if (SECURITY_NAMES.has(lower)) this.securityOverridden = true;
    const at = indexOfName(this.added, name);
    if (at >= 0) this.added[at + 1] = value;
    else this.added.push(name, value);
  }

  /** Koa renders the response: adds each header the route did not set itself. */
  applyTo(res: ServerResponse): void {
    if (res.headersSent) return;
    if (this.requestId !== undefined && !res.hasHeader('x-request-id')) res.setHeader('x-request-id', this.requestId);
    // Added headers first: a security header a route set through the head wins over the default.
    setMissing(res, this.added);
    setMissing(res, SECURITY_FIELDS);
  }

  /** The route answers itself: status, every header and the body, bypassing Koa's rendering. */
  send(ctx: Context, status: number, contentType: string, body: string | Buffer): void {
    const fields: string[] = this.requestId === undefined ? [] : ['x-request-id', this.requestId];
    for (let i = 0; i + 1 < SECURITY_FIELDS.length; i += 2) {
      const name = SECURITY_FIELDS[i] as string;
      if (!this.securityOverridden || indexOfName(this.added, name) < 0) fields.push(name, SECURITY_FIELDS[i + 1] as string);
    }
    for (const f of this.added) fields.push(f);
    fields.push('Content-Type', contentType, 'Content-Length', String(typeof body === 'string' ? Buffer.byteLength(body) : body.length));
    ctx.res.writeHead(status, fields);
    // Only once the head is written: should writeHead throw, Koa still renders the error.
    ctx.respond = false;
    ctx.res.end(body);
  }
}

/** Where header `name` sits in a [name, value, ...] list (names only, any letter case); -1 if absent. */
function indexOfName(fields: readonly string[], name: string): number {
  const lower = name.toLowerCase();
  for (let i = 0; i + 1 < fields.length; i += 2) if ((fields[i] as string).toLowerCase() === lower) return i;
  return -1;
}

function setMissing(res: ServerResponse, fields: readonly string[]): void {
  for (let i = 0; i + 1 < fields.length; i += 2) {
    const name = fields[i] as string;
    if (!res.hasHeader(name)) res.setHeader(name, fields[i + 1] as string);
  }
}

/** This request's head (made by requestContext); a bare one where that middleware is not mounted. */
export function headOf(ctx: Context): ResponseHead {
  const state = ctx.state as { head?: ResponseHead };
  return (state.head ??= new ResponseHead(undefined));
}

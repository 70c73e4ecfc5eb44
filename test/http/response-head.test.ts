// The response head (http/response-head.ts): inference answers write every header in one
// writeHead; everything else is rendered by Koa with the same headers added after the route.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import Koa from 'koa';
import { afterEach, describe, expect, it } from 'vitest';
import { requestContext, type HttpLogger } from '../../src/http/middleware.js';
import { headOf, JSON_TYPE } from '../../src/http/response-head.js';

const quiet: HttpLogger = { info() {}, warn() {}, error() {} };
let server: http.Server | undefined;

afterEach(async () => {
  server?.closeAllConnections();
  await new Promise((r) => server?.close(r));
  server = undefined;
});

/** A Koa app with the gateway's request middleware and one route; the raw response back. */
async function serve(route: Koa.Middleware, headers: Record<string, string> = {}): Promise<{ status: number; raw: string[]; body: string }> {
  const app = new Koa();
  app.silent = true;
  app.use(requestContext(quiet));
  app.use(route);
  server = http.createServer(app.callback());
  await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path: '/', headers }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, raw: res.rawHeaders, body }));
      })
      .on('error', reject);
  });
}

/** Header name (lower case) → every value sent for it, in order. */
function sent(raw: readonly string[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = (raw[i] as string).toLowerCase();
    out.set(name, [...(out.get(name) ?? []), raw[i + 1] as string]);
  }
  return out;
}

describe('response head', () => {
  it('sends an answer with the request id, security headers and the route\'s own, each once', async () => {
    const res = await serve(
      (ctx) => {
        const head = headOf(ctx);
        head.set('x-model-name', 'm');
        head.set('x-model-version', '1');
        head.set('x-model-version', '2'); // a fallback took over: the last value wins
        head.send(ctx, 200, JSON_TYPE, '{"é":1}');
      },
      { 'x-request-id': 'req-42' },
    );
    expect(res.status).toBe(200);
    expect(res.body).toBe('{"é":1}');
    const h = sent(res.raw);
    expect(h.get('x-request-id')).toEqual(['req-42']);
    expect(h.get('x-model-name')).toEqual(['m']);
    expect(h.get('x-model-version')).toEqual(['2']);
    expect(h.get('x-content-type-options')).toEqual(['nosniff']);
    expect(h.get('content-security-policy')).toEqual(["default-src 'none'; frame-ancestors 'none'"]);
    expect(h.get('content-type')).toEqual(['application/json; charset=utf-8']);
    expect(h.get('content-length')).toEqual(['8']); // bytes, not characters: é is two
  });

  it('matches header names only, in any letter case, and lets a route replace a security header', async () => {
    for (const koa of [false, true]) {
      const res = await serve((ctx) => {
        const head = headOf(ctx);
        head.set('x-model-name', 'x-model-version'); // a value that reads like a name
        head.set('x-model-version', '1');
        head.set('X-Model-Version', '2');
        head.set('Cache-Control', 'max-age=60');
        expect(() => head.set('Content-Type', 'text/plain')).toThrow(TypeError);
        if (!koa) return head.send(ctx, 200, JSON_TYPE, '{}');
        ctx.body = {};
      });
      const h = sent(res.raw);
      expect([koa, h.get('x-model-name'), h.get('x-model-version'), h.get('cache-control')]).toEqual([koa, ['x-model-version'], ['2'], ['max-age=60']]);
      expect(h.get('x-frame-options')).toEqual(['DENY']);
      server?.closeAllConnections();
      await new Promise((r) => server?.close(r));
    }
  });

  it('adds the same headers to what Koa renders, keeping a value the route set itself', async () => {
    const res = await serve((ctx) => {
      headOf(ctx).set('x-model-name', 'm');
      ctx.set('Content-Security-Policy', "default-src 'self'");
      ctx.type = 'text/html';
      ctx.body = '<p>hi</p>';
    });
    expect(res.status).toBe(200);
    const h = sent(res.raw);
    expect(h.get('content-security-policy')).toEqual(["default-src 'self'"]);
    expect(h.get('x-frame-options')).toEqual(['DENY']);
    expect(h.get('x-model-name')).toEqual(['m']);
    expect(h.get('x-request-id')?.[0]).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('refuses a malformed header where it is set, and renders that error as JSON with every header', async () => {
    let thrown: unknown;
    const res = await serve((ctx) => {
      const head = headOf(ctx);
      head.set('x-model-name', 'm');
      try {
        head.set('x-bad', 'line\nbreak');
      } catch (err) {
        thrown = err;
        throw err;
      }
      head.send(ctx, 200, JSON_TYPE, '{}');
    });
    expect((thrown as { code?: string }).code).toBe('ERR_INVALID_CHAR');
    expect(res.status).toBe(500);
    expect(JSON.parse(res.body)).toMatchObject({ code: 'INTERNAL' });
    const h = sent(res.raw);
    expect(h.get('x-model-name')).toEqual(['m']);
    expect(h.get('cache-control')).toEqual(['no-store']);
  });
});

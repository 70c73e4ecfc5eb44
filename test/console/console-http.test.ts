// The console's HTTP surface without a browser: who may see it, the cookie, the headers, the
// event stream, and that an open stream never holds up a server's shutdown.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { cookieValue } from '../../src/console/auth.js';
import { cliRegistry } from '../../src/console/snapshot.js';
import type { ConsoleSnapshot } from '../../src/console/snapshot.js';
import { createGateway, type Gateway } from '../../src/gateway.js';
import { makeTempDir, silentLog, startGateway, writeFile, type RunningGateway } from '../support/harness.js';
import { doubler, echo, failsOnOdd } from '../support/models.js';

const TOKEN = 'http-test-token-7d2e41';
const REGISTRY = 'models:\n  m:\n    versions:\n      "1": { uri: v1.onnx, weight: 3 }\n      "2": { uri: v1.onnx, weight: 1 }\n';
const files = { 'v1.onnx': doubler };
const PATHS = ['/console', '/console/data', '/console/events', '/console/app.js', '/console/app.css'];

let gw: RunningGateway | undefined;
afterEach(async () => {
  await gw?.close();
  gw = undefined;
});

/** Reads server-sent events until `count` data events arrived, the stream ended (`ended`) or time ran out. */
async function readEvents(res: Response, count: number, timeoutMs = 5000): Promise<{ events: ConsoleSnapshot[]; at: number[]; ended: boolean }> {
  const reader = (res.body as ReadableStream<Uint8Array>).getReader();
  const decoder = new TextDecoder();
  const events: ConsoleSnapshot[] = [];
  const at: number[] = [];
  let buffer = '';
  let ended = false;
  const deadline = Date.now() + timeoutMs;
  while (events.length < count && Date.now() < deadline) {
    let timer: NodeJS.Timeout | undefined;
    const timeUp = new Promise<'time'>((resolve) => (timer = setTimeout(() => resolve('time'), deadline - Date.now())));
    const read = await Promise.race([reader.read(), timeUp]);
    clearTimeout(timer);
    if (read === 'time') break;
    const { value, done } = read;
    if (done) {
      ended = true;
      break;
    }
    buffer += decoder.decode(value, { stream: true });
    let end: number;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const data = block.split('\n').find((l) => l.startsWith('data: '));
      if (data) {
        events.push(JSON.parse(data.slice(6)) as ConsoleSnapshot);
        at.push(Date.now());
      }
    }
  }
  reader.releaseLock();
  return { events, at, ended };
}

describe('console access', () => {
  it('does not exist without ADMIN_TOKEN', async () => {
    gw = await startGateway({ registry: REGISTRY, files });
    for (const p of [...PATHS, '/console?token=anything']) {
      const res = await gw.get(p, { authorization: 'Bearer anything' });
      expect([p, res.status, (res.body as { code?: string }).code]).toEqual([p, 404, 'NOT_FOUND']);
    }
  });

  it('answers 401 without credentials, with a wrong token, link or cookie', async () => {
    gw = await startGateway({ registry: REGISTRY, files, adminToken: TOKEN });
    for (const p of PATHS) {
      const attempts: Array<Record<string, string>> = [{}, { authorization: 'Bearer wrong' }, { cookie: `mg_console=${cookieValue('wrong')}` }, { cookie: `mg_console=${TOKEN}` }];
      for (const headers of attempts) {
        const res = await gw.get(p, headers);
        expect([p, res.status, (res.body as { code?: string }).code]).toEqual([p, 401, 'UNAUTHORIZED']);
      }
    }
    const wrongLink = await fetch(`${gw.url}/console?token=wrong`, { redirect: 'manual' });
    expect(wrongLink.status).toBe(401);
    expect(wrongLink.headers.get('set-cookie')).toBeNull();
  });

  it('swaps a token link for an HttpOnly SameSite=Strict cookie that is not the token, then serves the page under a strict CSP', async () => {
    gw = await startGateway({ registry: REGISTRY, files, adminToken: TOKEN });
    const link = await fetch(`${gw.url}/console?token=${TOKEN}`, { redirect: 'manual' });
    expect(link.status).toBe(303);
    expect(link.headers.get('location')).toBe('/console');
    const setCookie = link.headers.get('set-cookie') ?? '';
    expect(setCookie).toMatch(/^mg_console=[A-Za-z0-9_-]{43}; path=\/; samesite=strict; httponly$/i);
    expect(setCookie).not.toContain(TOKEN);
    // Behind a TLS-terminating proxy the cookie is also Secure.
    const viaHttps = await fetch(`${gw.url}/console?token=${TOKEN}`, { redirect: 'manual', headers: { 'x-forwarded-proto': 'https' } });
    expect(viaHttps.headers.get('set-cookie')).toMatch(/; secure/i);

    const cookie = setCookie.split(';')[0] as string;
    const page = await gw.get('/console', { cookie });
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    const csp = page.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("default-src 'none'");
    expect(csp).not.toContain('unsafe');
    expect(page.headers.get('cache-control')).toBe('no-store');
    expect(page.headers.get('referrer-policy')).toBe('no-referrer');
    expect(page.text).toContain('data-field="revision"');
    expect(page.text).not.toMatch(/<script>|<style>|https?:\/\//); // no inline code, no external assets
    expect(page.text).not.toContain(TOKEN);
    for (const asset of ['/console/app.js', '/console/app.css']) {
      const res = await gw.get(asset, { cookie });
      expect([asset, res.status]).toEqual([asset, 200]);
      expect(res.text).not.toMatch(/https?:\/\/(?!www\.w3\.org\/2000\/svg)/);
    }
    // The bearer header works as well (scripts, curl).
    expect((await gw.get('/console', { authorization: `Bearer ${TOKEN}` })).status).toBe(200);
  });

  it('a cookie made from an old token stops working when ADMIN_TOKEN changes', async () => {
    gw = await startGateway({ registry: REGISTRY, files, adminToken: `${TOKEN}-new` });
    expect((await gw.get('/console/data', { cookie: `mg_console=${cookieValue(TOKEN)}` })).status).toBe(401);
    expect((await gw.get('/console/data', { cookie: `mg_console=${cookieValue(`${TOKEN}-new`)}` })).status).toBe(200);
  });
});

describe('console data and events', () => {
  it('streams a snapshot at once and then every second, with traffic and no input values', async () => {
    gw = await startGateway({ registry: REGISTRY, files, adminToken: TOKEN });
    for (let i = 0; i < 12; i++) expect((await gw.post('/predict', { model: 'm', version: String(1 + (i % 2)), inputs: { x: [[97531.5]] } })).status).toBe(200);
    const abort = new AbortController();
    const started = Date.now();
    const res = await fetch(`${gw.url}/console/events`, { headers: { authorization: `Bearer ${TOKEN}` }, signal: abort.signal });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect(gw.gateway.console.watching).toBe(1);
    const { events, at } = await readEvents(res, 3);
    abort.abort();
    expect(events).toHaveLength(3);
    expect((at[0] as number) - started).toBeLessThan(1000);
    expect((at[2] as number) - (at[1] as number)).toBeLessThan(1500);
    const snapshot = events[2] as ConsoleSnapshot;
    expect(snapshot.revision).toBe(gw.gateway.registry.current().id);
    const model = snapshot.models.find((m) => m.name === 'm');
    expect(model?.versions.map((v) => [v.name, v.configuredShare, v.requests, v.share])).toEqual([
      ['1', 0.75, 6, 0.5],
      ['2', 0.25, 6, 0.5],
    ]);
    const text = JSON.stringify(snapshot);
    expect(text).not.toContain('97531');
    expect(text).not.toContain(TOKEN);
    // The page went away: its subscription goes too, and with none left no snapshot is built.
    await expect.poll(() => gw?.gateway.console.watching, { timeout: 2000 }).toBe(0);
  });

  it('shows a guard rollback: state, reason, effective share 0, the rollback count and the rescued requests', async () => {
    gw = await startGateway({
      registry: `models:
  m:
    versions:
      "1": { uri: ok.onnx, weight: 50 }
      "2": { uri: odd.onnx, weight: 50 }
    fallback: "1"
    guard: { maxErrorRate: 0.2, minRequests: 10, windowSeconds: 60 }
`,
      files: { 'ok.onnx': echo, 'odd.onnx': failsOnOdd },
      adminToken: TOKEN,
    });
    for (let i = 0; i < 60; i++) expect((await gw.post('/predict', { model: 'm', inputs: { x: [1, 2, 3] } })).status).toBe(200);
    await gw.gateway.controller.settled();
    const data = async () => (await (gw as RunningGateway).get<ConsoleSnapshot>('/console/data', { authorization: `Bearer ${TOKEN}` })).body;
    // Fallbacks reach the statistics with the next once-a-second sample.
    await expect.poll(async () => (await data()).models[0]?.versions[1]?.fallbacks, { timeout: 3000 }).toBe(10);
    const v2 = (await data()).models[0]?.versions[1];
    expect(v2).toMatchObject({ name: '2', errors: 10, requests: 10, errorRatio: 1, effectiveShare: 0, rollbacks: 1, guard: { state: 'rolled_back', reason: 'error_rate' } });
  });

  it('quotes a registry path the shell would split in the CLI commands it shows', () => {
    expect(cliRegistry('file:///srv/models/registry.yaml')).toBe('/srv/models/registry.yaml');
    expect(cliRegistry('file:///srv/my%20models/it\'s.yaml')).toBe(`'/srv/my models/it'\\''s.yaml'`);
    expect(cliRegistry('gs://bucket/registry.yaml')).toBe('gs://bucket/registry.yaml');
    expect(cliRegistry('REMOTE_MODEL_PATH=/models/a.onnx')).toBeUndefined();
  });
});

describe('console streams and shutdown', () => {
  let server: http.Server | undefined;
  let gateway: Gateway | undefined;
  let cleanup: (() => void) | undefined;
  afterEach(async () => {
    server?.closeAllConnections();
    await gateway?.close();
    cleanup?.();
    server = gateway = cleanup = undefined;
  });

  async function serve(): Promise<string> {
    const tmp = makeTempDir();
    cleanup = tmp.cleanup;
    writeFile(tmp.dir, 'v1.onnx', doubler);
    const registry = writeFile(tmp.dir, 'registry.yaml', REGISTRY);
    gateway = await createGateway({ registry, modelCacheDir: `${tmp.dir}/.cache`, log: silentLog, defaultMetrics: false, adminToken: TOKEN });
    server = http.createServer(gateway.app.callback());
    await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  it('an open event stream ends when the gateway starts draining, so server.close() finishes without forcing connections', async () => {
    const url = await serve();
    const res = await fetch(`${url}/console/events`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect((await readEvents(res, 1)).events).toHaveLength(1);
    (gateway as Gateway).lifecycle.draining = true;
    const closing = Date.now();
    // What server.ts does on SIGTERM, short of forcing connections closed after the grace period.
    await new Promise<void>((resolve) => {
      server?.close(() => resolve());
      server?.closeIdleConnections();
    });
    expect(Date.now() - closing).toBeLessThan(2500);
    expect((await readEvents(res, 1, 1000)).ended).toBe(true);
    server = undefined;
  });

  it('ends open streams when the gateway closes', async () => {
    const url = await serve();
    const open = await fetch(`${url}/console/events`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect((await readEvents(open, 1)).events).toHaveLength(1);
    await (gateway as Gateway).close();
    gateway = undefined;
    // The stream ends at once instead of waiting for the next event.
    expect(await readEvents(open, 1, 3000)).toMatchObject({ events: [], ended: true });
  });

  it('refuses new streams while draining', async () => {
    const url = await serve();
    (gateway as Gateway).lifecycle.draining = true;
    const late = await fetch(`${url}/console/events`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(late.status).toBe(503);
    expect(late.headers.get('retry-after')).toBe('5');
  });
});

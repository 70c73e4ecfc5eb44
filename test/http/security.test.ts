// What a hostile or curious client can learn: every response carries the headers a JSON API
// should (no sniffing, no caching, no framing); failures tell the caller what failed but not
// where the files live, what storage objects are called, or a stack; and the request log never
// holds a caller's credentials.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createGateway, type Gateway } from '../../src/gateway.js';
import { startFakeGcs, type FakeGcs } from '../support/fake-gcs.js';
import { makeTempDir, writeFile } from '../support/harness.js';
import { doubler, failsOnOdd, garbage } from '../support/models.js';

const SECRET_DIR = 'private-models-7f3a';
const REGISTRY = `
models:
  ok:
    versions: { "1": { uri: ${SECRET_DIR}/ok.onnx, weight: 1 } }
  garbage:
    versions: { "1": { uri: ${SECRET_DIR}/garbage.onnx, weight: 1 } }
  missing:
    versions: { "1": { uri: ${SECRET_DIR}/missing.onnx, weight: 1 } }
  odd:
    versions: { "1": { uri: ${SECRET_DIR}/odd.onnx, weight: 1 } }
  denied:
    versions: { "1": { uri: gs://secret-bucket-91c/deep/denied.onnx, weight: 1 } }
  absent:
    versions: { "1": { uri: gs://secret-bucket-91c/deep/absent.onnx, weight: 1 } }
`;

const temp = makeTempDir();
let gcs: FakeGcs;
let gateway: Gateway;
let server: http.Server;
let url: string;
const logLines: string[] = [];

beforeAll(async () => {
  gcs = await startFakeGcs();
  const registry = writeFile(temp.dir, 'models.yaml', REGISTRY);
  writeFile(temp.dir, `${SECRET_DIR}/ok.onnx`, doubler);
  writeFile(temp.dir, `${SECRET_DIR}/garbage.onnx`, garbage);
  writeFile(temp.dir, `${SECRET_DIR}/odd.onnx`, failsOnOdd);
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      logLines.push(...chunk.toString().split('\n').filter((l) => l !== ''));
      done();
    },
  });
  gateway = await createGateway({
    registry,
    modelCacheDir: path.join(temp.dir, 'cache'),
    storageEmulatorHost: gcs.host,
    gcsRetryOptions: { autoRetry: false, maxRetries: 0 },
    defaultMetrics: false,
    log: pino({ level: 'info' }, sink),
  });
  server = http.createServer(gateway.app.callback());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
  await gateway.close();
  await gcs.close();
  temp.cleanup();
});

async function call(p: string, init: RequestInit = {}) {
  const res = await fetch(`${url}${p}`, init);
  return { status: res.status, headers: res.headers, text: await res.text() };
}
const predict = (model: string, x: number[][] | number[], headers: Record<string, string> = {}) =>
  call('/predict', { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ model, inputs: { x } }) });

/** Nothing that names where things live or how the code is laid out. */
function expectNothingInternal(text: string): void {
  for (const secret of [temp.dir, SECRET_DIR, 'secret-bucket-91c', 'deep/', '.onnx', '/tmp', 'node_modules', 'Error:', '    at ']) {
    expect(text, `response leaks ${secret}`).not.toContain(secret);
  }
}

describe('responses', () => {
  it('carry headers for a JSON API on every kind of answer, and no X-Powered-By or Server', async () => {
    const answers = [
      await predict('ok', [[1]]),
      await predict('nope', [[1]]),
      await call('/predict'),
      await call('/v2/health/ready'),
      await call('/metrics'),
      await call('/no/such/route'),
      await call('/predict', { method: 'POST', body: '{not json' }),
      // V2 answers, JSON and with binary outputs, are written apart from Koa (http/response-head.ts).
      await call('/v2/models/ok/infer', { method: 'POST', body: JSON.stringify({ inputs: [{ name: 'x', shape: [1, 1], datatype: 'FP32', data: [1] }] }) }),
      await call('/v2/models/ok/infer', {
        method: 'POST',
        body: JSON.stringify({ inputs: [{ name: 'x', shape: [1, 1], datatype: 'FP32', data: [1] }], parameters: { binary_data_output: true } }),
      }),
      await predict('garbage', [[1]]), // routed to a version, then failed
    ];
    expect(answers.map((a) => a.status)).toEqual([200, 404, 405, answers[3]?.status, 200, 404, 400, 200, 200, 503]);
    expect(answers.map((a) => a.headers.get('x-model-name'))).toEqual(['ok', null, null, null, null, null, null, 'ok', 'ok', 'garbage']);
    for (const a of answers) {
      expect(a.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
      expect(a.headers.get('x-content-type-options')).toBe('nosniff');
      expect(a.headers.get('cache-control')).toBe('no-store');
      expect(a.headers.get('content-security-policy')).toBe("default-src 'none'; frame-ancestors 'none'");
      expect(a.headers.get('x-frame-options')).toBe('DENY');
      expect(a.headers.get('referrer-policy')).toBe('no-referrer');
      expect(a.headers.get('x-powered-by')).toBeNull();
      expect(a.headers.get('server')).toBeNull();
    }
  });

  it('name a failed local model load without its path: an unreadable file and a missing one', async () => {
    const bad = await predict('garbage', [[1]]);
    expect(bad.status).toBe(503);
    expect(JSON.parse(bad.text)).toEqual({ code: 'MODEL_UNAVAILABLE', error: 'model "garbage" version "1" cannot be loaded' });
    const missing = await predict('missing', [[1]]);
    expect(missing.status).toBe(503);
    expect(JSON.parse(missing.text)).toMatchObject({ code: 'MODEL_UNAVAILABLE' });
    for (const r of [bad, missing]) expectNothingInternal(r.text);
    // The operator's log does say which file: that is where it belongs.
    expect(logLines.join('\n')).toContain(SECRET_DIR);
  });

  it('name a storage error without the bucket or object', async () => {
    gcs.failNext(403, 1);
    const denied = await predict('denied', [[1]]);
    expect(denied.status).toBe(502);
    expect(JSON.parse(denied.text)).toEqual({ code: 'STORAGE_ERROR', error: 'model storage answered 403' });
    const absent = await predict('absent', [[1]]);
    expect(absent.status).toBe(502);
    expect(JSON.parse(absent.text)).toEqual({ code: 'STORAGE_ERROR', error: 'model storage answered 404' });
    for (const r of [denied, absent]) expectNothingInternal(r.text);
  });

  it('report a model failing while running without onnxruntime’s message or a stack', async () => {
    const res = await predict('odd', [1, 2, 3]);
    expect(res.status).toBe(500);
    expect(JSON.parse(res.text)).toEqual({ code: 'INFERENCE_FAILED', error: 'the model failed while running' });
    expectNothingInternal(res.text);
  });
});

describe('the request log', () => {
  it('never holds the caller’s credentials: authorization, cookies, query tokens', async () => {
    const before = logLines.length;
    await predict('ok', [[1]], { authorization: 'Bearer tok-SECRET-1', cookie: 'session=tok-SECRET-2', 'x-api-key': 'tok-SECRET-3' });
    await call('/v2/health/live?token=tok-SECRET-4', { headers: { authorization: 'Basic dG9rLVNFQ1JFVC01' } });
    await predict('garbage', [[1]], { authorization: 'Bearer tok-SECRET-6' });
    const lines = logLines.slice(before);
    expect(lines.filter((l) => l.includes('"msg":"request"')).length).toBe(3);
    expect(lines.join('\n')).not.toMatch(/tok-SECRET|dG9rLVNFQ1JFVC01/);
  });
});

// Storage faults through a real gateway on a real port: each broken gs:// model answers the
// contract's status with Retry-After, is marked failed with backoff (a second request does not
// reach storage), is counted and logged with its reason, reports not ready, and neither other
// models nor the fallback version are affected. Nothing internal reaches a response body.
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createGateway } from '../../src/gateway.js';
import { startFakeGcs, type Fault, type FakeGcs } from '../support/fake-gcs.js';
import { makeTempDir, sampleValue, writeFile } from '../support/harness.js';
import { doubler, tripler } from '../support/models.js';

const TIMEOUT_MS = 400;


interface LogLine {
  readonly level: string;
  readonly obj: Record<string, unknown>;
  readonly msg: string;
}

interface Running {
  readonly lines: LogLine[];
  readonly dir: string;
  request(method: 'GET' | 'POST', p: string, body?: unknown): Promise<{ status: number; headers: Headers; text: string; body: Record<string, unknown> }>;
  close(): Promise<void>;
}

const temp = makeTempDir();
let dirs = 0;

/** A gateway on a local registry whose models live in gs://, with every log line kept. */
async function start(registry: string, storageEmulatorHost: string, files: Record<string, Uint8Array> = {}): Promise<Running> {
  const dir = path.join(temp.dir, `gw-${++dirs}`);
  const registryFile = writeFile(dir, 'models.yaml', registry);
  for (const [rel, bytes] of Object.entries(files)) writeFile(dir, rel, bytes);
  const lines: LogLine[] = [];
  const at = (level: string) => (obj: object, msg: string) => void lines.push({ level, obj: obj as Record<string, unknown>, msg });
  const log = { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
  const gateway = await createGateway({
    registry: registryFile,
    modelCacheDir: path.join(dir, 'model-cache'),
    storageEmulatorHost,
    gcsRetryOptions: { autoRetry: false, maxRetries: 0 },
    gcsTimeoutMs: TIMEOUT_MS, // the default (60 s) is for real model downloads
    loadRetryBaseMs: 30_000, // a backoff no test outlives
    defaultMetrics: false,
    log,
  });
  const server = http.createServer(gateway.app.callback());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
  return {
    lines,
    dir,
    async request(method, p, body) {
      const res = await fetch(`${url}${p}`, {
        method,
        ...(body === undefined ? {} : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
      });
      const text = await res.text();
      let parsed: Record<string, unknown> = {};
      try {
        parsed = JSON.parse(text) as Record<string, unknown>;
      } catch {
        // /metrics is text
      }
      return { status: res.status, headers: res.headers, text, body: parsed };
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await gateway.close();
    },
  };
}

/** What a client must never see: storage names, local paths, stack frames. */
function expectNothingInternal(text: string, dir: string): void {
  for (const leak of ['gs://', 'models-bkt', dir, temp.dir, '/tmp/', 'node_modules', '.ts:', '    at ']) {
    expect(text).not.toContain(leak);
  }
}

function loadFailures(metrics: string, model: string, version: string): number | undefined {
  return sampleValue(metrics, 'gateway_model_loads_total', { model, version, result: 'failure' });
}

/** Checks every fault shares: status, Retry-After, backoff, metric, log, readiness, isolation, fallback. */
async function expectFailedVersion(
  gw: Running,
  model: string,
  expected: { status: number; code: string; reason: RegExp },
  storageRequests: () => number,
): Promise<void> {
  const first = await gw.request('POST', '/predict', { model, version: '1', inputs: { x: [[2]] } });
  expect(first.status).toBe(expected.status);
  expect(first.body).toEqual({ error: expect.any(String), code: expected.code });
  expect(Number(first.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
  expectNothingInternal(first.text, gw.dir);
  const reached = storageRequests();

  // Inside the backoff: the same answer, without touching storage again.
  const second = await gw.request('POST', '/predict', { model, version: '1', inputs: { x: [[2]] } });
  expect(second.status).toBe(expected.status);
  expect(Number(second.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
  expect(storageRequests()).toBe(reached);

  const ready = await gw.request('GET', `/v2/models/${model}/versions/1/ready`);
  expect(ready.status).toBe(503);
  expect((await gw.request('GET', '/v2/models/healthy/versions/1/ready')).status).toBe(200);

  // A routed request (no version named) is answered by the fallback, version 2 (y = 3x).
  const routed = await gw.request('POST', '/predict', { model, inputs: { x: [[2]] } });
  expect(routed.status).toBe(200);
  expect(routed.headers.get('x-model-version')).toBe('2');
  expect(routed.body.outputs).toEqual({ y: [[6]] });
  expect(storageRequests()).toBe(reached);

  const other = await gw.request('POST', '/predict', { model: 'healthy', inputs: { x: [[2]] } });
  expect(other.status).toBe(200);
  expect(other.body.outputs).toEqual({ y: [[4]] });

  const metrics = (await gw.request('GET', '/metrics')).text;
  expect(loadFailures(metrics, model, '1')).toBe(1);
  expect(loadFailures(metrics, 'healthy', '1')).toBe(0);

  const logged = gw.lines.filter((l) => l.msg === 'model load failed' && l.obj.model === model && l.obj.version === '1');
  expect(logged).toHaveLength(1);
  expect(String(logged[0]?.obj.err)).toMatch(expected.reason);
}

const FAULTS: Array<{ model: string; setup: (gcs: FakeGcs, object: string) => void; status: number; code: string; reason: RegExp }> = [
  { model: 'forbidden', setup: (g, o) => g.fault('models-bkt', o, { kind: 'status', status: 403 }), status: 502, code: 'STORAGE_ERROR', reason: /storage answered 403/ },
  { model: 'missing', setup: () => undefined, status: 502, code: 'STORAGE_ERROR', reason: /storage answered 404/ },
  { model: 'corrupted', setup: (g, o) => g.corrupt('models-bkt', o), status: 502, code: 'STORAGE_ERROR', reason: /md5 \S+ != reported/ },
  { model: 'slow', setup: (g, o) => g.fault('models-bkt', o, { kind: 'slow', delayMs: 10_000 } satisfies Fault), status: 503, code: 'MODEL_UNAVAILABLE', reason: /storage unreachable: network timeout/ },
  { model: 'reset', setup: (g, o) => g.fault('models-bkt', o, { kind: 'reset' }), status: 503, code: 'MODEL_UNAVAILABLE', reason: /storage unreachable: .*socket hang up/ },
  { model: 'truncated', setup: (g, o) => g.fault('models-bkt', o, { kind: 'truncate' }), status: 503, code: 'MODEL_UNAVAILABLE', reason: /stalled after \d+ of \d+ bytes/ },
];

function registryFor(models: readonly string[]): string {
  const broken = models.map(
    (m) => `  ${m}:
    versions:
      "1": { uri: gs://models-bkt/${m}/model.onnx, weight: 1 }
      "2": { uri: gs://models-bkt/fallback.onnx, weight: 0 }
    fallback: "2"
`,
  );
  return `models:
  healthy:
    versions: { "1": { uri: gs://models-bkt/healthy.onnx, weight: 1 } }
${broken.join('')}`;
}

describe('storage faults through the gateway', () => {
  let gcs: FakeGcs;
  let gw: Running;

  beforeAll(async () => {
    gcs = await startFakeGcs();
    gcs.put('models-bkt', 'healthy.onnx', doubler);
    gcs.put('models-bkt', 'fallback.onnx', tripler);
    for (const f of FAULTS) {
      const object = `${f.model}/model.onnx`;
      if (f.model !== 'missing') gcs.put('models-bkt', object, doubler);
      f.setup(gcs, object);
    }
    gw = await start(registryFor(FAULTS.map((f) => f.model)), gcs.host);
  });
  afterAll(async () => {
    await gw.close();
    await gcs.close();
  });

  it.each(FAULTS)('$model object: $status $code, backoff, counted, logged, not ready; others and the fallback serve', async (f) => {
    await expectFailedVersion(gw, f.model, f, () => gcs.requestsFor('models-bkt', `${f.model}/model.onnx`));
  });
});

describe('storage unreachable through the gateway', () => {
  let gw: Running;
  let attempts = 0;
  let refuser: net.Server;

  beforeAll(async () => {
    // Nothing answers: every connection is counted and closed at once (a dead endpoint).
    refuser = net.createServer((socket) => {
      attempts++;
      socket.destroy();
    });
    await new Promise<void>((resolve) => refuser.listen(0, '127.0.0.1', resolve));
    const host = `http://127.0.0.1:${(refuser.address() as net.AddressInfo).port}`;
    gw = await start(
      `models:
  healthy:
    versions: { "1": { uri: ./healthy.onnx, weight: 1 } }
  remote:
    versions:
      "1": { uri: gs://models-bkt/remote.onnx, weight: 1 }
      "2": { uri: ./fallback.onnx, weight: 0 }
    fallback: "2"
`,
      host,
      { 'healthy.onnx': doubler, 'fallback.onnx': tripler },
    );
  });
  afterAll(async () => {
    await gw.close();
    await new Promise<void>((resolve) => refuser.close(() => resolve()));
  });

  it('503 with Retry-After, backoff, counted, logged, not ready; local models and the fallback serve', async () => {
    await expectFailedVersion(gw, 'remote', { status: 503, code: 'MODEL_UNAVAILABLE', reason: /storage unreachable/ }, () => attempts);
    expect(attempts).toBeGreaterThan(0);
  });
});

afterAll(() => temp.cleanup());

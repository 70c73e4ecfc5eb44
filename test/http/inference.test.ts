import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seededRandom } from '../../src/routing/route.js';
import { countingFactory } from '../support/counting-factory.js';
import { sampleValue, startGateway, type RunningGateway } from '../support/harness.js';
import { doubler, failsOnOdd, fixedShape, garbage, tripler, withSequenceOutput } from '../support/models.js';

const REGISTRY = `
models:
  ab:
    versions:
      "1": { uri: ab/1.onnx, weight: 50 }
      "2": { uri: ab/2.onnx, weight: 50 }
    aliases: { stable: "1", canary: "2" }
    sticky: x-user-id
  grid:
    versions: { "1": { uri: grid.onnx, weight: 1 } }
  broken:
    versions: { "1": { uri: broken.onnx, weight: 1 } }
  odd:
    versions: { "1": { uri: odd.onnx, weight: 1 } }
  seq:
    versions: { "1": { uri: seq.onnx, weight: 1 } }
  mixed:
    versions:
      small: { uri: ab/1.onnx, weight: 1 }
      big: { uri: grid.onnx, weight: 3 }
  rescued:
    versions:
      "1": { uri: ab/1.onnx, weight: 0 }
      "2": { uri: broken.onnx, weight: 1 }
    fallback: "1"
`;

let gw: RunningGateway;
// Every model runs on a worker thread here, as the gateway runs them by default.
const factory = countingFactory({ workers: true });

beforeAll(async () => {
  gw = await startGateway({
    registry: REGISTRY,
    files: { 'ab/1.onnx': doubler, 'ab/2.onnx': tripler, 'grid.onnx': fixedShape, 'broken.onnx': garbage, 'odd.onnx': failsOnOdd, 'seq.onnx': withSequenceOutput },
    route: { random: seededRandom(99) },
    sessionFactory: factory,
    maxBodyBytes: 64 * 1024,
  });
});
afterAll(() => gw.close());

type Predict = { model: string; version: string; outputs: Record<string, unknown> };
type V2 = { model_name: string; model_version: string; id?: string; outputs: Array<{ name: string; datatype: string; shape: number[]; data: unknown[] }> };
type ErrorBody = { error: string; code: string };

describe('POST /predict', () => {
  it('answers with outputs as nested arrays and names the model and version in headers', async () => {
    const res = await gw.post<Predict>('/predict', { model: 'ab', version: '1', inputs: { x: [[1.5], [2]] } });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ model: 'ab', version: '1', outputs: { y: [[3], [4]] } });
    expect(res.headers.get('x-model-name')).toBe('ab');
    expect(res.headers.get('x-model-version')).toBe('1');
  });

  it('reads the body as UTF-8 bytes: a leading byte-order mark is dropped, other characters decode as sent', async () => {
    const post = (bytes: Buffer) => fetch(`${gw.url}/predict`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: bytes });
    const withBom = await post(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(JSON.stringify({ model: 'ab', version: '1', inputs: { x: [[2]] } }))]));
    expect(withBom.status).toBe(200);
    expect(await withBom.json()).toEqual({ model: 'ab', version: '1', outputs: { y: [[4]] } });
    const accented = await post(Buffer.from('{"model":"modèle-λ","inputs":{"x":[[1]]}}', 'utf8'));
    expect(accented.status).toBe(404);
    expect(((await accented.json()) as { error: string }).error).toBe('unknown model "modèle-λ"');
  });

  it('echoes the caller x-request-id, or makes one', async () => {
    const given = await gw.post('/predict', { model: 'ab', inputs: { x: [[1]] } }, { 'x-request-id': 'req-123' });
    expect(given.headers.get('x-request-id')).toBe('req-123');
    const made = await gw.get('/v2/health/live');
    expect(made.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('splits a 50/50 model in proportion over 1,000 requests, each answer from the version it names', async () => {
    const counts: Record<string, number> = { '1': 0, '2': 0 };
    for (let i = 0; i < 1000; i++) {
      const res = await gw.post<Predict>('/predict', { model: 'ab', inputs: { x: [[1]] } });
      expect(res.status).toBe(200);
      const v = res.headers.get('x-model-version') ?? '';
      expect(res.body.version).toBe(v);
      expect(res.body.outputs.y).toEqual([[v === '1' ? 2 : 3]]);
      counts[v] = (counts[v] ?? 0) + 1;
    }
    const chi2 = Object.values(counts).reduce((s, c) => s + (c - 500) ** 2 / 500, 0);
    expect(chi2, JSON.stringify(counts)).toBeLessThan(10.83);
  });

  it('lets body version, x-model-version header and aliases override the split', async () => {
    for (let i = 0; i < 20; i++) {
      expect((await gw.post('/predict', { model: 'ab', inputs: { x: [[1]] } }, { 'x-model-version': '2' })).headers.get('x-model-version')).toBe('2');
      expect((await gw.post('/predict', { model: 'ab', version: 'stable', inputs: { x: [[1]] } })).headers.get('x-model-version')).toBe('1');
    }
    // Body beats header.
    const both = await gw.post('/predict', { model: 'ab', version: 'canary', inputs: { x: [[1]] } }, { 'x-model-version': '1' });
    expect(both.headers.get('x-model-version')).toBe('2');
  });

  it('pins a caller to one version with the sticky header', async () => {
    const seen = new Set<string>();
    for (let i = 0; i < 30; i++) {
      seen.add((await gw.post('/predict', { model: 'ab', inputs: { x: [[1]] } }, { 'x-user-id': 'user-7' })).headers.get('x-model-version') ?? '');
    }
    expect(seen.size).toBe(1);
  });

  it('answers 404 JSON for an unknown model or version', async () => {
    const model = await gw.post<ErrorBody>('/predict', { model: 'nope', inputs: { x: [[1]] } });
    expect(model.status).toBe(404);
    expect(model.body).toEqual({ error: 'unknown model "nope"', code: 'MODEL_NOT_FOUND' });
    const version = await gw.post<ErrorBody>('/predict', { model: 'ab', version: '9', inputs: { x: [[1]] } });
    expect(version.status).toBe(404);
    expect(version.body.code).toBe('VERSION_NOT_FOUND');
    expect(version.body.error).toContain('"9"');
  });

  it.each([
    ['a wrong input name', { model: 'grid', inputs: { gird: [[1, 2, 3], [4, 5, 6]] } }, /unknown input "gird".*"grid" float32\[2, 3\]/],
    ['a missing input', { model: 'grid', inputs: {} }, /missing input "grid"/],
    ['a wrong rank', { model: 'grid', inputs: { grid: [1, 2, 3, 4, 5, 6] } }, /input "grid": expected rank 2 \[2, 3\], got shape \[6\]/],
    ['a wrong fixed dim', { model: 'grid', inputs: { grid: [[1, 2], [3, 4]] } }, /input "grid": dimension 1 must be 3/],
    ['a wrong element type', { model: 'grid', inputs: { grid: [[1, 2, 'x'], [4, 5, 6]] } }, /input "grid" \(float32\): element 2: expected a number, got "x"/],
    ['a ragged array', { model: 'grid', inputs: { grid: [[1, 2, 3], [4, 5]] } }, /input "grid": \[1\] should be an array of 3 \(ragged array\)/],
  ])('answers 400 JSON naming the input for %s', async (_name, body, message) => {
    const res = await gw.post<ErrorBody>('/predict', body);
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('INVALID_INPUT');
    expect(res.body.error).toMatch(message);
  });

  it('refuses malformed requests with 400, 413 and JSON 404/405 for other routes', async () => {
    const bad = await gw.post<ErrorBody>('/predict', '{"model": ');
    expect([bad.status, bad.body.code]).toEqual([400, 'MALFORMED_JSON']);
    const shape = await gw.post<ErrorBody>('/predict', { inputs: { x: [[1]] } });
    expect([shape.status, shape.body.code]).toEqual([400, 'BAD_REQUEST']);
    expect(shape.body.error).toContain('model');
    const big = await gw.post<ErrorBody>('/predict', { model: 'ab', inputs: { x: Array.from({ length: 20000 }, () => [1]) } });
    expect([big.status, big.body.code]).toEqual([413, 'PAYLOAD_TOO_LARGE']);
    const route = await gw.get<ErrorBody>('/nope');
    expect([route.status, route.body.code]).toEqual([404, 'NOT_FOUND']);
    const method = await gw.get<ErrorBody>('/predict');
    expect([method.status, method.body.code]).toEqual([405, 'METHOD_NOT_ALLOWED']);
  });

  it('fails only the model that cannot load, with 503 JSON, Retry-After and no internal detail', async () => {
    const res = await gw.post<ErrorBody>('/predict', { model: 'broken', inputs: { x: [[1]] } });
    expect(res.status).toBe(503);
    expect(res.body).toEqual({ error: 'model "broken" version "1" cannot be loaded', code: 'MODEL_UNAVAILABLE' });
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(res.text).not.toContain(gw.dir);
    expect(res.text).not.toMatch(/\bat .*\.(ts|js):\d+/);
    expect((await gw.get('/v2/models/broken/ready')).status).toBe(503);
    expect((await gw.post('/predict', { model: 'ab', inputs: { x: [[1]] } })).status).toBe(200);
  });

  it('serves the fallback when the routed version cannot load, and still counts the failure against it', async () => {
    const res = await gw.post<Predict>('/predict', { model: 'rescued', inputs: { x: [[5]] } });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ version: '1', outputs: { y: [[10]] } });
    expect(res.headers.get('x-model-version')).toBe('1');
    const metrics = (await gw.get('/metrics')).text;
    expect(sampleValue(metrics, 'gateway_inference_requests_total', { model: 'rescued', version: '2', outcome: 'server_error' })).toBeGreaterThanOrEqual(1);
    // Asking for the broken version explicitly gets its error, not the fallback.
    expect((await gw.post('/predict', { model: 'rescued', version: '2', inputs: { x: [[5]] } })).status).toBe(503);
  });

  it('answers 500 JSON when a model fails while running', async () => {
    const ok = await gw.post<Predict>('/predict', { model: 'odd', inputs: { x: [1, 2, 3, 4] } });
    expect(ok.body.outputs.y).toEqual([[1, 2], [3, 4]]);
    const res = await gw.post<ErrorBody>('/predict', { model: 'odd', inputs: { x: [1, 2, 3] } });
    expect(res.status).toBe(500);
    expect(res.body).toEqual({ error: 'the model failed while running', code: 'INFERENCE_FAILED' });
  });

  it('skips outputs that are sequences or maps, and explains when one is asked for', async () => {
    const res = await gw.post<Predict>('/predict', { model: 'seq', inputs: { x: [1, 2] } });
    expect(res.body.outputs).toEqual({ y: [1, 2] });
    const asked = await gw.post<ErrorBody>('/v2/models/seq/infer', { inputs: [{ name: 'x', shape: [1], datatype: 'FP32', data: [1] }], outputs: [{ name: 'seq' }] });
    expect(asked.status).toBe(400);
    expect(asked.body.error).toContain('sequence or map');
  });
});

describe('V2 inference protocol', () => {
  it('infers with the URL version first, echoes id, and returns datatypes and shapes', async () => {
    const res = await gw.post<V2>(
      '/v2/models/ab/versions/2/infer',
      { id: 'abc', version: '1', inputs: [{ name: 'x', shape: [2, 1], datatype: 'FP32', data: [1, 2] }] },
      { 'x-model-version': '1' },
    );
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ model_name: 'ab', model_version: '2', id: 'abc', outputs: [{ name: 'y', datatype: 'FP32', shape: [2, 1], data: [3, 6] }] });
    expect(res.headers.get('x-model-version')).toBe('2');
    const nested = await gw.post<V2>('/v2/models/ab/infer', { inputs: [{ name: 'x', shape: [2, 1], datatype: 'FP32', data: [[1], [2]] }] }, { 'x-model-version': 'stable' });
    expect(nested.body.outputs[0]?.data).toEqual([2, 4]);
  });

  it('answers 400 for a datatype that differs from the model input, never converting silently', async () => {
    const res = await gw.post<ErrorBody>('/v2/models/ab/infer', { inputs: [{ name: 'x', shape: [1, 1], datatype: 'FP64', data: [1] }] });
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('input "x": datatype FP64 does not match the model\'s FP32');
    const count = await gw.post<ErrorBody>('/v2/models/ab/infer', { inputs: [{ name: 'x', shape: [2, 1], datatype: 'FP32', data: [1] }] });
    expect(count.body.error).toContain('needs 2 values, got 1');
    const unknown = await gw.post<ErrorBody>('/v2/models/ab/infer', { inputs: [{ name: 'x', shape: [1], datatype: 'FLOAT', data: [1] }] });
    expect(unknown.body.error).toContain('"FLOAT" is not a V2 datatype');
  });

  it('describes a model: all versions, the largest-weight version signature, -1 for dynamic dims', async () => {
    const res = await gw.get('/v2/models/grid');
    expect(res.body).toEqual({
      name: 'grid',
      versions: ['1'],
      platform: 'onnx_onnxv1',
      inputs: [{ name: 'grid', datatype: 'FP32', shape: [2, 3] }],
      outputs: [{ name: 'sum', datatype: 'FP32', shape: [2, 1] }],
    });
    const mixed = await gw.get('/v2/models/mixed');
    expect(mixed.body).toMatchObject({ versions: ['small', 'big'], inputs: [{ name: 'grid', shape: [2, 3] }] });
    const small = await gw.get('/v2/models/mixed/versions/small');
    expect(small.body).toMatchObject({ inputs: [{ name: 'x', shape: [-1, 1] }] });
    const ab = await gw.get('/v2/models/ab/versions/canary');
    expect(ab.body).toMatchObject({ name: 'ab', versions: ['1', '2'], inputs: [{ name: 'x', datatype: 'FP32', shape: [-1, 1] }] });
    expect((await gw.get('/v2/models/ab/versions/7')).status).toBe(404);
    expect((await gw.get('/v2/models/zzz')).status).toBe(404);
  });

  it('reports liveness, readiness and server metadata', async () => {
    expect((await gw.get('/v2/health/live')).status).toBe(200);
    expect((await gw.get('/v2/health/ready')).status).toBe(503); // not warmed yet
    await gw.gateway.warm();
    // "broken" takes traffic, cannot load and has no fallback: the gateway is not ready, and says why.
    const held = await gw.get('/v2/health/ready');
    expect([held.status, held.body]).toEqual([503, { ready: false, waiting: ['broken/1'] }]);
    gw.gateway.lifecycle.draining = true; // what SIGTERM sets
    const draining = await gw.get('/v2/health/ready');
    expect([draining.status, draining.headers.get('retry-after')]).toEqual([503, '5']);
    expect(draining.body).toMatchObject({ ready: false, draining: true });
    gw.gateway.lifecycle.draining = false;
    expect((await gw.get('/v2')).body).toMatchObject({ name: 'model-gateway' });
    expect((await gw.get('/v2/models/ab/versions/1/ready')).body).toEqual({ name: 'ab', version: '1', ready: true });
    expect((await gw.get('/v2/models/nope/ready')).status).toBe(404);
  });
});

describe('metrics', () => {
  it('counts outcomes per model and version, and never turns an unknown model into a label', async () => {
    await gw.post('/predict', { model: 'never-registered', inputs: {} });
    const text = (await gw.get('/metrics')).text;
    expect(text).not.toContain('never-registered');
    expect(sampleValue(text, 'gateway_inference_requests_total', { model: 'grid', version: '1', outcome: 'client_error' })).toBeGreaterThanOrEqual(5);
    expect(sampleValue(text, 'gateway_inference_requests_total', { model: 'odd', version: '1', outcome: 'server_error' })).toBe(1);
    expect(sampleValue(text, 'gateway_inference_requests_total', { model: 'ab', version: '1', outcome: 'success' })).toBeGreaterThan(400);
    expect(sampleValue(text, 'gateway_inference_duration_seconds_count', { model: 'ab', version: '2' })).toBeGreaterThan(400);
    expect(sampleValue(text, 'gateway_traffic_weight', { model: 'ab', version: '1' })).toBe(0.5);
    expect(sampleValue(text, 'gateway_traffic_weight', { model: 'rescued', version: '1' })).toBe(0);
    expect(sampleValue(text, 'gateway_models_loaded')).toBeGreaterThanOrEqual(3);
    expect(sampleValue(text, 'gateway_registry_info', { revision: gw.gateway.registry.current().id })).toBe(1);
  });
});

describe('concurrency', () => {
  it('serves 256 concurrent requests to one version without refusing any', async () => {
    const results = await Promise.all(
      Array.from({ length: 256 }, (_, i) => gw.post<Predict>('/predict', { model: 'ab', version: '2', inputs: { x: [[i]] } })),
    );
    expect(results.map((r) => r.status)).toEqual(Array.from({ length: 256 }, () => 200));
    results.forEach((r, i) => expect(r.body.outputs.y).toEqual([[3 * i]]));
  });
});

describe('first requests to a cold version', () => {
  it('50 concurrent requests cause exactly one load', async () => {
    const coldFactory = countingFactory({ workers: true });
    const cold = await startGateway({
      registry: 'models:\n  cold:\n    versions: { "1": { uri: m.onnx, weight: 1 } }\n',
      files: { 'm.onnx': doubler },
      sessionFactory: coldFactory,
    });
    try {
      const before = (await cold.get('/metrics')).text;
      expect(sampleValue(before, 'gateway_model_loads_total', { model: 'cold', version: '1', result: 'success' })).toBe(0);
      const results = await Promise.all(Array.from({ length: 50 }, (_, i) => cold.post<Predict>('/predict', { model: 'cold', inputs: { x: [[i]] } })));
      results.forEach((r, i) => expect(r.body.outputs.y).toEqual([[2 * i]]));
      const after = (await cold.get('/metrics')).text;
      expect(sampleValue(after, 'gateway_model_loads_total', { model: 'cold', version: '1', result: 'success' })).toBe(1);
      expect(sampleValue(after, 'gateway_model_loads_total', { model: 'cold', version: '1', result: 'failure' })).toBe(0);
    } finally {
      await cold.close();
    }
  });
});

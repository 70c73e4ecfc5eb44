// POST /predict and V2 infer are matched by hand before the router (http/routes.ts
// inferenceFastPath); every other shape of path must still behave as the router does.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type RunningGateway } from '../support/harness.js';
import { doubler } from '../support/models.js';

let gw: RunningGateway;

beforeAll(async () => {
  gw = await startGateway({
    registry: `models:\n  a.b:\n    versions: { "v-1": { uri: a.onnx, weight: 1 } }\n  plain:\n    versions: { "1": { uri: a.onnx, weight: 1 } }\n`,
    files: { 'a.onnx': doubler },
  });
});
afterAll(() => gw.close());

const v2Body = { inputs: [{ name: 'x', shape: [1, 1], datatype: 'FP32', data: [2] }] };

describe('inference routes', () => {
  it('decodes percent-encoded model and version names in V2 paths', async () => {
    const res = await gw.post<{ model_name: string; model_version: string; outputs: Array<{ data: number[] }> }>('/v2/models/a%2Eb/versions/v%2D1/infer', v2Body);
    expect(res.status).toBe(200);
    expect(res.body.model_name).toBe('a.b');
    expect(res.body.model_version).toBe('v-1');
    expect(res.body.outputs[0]?.data).toEqual([4]);
  });

  it('serves /predict with a query string and V2 infer without a version', async () => {
    const p = await gw.post<{ outputs: { y: number[][] } }>('/predict?trace=1', { model: 'plain', inputs: { x: [[3]] } });
    expect(p.status).toBe(200);
    expect(p.body.outputs.y).toEqual([[6]]);
    const v = await gw.post<{ model_version: string }>('/v2/models/plain/infer', v2Body);
    expect(v.status).toBe(200);
    expect(v.body.model_version).toBe('1');
  });

  it('leaves other paths and methods to the router: trailing slash, 404, 405, bad encoding', async () => {
    expect((await gw.post('/predict/', { model: 'plain', inputs: { x: [[1]] } })).status).toBe(200);
    const missing = await gw.post<{ code: string }>('/v2/models/plain/versions/1/extra/infer', v2Body);
    expect(missing.status).toBe(404);
    expect(missing.body.code).toBe('NOT_FOUND');
    const empty = await gw.post<{ code: string }>('/v2/models//infer', v2Body);
    expect(empty.status).toBe(404);
    const get = await gw.get<{ code: string }>('/predict');
    expect(get.status).toBe(405);
    expect(get.body.code).toBe('METHOD_NOT_ALLOWED');
    const bad = await gw.post<{ code: string }>('/v2/models/%E0%A4%A/infer', v2Body);
    expect(bad.status).toBeGreaterThanOrEqual(400);
    expect(bad.status).toBeLessThan(500);
  });

  it('keeps the request id and security headers on the fast path', async () => {
    const res = await gw.post('/predict', { model: 'plain', inputs: { x: [[1]] } }, { 'x-request-id': 'abc-1' });
    expect(res.headers.get('x-request-id')).toBe('abc-1');
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('cache-control')).toBe('no-store');
  });
});

import { afterEach, describe, expect, it } from 'vitest';
import { startGateway, type RunningGateway } from '../support/harness.js';
import { doubler, garbage, tripler } from '../support/models.js';

const files = { 'a.onnx': doubler, 'b.onnx': tripler, 'bad.onnx': garbage };
let gw: RunningGateway | undefined;
afterEach(async () => {
  await gw?.close();
  gw = undefined;
});

describe('GET /v2/health/ready', () => {
  it('turns ready once every version with traffic is loaded, not before warm-up', async () => {
    gw = await startGateway({ registry: 'models:\n  m:\n    versions:\n      "1": { uri: a.onnx, weight: 1 }\n      "2": { uri: b.onnx, weight: 1 }\n      "3": { uri: bad.onnx, weight: 0 }\n', files });
    expect((await gw.get('/v2/health/ready')).status).toBe(503);
    const warm = await gw.gateway.warm();
    expect(warm).toEqual({ loaded: 2, failed: 0 });
    const res = await gw.get('/v2/health/ready');
    expect([res.status, res.body]).toEqual([200, { ready: true }]);
  });

  it('stays not ready while a version with traffic cannot load, and names it', async () => {
    gw = await startGateway({ registry: 'models:\n  m:\n    versions:\n      "1": { uri: a.onnx, weight: 9 }\n      "2": { uri: bad.onnx, weight: 1 }\n', files });
    await gw.gateway.warm();
    const res = await gw.get('/v2/health/ready');
    expect([res.status, res.body, res.headers.get('retry-after')]).toEqual([503, { ready: false, waiting: ['m/2'] }, '5']);
  });

  it('is ready when a failing version has a loaded fallback that answers for it', async () => {
    gw = await startGateway({ registry: 'models:\n  m:\n    versions:\n      "1": { uri: a.onnx, weight: 9 }\n      "2": { uri: bad.onnx, weight: 1 }\n    fallback: "1"\n', files });
    await gw.gateway.warm();
    expect((await gw.get('/v2/health/ready')).status).toBe(200);
  });
});

import { readFileSync, writeFileSync } from 'node:fs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { seededRandom } from '../../src/routing/route.js';
import { startFakeGcs, type FakeGcs } from '../support/fake-gcs.js';
import { capturingLog, sampleValue, startGateway, startGatewayOnGcs, type RunningGateway } from '../support/harness.js';
import { echo, failsOnOdd } from '../support/models.js';

// Version 1 echoes any [n] input; version 2 fails inside onnxruntime for odd n.
const files = { 'ok.onnx': echo, 'odd.onnx': failsOnOdd };
const REGISTRY = `# Canary of m: version 2.
models:
  m:
    versions:
      "1": { uri: ok.onnx, weight: 50 } # stable
      "2": { uri: odd.onnx, weight: 50 }
    fallback: "1"
    guard: { maxErrorRate: 0.2, minRequests: 10, windowSeconds: 60 }
`;

let gw: RunningGateway | undefined;
let replica: RunningGateway | undefined;
afterEach(async () => {
  await gw?.close();
  await replica?.close();
  gw = replica = undefined;
});

const odd = { model: 'm', inputs: { x: [1, 2, 3] } };
const metric = async (g: RunningGateway, name: string, labels: Record<string, string>) => sampleValue((await g.get('/metrics')).text, name, labels);

/** Sends failing-for-v2 requests until the guard acts; returns what the callers saw. */
async function driveUntilRollback(g: RunningGateway): Promise<Array<{ status: number; version: string | null; from: string | null }>> {
  const seen = [];
  for (let i = 0; i < 60; i++) {
    const res = await g.post('/predict', odd);
    seen.push({ status: res.status, version: res.headers.get('x-model-version'), from: res.headers.get('x-model-fallback-from') });
  }
  await g.gateway.controller.settled();
  return seen;
}

describe('guard rollback with a fallback', () => {
  it('callers get 200 from the fallback, the failing canary is rolled back, and the registry file says weight 0', async () => {
    const { log, lines } = capturingLog();
    gw = await startGateway({ registry: REGISTRY, files, route: { random: seededRandom(7) }, log });
    const seen = await driveUntilRollback(gw);
    expect(seen.filter((s) => s.status !== 200)).toEqual([]);
    const rescued = seen.filter((s) => s.from === '2');
    expect(rescued.length).toBe(10); // exactly minRequests failures, then the guard acted
    expect(rescued.every((s) => s.version === '1')).toBe(true);
    // After the rollback nothing is routed to version 2 any more.
    const last = seen.slice(seen.findLastIndex((s) => s.from === '2') + 1);
    expect(last.length).toBeGreaterThan(20);
    expect(last.every((s) => s.version === '1' && s.from === null)).toBe(true);

    expect(await metric(gw, 'gateway_rollbacks_total', { model: 'm', version: '2', reason: 'error_rate' })).toBe(1);
    expect(await metric(gw, 'gateway_fallbacks_total', { model: 'm', version: '2', fallback: '1' })).toBe(10);
    expect(await metric(gw, 'gateway_inference_requests_total', { model: 'm', version: '2', outcome: 'server_error' })).toBe(10);
    expect(await metric(gw, 'gateway_traffic_weight', { model: 'm', version: '2' })).toBe(0);
    expect(lines.filter((l) => l.event === 'guard_rollback')).toEqual([
      expect.objectContaining({ model: 'm', version: '2', reason: 'error_rate', requests: 10, errorRate: 1 }),
    ]);

    // Written back with comments and layout intact, and picked up as the live revision.
    const written = readFileSync(gw.registryFile, 'utf8');
    expect(written).toBe(REGISTRY.replace('"2": { uri: odd.onnx, weight: 50 }', '"2": { uri: odd.onnx, weight: 0 }'));
    expect(gw.gateway.registry.current().models.get('m')?.versions[1]?.weight).toBe(0);

    // A replica started on the rewritten registry routes nothing to version 2.
    replica = await startGateway({ registry: written, files, route: { random: seededRandom(8) } });
    for (let i = 0; i < 50; i++) expect((await replica.post('/predict', odd)).headers.get('x-model-version')).toBe('1');
  });

  it('never rolls back the last version with traffic', async () => {
    gw = await startGateway({
      registry: 'models:\n  m:\n    versions:\n      "1": { uri: odd.onnx, weight: 1 }\n    guard: { maxErrorRate: 0.1, minRequests: 5 }\n',
      files,
    });
    for (let i = 0; i < 20; i++) expect((await gw.post('/predict', odd)).status).toBe(500);
    await gw.gateway.controller.settled();
    expect(await metric(gw, 'gateway_rollbacks_total', { model: 'm', version: '1', reason: 'error_rate' })).toBe(0);
    expect(readFileSync(gw.registryFile, 'utf8')).toContain('weight: 1');
  });

  it('a person re-enabling the version after a rollback is judged afresh', async () => {
    gw = await startGateway({ registry: REGISTRY, files, route: { random: seededRandom(7) } });
    await driveUntilRollback(gw);
    writeFileSync(gw.registryFile, REGISTRY);
    expect((await gw.gateway.reloader.check()).result).toBe('success');
    const even = await gw.post('/predict', { model: 'm', version: '2', inputs: { x: [1, 2] } });
    expect(even.status).toBe(200);
    expect(gw.gateway.admin.status().models[0]?.versions[1]).toMatchObject({ effectiveWeight: 50, guard: { state: 'ok', requests: 1 } });
  });
});

describe('guard rollback on a gs:// registry', () => {
  let gcs: FakeGcs;
  beforeAll(async () => {
    gcs = await startFakeGcs();
    gcs.put('guard-bkt', 'ok.onnx', files['ok.onnx']);
    gcs.put('guard-bkt', 'odd.onnx', files['odd.onnx']);
  });
  afterAll(() => gcs.close());
  const start = (object: string) => startGatewayOnGcs(gcs.host, `gs://guard-bkt/${object}`, { route: { random: seededRandom(7) } });

  it('writes weight 0 into the object with a conditional write', async () => {
    gcs.put('guard-bkt', 'registry.yaml', REGISTRY);
    gw = await start('registry.yaml');
    await driveUntilRollback(gw);
    expect(gcs.uploads('guard-bkt', 'registry.yaml')).toBe(1);
    const stored = gcs.read('guard-bkt', 'registry.yaml');
    expect(stored?.text).toContain('"2": { uri: odd.onnx, weight: 0 }');
    expect(stored?.text).toContain('# stable');
    expect(gw.gateway.admin.status().models[0]?.versions[1]).toMatchObject({
      weight: 0,
      effectiveWeight: 0,
      guard: { state: 'rolled_back', reason: 'error_rate', persisted: true },
    });
  });

  it('holds the rollback in memory where the bucket cannot be written, until the registry changes', async () => {
    gcs.put('guard-bkt', 'readonly.yaml', REGISTRY);
    gw = await start('readonly.yaml');
    gcs.denyUploads();
    try {
      const seen = await driveUntilRollback(gw);
      expect(seen.slice(-20).every((s) => s.version === '1')).toBe(true);
      expect(gcs.read('guard-bkt', 'readonly.yaml')?.text).toBe(REGISTRY);
      expect(gw.gateway.admin.status().models[0]?.versions[1]).toMatchObject({
        weight: 50,
        effectiveWeight: 0,
        share: 0,
        guard: { state: 'rolled_back', persisted: false },
      });
      // The registry changes (someone edits it): its declared weights apply again.
      gcs.put('guard-bkt', 'readonly.yaml', REGISTRY.replace('weight: 50 } # stable', 'weight: 60 } # stable'));
      expect((await gw.gateway.reloader.check()).result).toBe('success');
      expect(gw.gateway.admin.status().models[0]?.versions[1]).toMatchObject({ effectiveWeight: 50, guard: { state: 'ok' } });
    } finally {
      gcs.denyUploads(false);
    }
  });
});

import { readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { countingFactory } from '../support/counting-factory.js';
import { startFakeGcs, type FakeGcs } from '../support/fake-gcs.js';
import { capturingLog, sampleValue, startGateway, startGatewayOnGcs, type RunningGateway } from '../support/harness.js';
import { doubler, garbage, tripler } from '../support/models.js';

const files = { 'v1.onnx': doubler, 'v2.onnx': tripler, 'bad.onnx': garbage };
const registry = (w1: number, w2: number, extra = '') =>
  `# hand-edited\n${extra}models:\n  m:\n    versions:\n      "1": { uri: v1.onnx, weight: ${w1} }\n      "2": { uri: v2.onnx, weight: ${w2} }\n`;

let gw: RunningGateway | undefined;
afterEach(async () => {
  await gw?.close();
  gw = undefined;
});

type Predict = { version: string; outputs: { y: number[][] } };
const predict = (g: RunningGateway) => g.post<Predict>('/predict', { model: 'm', inputs: { x: [[1]] } });
const metric = async (g: RunningGateway, name: string, labels: Record<string, string> = {}) => sampleValue(await g.get('/metrics').then((r) => r.text), name, labels);

describe('hot reload from a registry file', () => {
  it('swaps in a changed file on the next check, warming the new version first', async () => {
    const factory = countingFactory({ workers: true });
    gw = await startGateway({ registry: registry(100, 0), files, sessionFactory: factory });
    await gw.gateway.warm();
    expect((await predict(gw)).body.version).toBe('1');
    const before = (await gw.gateway.reloader.check()).revision;
    expect((await gw.gateway.reloader.check()).result).toBe('unchanged');

    writeFileSync(gw.registryFile, registry(0, 100));
    const outcome = await gw.gateway.reloader.check();
    expect(outcome.result).toBe('success');
    expect(outcome.revision).not.toBe(before);
    // Warmed during the check: loaded before any request reached it.
    expect(factory.created.filter((f) => f.endsWith('v2.onnx'))).toHaveLength(1);
    for (let i = 0; i < 20; i++) {
      const res = await predict(gw);
      expect([res.status, res.body.version, res.body.outputs.y]).toEqual([200, '2', [[3]]]);
    }
    expect(await metric(gw, 'gateway_registry_info', { revision: outcome.revision })).toBe(1);
    expect(await metric(gw, 'gateway_registry_info', { revision: before })).toBeUndefined();
    expect(await metric(gw, 'gateway_traffic_weight', { model: 'm', version: '2' })).toBe(1);
    expect(await metric(gw, 'gateway_registry_reloads_total', { result: 'success' })).toBe(2);
  });

  it('polls on its own every REGISTRY_POLL_SECONDS', async () => {
    gw = await startGateway({ registry: registry(100, 0), files, pollSeconds: 0.2 });
    gw.gateway.startPolling();
    writeFileSync(gw.registryFile, registry(0, 100));
    const deadline = Date.now() + 3000;
    let version = '';
    while (Date.now() < deadline && version !== '2') {
      version = (await predict(gw)).body.version;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(version).toBe('2');
  });

  it('keeps serving the last good revision when the file turns invalid, logs every problem, counts it, and takes the fix', async () => {
    const { log, lines } = capturingLog();
    gw = await startGateway({ registry: registry(100, 0), files, log });
    const good = gw.gateway.registry.current().id;
    writeFileSync(gw.registryFile, registry(-1, 0, 'cache: { maxModels: 0 }\n'));
    const bad = await gw.gateway.reloader.check();
    expect(bad.result).toBe('invalid');
    expect(bad.revision).toBe(good);
    expect(bad.problems?.some((p) => p.includes('models.m.versions.1.weight'))).toBe(true);
    expect(bad.problems?.some((p) => p.includes('cache.maxModels'))).toBe(true);
    const logged = lines.find((l) => l.event === 'registry_reload_failed');
    expect(logged?.problems).toEqual(bad.problems);
    expect((await predict(gw)).body.version).toBe('1');
    // Checked again: still invalid, counted again, the file not re-read needlessly.
    expect((await gw.gateway.reloader.check()).result).toBe('invalid');
    expect(await metric(gw, 'gateway_registry_reloads_total', { result: 'invalid' })).toBe(2);
    expect(lines.filter((l) => l.event === 'registry_reload_failed')).toHaveLength(1);

    writeFileSync(gw.registryFile, registry(0, 100));
    expect((await gw.gateway.reloader.check()).result).toBe('success');
    expect((await predict(gw)).body.version).toBe('2');
  });

  it('counts an unreachable registry and keeps serving', async () => {
    gw = await startGateway({ registry: registry(100, 0), files });
    writeFileSync(gw.registryFile, ''); // replaced below by removing it
    const { rmSync } = await import('node:fs');
    rmSync(gw.registryFile);
    expect((await gw.gateway.reloader.check()).result).toBe('unreachable');
    expect(await metric(gw, 'gateway_registry_reloads_total', { result: 'unreachable' })).toBe(1);
    expect((await predict(gw)).status).toBe(200);
  });

  it('refuses a revision whose new version cannot load, so traffic never moves onto a failure', async () => {
    gw = await startGateway({ registry: registry(100, 0), files });
    await gw.gateway.warm();
    writeFileSync(gw.registryFile, registry(50, 0).replace('weight: 0 }', 'weight: 0 }\n      "3": { uri: bad.onnx, weight: 50 }'));
    const outcome = await gw.gateway.reloader.check();
    expect(outcome.result).toBe('invalid');
    expect(outcome.problems?.[0]).toMatch(/models\.m\.versions\.3: cannot be loaded/);
    for (let i = 0; i < 20; i++) expect((await predict(gw)).body.version).toBe('1');
  });

  it('applies new cache limits and releases versions that left the registry once idle', async () => {
    const factory = countingFactory({ workers: true });
    const three = (limit: number, keep3: boolean) =>
      `cache: { maxModels: ${limit} }\nmodels:\n  m:\n    versions:\n      "1": { uri: v1.onnx, weight: 1 }\n      "2": { uri: v2.onnx, weight: 1 }\n${keep3 ? '      "3": { uri: v1.onnx, weight: 1 }\n' : ''}`;
    gw = await startGateway({ registry: three(3, true), files, sessionFactory: factory });
    await gw.gateway.warm();
    expect(gw.gateway.cache.loaded()).toHaveLength(3);
    writeFileSync(gw.registryFile, three(1, false));
    expect((await gw.gateway.reloader.check()).result).toBe('success');
    await new Promise((r) => setImmediate(r));
    expect(gw.gateway.cache.loaded()).toHaveLength(1);
    expect(factory.created.length - factory.released.length).toBe(1);
    expect(await metric(gw, 'gateway_models_loaded')).toBe(1);
    // Metric series of the removed version are gone; the remaining ones stay.
    expect(await metric(gw, 'gateway_traffic_weight', { model: 'm', version: '3' })).toBeUndefined();
    expect(await metric(gw, 'gateway_traffic_weight', { model: 'm', version: '2' })).toBe(0.5);
  });
});

describe('hot reload from gs://', () => {
  let gcs: FakeGcs;
  beforeAll(async () => {
    gcs = await startFakeGcs();
  });
  afterAll(() => gcs.close());
  const gsRegistry = (w1: number, w2: number) =>
    `models:\n  m:\n    versions:\n      "1": { uri: ../models/v1.onnx, weight: ${w1} }\n      "2": { uri: ../models/v2.onnx, weight: ${w2} }\n`;
  const start = (object: string) => startGatewayOnGcs(gcs.host, `gs://reg-bkt/${object}`);

  it('checks the object by generation (a metadata request) and downloads only a changed registry', async () => {
    gcs.put('reg-bkt', 'models/v1.onnx', doubler);
    gcs.put('reg-bkt', 'models/v2.onnx', tripler);
    gcs.put('reg-bkt', 'a/registry.yaml', gsRegistry(100, 0));
    gw = await start('a/registry.yaml');
    expect(gcs.mediaDownloads('reg-bkt', 'a/registry.yaml')).toBe(1);
    for (let i = 0; i < 3; i++) expect((await gw.gateway.reloader.check()).result).toBe('unchanged');
    expect(gcs.mediaDownloads('reg-bkt', 'a/registry.yaml')).toBe(1);
    gcs.put('reg-bkt', 'a/registry.yaml', gsRegistry(0, 100));
    expect((await gw.gateway.reloader.check()).result).toBe('success');
    expect(gcs.mediaDownloads('reg-bkt', 'a/registry.yaml')).toBe(2);
    expect((await predict(gw)).body.version).toBe('2');
  });

  it('counts an unreachable registry object as unreachable', async () => {
    gcs.put('reg-bkt', 'models/v1.onnx', doubler);
    gcs.put('reg-bkt', 'b/registry.yaml', gsRegistry(100, 0));
    gw = await start('b/registry.yaml');
    gcs.failNext(503, 1);
    expect((await gw.gateway.reloader.check()).result).toBe('unreachable');
    expect(await metric(gw, 'gateway_registry_reloads_total', { result: 'unreachable' })).toBe(1);
    expect((await predict(gw)).status).toBe(200);
  });

  it('loads a model object overwritten in place on the next check and swaps it in', async () => {
    gcs.put('reg-bkt', 'models/swap.onnx', doubler);
    gcs.put('reg-bkt', 'c/registry.yaml', 'models:\n  m:\n    versions:\n      "1": { uri: ../models/swap.onnx, weight: 1 }\n');
    gw = await start('c/registry.yaml');
    expect((await predict(gw)).body.outputs.y).toEqual([[2]]);
    expect((await gw.gateway.reloader.check()).result).toBe('unchanged');
    expect(gcs.mediaDownloads('reg-bkt', 'models/swap.onnx')).toBe(1);
    gcs.put('reg-bkt', 'models/swap.onnx', tripler);
    await gw.gateway.reloader.check();
    expect(gcs.mediaDownloads('reg-bkt', 'models/swap.onnx')).toBe(2);
    const res = await predict(gw);
    expect([res.body.version, res.body.outputs.y]).toEqual(['1', [[3]]]);
    expect(gw.gateway.cache.loaded()).toHaveLength(1);
    // Only the live generation stays in the cache folder.
    const cached = readdirSync(path.join(gw.dir, '.cache'), { recursive: true }).map(String).filter((f) => f.includes('swap'));
    expect(cached.filter((f) => /\d+\.bin$/.test(f))).toHaveLength(1);
  });

  it('refuses a model larger than cache.maxBytes from its metadata, without downloading it', async () => {
    gcs.put('reg-bkt', 'models/big.onnx', new Uint8Array(5000));
    gcs.put('reg-bkt', 'd/registry.yaml', 'cache: { maxBytes: 4000 }\nmodels:\n  m:\n    versions:\n      "1": { uri: ../models/big.onnx, weight: 1 }\n');
    gw = await start('d/registry.yaml');
    const res = await predict(gw);
    expect([res.status, (res.body as unknown as { code: string }).code]).toEqual([503, 'MODEL_UNAVAILABLE']);
    expect(gcs.mediaDownloads('reg-bkt', 'models/big.onnx')).toBe(0);
  });
});

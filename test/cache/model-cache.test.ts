import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadPeakEstimate, steadyEstimate } from '../../src/cache/footprint.js';
import { ModelCache } from '../../src/cache/model-cache.js';
import { GatewayMetrics } from '../../src/metrics/metrics.js';
import type { VersionEntry } from '../../src/registry/revision.js';
import { createBlobStore } from '../../src/storage/store.js';
import { linearModel } from '../../tools/onnx-builder.js';
import { countingFactory } from '../support/counting-factory.js';
import { makeTempDir, sampleValue, silentLog, writeFile } from '../support/harness.js';

const temp = makeTempDir();
afterAll(() => temp.cleanup());

function version(name: string, bytes: Uint8Array = linearModel([[Number(name.length)]], [0])): VersionEntry {
  const file = writeFile(temp.dir, `${name}.onnx`, bytes);
  return { name, uri: file, location: { kind: 'file', path: file }, weight: 1, shadow: 0 };
}

function setup(limits = { maxModels: 2, maxBytes: 2 ** 30 }) {
  const factory = countingFactory();
  const metrics = new GatewayMetrics({ defaultMetrics: false });
  let now = 1_000_000;
  const cache = new ModelCache({
    limits,
    store: createBlobStore({ cacheDir: path.join(temp.dir, 'cache'), gcsClient: () => { throw new Error('no gcs here'); } }),
    factory,
    metrics,
    log: silentLog,
    retryBaseMs: 1000,
    now: () => now,
    // Loads grow nothing measurable here: versions count at their estimated footprint.
    sample: () => ({ rss: 0, threads: 1 }),
  });
  return { cache, factory, metrics, advance: (ms: number) => (now += ms) };
}

describe('ModelCache', () => {
  it('shares one load among 50 concurrent first requests', async () => {
    const { cache, factory, metrics } = setup();
    factory.delayMs = 50;
    const v = version('cold');
    const leases = await Promise.all(Array.from({ length: 50 }, () => cache.acquire('m', v)));
    expect(factory.created).toHaveLength(1);
    expect(new Set(leases.map((l) => l.session)).size).toBe(1);
    leases.forEach((l) => l.release());
    const text = await metrics.text();
    expect(sampleValue(text, 'gateway_model_loads_total', { model: 'm', version: 'cold', result: 'success' })).toBe(1);
    expect(sampleValue(text, 'gateway_model_cache_lookups_total', { model: 'm', result: 'miss' })).toBe(50);
    (await cache.acquire('m', v)).release();
    expect(sampleValue(await metrics.text(), 'gateway_model_cache_lookups_total', { model: 'm', result: 'hit' })).toBe(1);
    await cache.close();
  });

  it('evicts the least recently used version beyond maxModels and releases its session', async () => {
    const { cache, factory, metrics } = setup({ maxModels: 2, maxBytes: 2 ** 30 });
    const [a, b, c] = [version('a'), version('bb'), version('ccc')];
    for (const v of [a, b, a, c]) (await cache.acquire('m', v)).release(); // touch a again: b is LRU
    expect(cache.loaded().map((e) => e.version)).toEqual(['ccc', 'a']);
    await new Promise((r) => setImmediate(r));
    expect(factory.released).toEqual([b.location.kind === 'file' ? b.location.path : '']);
    const text = await metrics.text();
    expect(sampleValue(text, 'gateway_model_evictions_total', { model: 'm', version: 'bb' })).toBe(1);
    expect(sampleValue(text, 'gateway_models_loaded')).toBe(2);
    // Cycling through more versions than fit keeps exactly maxModels loaded.
    for (let round = 0; round < 3; round++) for (const v of [a, b, c]) (await cache.acquire('m', v)).release();
    expect(cache.loaded()).toHaveLength(2);
    expect(factory.created.length - factory.released.length).toBe(2);
    await cache.close();
  });

  it('bounds total bytes with maxBytes, counting each version at its footprint', async () => {
    const small = linearModel([[1]], [0]);
    // Room for three loaded versions, or two and a third one's load (its peak is set aside).
    const maxBytes = 2 * steadyEstimate(small.length) + loadPeakEstimate(small.length);
    const { cache } = setup({ maxModels: 10, maxBytes });
    const vs = ['x', 'y', 'z', 'w'].map((n) => version(n, small));
    for (const v of vs) (await cache.acquire('m', v)).release();
    expect(cache.loaded().map((e) => e.version)).toEqual(['w', 'z', 'y']);
    expect(cache.loaded().map((e) => [e.bytes, e.footprint])).toEqual(Array.from({ length: 3 }, () => [small.length, steadyEstimate(small.length)]));
    expect(cache.accountedBytes).toBeLessThanOrEqual(maxBytes);
    await expect(cache.acquire('m', version('huge', new Uint8Array(maxBytes + 1)))).rejects.toMatchObject({
      code: 'MODEL_UNAVAILABLE',
      message: expect.stringContaining('more than cache.maxBytes'),
    });
    await cache.close();
  });

  it('refuses, with its backoff, a version whose file fits maxBytes but whose footprint does not', async () => {
    const small = linearModel([[3]], [0]);
    // The file fits; 1.05 × it + 0.5 MiB does not. Kept, the LRU would refuse it silently and
    // every request would load it again.
    const { cache, factory, metrics } = setup({ maxModels: 10, maxBytes: small.length + 10 });
    const v = version('roomy', small);
    await expect(cache.acquire('m', v)).rejects.toMatchObject({ code: 'MODEL_UNAVAILABLE', message: expect.stringContaining('more than cache.maxBytes') });
    expect(factory.created).toHaveLength(1);
    expect(factory.released).toHaveLength(1); // the loaded session is not leaked
    // Within the backoff the refusal is remembered: no second load.
    await expect(cache.acquire('m', v)).rejects.toMatchObject({ code: 'MODEL_UNAVAILABLE' });
    expect(factory.created).toHaveLength(1);
    expect(cache.loaded()).toEqual([]);
    expect(sampleValue(await metrics.text(), 'gateway_model_loads_total', { model: 'm', version: 'roomy', result: 'failure' })).toBe(1);
    await cache.close();
  });

  it('publishes in gateway_model_cache_bytes everything it counts: loaded versions and loads under way', async () => {
    const small = linearModel([[4]], [0]);
    const { cache, factory, metrics } = setup({ maxModels: 10, maxBytes: 2 ** 30 });
    factory.delayMs = 200;
    const loading = cache.acquire('m', version('slow', small));
    await new Promise((r) => setTimeout(r, 100));
    // Mid-load: the load's peak is set aside and shown.
    expect(sampleValue(await metrics.text(), 'gateway_model_cache_bytes')).toBe(loadPeakEstimate(small.length));
    (await loading).release();
    expect(sampleValue(await metrics.text(), 'gateway_model_cache_bytes')).toBe(steadyEstimate(small.length));
    expect(cache.accountedBytes).toBe(steadyEstimate(small.length));
    await cache.close();
  });

  it('releases an evicted session only after its in-flight runs finish', async () => {
    const { cache, factory } = setup({ maxModels: 1, maxBytes: 2 ** 30 });
    const a = version('held');
    const lease = await cache.acquire('m', a);
    (await cache.acquire('m', version('other'))).release(); // evicts "held"
    await new Promise((r) => setImmediate(r));
    expect(cache.isLoaded('m', a)).toBe(false);
    expect(factory.released).toHaveLength(0);
    // The in-flight run still works on the evicted session.
    const out = await lease.session.run({ x: { type: 'float32', dims: [1, 1], data: Float32Array.of(2) } }, ['y']);
    expect(Array.from(out.y?.data as Float32Array)).toEqual([8]);
    lease.release();
    lease.release(); // idempotent
    await new Promise((r) => setImmediate(r));
    expect(factory.released).toEqual([a.location.kind === 'file' ? a.location.path : '']);
    await cache.close();
  });

  it('remembers a failed load for a backoff, then retries it', async () => {
    const { cache, factory, metrics, advance } = setup();
    const v = version('flaky');
    factory.failNext('boom');
    await expect(cache.acquire('m', v)).rejects.toMatchObject({ code: 'MODEL_UNAVAILABLE', retryAfterSeconds: 1 });
    expect(cache.state('m', v)).toBe('failed');
    await expect(cache.acquire('m', v)).rejects.toMatchObject({ code: 'MODEL_UNAVAILABLE' });
    expect(factory.created).toHaveLength(1); // no second attempt inside the backoff
    advance(1001);
    expect(cache.state('m', v)).toBe('loadable');
    factory.failNext('boom again');
    await expect(cache.acquire('m', v)).rejects.toMatchObject({ retryAfterSeconds: 2 }); // backoff doubles
    advance(2001);
    (await cache.acquire('m', v)).release();
    expect(cache.state('m', v)).toBe('loaded');
    expect(factory.created).toHaveLength(3);
    const text = await metrics.text();
    expect(sampleValue(text, 'gateway_model_loads_total', { model: 'm', version: 'flaky', result: 'failure' })).toBe(2);
    expect(sampleValue(text, 'gateway_model_loads_total', { model: 'm', version: 'flaky', result: 'success' })).toBe(1);
    await cache.close();
  });
});

describe('ModelCache under pressure (more concurrent cold versions than maxModels)', () => {
  it('answers every request when 40 requests load 4 versions at once into a 1-model cache, and releases each session exactly once', async () => {
    const { cache, factory, metrics } = setup({ maxModels: 1, maxBytes: 2 ** 30 });
    factory.delayMs = 20;
    const vs = ['p', 'qq', 'rrr', 'ssss'].map((n) => version(n));
    const results = await Promise.allSettled(
      Array.from({ length: 40 }, async (_, i) => {
        const v = vs[i % 4] as VersionEntry;
        const lease = await cache.acquire('m', v);
        try {
          const out = await lease.session.run({ x: { type: 'float32', dims: [1, 1], data: Float32Array.of(1) } }, ['y']);
          return (out.y?.data as Float32Array)[0];
        } finally {
          lease.release();
        }
      }),
    );
    expect(results.filter((r) => r.status === 'rejected')).toEqual([]);
    // Each answer came from its own version: y = len(name) * x.
    expect(results.map((r) => (r.status === 'fulfilled' ? r.value : undefined))).toEqual(Array.from({ length: 40 }, (_, i) => (i % 4) + 1));
    expect(factory.created).toHaveLength(4);
    await new Promise((r) => setImmediate(r));
    expect(cache.loaded()).toHaveLength(1);
    // Every session but the one still cached was released, and none twice.
    expect(factory.released).toHaveLength(3);
    expect(new Set(factory.released).size).toBe(3);
    const text = await metrics.text();
    const loads = vs.reduce((n, v) => n + (sampleValue(text, 'gateway_model_loads_total', { model: 'm', version: v.name, result: 'success' }) ?? 0), 0);
    const evictions = vs.reduce((n, v) => n + (sampleValue(text, 'gateway_model_evictions_total', { model: 'm', version: v.name }) ?? 0), 0);
    expect(loads - evictions).toBe(sampleValue(text, 'gateway_models_loaded'));
    await cache.close();
    await new Promise((r) => setImmediate(r));
    expect(factory.released).toHaveLength(4);
  });
});

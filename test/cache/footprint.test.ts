import path from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { loadPeakEstimate, steadyEstimate } from '../../src/cache/footprint.js';
import { ModelCache } from '../../src/cache/model-cache.js';
import type { SessionFactory } from '../../src/inference/session.js';
import { GatewayMetrics } from '../../src/metrics/metrics.js';
import type { VersionEntry } from '../../src/registry/revision.js';
import { createBlobStore } from '../../src/storage/store.js';
import { linearModel } from '../../tools/onnx-builder.js';
import { countingFactory } from '../support/counting-factory.js';
import { makeTempDir, sampleValue, silentLog, writeFile } from '../support/harness.js';

const temp = makeTempDir();
afterAll(() => temp.cleanup());
const MiB = 2 ** 20;
const model = linearModel([[3]], [0]);
const fileBytes = model.length;

function version(name: string): VersionEntry {
  const file = writeFile(temp.dir, `${name}.onnx`, model);
  return { name, uri: file, location: { kind: 'file', path: file }, weight: 1, shadow: 0 };
}

/**
 * A cache over real sessions whose loads grow a simulated RSS by `growth` bytes each (and give it
 * back on release), and which records how many loads ran at once.
 */
function setup(maxBytes: number, growth = 0) {
  const inner = countingFactory();
  let rss = 100 * MiB;
  let creating = 0;
  const stats = { maxConcurrentLoads: 0 };
  const factory: SessionFactory & { delayMs: number } = {
    delayMs: 0,
    async create(filePath) {
      stats.maxConcurrentLoads = Math.max(stats.maxConcurrentLoads, ++creating);
      try {
        await new Promise((r) => setTimeout(r, factory.delayMs));
        const session = await inner.create(filePath);
        rss += growth;
        return { ...session, signature: session.signature, run: session.run, release: async () => { rss -= growth; await session.release(); } };
      } finally {
        creating--;
      }
    },
  };
  const metrics = new GatewayMetrics({ defaultMetrics: false });
  const cache = new ModelCache({
    limits: { maxModels: 100, maxBytes },
    store: createBlobStore({ cacheDir: path.join(temp.dir, 'cache'), gcsClient: () => { throw new Error('no gcs here'); } }),
    factory,
    metrics,
    log: silentLog,
    sample: () => ({ rss, threads: 1 }),
  });
  return { cache, factory, inner, stats, metrics };
}

describe('ModelCache memory accounting (cache.maxBytes counts memory, not files)', () => {
  it('counts a version at the RSS growth measured around its load when that exceeds the estimate', async () => {
    const growth = 5 * MiB;
    // Two versions of 5 MiB and a third one's load fit; three loaded do not.
    const { cache, metrics } = setup(2 * growth + loadPeakEstimate(fileBytes), growth);
    const [a, b, c] = [version('a'), version('b'), version('c')];
    for (const v of [a, b]) (await cache.acquire('m', v)).release();
    expect(cache.loaded().map((e) => e.footprint)).toEqual([growth, growth]);
    expect(cache.accountedBytes).toBe(2 * growth);
    (await cache.acquire('m', c)).release();
    expect(cache.loaded().map((e) => e.version)).toEqual(['c', 'b']);
    expect(sampleValue(await metrics.text(), 'gateway_model_evictions_total', { model: 'm', version: 'a' })).toBe(1);
    // The evicted version counts (and is shown) until its session is released, then the gauge
    // settles on what is loaded.
    await vi.waitFor(async () => expect(sampleValue(await metrics.text(), 'gateway_model_cache_bytes')).toBe(2 * growth));
    await cache.close();
  });

  it('does not credit a load with growth that overlapped another load, but reuses its own earlier measurement', async () => {
    const growth = 5 * MiB;
    const { cache, factory } = setup(1024 * MiB, growth);
    factory.delayMs = 20;
    const [a, b] = [version('ov-a'), version('ov-b')];
    const leases = await Promise.all([cache.acquire('m', a), cache.acquire('m', b)]);
    // Each saw both loads' growth: neither may claim it, so both count at the estimate.
    expect(cache.loaded().map((e) => e.footprint)).toEqual([steadyEstimate(fileBytes), steadyEstimate(fileBytes)]);
    leases.forEach((l) => l.release());
    await cache.close();

    const again = setup(1024 * MiB, growth);
    again.factory.delayMs = 20;
    for (const v of [a, b]) (await again.cache.acquire('m', v)).release(); // one at a time: measured
    expect(again.cache.loaded().map((e) => e.footprint)).toEqual([growth, growth]);
    again.cache.setLimits({ maxModels: 100, maxBytes: 1 }); // unloads both
    again.cache.setLimits({ maxModels: 100, maxBytes: 1024 * MiB });
    expect(again.cache.loaded()).toEqual([]);
    const both = await Promise.all([again.cache.acquire('m', a), again.cache.acquire('m', b)]);
    both.forEach((l) => l.release());
    expect(again.cache.loaded().map((e) => e.footprint)).toEqual([growth, growth]);
    await again.cache.close();
  });

  it("sets a load's peak aside before it starts: a cold version waits for another's load instead of overlapping it", async () => {
    const peak = loadPeakEstimate(fileBytes);
    // One load at a time (plus what is loaded), not two.
    const { cache, factory, stats, inner } = setup(peak + 2 * steadyEstimate(fileBytes));
    factory.delayMs = 30;
    const vs = ['p', 'q', 'r'].map(version);
    const leases = await Promise.all(vs.map((v) => cache.acquire('m', v)));
    expect(stats.maxConcurrentLoads).toBe(1);
    const outs = await Promise.all(leases.map((l) => l.session.run({ x: { type: 'float32', dims: [1, 1], data: Float32Array.of(2) } }, ['y'])));
    expect(outs.map((o) => Array.from(o.y?.data as Float32Array))).toEqual([[6], [6], [6]]);
    leases.forEach((l) => l.release());
    expect(inner.created).toHaveLength(3);
    await cache.close();
  });

  it('keeps counting an evicted version that requests still run on, until its session is released', async () => {
    const { cache, inner } = setup(1024 * MiB);
    cache.setLimits({ maxModels: 1, maxBytes: 1024 * MiB });
    const held = await cache.acquire('m', version('held'));
    (await cache.acquire('m', version('next'))).release(); // evicts "held" while it runs
    expect(cache.loaded().map((e) => e.version)).toEqual(['next']);
    expect(cache.accountedBytes).toBe(2 * steadyEstimate(fileBytes));
    expect(inner.released).toHaveLength(0);
    held.release();
    await vi.waitFor(() => expect(cache.accountedBytes).toBe(steadyEstimate(fileBytes)));
    expect(inner.released).toHaveLength(1);
    await cache.close();
  });
});

import { describe, expect, it } from 'vitest';
import { GatewayMetrics } from '../../src/metrics/metrics.js';
import { RING_SECONDS } from '../../src/stats/ring.js';
import { StatsSampler } from '../../src/stats/sampler.js';
import { TrafficStats } from '../../src/stats/traffic-stats.js';

function clock(start = 1_700_000_000_000) {
  let t = start;
  return { now: () => t, advance: (ms: number) => void (t += ms) };
}

describe('TrafficStats', () => {
  it('counts requests, server errors (not client errors) and a rate over the last minute', () => {
    const c = clock();
    const stats = new TrafficStats(c.now);
    stats.sync([{ model: 'm', version: '1' }]);
    for (let s = 0; s < 60; s++) {
      stats.record('m', '1', 'success', 0.002);
      stats.record('m', '1', s % 10 === 0 ? 'server_error' : 'client_error', 0.002);
      c.advance(1000);
    }
    c.advance(-1000); // the last second recorded is "now"
    const sum = stats.summary('m', '1');
    expect(sum.requests).toBe(120);
    expect(sum.errors).toBe(6);
    expect(sum.errorRatio).toBeCloseTo(0.05, 10);
    expect(sum.rps).toBeCloseTo(2, 10);
    // A minute on, all of it has left the window.
    c.advance(60_000);
    expect(stats.summary('m', '1')).toMatchObject({ requests: 0, errors: 0, errorRatio: 0, p99Ms: null });
  });

  it('takes the rate of a version watched for less than the window over the time it was watched', () => {
    const c = clock();
    const stats = new TrafficStats(c.now);
    stats.sync([{ model: 'm', version: '1' }]);
    c.advance(9000);
    for (let i = 0; i < 50; i++) stats.record('m', '1', 'success', 0.001);
    expect(stats.summary('m', '1').rps).toBeCloseTo(5, 10); // 50 requests over 10 s watched
  });

  it('estimates p50 and p99 from the histogram within its bucket', () => {
    const stats = new TrafficStats(clock().now);
    for (let i = 0; i < 98; i++) stats.record('m', '1', 'success', 0.01);
    stats.record('m', '1', 'success', 1);
    stats.record('m', '1', 'success', 1);
    const { p50Ms, p99Ms } = stats.summary('m', '1');
    // Buckets are 1.5× wide: 10 ms lies in (8.65, 12.98], 1000 ms in (876, 1314].
    expect(p50Ms).toBeGreaterThan(8.6);
    expect(p50Ms).toBeLessThanOrEqual(12.98);
    expect(p99Ms).toBeGreaterThan(876);
    expect(p99Ms).toBeLessThanOrEqual(1314);
  });

  it('keeps ten minutes in fixed memory: sparkline points cover 10 s each, older seconds are overwritten', () => {
    const c = clock(1_700_000_000_000); // a whole second
    const stats = new TrafficStats(c.now);
    // One request a second at second t gives 10 per point; the oldest second is overwritten a lap later.
    for (let s = 0; s < RING_SECONDS + 100; s++) {
      stats.record('m', '1', 'success', 0.005);
      c.advance(1000);
    }
    c.advance(-1000);
    const line = stats.sparkline('m', '1', 60);
    expect(line.stepSeconds).toBe(10);
    expect(line.rps).toHaveLength(60);
    expect(line.rps.every((r) => r === 1)).toBe(true);
    // 5 ms lies in the bucket (3.84, 5.77].
    expect(line.p99Ms.every((p) => p !== null && p > 3.84 && p <= 5.77)).toBe(true);

    // Five quiet minutes: the older half of the line is the old traffic, the newer half is empty.
    c.advance(300_000);
    const later = stats.sparkline('m', '1', 60);
    expect(later.rps.slice(0, 30).every((r) => r === 1)).toBe(true);
    expect(later.rps.slice(30).every((r) => r === 0)).toBe(true);
    expect(later.p99Ms.slice(30).every((p) => p === null)).toBe(true);
  });

  it('adds fallbacks and shadow outcomes per second and forgets versions the registry dropped', () => {
    const c = clock();
    const stats = new TrafficStats(c.now);
    stats.add('m', '2', 'fallbacks', 3);
    stats.add('m', '2', 'shadowMatch', 7);
    stats.add('m', '2', 'shadowMismatch', 1);
    stats.setLastLoad('m', '2', 42);
    expect(stats.summary('m', '2')).toMatchObject({ fallbacks: 3, shadow: { match: 7, mismatch: 1, error: 0 } });
    expect(stats.lastLoadMs('m', '2')).toBe(42);
    stats.sync([{ model: 'm', version: '1' }]);
    expect(stats.summary('m', '2')).toMatchObject({ requests: 0, fallbacks: 0, shadow: { match: 0, mismatch: 0, error: 0 } });
    expect(stats.lastLoadMs('m', '2')).toBeNull();
  });
});

describe('StatsSampler', () => {
  it('turns counter growth into per-second counts, survives a series reset, and notes the last load time', async () => {
    const metrics = new GatewayMetrics({ defaultMetrics: false });
    const stats = new TrafficStats(clock().now);
    const sampler = new StatsSampler({ stats, metrics, versions: () => [{ model: 'm', version: '2' }] });
    const fallback = { model: 'm', version: '2', fallback: '1' };
    metrics.fallbacks.inc(fallback, 3);
    metrics.shadowRequests.inc({ model: 'm', version: '2', outcome: 'match' }, 4);
    metrics.loadDuration.observe({ model: 'm', version: '2' }, 0.05);
    await sampler.sample();
    expect(stats.summary('m', '2')).toMatchObject({ fallbacks: 3, shadow: { match: 4, mismatch: 0, error: 0 } });
    expect(stats.lastLoadMs('m', '2')).toBeCloseTo(50, 6);

    metrics.fallbacks.inc(fallback, 2);
    metrics.shadowRequests.inc({ model: 'm', version: '2', outcome: 'mismatch' });
    metrics.loadDuration.observe({ model: 'm', version: '2' }, 0.2);
    await sampler.sample();
    expect(stats.summary('m', '2')).toMatchObject({ fallbacks: 5, shadow: { match: 4, mismatch: 1, error: 0 } });
    expect(stats.lastLoadMs('m', '2')).toBeCloseTo(200, 6); // the new load, not the mean

    // A reload zeroes the histogram and may drop and re-create counter series: counts go on from zero.
    metrics.fallbacks.remove(fallback);
    metrics.fallbacks.inc(fallback, 1);
    metrics.loadDuration.zero({ model: 'm', version: '2' });
    await sampler.sample();
    expect(stats.summary('m', '2').fallbacks).toBe(6);
    expect(stats.lastLoadMs('m', '2')).toBeCloseTo(200, 6);
  });
});

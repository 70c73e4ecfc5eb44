// The per-request duration histogram: prom-client's exact text and JSON for the same
// observations (prom-client's own Histogram is the oracle), known bucket answers, aggregation
// across a cluster's processes, and the lifecycle calls (zero, remove, reset).
import { AggregatorRegistry, Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { HotHistogram } from '../../src/metrics/hot-histogram.js';

const BUCKETS = [0.001, 0.01, 0.1, 1];
const OBSERVED = [0.0005, 0.001, 0.0011, 0.05, 0.05, 0.7, 3, 0];

function pair() {
  const ours = new Registry();
  const theirs = new Registry();
  const hot = new HotHistogram({ name: 'd_seconds', help: 'Durations', labelNames: ['model', 'version'], buckets: BUCKETS, registers: [ours] });
  const ref = new Histogram({ name: 'd_seconds', help: 'Durations', labelNames: ['model', 'version'], buckets: BUCKETS, registers: [theirs] });
  return { ours, theirs, hot, ref };
}

describe('HotHistogram', () => {
  it('writes the same exposition text as a prom-client Histogram fed the same values', async () => {
    const { ours, theirs, hot, ref } = pair();
    const a = hot.child({ model: 'm', version: '1' });
    const b = hot.child({ model: 'm', version: '2' });
    for (const v of OBSERVED) {
      a.observe(v);
      ref.observe({ model: 'm', version: '1' }, v);
    }
    b.observe(0.02);
    ref.observe({ model: 'm', version: '2' }, 0.02);
    expect(await ours.metrics()).toBe(await theirs.metrics());
    expect(await ours.getMetricsAsJSON()).toEqual(await theirs.getMetricsAsJSON());
  });

  it('counts each value in its bucket with `le` inclusive, and +Inf, _sum and _count', async () => {
    const { ours, hot } = pair();
    const child = hot.child({ model: 'm', version: '1' });
    for (const v of OBSERVED) child.observe(v);
    const text = await ours.metrics();
    // 0.0005, 0.001 and 0 are ≤ 0.001; 0.0011 ≤ 0.01; the two 0.05 ≤ 0.1; 0.7 ≤ 1; 3 only in +Inf.
    expect(text).toContain('d_seconds_bucket{le="0.001",model="m",version="1"} 3\n');
    expect(text).toContain('d_seconds_bucket{le="0.01",model="m",version="1"} 4\n');
    expect(text).toContain('d_seconds_bucket{le="0.1",model="m",version="1"} 6\n');
    expect(text).toContain('d_seconds_bucket{le="1",model="m",version="1"} 7\n');
    expect(text).toContain('d_seconds_bucket{le="+Inf",model="m",version="1"} 8\n');
    expect(Number(/^d_seconds_sum\{model="m",version="1"\} (\S+)$/m.exec(text)?.[1])).toBeCloseTo(3.8026, 12);
    expect(text).toContain('d_seconds_count{model="m",version="1"} 8');
  });

  it('hands out one child per label set, whatever object the labels come in', () => {
    const { hot } = pair();
    const a = hot.child({ model: 'm', version: '1' });
    expect(hot.child({ version: '1', model: 'm' })).toBe(a);
    expect(hot.child({ model: 'm', version: '2' })).not.toBe(a);
    // Label values are kept apart even when joined text would collide.
    expect(hot.child({ model: 'a\u0000b', version: 'c' })).not.toBe(hot.child({ model: 'a', version: 'b\u0000c' }));
  });

  it('refuses a value that is not a finite number, as prom-client does', () => {
    const child = pair().hot.child({ model: 'm', version: '1' });
    expect(() => child.observe(Number.NaN)).toThrow(TypeError);
    expect(() => child.observe(Number.POSITIVE_INFINITY)).toThrow(TypeError);
    expect(child.count).toBe(0);
  });

  it('sums the processes of a cluster through AggregatorRegistry like a prom-client Histogram', async () => {
    const parts = [pair(), pair()];
    parts.forEach(({ hot, ref }, i) => {
      for (const v of OBSERVED.slice(i * 3)) {
        hot.child({ model: 'm', version: '1' }).observe(v);
        ref.observe({ model: 'm', version: '1' }, v);
      }
    });
    const ours = AggregatorRegistry.aggregate(await Promise.all(parts.map((p) => p.ours.getMetricsAsJSON())));
    const theirs = AggregatorRegistry.aggregate(await Promise.all(parts.map((p) => p.theirs.getMetricsAsJSON())));
    const text = await ours.metrics();
    expect(text).toBe(await theirs.metrics());
    expect(text).toContain('d_seconds_bucket{le="+Inf",model="m",version="1"} 13\n');
  });

  it('zero makes a series at 0, remove drops it, reset keeps held children counting', async () => {
    const { ours, hot } = pair();
    hot.zero({ model: 'm', version: '1' });
    expect(await ours.metrics()).toContain('d_seconds_count{model="m",version="1"} 0');

    const held = hot.child({ model: 'm', version: '1' });
    held.observe(0.5);
    hot.reset();
    expect(await ours.metrics()).toContain('d_seconds_count{model="m",version="1"} 0');
    held.observe(0.5);
    expect(await ours.metrics()).toContain('d_seconds_count{model="m",version="1"} 1');

    hot.remove({ model: 'm', version: '1' });
    expect(await ours.metrics()).not.toContain('version="1"');
    expect(hot.child({ model: 'm', version: '1' }).count).toBe(0);
  });
});

// A cluster's console statistics: what two processes exported, summed, must read exactly as one
// TrafficStats that saw every request itself (counts, rates, percentiles, sparklines, load times).
import { describe, expect, it } from 'vitest';
import { MergedStats } from '../../src/stats/merged-stats.js';
import { TrafficStats } from '../../src/stats/traffic-stats.js';

function clock(start = 1_700_000_000_000) {
  let t = start;
  return { now: () => t, advance: (ms: number) => void (t += ms) };
}

describe('MergedStats', () => {
  it('reads as one TrafficStats that saw both processes\' traffic', () => {
    const c = clock();
    const a = new TrafficStats(c.now);
    const b = new TrafficStats(c.now);
    const all = new TrafficStats(c.now);
    const both = (fn: (s: TrafficStats) => void, one: TrafficStats) => {
      fn(one);
      fn(all);
    };
    all.sync([{ model: 'm', version: '1' }]);
    a.sync([{ model: 'm', version: '1' }]);
    c.advance(5_000); // process b starts watching later: the rate is taken since the first saw it
    b.sync([{ model: 'm', version: '1' }]);
    for (let s = 0; s < 200; s++) {
      // Different latencies and errors in each process, so a sum of percentiles would be wrong.
      both((x) => x.record('m', '1', 'success', 0.001 + (s % 7) * 0.0005), a);
      both((x) => x.record('m', '1', s % 5 === 0 ? 'server_error' : 'success', 0.02 + (s % 3) * 0.01), b);
      if (s % 50 === 0) both((x) => x.add('m', '1', 'fallbacks', 2), b);
      if (s % 40 === 0) both((x) => x.record('m', '2', 'success', 0.5), a);
      c.advance(1_000);
    }
    both((x) => x.setLastLoad('m', '2', 123), a);
    const merged = new MergedStats([a.export(60), b.export(60)]);
    for (const v of ['1', '2']) {
      expect(merged.summary('m', v)).toEqual(all.summary('m', v, 60));
      expect(merged.sparkline('m', v)).toEqual(all.sparkline('m', v));
      expect(merged.lastLoadMs('m', v)).toBe(all.lastLoadMs('m', v));
    }
    const summary = merged.summary('m', '1');
    expect(summary.requests).toBe(118); // the 59 seconds of the last minute that had requests, one per process a second
    expect(summary.errors).toBe(11); // every fifth second of b's: 145, 150, … 195
    expect(summary.fallbacks).toBe(2);
    expect(summary.p99Ms).toBeGreaterThan(summary.p50Ms ?? Infinity);
    // A version no process has seen: zeros, and a full-length flat sparkline.
    expect(merged.summary('m', '3')).toEqual(all.summary('m', '3', 60));
    expect(merged.sparkline('m', '3')).toEqual(all.sparkline('m', '3'));
  });
});

import { describe, expect, it } from 'vitest';
import { SlidingWindow } from '../../src/rollout/window.js';

describe('SlidingWindow', () => {
  it('counts requests and errors inside the window only', () => {
    let now = 0;
    const w = new SlidingWindow(10_000, () => now);
    for (let i = 0; i < 10; i++) w.record(5, i < 3);
    expect(w.snapshot()).toMatchObject({ requests: 10, errors: 3, errorRate: 0.3 });
    now = 5_000;
    for (let i = 0; i < 10; i++) w.record(5, false);
    expect(w.snapshot()).toMatchObject({ requests: 20, errors: 3 });
    // The first ten fall out once the window has moved past them; the later ten stay.
    now = 10_500;
    expect(w.snapshot()).toMatchObject({ requests: 10, errors: 0, errorRate: 0 });
    now = 20_000;
    expect(w.snapshot()).toEqual({ requests: 0, errors: 0, errorRate: 0, p99Ms: 0 });
  });

  it('estimates p99 from its buckets within 10 %, whatever the number of samples', () => {
    const w = new SlidingWindow(60_000, () => 1);
    // 990 fast requests and 10 slow ones: the 99th percentile is the fastest of the slow tail's
    // neighbours, i.e. still a fast one (rank 990); one more slow request moves it to the tail.
    for (let i = 0; i < 990; i++) w.record(2, false);
    for (let i = 0; i < 10; i++) w.record(300, false);
    const fast = w.snapshot().p99Ms;
    expect(fast).toBeGreaterThanOrEqual(2);
    expect(fast).toBeLessThanOrEqual(2.2);
    for (let i = 0; i < 20; i++) w.record(300, false);
    const slow = w.snapshot().p99Ms;
    expect(slow).toBeGreaterThanOrEqual(300);
    expect(slow).toBeLessThanOrEqual(330);
  });

  it('puts a latency on a bucket bound into that bucket, not the next', () => {
    const w = new SlidingWindow(60_000, () => 1);
    w.record(0.1, false);
    expect(w.snapshot().p99Ms).toBeCloseTo(0.1, 10);
    const v = new SlidingWindow(60_000, () => 1);
    v.record(0.11, false); // 0.1 × 1.1, the second bound
    expect(v.snapshot().p99Ms).toBeCloseTo(0.11, 10);
  });
});

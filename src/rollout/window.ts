// A sliding window of request outcomes and latencies in fixed memory: the window is cut into
// slices, each with a count, an error count and a log-scale latency histogram; running totals
// make each record O(slices) and each p99 O(buckets), however many requests there are.

/** Upper bounds (ms) of the latency buckets: 0.1 ms × 1.1^i, up to ~10 minutes; ≤ 10 % error. */
const BOUNDS_MS: readonly number[] = (() => {
  const out: number[] = [];
  for (let b = 0.1; b < 600_000; b *= 1.1) out.push(b);
  out.push(Infinity);
  return out;
})();

function bucketOf(ms: number): number {
  // Inverse of the bound formula, then nudged: floating point may land one bucket off.
  let i = ms <= 0.1 ? 0 : Math.ceil(Math.log(ms / 0.1) / Math.log(1.1));
  i = Math.min(Math.max(i, 0), BOUNDS_MS.length - 1);
  while (i > 0 && ms <= (BOUNDS_MS[i - 1] ?? 0)) i--;
  while (ms > (BOUNDS_MS[i] ?? Infinity)) i++;
  return i;
}

interface Slice {
  epoch: number;
  count: number;
  errors: number;
  readonly histogram: Uint32Array;
}

export interface WindowSnapshot {
  readonly requests: number;
  readonly errors: number;
  /** errors / requests; 0 with no requests. */
  readonly errorRate: number;
  /** The bucket bound at or above the 99th percentile latency; 0 with no requests. */
  readonly p99Ms: number;
}

export class SlidingWindow {
  private readonly slices: Slice[];
  private readonly sliceMs: number;
  private readonly total: Slice = { epoch: 0, count: 0, errors: 0, histogram: new Uint32Array(BOUNDS_MS.length) };

  constructor(
    windowMs: number,
    private readonly now: () => number = Date.now,
    sliceCount = 10,
  ) {
    this.sliceMs = Math.max(1, windowMs / sliceCount);
    this.slices = Array.from({ length: sliceCount }, () => ({ epoch: -Infinity, count: 0, errors: 0, histogram: new Uint32Array(BOUNDS_MS.length) }));
  }

  record(latencyMs: number, error: boolean): void {
    const slice = this.current();
    const bucket = bucketOf(latencyMs);
    slice.count++;
    this.total.count++;
    if (error) {
      slice.errors++;
      this.total.errors++;
    }
    slice.histogram[bucket] = (slice.histogram[bucket] ?? 0) + 1;
    this.total.histogram[bucket] = (this.total.histogram[bucket] ?? 0) + 1;
  }

  snapshot(): WindowSnapshot {
    this.current();
    const { count, errors, histogram } = this.total;
    if (count === 0) return { requests: 0, errors: 0, errorRate: 0, p99Ms: 0 };
    const rank = Math.ceil(count * 0.99);
    let seen = 0;
    let p99Ms = 0;
    for (let i = 0; i < histogram.length; i++) {
      seen += histogram[i] ?? 0;
      if (seen >= rank) {
        p99Ms = BOUNDS_MS[i] ?? Infinity;
        break;
      }
    }
    return { requests: count, errors, errorRate: errors / count, p99Ms };
  }

  /** The slice for now, after expiring every slice older than the window. */
  private current(): Slice {
    const epoch = Math.floor(this.now() / this.sliceMs);
    for (const slice of this.slices) {
      if (slice.epoch > epoch - this.slices.length) continue;
      if (slice.count > 0) this.expire(slice);
      slice.epoch = -Infinity;
    }
    const slice = this.slices[epoch % this.slices.length] as Slice;
    slice.epoch = epoch;
    return slice;
  }

  private expire(slice: Slice): void {
    this.total.count -= slice.count;
    this.total.errors -= slice.errors;
    for (let i = 0; i < slice.histogram.length; i++) {
      const n = slice.histogram[i] ?? 0;
      if (n > 0) this.total.histogram[i] = (this.total.histogram[i] ?? 0) - n;
    }
    slice.count = 0;
    slice.errors = 0;
    slice.histogram.fill(0);
  }
}

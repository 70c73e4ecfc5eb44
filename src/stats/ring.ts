// Ten minutes of one version's traffic in fixed memory: one slot per second in a ring, each with
// counters and a small log-scale latency histogram. A slot is cleared when its second comes round
// again, so nothing grows with traffic or uptime and old seconds simply stop being read.

/** Seconds kept: the console's sparklines span ten minutes. */
export const RING_SECONDS = 600;

/** Upper bounds (ms) of the latency buckets: 0.1 ms × 1.5^i up to ~2 minutes, then +Inf. */
export const LATENCY_BOUNDS_MS: readonly number[] = (() => {
  const out: number[] = [];
  for (let b = 0.1; b < 120_000; b *= 1.5) out.push(b);
  out.push(Infinity);
  return out;
})();
const BUCKETS = LATENCY_BOUNDS_MS.length;

function bucketOf(ms: number): number {
  let i = 0;
  while (i < BUCKETS - 1 && ms > (LATENCY_BOUNDS_MS[i] ?? Infinity)) i++;
  return i;
}

/** Counters kept per second besides the request count and latencies. */
export const COUNT_FIELDS = ['errors', 'fallbacks', 'shadowMatch', 'shadowMismatch', 'shadowError'] as const;
export type CountField = (typeof COUNT_FIELDS)[number];

/** What a span of seconds adds up to. */
export interface Aggregate {
  requests: number;
  readonly counts: Record<CountField, number>;
  readonly histogram: Uint32Array;
}

export function emptyAggregate(): Aggregate {
  return {
    requests: 0,
    counts: { errors: 0, fallbacks: 0, shadowMatch: 0, shadowMismatch: 0, shadowError: 0 },
    histogram: new Uint32Array(BUCKETS),
  };
}

/**
 * The latency at quantile q (0–1) of an aggregate's histogram, interpolated linearly inside the
 * bucket that holds it (as Prometheus' histogram_quantile does); null with no requests.
 */
export function quantileMs(agg: Aggregate, q: number): number | null {
  let total = 0;
  for (const n of agg.histogram) total += n;
  if (total === 0) return null;
  const rank = q * total;
  let seen = 0;
  for (let i = 0; i < BUCKETS; i++) {
    const n = agg.histogram[i] ?? 0;
    if (n > 0 && seen + n >= rank) {
      const lower = i === 0 ? 0 : (LATENCY_BOUNDS_MS[i - 1] ?? 0);
      const upper = LATENCY_BOUNDS_MS[i] ?? Infinity;
      // The open top bucket has no upper edge: report its lower one.
      if (upper === Infinity) return lower;
      return lower + ((upper - lower) * (rank - seen)) / n;
    }
    seen += n;
  }
  return null;
}

export class SecondRing {
  private readonly second = new Float64Array(RING_SECONDS).fill(-1);
  private readonly requests = new Uint32Array(RING_SECONDS);
  private readonly counts: Record<CountField, Uint32Array> = {
    errors: new Uint32Array(RING_SECONDS),
    fallbacks: new Uint32Array(RING_SECONDS),
    shadowMatch: new Uint32Array(RING_SECONDS),
    shadowMismatch: new Uint32Array(RING_SECONDS),
    shadowError: new Uint32Array(RING_SECONDS),
  };
  /** Allocated on the first request: versions without traffic (shadows, weight 0) stay small. */
  private histogram: Uint32Array | undefined;

  /** @param createdAt second at which this version started being watched (for rates). */
  constructor(readonly createdAt: number) {}

  record(second: number, latencyMs: number, error: boolean): void {
    const i = this.slot(second);
    this.requests[i] = (this.requests[i] ?? 0) + 1;
    if (error) this.counts.errors[i] = (this.counts.errors[i] ?? 0) + 1;
    this.histogram ??= new Uint32Array(RING_SECONDS * BUCKETS);
    const h = i * BUCKETS + bucketOf(latencyMs);
    this.histogram[h] = (this.histogram[h] ?? 0) + 1;
  }

  add(second: number, field: CountField, n: number): void {
    if (n <= 0) return;
    const i = this.slot(second);
    this.counts[field][i] = (this.counts[field][i] ?? 0) + n;
  }

  /** Adds the seconds from..to (inclusive) into `into`; seconds older than the ring read as 0. */
  sum(from: number, to: number, into: Aggregate = emptyAggregate()): Aggregate {
    for (let s = Math.max(from, to - RING_SECONDS + 1); s <= to; s++) {
      const i = s % RING_SECONDS;
      if (this.second[i] !== s) continue;
      into.requests += this.requests[i] ?? 0;
      for (const field of COUNT_FIELDS) into.counts[field] += this.counts[field][i] ?? 0;
      const histogram = this.histogram;
      if (!histogram) continue;
      const base = i * BUCKETS;
      for (let b = 0; b < BUCKETS; b++) into.histogram[b] = (into.histogram[b] ?? 0) + (histogram[base + b] ?? 0);
    }
    return into;
  }

  /** The slot of `second`, cleared first if it still holds a second from an earlier lap. */
  private slot(second: number): number {
    const i = second % RING_SECONDS;
    if (this.second[i] !== second) {
      this.second[i] = second;
      this.requests[i] = 0;
      for (const field of COUNT_FIELDS) this.counts[field][i] = 0;
      this.histogram?.fill(0, i * BUCKETS, (i + 1) * BUCKETS);
    }
    return i;
  }
}

// The gateway's own view of recent traffic, per model and version, for the live console: fed
// by the service's outcome hook (requests, server errors, latency) and by the counter sampler
// (fallbacks, shadow comparisons). Bounded: one ten-minute ring per registry version.
import type { InferenceOutcome } from '../metrics/metrics.js';
import { versionKey } from '../registry/revision.js';
import { emptyAggregate, quantileMs, RING_SECONDS, SecondRing, type CountField } from './ring.js';

export interface VersionSummary {
  /** Requests over the window (every outcome). */
  readonly requests: number;
  /** Requests per second over the window (or since the version was first seen, if later). */
  readonly rps: number;
  /** Server-side failures (`server_error`), as the guard counts them. */
  readonly errors: number;
  /** errors / requests; 0 with no requests. */
  readonly errorRatio: number;
  readonly p50Ms: number | null;
  readonly p99Ms: number | null;
  /** Requests this version failed that its model's fallback answered. */
  readonly fallbacks: number;
  readonly shadow: { readonly match: number; readonly mismatch: number; readonly error: number };
}

export interface Sparkline {
  /** Seconds each point covers. */
  readonly stepSeconds: number;
  readonly rps: readonly number[];
  /** p99 latency (ms) of each step; null where there were no requests. */
  readonly p99Ms: ReadonlyArray<number | null>;
}

const key = versionKey;

export class TrafficStats {
  private readonly rings = new Map<string, SecondRing>();
  private readonly lastLoad = new Map<string, number>();

  constructor(private readonly now: () => number = Date.now) {}

  /** The service's outcome hook: one finished inference request. */
  record(model: string, version: string, outcome: InferenceOutcome, seconds: number): void {
    const second = this.second();
    this.ring(model, version, second).record(second, seconds * 1000, outcome === 'server_error');
  }

  /** Adds n to a per-second counter (fallbacks, shadow outcomes) at the current second. */
  add(model: string, version: string, field: CountField, n: number): void {
    if (n <= 0) return;
    const second = this.second();
    this.ring(model, version, second).add(second, field, n);
  }

  /** How long the version's most recent model load took. */
  setLastLoad(model: string, version: string, ms: number): void {
    this.lastLoad.set(key(model, version), ms);
  }

  lastLoadMs(model: string, version: string): number | null {
    return this.lastLoad.get(key(model, version)) ?? null;
  }

  /** The last `windowSeconds` of one version (zeros if it has had no traffic). */
  summary(model: string, version: string, windowSeconds = 60): VersionSummary {
    const now = this.second();
    const ring = this.rings.get(key(model, version));
    const agg = ring ? ring.sum(now - windowSeconds + 1, now) : emptyAggregate();
    // A version watched for less than the window has its rate taken over the time it was watched.
    const span = Math.max(1, Math.min(windowSeconds, now - (ring?.createdAt ?? now) + 1));
    const { requests, counts } = agg;
    return {
      requests,
      rps: requests / span,
      errors: counts.errors,
      errorRatio: requests > 0 ? counts.errors / requests : 0,
      p50Ms: quantileMs(agg, 0.5),
      p99Ms: quantileMs(agg, 0.99),
      fallbacks: counts.fallbacks,
      shadow: { match: counts.shadowMatch, mismatch: counts.shadowMismatch, error: counts.shadowError },
    };
  }

  /** Requests/s and p99 over the ring's ten minutes, in `points` steps ending now. */
  sparkline(model: string, version: string, points = 60): Sparkline {
    const step = Math.max(1, Math.floor(RING_SECONDS / points));
    const now = this.second();
    const ring = this.rings.get(key(model, version));
    const rps: number[] = [];
    const p99Ms: Array<number | null> = [];
    for (let p = points - 1; p >= 0; p--) {
      const to = now - p * step;
      const agg = ring ? ring.sum(to - step + 1, to) : emptyAggregate();
      rps.push(agg.requests / step);
      p99Ms.push(quantileMs(agg, 0.99));
    }
    return { stepSeconds: step, rps, p99Ms };
  }

  /**
   * Watches exactly the registry's versions: a new one starts its clock now (its rate is taken
   * from here), one no longer in the registry is forgotten, so memory follows the registry.
   */
  sync(versions: Iterable<{ readonly model: string; readonly version: string }>): void {
    const second = this.second();
    const wanted = new Set<string>();
    for (const v of versions) {
      wanted.add(key(v.model, v.version));
      this.ring(v.model, v.version, second);
    }
    for (const k of this.rings.keys()) if (!wanted.has(k)) this.rings.delete(k);
    for (const k of this.lastLoad.keys()) if (!wanted.has(k)) this.lastLoad.delete(k);
  }

  private ring(model: string, version: string, second: number): SecondRing {
    const k = key(model, version);
    let ring = this.rings.get(k);
    if (!ring) {
      ring = new SecondRing(second);
      this.rings.set(k, ring);
    }
    return ring;
  }

  private second(): number {
    return Math.floor(this.now() / 1000);
  }
}

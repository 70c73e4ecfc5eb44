// The gateway's own view of recent traffic, per model and version, for the live console: fed
// by the service's outcome hook (requests, server errors, latency) and by the counter sampler
// (fallbacks, shadow comparisons). Bounded: one ten-minute ring per registry version.
import type { InferenceOutcome } from '../metrics/metrics.js';
import { versionKey } from '../registry/revision.js';
import { emptyAggregate, quantileMs, RING_SECONDS, SecondRing, type Aggregate, type CountField } from './ring.js';

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

/** What the console reads: one process's TrafficStats, or a cluster's merged (merged-stats.ts). */
export interface StatsView {
  summary(model: string, version: string, windowSeconds?: number): VersionSummary;
  sparkline(model: string, version: string, points?: number): Sparkline;
  lastLoadMs(model: string, version: string): number | null;
}

/** One version's window and sparkline steps as plain data, to be summed with other processes'. */
export interface VersionExport {
  readonly createdAt: number;
  readonly lastLoadMs: number | null;
  readonly window: Aggregate;
  readonly steps: readonly Aggregate[];
}

/** Everything a StatsView shows, as plain data (sent between the processes of a cluster). */
export interface StatsExport {
  /** The second it was taken at. */
  readonly now: number;
  readonly windowSeconds: number;
  readonly stepSeconds: number;
  readonly versions: Readonly<Record<string, VersionExport>>;
}

/** A span of traffic summed up; `span` is the seconds the rate is taken over. */
export function summarize(agg: Aggregate, span: number): VersionSummary {
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

export function sparklineOf(steps: readonly Aggregate[], stepSeconds: number): Sparkline {
  return { stepSeconds, rps: steps.map((a) => a.requests / stepSeconds), p99Ms: steps.map((a) => quantileMs(a, 0.99)) };
}

/** The seconds a window's rate is taken over: a version watched for less than the window, since then. */
export function rateSpan(windowSeconds: number, now: number, createdAt: number): number {
  return Math.max(1, Math.min(windowSeconds, now - createdAt + 1));
}

export class TrafficStats implements StatsView {
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
    return summarize(agg, rateSpan(windowSeconds, now, ring?.createdAt ?? now));
  }

  /** Requests/s and p99 over the ring's ten minutes, in `points` steps ending now. */
  sparkline(model: string, version: string, points = 60): Sparkline {
    const step = stepSeconds(points);
    return sparklineOf(this.steps(this.rings.get(key(model, version)), this.second(), points), step);
  }

  /** Every watched version's window and sparkline, as plain data. */
  export(windowSeconds = 60, points = 60): StatsExport {
    const now = this.second();
    const versions: Record<string, VersionExport> = {};
    for (const [k, ring] of this.rings) {
      versions[k] = { createdAt: ring.createdAt, lastLoadMs: this.lastLoad.get(k) ?? null, window: ring.sum(now - windowSeconds + 1, now), steps: this.steps(ring, now, points) };
    }
    return { now, windowSeconds, stepSeconds: stepSeconds(points), versions };
  }

  private steps(ring: SecondRing | undefined, now: number, points: number): Aggregate[] {
    const step = stepSeconds(points);
    const out: Aggregate[] = [];
    for (let p = points - 1; p >= 0; p--) {
      const to = now - p * step;
      out.push(ring ? ring.sum(to - step + 1, to) : emptyAggregate());
    }
    return out;
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

function stepSeconds(points: number): number {
  return Math.max(1, Math.floor(RING_SECONDS / points));
}

// The console's statistics for a cluster: each process exports its own TrafficStats (requests,
// errors, latency histograms per version), and the sums are what the whole gateway served. Sums
// of histograms, not of percentiles, so p50/p99 are the cluster's own.
import { versionKey } from '../registry/revision.js';
import { COUNT_FIELDS, emptyAggregate, type Aggregate } from './ring.js';
import { rateSpan, sparklineOf, summarize, type Sparkline, type StatsExport, type StatsView, type VersionExport, type VersionSummary } from './traffic-stats.js';

function addInto(into: Aggregate, from: Aggregate): void {
  into.requests += from.requests;
  for (const field of COUNT_FIELDS) into.counts[field] += from.counts[field];
  for (let b = 0; b < into.histogram.length; b++) into.histogram[b] = (into.histogram[b] ?? 0) + (from.histogram[b] ?? 0);
}

export class MergedStats implements StatsView {
  private readonly versions = new Map<string, VersionExport>();
  private readonly now: number;
  private readonly windowSeconds: number;
  private readonly stepSeconds: number;
  private readonly points: number;

  /** `exports` must be taken with the same window and number of points (TrafficStats.export). */
  constructor(exports: readonly StatsExport[]) {
    const first = exports[0];
    this.now = Math.max(0, ...exports.map((e) => e.now));
    this.windowSeconds = first?.windowSeconds ?? 60;
    this.stepSeconds = first?.stepSeconds ?? 10;
    this.points = Object.values(first?.versions ?? {})[0]?.steps.length ?? 60;
    for (const e of exports) {
      for (const [k, v] of Object.entries(e.versions)) {
        const seen = this.versions.get(k);
        if (!seen) {
          this.versions.set(k, { createdAt: v.createdAt, lastLoadMs: v.lastLoadMs, window: copy(v.window), steps: v.steps.map(copy) });
          continue;
        }
        addInto(seen.window, v.window);
        seen.steps.forEach((step, i) => v.steps[i] && addInto(step, v.steps[i]));
        // Watched since the first process saw it; a load time from any process that loaded it.
        this.versions.set(k, { ...seen, createdAt: Math.min(seen.createdAt, v.createdAt), lastLoadMs: seen.lastLoadMs ?? v.lastLoadMs });
      }
    }
  }

  summary(model: string, version: string): VersionSummary {
    const v = this.versions.get(versionKey(model, version));
    return summarize(v?.window ?? emptyAggregate(), rateSpan(this.windowSeconds, this.now, v?.createdAt ?? this.now));
  }

  sparkline(model: string, version: string): Sparkline {
    const v = this.versions.get(versionKey(model, version));
    return sparklineOf(v?.steps ?? Array.from({ length: this.points }, emptyAggregate), this.stepSeconds);
  }

  lastLoadMs(model: string, version: string): number | null {
    return this.versions.get(versionKey(model, version))?.lastLoadMs ?? null;
  }
}

function copy(a: Aggregate): Aggregate {
  const out = emptyAggregate();
  addInto(out, a);
  return out;
}

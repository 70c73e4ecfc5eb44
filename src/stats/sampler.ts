// Once a second: turns the growth of the fallback and shadow counters the gateway already keeps
// (prom-client) into per-second counts in TrafficStats, notes how long each new model load took
// (from the load-duration histogram's growth), and keeps the stats' set of versions in step
// with the registry. Reading the metrics means the service and cache need no extra hooks.
import type { GatewayMetrics } from '../metrics/metrics.js';
import type { CountField } from './ring.js';
import type { TrafficStats } from './traffic-stats.js';

const SHADOW_FIELD: Readonly<Record<string, CountField>> = { match: 'shadowMatch', mismatch: 'shadowMismatch', error: 'shadowError' };

export interface SamplerDeps {
  readonly stats: TrafficStats;
  readonly metrics: GatewayMetrics;
  /** The registry's current versions. */
  readonly versions: () => Iterable<{ readonly model: string; readonly version: string }>;
}

type Labels = Partial<Record<string, string | number>>;

export class StatsSampler {
  /** Last value seen of each counter series. */
  private readonly last = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> = Promise.resolve();

  constructor(private readonly deps: SamplerDeps) {}

  start(intervalMs = 1000): void {
    if (this.timer) return;
    this.timer = setInterval(() => {
      this.running = this.sample().catch(() => {
        // A failed read only delays these counts to the next sample.
      });
    }, intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }

  async sample(): Promise<void> {
    const { stats, metrics } = this.deps;
    stats.sync(this.deps.versions());
    const [fallbacks, shadows, loads] = await Promise.all([metrics.fallbacks.get(), metrics.shadowRequests.get(), metrics.loadDuration.get()]);
    const seen = new Set<string>();
    const feed = (name: string, labels: Labels, value: number, field: CountField | undefined): void => {
      const id = `${name}${JSON.stringify(labels)}`;
      seen.add(id);
      const before = this.last.get(id);
      this.last.set(id, value);
      // A series seen for the first time, or reset (removed and made again), counts from zero.
      const delta = before === undefined || value < before ? value : value - before;
      if (field && delta > 0) stats.add(String(labels.model), String(labels.version), field, delta);
    };
    for (const { labels, value } of fallbacks.values) feed('fallbacks', labels, value, 'fallbacks');
    for (const { labels, value } of shadows.values) feed('shadow', labels, value, SHADOW_FIELD[String(labels.outcome)]);
    this.sampleLoads(loads.values as ReadonlyArray<{ labels: Labels; value: number; metricName?: string }>, seen);
    for (const id of this.last.keys()) if (!seen.has(id)) this.last.delete(id);
  }

  /** A version whose load count grew had a load finish: its duration is the growth of the sum. */
  private sampleLoads(values: ReadonlyArray<{ labels: Labels; value: number; metricName?: string }>, seen: Set<string>): void {
    const sums = new Map<string, number>();
    for (const v of values) if (v.metricName?.endsWith('_sum')) sums.set(JSON.stringify([v.labels.model, v.labels.version]), v.value);
    for (const v of values) {
      if (!v.metricName?.endsWith('_count')) continue;
      const series = JSON.stringify([v.labels.model, v.labels.version]);
      const sum = sums.get(series) ?? 0;
      const countId = `loads${series}`;
      const sumId = `loadSeconds${series}`;
      seen.add(countId).add(sumId);
      const count = this.last.get(countId);
      const before = count === undefined || v.value < count ? { count: 0, sum: 0 } : { count, sum: this.last.get(sumId) ?? 0 };
      this.last.set(countId, v.value).set(sumId, sum);
      if (v.value > before.count) {
        this.deps.stats.setLastLoad(String(v.labels.model), String(v.labels.version), ((sum - before.sum) / (v.value - before.count)) * 1000);
      }
    }
  }
}

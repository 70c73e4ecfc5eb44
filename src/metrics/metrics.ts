// The contract's metric families on a private prom-client Registry (no global state, so tests
// and several apps in one process never collide). Label values come only from the registry:
// callers' unknown model names never become series.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { trafficShares, versionKey, type Revision } from '../registry/revision.js';
import { HotHistogram } from './hot-histogram.js';

export type InferenceOutcome = 'success' | 'client_error' | 'server_error' | 'rejected';
export const INFERENCE_OUTCOMES: readonly InferenceOutcome[] = ['success', 'client_error', 'server_error', 'rejected'];
const SHADOW_OUTCOMES = ['match', 'mismatch', 'error'] as const;
const RELOAD_RESULTS = ['success', 'invalid', 'unreachable'] as const;
const LOAD_RESULTS = ['success', 'failure'] as const;
/** The guard's rollback reasons (rollout/traffic.ts RollbackReason). */
const ROLLBACK_REASONS = ['error_rate', 'p99_latency'] as const;

/** One version's per-request series, resolved once (prom-client hashes the labels on every call otherwise). */
export interface VersionSeries {
  readonly requests: Readonly<Record<InferenceOutcome, { inc(): void }>>;
  readonly duration: { observe(seconds: number): void };
}

type RequestLabels = 'model' | 'version' | 'outcome';

/**
 * A request count not yet added to prom-client's counter: `inc` is one addition, and the
 * counter's collect hook adds what accumulated when the registry is read (a scrape, or the
 * cluster's aggregation), so every read sees every request counted before it.
 */
class PendingCount {
  n = 0;
  constructor(readonly labels: Readonly<Record<RequestLabels, string>>) {}
  inc(): void {
    this.n++;
  }
}

interface CachedSeries extends VersionSeries {
  readonly requests: Readonly<Record<InferenceOutcome, PendingCount>>;
}

/** The request counter: pending counts are added when it is read, and dropped when it is reset. */
class RequestCounter extends Counter<RequestLabels> {
  constructor(
    registers: Registry[],
    private readonly series: ReadonlyMap<string, CachedSeries>,
  ) {
    super({
      name: 'gateway_inference_requests_total',
      help: 'Inference requests by model, version and outcome',
      labelNames: ['model', 'version', 'outcome'],
      registers,
      collect(this: Counter<RequestLabels>) {
        (this as RequestCounter).flush();
      },
    });
  }

  override reset(): void {
    // prom-client's constructor calls reset() too, before this class's fields are set.
    const series = this.series as ReadonlyMap<string, CachedSeries> | undefined;
    if (series) for (const s of series.values()) for (const outcome of INFERENCE_OUTCOMES) s.requests[outcome].n = 0;
    super.reset();
  }

  private flush(): void {
    for (const s of this.series.values()) {
      for (const outcome of INFERENCE_OUTCOMES) {
        const pending = s.requests[outcome];
        if (pending.n === 0) continue;
        this.inc(pending.labels, pending.n);
        pending.n = 0;
      }
    }
  }
}

export interface MetricsOptions {
  /** Collect prom-client's default process and Node.js metrics (on by default). */
  readonly defaultMetrics?: boolean;
}

export class GatewayMetrics {
  readonly registry = new Registry();
  readonly inferenceRequests: Counter<RequestLabels>;
  /** Observed only through versionSeries' children (metrics/hot-histogram.ts). */
  readonly inferenceDuration: HotHistogram<'model' | 'version'>;
  readonly loadDuration: Histogram<'model' | 'version'>;
  readonly loads: Counter<'model' | 'version' | 'result'>;
  readonly cacheLookups: Counter<'model' | 'result'>;
  readonly evictions: Counter<'model' | 'version'>;
  readonly modelsLoaded: Gauge;
  readonly cacheBytes: Gauge;
  readonly trafficWeight: Gauge<'model' | 'version'>;
  readonly shadowRequests: Counter<'model' | 'version' | 'outcome'>;
  readonly shadowDropped: Counter<'model' | 'version'>;
  readonly fallbacks: Counter<'model' | 'version' | 'fallback'>;
  readonly rollbacks: Counter<'model' | 'version' | 'reason'>;
  readonly registryReloads: Counter<'result'>;
  readonly registryInfo: Gauge<'revision'>;
  /** Rows per run of a batching version (inference/batcher.ts); series only for those versions. */
  readonly batchSize: Histogram<'model' | 'version'>;
  private batchSeries: ReadonlyMap<string, { model: string; version: string }> = new Map();
  private known: ReadonlyMap<string, { model: string; version: string }> = new Map();
  private fallbackSeries: ReadonlySet<string> = new Set();
  private readonly seriesCache = new Map<string, CachedSeries>();
  private textSource: (() => Promise<string>) | undefined;

  constructor(options: MetricsOptions = {}) {
    if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: this.registry });
    const registers = [this.registry];
    const counter = <L extends string>(name: string, help: string, labelNames: L[]) => new Counter<L>({ name, help, labelNames, registers });
    // aggregator: how a cluster's processes combine (src/cluster.ts); gauges default to the sum.
    const gauge = <L extends string>(name: string, help: string, labelNames: L[], aggregator: 'sum' | 'average' | 'max' = 'sum') =>
      new Gauge<L>({ name, help, labelNames, registers, aggregator });
    const histogram = <L extends string>(name: string, help: string, labelNames: L[], buckets: number[]) =>
      new Histogram<L>({ name, help, labelNames, buckets, registers });

    this.inferenceRequests = new RequestCounter(registers, this.seriesCache);
    this.inferenceDuration = new HotHistogram({
      name: 'gateway_inference_duration_seconds',
      help: 'Time from routing to response for inference requests',
      labelNames: ['model', 'version'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    this.loadDuration = histogram('gateway_model_load_duration_seconds', 'Time to fetch and load a model version', ['model', 'version'], [
      0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120,
    ]);
    this.loads = counter('gateway_model_loads_total', 'Model version loads by result', ['model', 'version', 'result']);
    this.cacheLookups = counter('gateway_model_cache_lookups_total', 'Session cache lookups by result', ['model', 'result']);
    this.evictions = counter('gateway_model_evictions_total', 'Sessions evicted from the cache', ['model', 'version']);
    this.modelsLoaded = gauge('gateway_models_loaded', 'Sessions currently loaded', []);
    this.cacheBytes = gauge('gateway_model_cache_bytes', 'Memory the model cache counts against cache.maxBytes: loaded versions at their footprint, loads under way at their peak, evicted versions until released', []);
    this.trafficWeight = gauge('gateway_traffic_weight', 'Effective traffic share of each version (0-1), after any guard rollback', ['model', 'version'], 'average');
    this.shadowRequests = counter('gateway_shadow_requests_total', 'Shadow requests by comparison outcome', ['model', 'version', 'outcome']);
    this.shadowDropped = counter('gateway_shadow_dropped_total', 'Shadow copies dropped because the shadow queue was full', ['model', 'version']);
    this.fallbacks = counter('gateway_fallbacks_total', 'Responses served by the fallback; version is the one that failed', ['model', 'version', 'fallback']);
    this.rollbacks = counter('gateway_rollbacks_total', 'Automatic rollbacks by reason', ['model', 'version', 'reason']);
    this.registryReloads = counter('gateway_registry_reloads_total', 'Registry checks by result', ['result']);
    this.registryInfo = gauge('gateway_registry_info', 'The active registry revision', ['revision'], 'max');
    for (const result of RELOAD_RESULTS) this.registryReloads.inc({ result }, 0);
    this.batchSize = histogram('gateway_batch_size', 'Rows stacked into one run by dynamic batching', ['model', 'version'], [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024]);
  }

  /**
   * Makes every series of the revision's models exist (at 0) and publishes traffic shares.
   * Series of models and versions the revision no longer has are removed.
   */
  syncRevision(revision: Revision, weightOf: (model: string, version: string, declared: number) => number): void {
    this.trafficWeight.reset();
    this.registryInfo.reset();
    this.registryInfo.set({ revision: revision.id }, 1);
    const keep = new Map<string, { model: string; version: string }>();
    const keepFallback = new Set<string>();
    for (const model of revision.models.values()) {
      const shares = trafficShares(model, (v) => weightOf(model.name, v.name, v.weight));
      for (const result of ['hit', 'miss']) this.cacheLookups.inc({ model: model.name, result }, 0);
      for (const v of model.versions) {
        const labels = { model: model.name, version: v.name };
        const key = versionKey(model.name, v.name);
        keep.set(key, labels);
        for (const outcome of INFERENCE_OUTCOMES) this.inferenceRequests.inc({ ...labels, outcome }, 0);
        for (const result of LOAD_RESULTS) this.loads.inc({ ...labels, result }, 0);
        for (const outcome of SHADOW_OUTCOMES) this.shadowRequests.inc({ ...labels, outcome }, 0);
        // A histogram's zero() empties one that exists: only a version new here starts at 0, or
        // every registry reload would wipe the latency of the versions it keeps.
        if (!this.known.has(key)) {
          this.inferenceDuration.zero(labels);
          this.loadDuration.zero(labels);
        }
        this.evictions.inc(labels, 0);
        if (v.shadow > 0) this.shadowDropped.inc(labels, 0);
        if (model.guard) for (const reason of ROLLBACK_REASONS) this.rollbacks.inc({ ...labels, reason }, 0);
        if (model.fallback !== undefined && model.fallback !== v.name) {
          const series = { ...labels, fallback: model.fallback };
          keepFallback.add(JSON.stringify(series));
          this.fallbacks.inc(series, 0);
        }
        this.trafficWeight.set(labels, shares.get(v.name) ?? 0);
      }
    }
    this.dropStale(keep);
    this.syncBatchSeries(revision);
    // Fallback targets can change with any revision: drop the series of old targets.
    for (const series of this.fallbackSeries) if (!keepFallback.has(series)) this.fallbacks.remove(JSON.parse(series) as Record<string, string>);
    this.fallbackSeries = keepFallback;
  }

  /** The request counter and duration children of one version, cached until its series are dropped. */
  versionSeries(model: string, version: string): VersionSeries {
    const key = versionKey(model, version);
    let series = this.seriesCache.get(key);
    if (!series) {
      const requests = {} as Record<InferenceOutcome, PendingCount>;
      for (const outcome of INFERENCE_OUTCOMES) requests[outcome] = new PendingCount({ model, version, outcome });
      series = { requests, duration: this.inferenceDuration.child({ model, version }) };
      this.seriesCache.set(key, series);
    }
    return series;
  }

  private dropStale(keep: ReadonlyMap<string, { model: string; version: string }>): void {
    for (const [key, labels] of this.known) {
      if (keep.has(key)) continue;
      this.seriesCache.delete(key); // its series are removed below, and its pending counts with it
      for (const outcome of INFERENCE_OUTCOMES) this.inferenceRequests.remove({ ...labels, outcome });
      for (const result of LOAD_RESULTS) this.loads.remove({ ...labels, result });
      for (const outcome of SHADOW_OUTCOMES) this.shadowRequests.remove({ ...labels, outcome });
      this.inferenceDuration.remove(labels);
      this.loadDuration.remove(labels);
      this.evictions.remove(labels);
      this.shadowDropped.remove(labels);
      for (const reason of ROLLBACK_REASONS) this.rollbacks.remove({ ...labels, reason });
    }
    this.known = keep;
  }

  /** gateway_batch_size series exist (at 0) exactly for the versions with `batching`. */
  private syncBatchSeries(revision: Revision): void {
    const keep = new Map<string, { model: string; version: string }>();
    for (const model of revision.models.values()) {
      for (const v of model.versions) {
        if (v.batching === undefined) continue;
        const labels = { model: model.name, version: v.name };
        const key = versionKey(model.name, v.name);
        keep.set(key, labels);
        if (!this.batchSeries.has(key)) this.batchSize.zero(labels);
      }
    }
    for (const [key, labels] of this.batchSeries) if (!keep.has(key)) this.batchSize.remove(labels);
    this.batchSeries = keep;
  }

  text(): Promise<string> {
    return this.textSource ? this.textSource() : this.registry.metrics();
  }

  /** Scrapes answer with this instead (the sum over a cluster's processes, src/cluster.ts). */
  serveTextFrom(source: () => Promise<string>): void {
    this.textSource = source;
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}

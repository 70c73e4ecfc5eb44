// The contract's metric families on a private prom-client Registry (no global state, so tests
// and several apps in one process never collide). Label values come only from the registry:
// callers' unknown model names never become series.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Revision } from '../registry/revision.js';

export type InferenceOutcome = 'success' | 'client_error' | 'server_error' | 'rejected';
export const INFERENCE_OUTCOMES: readonly InferenceOutcome[] = ['success', 'client_error', 'server_error', 'rejected'];
const SHADOW_OUTCOMES = ['match', 'mismatch', 'error'] as const;
const RELOAD_RESULTS = ['success', 'invalid', 'unreachable'] as const;
const LOAD_RESULTS = ['success', 'failure'] as const;

export interface MetricsOptions {
  /** Collect prom-client's default process and Node.js metrics (on by default). */
  readonly defaultMetrics?: boolean;
}

export class GatewayMetrics {
  readonly registry = new Registry();
  readonly inferenceRequests: Counter<'model' | 'version' | 'outcome'>;
  readonly inferenceDuration: Histogram<'model' | 'version'>;
  readonly loadDuration: Histogram<'model' | 'version'>;
  readonly loads: Counter<'model' | 'version' | 'result'>;
  readonly cacheLookups: Counter<'model' | 'result'>;
  readonly evictions: Counter<'model' | 'version'>;
  readonly modelsLoaded: Gauge;
  readonly cacheBytes: Gauge;
  readonly trafficWeight: Gauge<'model' | 'version'>;
  readonly shadowRequests: Counter<'model' | 'version' | 'outcome'>;
  readonly rollbacks: Counter<'model' | 'version' | 'reason'>;
  readonly registryReloads: Counter<'result'>;
  readonly registryInfo: Gauge<'revision'>;
  private known: ReadonlyMap<string, { model: string; version: string }> = new Map();

  constructor(options: MetricsOptions = {}) {
    const registers = [this.registry];
    if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: this.registry });
    this.inferenceRequests = new Counter({
      name: 'gateway_inference_requests_total',
      help: 'Inference requests by model, version and outcome',
      labelNames: ['model', 'version', 'outcome'],
      registers,
    });
    this.inferenceDuration = new Histogram({
      name: 'gateway_inference_duration_seconds',
      help: 'Time from routing to response for inference requests',
      labelNames: ['model', 'version'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    this.loadDuration = new Histogram({
      name: 'gateway_model_load_duration_seconds',
      help: 'Time to fetch and load a model version',
      labelNames: ['model', 'version'],
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
      registers,
    });
    this.loads = new Counter({
      name: 'gateway_model_loads_total',
      help: 'Model version loads by result',
      labelNames: ['model', 'version', 'result'],
      registers,
    });
    this.cacheLookups = new Counter({
      name: 'gateway_model_cache_lookups_total',
      help: 'Session cache lookups by result',
      labelNames: ['model', 'result'],
      registers,
    });
    this.evictions = new Counter({
      name: 'gateway_model_evictions_total',
      help: 'Sessions evicted from the cache',
      labelNames: ['model', 'version'],
      registers,
    });
    this.modelsLoaded = new Gauge({ name: 'gateway_models_loaded', help: 'Sessions currently loaded', registers });
    this.cacheBytes = new Gauge({ name: 'gateway_model_cache_bytes', help: 'Bytes of model files loaded', registers });
    this.trafficWeight = new Gauge({
      name: 'gateway_traffic_weight',
      help: 'Effective traffic share of each version (0-1), after any guard rollback',
      labelNames: ['model', 'version'],
      registers,
    });
    this.shadowRequests = new Counter({
      name: 'gateway_shadow_requests_total',
      help: 'Shadow requests by comparison outcome',
      labelNames: ['model', 'version', 'outcome'],
      registers,
    });
    this.rollbacks = new Counter({
      name: 'gateway_rollbacks_total',
      help: 'Automatic rollbacks by reason',
      labelNames: ['model', 'version', 'reason'],
      registers,
    });
    this.registryReloads = new Counter({
      name: 'gateway_registry_reloads_total',
      help: 'Registry checks by result',
      labelNames: ['result'],
      registers,
    });
    this.registryInfo = new Gauge({ name: 'gateway_registry_info', help: 'The active registry revision', labelNames: ['revision'], registers });
    for (const result of RELOAD_RESULTS) this.registryReloads.inc({ result }, 0);
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
    for (const model of revision.models.values()) {
      const weights = model.versions.map((v) => weightOf(model.name, v.name, v.weight));
      const total = weights.reduce((a, b) => a + b, 0);
      for (const result of ['hit', 'miss']) this.cacheLookups.inc({ model: model.name, result }, 0);
      model.versions.forEach((v, i) => {
        const labels = { model: model.name, version: v.name };
        keep.set(`${model.name}\u0000${v.name}`, labels);
        for (const outcome of INFERENCE_OUTCOMES) this.inferenceRequests.inc({ ...labels, outcome }, 0);
        for (const result of LOAD_RESULTS) this.loads.inc({ ...labels, result }, 0);
        for (const outcome of SHADOW_OUTCOMES) this.shadowRequests.inc({ ...labels, outcome }, 0);
        this.inferenceDuration.zero(labels);
        this.loadDuration.zero(labels);
        this.evictions.inc(labels, 0);
        this.trafficWeight.set(labels, total > 0 ? (weights[i] ?? 0) / total : 0);
      });
    }
    this.dropStale(keep);
  }

  private dropStale(keep: ReadonlyMap<string, { model: string; version: string }>): void {
    for (const [key, labels] of this.known) {
      if (keep.has(key)) continue;
      for (const outcome of INFERENCE_OUTCOMES) this.inferenceRequests.remove({ ...labels, outcome });
      for (const result of LOAD_RESULTS) this.loads.remove({ ...labels, result });
      for (const outcome of SHADOW_OUTCOMES) this.shadowRequests.remove({ ...labels, outcome });
      this.inferenceDuration.remove(labels);
      this.loadDuration.remove(labels);
      this.evictions.remove(labels);
    }
    this.known = keep;
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}

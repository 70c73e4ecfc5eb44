// The gateway's one use case, free of HTTP: find the model, route to a version, lease a session,
// check and encode the inputs, run, decode, and account for it in metrics.
import { performance } from 'node:perf_hooks';
import type { ModelCache, VersionState } from '../cache/model-cache.js';
import { GatewayError } from '../errors/catalogue.js';
import type { InputTensor } from '../inference/codec.js';
import { V2_DATATYPE } from '../inference/dtypes.js';
import type { Batchers } from '../inference/batcher.js';
import type { Signature } from '../inference/session.js';
import type { GatewayMetrics, InferenceOutcome } from '../metrics/metrics.js';
import type { RegistryHolder } from '../registry/holder.js';
import { isRefusal, type Admission, type Ticket } from './admission.js';
import { findVersion, primaryVersion, type ModelEntry, type VersionEntry } from '../registry/revision.js';
import { chooseVersion, requireVersion, type RouteDeps, type RouteReason, type WeightOf } from '../routing/route.js';
import { runVersion, type NamedOutput } from './run-version.js';
import type { ShadowRunner } from './shadow.js';

export type { NamedOutput } from './run-version.js';

export interface InferRequest {
  readonly model: string;
  /** Version name or alias the caller asked for. */
  readonly version?: string | undefined;
  /** Looks up a request header (lower-case name), for sticky routing. */
  readonly header: (name: string) => string | undefined;
  readonly inputs: ReadonlyMap<string, InputTensor>;
  /** Output names to return; all tensor outputs when absent. */
  readonly outputs?: readonly string[] | undefined;
  /** Aborted when the caller gave up (a gRPC deadline or cancel): the model is then not run. */
  readonly signal?: AbortSignal | undefined;
}

export interface InferResult {
  readonly model: string;
  readonly version: string;
  readonly reason: RouteReason | 'fallback';
  /** Set when the fallback answered: the version that was chosen and failed. */
  readonly fallbackFrom?: string;
  readonly outputs: readonly NamedOutput[];
}

export interface TensorMetadata {
  readonly name: string;
  readonly datatype: string;
  readonly shape: readonly number[];
}

export interface ModelMetadata {
  readonly name: string;
  readonly versions: readonly string[];
  readonly platform: 'onnx_onnxv1';
  readonly inputs: readonly TensorMetadata[];
  readonly outputs: readonly TensorMetadata[];
}

export interface ServiceLogger {
  warn(obj: object, msg: string): void;
}

/** Effective routing weights (declared weights less guard rollbacks). */
export interface TrafficWeights {
  weightOf(model: ModelEntry): WeightOf;
}

/** Told of every finished inference request (the guard listens). */
export type OutcomeListener = (model: ModelEntry, version: VersionEntry, outcome: InferenceOutcome, seconds: number) => void;

export interface GatewayServiceDeps {
  readonly registry: RegistryHolder;
  readonly cache: ModelCache;
  readonly metrics: GatewayMetrics;
  /** Bounds concurrent inference and sets its deadline (service/admission.ts); none when absent. */
  readonly admission?: Admission;
  readonly route: RouteDeps;
  readonly log: ServiceLogger;
  readonly traffic?: TrafficWeights;
  readonly onOutcome?: OutcomeListener;
  readonly shadow?: ShadowRunner;
  /** Dynamic batching of versions with `batching` (absent: every request runs alone). */
  readonly batchers?: Batchers;
}

/** Called as soon as a version is chosen (again with `fallbackFrom` when the fallback takes over). */
export type OnRouted = (model: string, version: string, fallbackFrom?: string) => void;

/** The caller's mistake: counted as client_error, never rescued by a fallback. */
function isClientError(err: unknown): boolean {
  return err instanceof GatewayError && (err.code === 'INVALID_INPUT' || err.code === 'BAD_REQUEST' || err.code === 'LIMIT_EXCEEDED');
}

export class GatewayService {
  constructor(private readonly deps: GatewayServiceDeps) {}

  model(name: string): ModelEntry {
    const model = this.deps.registry.current().models.get(name);
    if (!model) throw new GatewayError('MODEL_NOT_FOUND', `unknown model "${name}"`);
    return model;
  }

  version(model: ModelEntry, ref: string | undefined): VersionEntry {
    return ref === undefined ? primaryVersion(model) : requireVersion(model, ref);
  }

  async infer(request: InferRequest, onRouted: OnRouted = () => {}): Promise<InferResult> {
    const model = this.model(request.model);
    const sticky = model.sticky === undefined ? undefined : request.header(model.sticky);
    const weightOf = this.deps.traffic?.weightOf(model);
    const decision = chooseVersion(model, { explicit: request.version, stickyKey: sticky }, this.deps.route, weightOf);
    onRouted(model.name, decision.version.name);
    let result: InferResult;
    try {
      result = await this.runOn(model, decision.version, decision.reason, request);
    } catch (err) {
      const fallback = this.fallbackFor(model, decision.version, decision.reason, err, request.signal);
      if (!fallback) throw err;
      this.deps.log.warn({ event: 'fallback', model: model.name, version: decision.version.name, fallback: fallback.name, err: String(err) }, 'serving fallback');
      onRouted(model.name, fallback.name, decision.version.name);
      this.deps.metrics.fallbacks.inc({ model: model.name, version: decision.version.name, fallback: fallback.name });
      result = { ...(await this.runOn(model, fallback, 'fallback', request)), fallbackFrom: decision.version.name };
    }
    this.deps.shadow?.offer(model, result.version, request.inputs, result.outputs);
    return result;
  }

  /** A routed (not explicitly chosen) request whose version failed server-side may fall back. */
  private fallbackFor(model: ModelEntry, failed: VersionEntry, reason: RouteReason, err: unknown, signal?: AbortSignal): VersionEntry | undefined {
    if (reason === 'explicit' || model.fallback === undefined || model.fallback === failed.name) return undefined;
    if (isClientError(err) || isRefusal(err) || signal?.aborted) return undefined;
    return findVersion(model, model.fallback);
  }

  private async runOn(model: ModelEntry, version: VersionEntry, reason: InferResult['reason'], request: InferRequest, ticket?: Ticket): Promise<InferResult> {
    // Admitted first (a slot, or a 429/503/504 from service/admission.ts), then run with the ticket.
    if (this.deps.admission && !ticket) return this.deps.admission.run(model.name, version.name, (t) => this.runOn(model, version, reason, request, t));
    // Looked up before the run: should a registry reload remove the version meanwhile, this
    // request's counts go to series no longer exported, rather than bringing them back.
    const series = this.deps.metrics.versionSeries(model.name, version.name);
    const started = performance.now();
    let outcome: InferenceOutcome = 'success';
    try {
      const outputs = await runVersion(this.deps.cache, model.name, version, request.inputs, request.outputs, request.signal, this.deps.batchers);
      return { model: model.name, version: version.name, reason, outputs };
    } catch (err) {
      // A caller that gave up is not the version's failure (the guard must not roll back for it).
      outcome = isClientError(err) || request.signal?.aborted === true ? 'client_error' : 'server_error';
      throw err;
    } finally {
      if (ticket?.timedOut) outcome = 'server_error'; // the caller got a 504
      const seconds = (performance.now() - started) / 1000;
      series.requests[outcome].inc();
      series.duration.observe(seconds);
      this.deps.onOutcome?.(model, version, outcome, seconds);
    }
  }

  /** V2 metadata of one version (the primary one when `ref` is absent); loads it if needed. */
  async metadata(modelName: string, ref?: string): Promise<ModelMetadata> {
    const model = this.model(modelName);
    const version = this.version(model, ref);
    const lease = await this.deps.cache.acquire(model.name, version);
    try {
      return describe(model, lease.session.signature);
    } finally {
      lease.release();
    }
  }

  /** A version is ready when loaded or loadable (no failed load waiting for its retry). */
  versionState(modelName: string, ref?: string): VersionState {
    const model = this.model(modelName);
    return this.deps.cache.state(model.name, this.version(model, ref));
  }

  /**
   * Ready when every version with traffic is warm (loaded once and not failing), or its model's
   * fallback is; `waiting` names the versions that hold readiness back.
   */
  readiness(): { ready: boolean; waiting: string[] } {
    const waiting: string[] = [];
    for (const model of this.deps.registry.current().models.values()) {
      const weightOf = this.deps.traffic?.weightOf(model) ?? ((v: VersionEntry) => v.weight);
      const fallback = model.fallback === undefined ? undefined : findVersion(model, model.fallback);
      const fallbackWarm = fallback !== undefined && this.deps.cache.isWarm(model.name, fallback);
      for (const v of model.versions) {
        if (weightOf(v) > 0 && !this.deps.cache.isWarm(model.name, v) && !fallbackWarm) waiting.push(`${model.name}/${v.name}`);
      }
    }
    return { ready: waiting.length === 0, waiting };
  }

  /** The model /predict means when it names none: the only one, when the registry has one. */
  soleModel(): string | undefined {
    const models = this.deps.registry.current().models;
    return models.size === 1 ? [...models.keys()][0] : undefined;
  }

  /** Loads every version with traffic; failures are logged and left to their retry. */
  async warm(): Promise<{ loaded: number; failed: number }> {
    let loaded = 0;
    let failed = 0;
    for (const model of this.deps.registry.current().models.values()) {
      for (const version of model.versions.filter((v) => v.weight > 0)) {
        try {
          (await this.deps.cache.acquire(model.name, version)).release();
          loaded++;
        } catch (err) {
          failed++;
          this.deps.log.warn({ model: model.name, version: version.name, err: String(err) }, 'warm-up load failed');
        }
      }
    }
    return { loaded, failed };
  }
}

function v2Shape(shape: ReadonlyArray<number | string>): number[] {
  return shape.map((d) => (typeof d === 'number' && d >= 0 ? d : -1));
}

function describe(model: ModelEntry, signature: Signature): ModelMetadata {
  return {
    name: model.name,
    versions: model.versions.map((v) => v.name),
    platform: 'onnx_onnxv1',
    inputs: signature.inputs.map((i) => ({ name: i.name, datatype: V2_DATATYPE[i.type], shape: v2Shape(i.shape) })),
    outputs: signature.outputs.flatMap((o) => (o.isTensor ? [{ name: o.name, datatype: V2_DATATYPE[o.type], shape: v2Shape(o.shape) }] : [])),
  };
}

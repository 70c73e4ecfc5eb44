// Effective traffic: the live revision's weights, less the versions the guard has rolled back.
// A rollback holds until the registry changes: a new revision (usually the written-back one,
// where the version has weight 0 anyway) starts from its own declared weights.
import { versionKey, type ModelEntry, type VersionEntry } from '../registry/revision.js';
import type { WeightOf } from '../routing/route.js';

export type RollbackReason = 'error_rate' | 'p99_latency';

export interface Rollback {
  readonly reason: RollbackReason;
  readonly at: Date;
  /** True once the registry source carries weight 0 for it (every replica follows). */
  persisted: boolean;
}

export class TrafficControl {
  private rollbacks = new Map<string, Rollback>();
  private readonly weightFns = new WeakMap<ModelEntry, WeightOf>();

  /** A new revision: its declared weights apply again. */
  reset(): void {
    this.rollbacks = new Map();
  }

  /** The routing weight function for a model; built once per model entry, not per request. */
  weightOf(model: ModelEntry): WeightOf {
    let fn = this.weightFns.get(model);
    if (!fn) {
      fn = (v: VersionEntry) => (this.rollbacks.size > 0 && this.rollbacks.has(versionKey(model.name, v.name)) ? 0 : v.weight);
      this.weightFns.set(model, fn);
    }
    return fn;
  }

  effectiveWeight(model: ModelEntry, version: VersionEntry): number {
    return this.weightOf(model)(version);
  }

  /** True when the other versions of the model would still carry traffic without this one. */
  canRollBack(model: ModelEntry, version: VersionEntry): boolean {
    const weightOf = this.weightOf(model);
    return weightOf(version) > 0 && model.versions.some((v) => v !== version && weightOf(v) > 0);
  }

  rollBack(model: string, version: string, reason: RollbackReason, at: Date): Rollback {
    const rollback: Rollback = { reason, at, persisted: false };
    this.rollbacks.set(versionKey(model, version), rollback);
    return rollback;
  }

  rollbackOf(model: string, version: string): Rollback | undefined {
    return this.rollbacks.get(versionKey(model, version));
  }

  /** Effective weight by names, for metrics that publish every version's share. */
  readonly weightByName = (model: string, version: string, declared: number): number =>
    this.rollbacks.has(versionKey(model, version)) ? 0 : declared;
}


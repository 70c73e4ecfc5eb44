// The admin use cases: what the live registry is (revision, effective weights, guard state,
// loaded sessions) and "check the registry source now". HTTP-free, like the inference service.
import type { ModelCache } from '../cache/model-cache.js';
import type { RegistryHolder } from '../registry/holder.js';
import { trafficShares, versionKey } from '../registry/revision.js';
import type { RolloutController } from '../rollout/controller.js';
import type { Guard } from '../rollout/guard.js';
import type { Reloader, ReloadOutcome } from '../rollout/reloader.js';
import type { TrafficControl } from '../rollout/traffic.js';

export interface GuardStatus {
  readonly state: 'ok' | 'rolled_back';
  readonly reason?: string;
  readonly at?: string;
  readonly persisted?: boolean;
  readonly requests: number;
  readonly errorRate: number;
  readonly p99Ms: number;
}

export interface VersionStatus {
  readonly name: string;
  readonly uri: string;
  readonly weight: number;
  readonly effectiveWeight: number;
  readonly share: number;
  readonly shadow: number;
  readonly state: 'loaded' | 'loadable' | 'failed';
  readonly loaded: boolean;
  readonly bytes: number | null;
  readonly guard: GuardStatus | null;
}

export interface ModelStatus {
  readonly name: string;
  readonly sticky: string | null;
  readonly fallback: string | null;
  readonly aliases: Readonly<Record<string, string>>;
  readonly versions: readonly VersionStatus[];
}

export interface RegistryStatus {
  readonly revision: string;
  readonly source: string;
  readonly loadedAt: string;
  readonly models: readonly ModelStatus[];
}

export interface AdminDeps {
  readonly registry: RegistryHolder;
  readonly cache: ModelCache;
  readonly traffic: TrafficControl;
  readonly guard: Guard;
  readonly controller: RolloutController;
  readonly reloader: Reloader;
  readonly sourceDescription: string;
}

export class AdminService {
  constructor(private readonly deps: AdminDeps) {}

  status(): RegistryStatus {
    const { registry, cache, traffic, guard, controller, reloader } = this.deps;
    const revision = registry.current();
    const loaded = new Map(cache.loaded().map((e) => [versionKey(e.model, e.version), e.bytes]));
    const models: ModelStatus[] = [...revision.models.values()].map((model) => {
      const weightOf = traffic.weightOf(model);
      const shares = trafficShares(model, weightOf);
      return {
        name: model.name,
        sticky: model.sticky ?? null,
        fallback: model.fallback ?? null,
        aliases: Object.fromEntries(model.aliases),
        versions: model.versions.map((v): VersionStatus => {
          const bytes = loaded.get(versionKey(model.name, v.name));
          let guardStatus: GuardStatus | null = null;
          if (model.guard) {
            const window = guard.snapshot(model.name, v.name) ?? { requests: 0, errorRate: 0, p99Ms: 0 };
            const rollback = controller.lastRollback(model.name, v.name);
            // Rolled back: in memory now, or written back and still at weight 0 in the registry.
            const rolledBack = rollback !== undefined && (traffic.rollbackOf(model.name, v.name) !== undefined || v.weight === 0);
            guardStatus = {
              state: rolledBack ? 'rolled_back' : 'ok',
              ...(rolledBack && rollback ? { reason: rollback.reason, at: rollback.at.toISOString(), persisted: rollback.persisted } : {}),
              requests: window.requests,
              errorRate: window.errorRate,
              p99Ms: window.p99Ms,
            };
          }
          return {
            name: v.name,
            uri: v.uri,
            weight: v.weight,
            effectiveWeight: weightOf(v),
            share: shares.get(v.name) ?? 0,
            shadow: v.shadow,
            state: cache.state(model.name, v),
            loaded: bytes !== undefined,
            bytes: bytes ?? null,
            guard: guardStatus,
          };
        }),
      };
    });
    return { revision: revision.id, source: this.deps.sourceDescription, loadedAt: reloader.loadedAt.toISOString(), models };
  }

  reload(): Promise<ReloadOutcome> {
    return this.deps.reloader.check();
  }
}

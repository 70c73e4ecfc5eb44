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

/** Every process of a cluster (src/cluster/worker.ts): the same question put to each of them. */
export interface AdminPeers {
  statuses(): Promise<RegistryStatus[]>;
  reloads(): Promise<ReloadOutcome[]>;
}

export class AdminService {
  private peers: AdminPeers | undefined;

  constructor(private readonly deps: AdminDeps) {}

  /** Joins a cluster: registryStatus() and reload() then speak for every process. */
  usePeers(peers: AdminPeers): void {
    this.peers = peers;
  }

  /** The gateway's status: this process's, or every process's merged (mergeStatuses). */
  async registryStatus(): Promise<RegistryStatus> {
    return this.peers ? mergeStatuses(await this.peers.statuses()) : this.status();
  }

  /** Checks the registry source now, in every process of a cluster before answering. */
  async reload(): Promise<ReloadOutcome> {
    return this.peers ? mergeReloads(await this.peers.reloads()) : this.reloadHere();
  }

  /** This process's check of the registry source. */
  reloadHere(): Promise<ReloadOutcome> {
    return this.deps.reloader.check();
  }

  /** This process's status. */
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
}

/**
 * One status for several processes. The registry is the first process's (they converge through
 * the source); a version is loaded where any process has it loaded (bytes: one copy), failed
 * only where none has it; its guard state is the most advanced any process reports, since every
 * process's guard hears the whole cluster's traffic.
 */
export function mergeStatuses(statuses: readonly RegistryStatus[]): RegistryStatus {
  const [first, ...rest] = statuses;
  if (!first) throw new Error('no status to merge');
  const others = rest.map((s) => new Map(s.models.flatMap((m) => m.versions.map((v) => [versionKey(m.name, v.name), v] as const))));
  return {
    ...first,
    models: first.models.map((model) => ({
      ...model,
      versions: model.versions.map((v) => {
        const all = [v, ...others.map((o) => o.get(versionKey(model.name, v.name))).filter((x): x is VersionStatus => x !== undefined)];
        const loaded = all.filter((x) => x.loaded);
        const rolledBack = all.find((x) => x.guard?.state === 'rolled_back');
        const busiest = all.reduce((a, b) => ((b.guard?.requests ?? 0) > (a.guard?.requests ?? 0) ? b : a));
        return {
          ...v,
          effectiveWeight: Math.min(...all.map((x) => x.effectiveWeight)),
          share: rolledBack ? rolledBack.share : v.share,
          state: loaded.length > 0 ? 'loaded' : all.some((x) => x.state === 'failed') ? 'failed' : 'loadable',
          loaded: loaded.length > 0,
          bytes: loaded[0]?.bytes ?? null,
          // The window of the process that has heard the most (the others' batches may be in flight).
          guard: v.guard && {
            ...(rolledBack?.guard ?? { state: 'ok' }),
            ...(rolledBack && all.some((x) => x.guard?.persisted) ? { persisted: true } : {}),
            requests: busiest.guard?.requests ?? 0,
            errorRate: busiest.guard?.errorRate ?? 0,
            p99Ms: busiest.guard?.p99Ms ?? 0,
          },
        } satisfies VersionStatus;
      }),
    })),
  };
}

/**
 * One answer for a reload run in every process: the first invalid or unreachable outcome (with
 * its problems) if any process had one, else success if any process swapped revisions.
 */
export function mergeReloads(outcomes: readonly ReloadOutcome[]): ReloadOutcome {
  const failed = outcomes.find((o) => o.result === 'invalid') ?? outcomes.find((o) => o.result === 'unreachable');
  if (failed) return failed;
  const first = outcomes[0];
  if (!first) throw new Error('no reload outcome to merge');
  return outcomes.find((o) => o.result === 'success') ?? first;
}

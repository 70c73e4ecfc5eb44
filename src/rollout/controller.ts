// Acts on the guard's judgement: a breaching version is routed away at once (effective weight
// 0), counted, logged as one structured event, and written back to the registry source so every
// replica follows. Where the source cannot be written, the rollback holds in memory until the
// registry changes.
import type { GatewayMetrics, InferenceOutcome } from '../metrics/metrics.js';
import { setWeights } from '../registry/editor.js';
import type { RegistryHolder } from '../registry/holder.js';
import { versionKey, type ModelEntry, type VersionEntry } from '../registry/revision.js';
import type { RegistrySource } from '../registry/source.js';
import type { Guard } from './guard.js';
import type { Reloader, ReloadLogger } from './reloader.js';
import type { Rollback, TrafficControl } from './traffic.js';

export interface ControllerDeps {
  readonly holder: RegistryHolder;
  readonly traffic: TrafficControl;
  readonly guard: Guard;
  readonly metrics: GatewayMetrics;
  readonly log: ReloadLogger;
  readonly source: RegistrySource;
  readonly reloader: Reloader;
  readonly now?: () => Date;
}

export class RolloutController {
  /** The last rollback of each version, kept for display after the registry caught up. */
  private readonly history = new Map<string, Rollback>();
  private writes: Promise<unknown> = Promise.resolve();

  constructor(private readonly deps: ControllerDeps) {}

  /** The service's outcome hook: one call per finished inference request. */
  readonly observe = (model: ModelEntry, version: VersionEntry, outcome: InferenceOutcome, seconds: number): void => {
    const breach = this.deps.guard.observe(model, version.name, outcome, seconds * 1000);
    if (!breach) return;
    const { holder, traffic, metrics, log } = this.deps;
    // A request that started on an older revision judges a model entry that is no longer live.
    if (holder.current().models.get(model.name) !== model || !traffic.canRollBack(model, version)) return;
    const rollback = traffic.rollBack(model.name, version.name, breach.reason, (this.deps.now ?? (() => new Date()))());
    this.history.set(versionKey(model.name, version.name), rollback);
    metrics.rollbacks.inc({ model: model.name, version: version.name, reason: breach.reason });
    metrics.syncRevision(holder.current(), traffic.weightByName);
    log.warn(
      {
        event: 'guard_rollback',
        model: model.name,
        version: version.name,
        reason: breach.reason,
        requests: breach.snapshot.requests,
        errorRate: breach.snapshot.errorRate,
        p99Ms: breach.snapshot.p99Ms,
        policy: breach.policy,
      },
      `guard rolled back ${model.name} version ${version.name} (${breach.reason})`,
    );
    this.writes = this.writes.then(() => this.persist(model.name, version.name, rollback));
  };

  /** The most recent rollback of a version, live or already in the registry. */
  lastRollback(model: string, version: string): Rollback | undefined {
    return this.history.get(versionKey(model, version));
  }

  /** Resolves when every write-back started so far has finished (tests, shutdown). */
  settled(): Promise<void> {
    return this.writes.then(() => undefined);
  }

  private async persist(model: string, version: string, rollback: Rollback): Promise<void> {
    const { source, log, reloader } = this.deps;
    if (!source.update) {
      log.info({ event: 'guard_rollback_in_memory', model, version, source: source.description }, 'registry source is read-only; the rollback holds in memory until the registry changes');
      return;
    }
    try {
      await source.update((text, current) => {
        const m = current.models.get(model);
        const v = m?.versions.find((x) => x.name === version);
        // Another replica (or a person) got there first, or it would leave the model no traffic.
        if (!m || !v || v.weight === 0 || !m.versions.some((o) => o !== v && o.weight > 0)) return text;
        return setWeights(text, model, { [version]: 0 });
      }, 5);
      rollback.persisted = true;
      log.info({ event: 'guard_rollback_written', model, version, source: source.description }, 'rollback written to the registry');
      await reloader.check();
    } catch (err) {
      log.warn(
        { event: 'guard_rollback_not_written', model, version, source: source.description, err: err instanceof Error ? err.message : String(err) },
        'could not write the rollback to the registry; it holds in memory until the registry changes',
      );
    }
  }
}


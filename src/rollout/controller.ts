// Acts on the guard's judgement: a breaching version is routed away at once (effective weight
// 0), counted, logged as one structured event, and written back to the registry source so every
// replica follows. Where the source cannot be written, the rollback holds in memory until the
// registry changes.
//
// In a cluster (PROCESSES > 1) the processes act as one gateway: each passes its guarded outcomes
// to the others in small batches (RollbackPeers.share), so every process's guard judges the whole
// gateway's traffic; a process that sees a breach routes away at once and claims the rollback;
// exactly one claim per version and revision wins, and only its process counts, logs and writes
// it back, while the others hold it in memory (rolledBackElsewhere) until the registry changes.
import type { GatewayMetrics, InferenceOutcome } from '../metrics/metrics.js';
import { setWeights } from '../registry/editor.js';
import type { RegistryHolder } from '../registry/holder.js';
import { versionKey, type ModelEntry, type VersionEntry } from '../registry/revision.js';
import type { RegistrySource } from '../registry/source.js';
import type { Breach, Guard } from './guard.js';
import type { Reloader, ReloadLogger } from './reloader.js';
import type { Rollback, RollbackReason, TrafficControl } from './traffic.js';

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

export interface RollbackClaim {
  readonly model: string;
  readonly version: string;
  /** The revision the breach was judged on: a claim on another revision is a different rollback. */
  readonly revision: string;
  readonly reason: RollbackReason;
  /** ISO time of the rollback. */
  readonly at: string;
}

/** The other processes of a cluster (src/cluster/worker.ts); absent in a single process. */
export interface RollbackPeers {
  /** One guarded outcome seen here, passed on (batched) to the other processes' guards. */
  share(model: string, version: string, error: boolean, latencyMs: number): void;
  /** True for exactly one claimant per (revision, model, version); the others hear of the winner. */
  claim(claim: RollbackClaim): Promise<boolean>;
  /** This process wrote the rollback to the registry; the others mark it and reload. */
  persisted(model: string, version: string): void;
}

export class RolloutController {
  /** The last rollback of each version, kept for display after the registry caught up. */
  private readonly history = new Map<string, Rollback>();
  private writes: Promise<unknown> = Promise.resolve();
  private peers: RollbackPeers | undefined;

  constructor(private readonly deps: ControllerDeps) {}

  /** Joins a cluster: guarded outcomes are shared and rollbacks claimed (see the file comment). */
  usePeers(peers: RollbackPeers): void {
    this.peers = peers;
  }

  /** The service's outcome hook: one call per finished inference request. */
  readonly observe = (model: ModelEntry, version: VersionEntry, outcome: InferenceOutcome, seconds: number): void => {
    const ms = seconds * 1000;
    const breach = this.deps.guard.observe(model, version.name, outcome, ms);
    // The same outcomes the guard counts (Guard.observe), and only for guarded models.
    if (this.peers && model.guard && (outcome === 'success' || outcome === 'server_error')) this.peers.share(model.name, version.name, outcome === 'server_error', ms);
    if (breach) this.onBreach(model, version, breach);
  };

  /**
   * Outcomes another process of the cluster saw, as [latencyMs, error ? 1 : 0] pairs: judged by
   * this process's guard as if they were its own (the live revision's entry of the version).
   */
  observeShared(modelName: string, versionName: string, samples: readonly number[]): void {
    const model = this.deps.holder.current().models.get(modelName);
    const version = model?.versions.find((v) => v.name === versionName);
    if (!model?.guard || !version) return;
    let breach: Breach | undefined;
    for (let i = 0; i + 1 < samples.length; i += 2) {
      breach = this.deps.guard.observe(model, versionName, samples[i + 1] === 1 ? 'server_error' : 'success', samples[i] ?? 0) ?? breach;
    }
    if (breach) this.onBreach(model, version, breach);
  }

  /** Another process won the claim: route away here too; it holds in memory until the registry changes. */
  rolledBackElsewhere(claim: RollbackClaim): void {
    const { holder, traffic, metrics, log } = this.deps;
    const revision = holder.current();
    const model = revision.models.get(claim.model);
    const version = model?.versions.find((v) => v.name === claim.version);
    // A process on another revision either catches up (and the registry decides) or has moved on.
    if (revision.id !== claim.revision || !model || !version) return;
    if (!traffic.rollbackOf(claim.model, claim.version) && !traffic.canRollBack(model, version)) return;
    // Also where this process had rolled it back itself (its claim lost): the winner's record is kept.
    this.history.set(versionKey(claim.model, claim.version), traffic.rollBack(claim.model, claim.version, claim.reason, new Date(claim.at)));
    metrics.syncRevision(revision, traffic.weightByName);
    log.info({ event: 'guard_rollback_shared', model: claim.model, version: claim.version, reason: claim.reason }, `another gateway process rolled back ${claim.model} version ${claim.version}; routing away from it here too`);
  }

  /** Another process wrote a rollback to the registry: say so, and read the registry now. */
  persistedElsewhere(model: string, version: string): Promise<unknown> {
    const rollback = this.history.get(versionKey(model, version));
    if (rollback) rollback.persisted = true;
    return this.deps.reloader.check();
  }

  private onBreach(model: ModelEntry, version: VersionEntry, breach: Breach): void {
    const { holder, traffic, metrics } = this.deps;
    // A request that started on an older revision judges a model entry that is no longer live.
    if (holder.current().models.get(model.name) !== model || !traffic.canRollBack(model, version)) return;
    const rollback = traffic.rollBack(model.name, version.name, breach.reason, (this.deps.now ?? (() => new Date()))());
    this.history.set(versionKey(model.name, version.name), rollback);
    metrics.syncRevision(holder.current(), traffic.weightByName);
    const peers = this.peers;
    if (!peers) {
      this.record(model.name, version.name, breach);
      this.writes = this.writes.then(() => this.persist(model.name, version.name, rollback));
      return;
    }
    // Routed away here at once; counted, logged and written only by the process whose claim wins.
    const claim: RollbackClaim = { model: model.name, version: version.name, revision: holder.current().id, reason: breach.reason, at: rollback.at.toISOString() };
    this.writes = this.writes
      .then(() => peers.claim(claim))
      .then(
        (won) => {
          if (!won) return;
          this.record(model.name, version.name, breach);
          return this.persist(model.name, version.name, rollback);
        },
        (err: unknown) => this.deps.log.warn({ event: 'guard_claim_failed', model: model.name, version: version.name, err: String(err) }, 'could not reach the cluster primary; the rollback holds in this process only'),
      );
  }

  /** Counts and logs one rollback (the one process that does, in a cluster). */
  private record(model: string, version: string, breach: Breach): void {
    const { metrics, log } = this.deps;
    metrics.rollbacks.inc({ model, version, reason: breach.reason });
    log.warn(
      {
        event: 'guard_rollback',
        model,
        version,
        reason: breach.reason,
        requests: breach.snapshot.requests,
        errorRate: breach.snapshot.errorRate,
        p99Ms: breach.snapshot.p99Ms,
        policy: breach.policy,
      },
      `guard rolled back ${model} version ${version} (${breach.reason})`,
    );
  }

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
      this.peers?.persisted(model, version);
    } catch (err) {
      log.warn(
        { event: 'guard_rollback_not_written', model, version, source: source.description, err: err instanceof Error ? err.message : String(err) },
        'could not write the rollback to the registry; it holds in memory until the registry changes',
      );
    }
  }
}


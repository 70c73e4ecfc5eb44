// Hot reload: checks the registry source (a cheap probe first), validates a changed registry,
// warms the versions that will newly take traffic, then swaps the whole revision at once.
// Requests in flight keep the revision and sessions they started with. An invalid or
// unreachable registry is counted and logged, and the last good revision keeps serving.
// Each check also notices gs:// model objects replaced in place and swaps their sessions.
import { cacheKey, type ModelCache } from '../cache/model-cache.js';
import type { GatewayMetrics } from '../metrics/metrics.js';
import type { RegistryHolder } from '../registry/holder.js';
import { formatProblem, RegistryValidationError } from '../registry/parse.js';
import type { CacheLimits, Revision, VersionEntry } from '../registry/revision.js';
import type { RegistrySource, SourceRead } from '../registry/source.js';
import type { Location } from '../storage/location.js';
import type { Guard } from './guard.js';
import type { TrafficControl } from './traffic.js';

export type ReloadResult = 'success' | 'unchanged' | 'invalid' | 'unreachable';

export interface ReloadOutcome {
  readonly result: ReloadResult;
  /** The live revision after the check. */
  readonly revision: string;
  readonly problems?: readonly string[];
}

export interface ReloadLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface ReloaderDeps {
  readonly source: RegistrySource;
  readonly holder: RegistryHolder;
  readonly cache: ModelCache;
  readonly metrics: GatewayMetrics;
  readonly traffic: TrafficControl;
  readonly guard: Guard;
  readonly log: ReloadLogger;
  /** The content version of a model object (gs:// generation), to notice in-place replacement. */
  readonly probeModel: (location: Location) => Promise<string>;
  /** Deletes cached downloads no revision uses (optional: local-only stores have none). */
  readonly prune?: (keep: readonly Location[]) => Promise<unknown>;
  /** This process's part of a revision's cache bounds (a cluster shares them out); default: all. */
  readonly cacheLimits?: (limits: CacheLimits) => CacheLimits;
  /** Called after a new revision is live. */
  readonly onSwap?: (next: Revision, previous: Revision) => void;
}

export class Reloader {
  /** The source content version of the live revision. */
  private applied: string;
  /** The last content that failed, so an unchanged bad registry is not re-read every poll. */
  private lastBad: { readonly contentVersion: string; readonly outcome: ReloadOutcome } | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;
  loadedAt = new Date();

  constructor(
    private readonly deps: ReloaderDeps,
    initial: SourceRead,
  ) {
    this.applied = initial.contentVersion;
  }

  /** Polls every `seconds` (0 = never); the timer never keeps the process alive. */
  start(seconds: number): void {
    if (seconds <= 0 || this.timer) return;
    let polling = false;
    this.timer = setInterval(() => {
      // A check slower than the interval (a long warm-up) must not queue more behind it.
      if (polling) return;
      polling = true;
      void this.check()
        .catch((err: unknown) => this.deps.log.error({ err: String(err) }, 'registry check failed'))
        .finally(() => (polling = false));
    }, seconds * 1000);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Checks the source now; checks run one at a time, in order. */
  check(): Promise<ReloadOutcome> {
    const run = this.queue.then(() => this.checkNow());
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async checkNow(): Promise<ReloadOutcome> {
    const outcome = await this.checkRegistry();
    await this.refreshReplacedModels();
    return outcome;
  }

  private async checkRegistry(): Promise<ReloadOutcome> {
    const live = this.deps.holder.current().id;
    let version: string;
    try {
      version = await this.deps.source.probe();
    } catch (err) {
      return this.failed('unreachable', undefined, [String(err instanceof Error ? err.message : err)]);
    }
    if (version === this.applied) return { result: 'unchanged', revision: live };
    if (this.lastBad?.contentVersion === version) {
      // Still the same bad content: count it again (alerts see it persist), log it once.
      this.deps.metrics.registryReloads.inc({ result: this.lastBad.outcome.result });
      return this.lastBad.outcome;
    }
    let read: SourceRead;
    try {
      read = await this.deps.source.read();
    } catch (err) {
      if (err instanceof RegistryValidationError) return this.failed('invalid', version, err.problems.map(formatProblem));
      return this.failed('unreachable', undefined, [String(err instanceof Error ? err.message : err)]);
    }
    if (read.revision.id === live) {
      this.applied = read.contentVersion;
      return { result: 'unchanged', revision: live };
    }
    return this.apply(read);
  }

  private async apply(read: SourceRead): Promise<ReloadOutcome> {
    const { holder, cache, traffic, guard, metrics, log } = this.deps;
    const previous = holder.current();
    const next = read.revision;
    // Keep both revisions' sessions while the new versions warm up.
    cache.retain([...versionsOf(previous), ...versionsOf(next)]);
    const failures = await this.warmNewTraffic(next, previous);
    if (failures.length > 0) {
      cache.retain(versionsOf(previous));
      // Not remembered as bad content: a load failure may pass; the cache's backoff paces retries.
      return this.failed('invalid', undefined, failures);
    }
    guard.onRevision(next, previous);
    traffic.reset();
    holder.swap(next);
    cache.retain(versionsOf(next));
    cache.setLimits(this.deps.cacheLimits?.(next.cache) ?? next.cache);
    metrics.syncRevision(next, traffic.weightByName);
    metrics.registryReloads.inc({ result: 'success' });
    this.applied = read.contentVersion;
    this.lastBad = undefined;
    this.loadedAt = new Date();
    log.info({ event: 'registry_reloaded', revision: next.id, previous: previous.id, source: this.deps.source.description }, 'registry reloaded');
    this.deps.onSwap?.(next, previous);
    await this.prune(next);
    return { result: 'success', revision: next.id };
  }

  /** Loads every version that takes traffic in `next` but did not in `previous`. */
  private async warmNewTraffic(next: Revision, previous: Revision): Promise<string[]> {
    const before = new Set(versionsOf(previous, true).map((v) => cacheKey(v.model, v.version)));
    const failures: string[] = [];
    for (const { model, version } of versionsOf(next, true)) {
      if (before.has(cacheKey(model, version))) continue;
      try {
        (await this.deps.cache.acquire(model, version)).release();
      } catch (err) {
        failures.push(`models.${model}.versions.${version.name}: cannot be loaded (${err instanceof Error ? err.message : String(err)})`);
      }
    }
    return failures;
  }

  /** gs:// model objects overwritten in place get their new generation loaded and swapped in. */
  private async refreshReplacedModels(): Promise<void> {
    for (const { model, version, contentVersion } of this.deps.cache.loadedContent()) {
      if (version.location.kind !== 'gcs') continue;
      try {
        const current = await this.deps.probeModel(version.location);
        if (current === contentVersion) continue;
        this.deps.log.info({ event: 'model_object_changed', model, version: version.name, from: contentVersion, to: current }, 'model object replaced; loading it');
        await this.deps.cache.refresh(model, version);
        await this.prune(this.deps.holder.current());
      } catch (err) {
        this.deps.log.warn({ model, version: version.name, err: String(err) }, 'model object check failed; the loaded session keeps serving');
      }
    }
  }

  /** Deletes cached downloads the live revision does not use (at start-up). */
  pruneNow(): Promise<void> {
    return this.prune(this.deps.holder.current());
  }

  private async prune(revision: Revision): Promise<void> {
    if (!this.deps.prune) return;
    try {
      await this.deps.prune(versionsOf(revision).map((v) => v.version.location));
    } catch (err) {
      this.deps.log.warn({ err: String(err) }, 'model cache folder cleanup failed');
    }
  }

  private failed(result: 'invalid' | 'unreachable', contentVersion: string | undefined, problems: string[]): ReloadOutcome {
    const outcome: ReloadOutcome = { result, revision: this.deps.holder.current().id, problems };
    this.deps.metrics.registryReloads.inc({ result });
    this.deps.log.error(
      { event: 'registry_reload_failed', result, source: this.deps.source.description, revision: outcome.revision, problems },
      `registry ${result}; still serving revision ${outcome.revision}`,
    );
    if (contentVersion !== undefined) this.lastBad = { contentVersion, outcome };
    return outcome;
  }
}

function versionsOf(revision: Revision, withTrafficOnly = false): Array<{ model: string; version: VersionEntry }> {
  const out: Array<{ model: string; version: VersionEntry }> = [];
  for (const model of revision.models.values()) {
    for (const version of model.versions) if (!withTrafficOnly || version.weight > 0) out.push({ model: model.name, version });
  }
  return out;
}

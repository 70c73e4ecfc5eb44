// Loaded sessions, bounded by count and bytes, least recently used evicted. lru-cache's
// fetchMethod makes concurrent first requests share one load; leases count in-flight runs so an
// evicted session is released only after they finish; a failed load is remembered for a backoff
// and then retried, never cached forever.
import { performance } from 'node:perf_hooks';
import { LRUCache } from 'lru-cache';
import { GatewayError } from '../errors/catalogue.js';
import type { ModelSession, SessionFactory } from '../inference/session.js';
import type { GatewayMetrics } from '../metrics/metrics.js';
import type { CacheLimits, VersionEntry } from '../registry/revision.js';
import { cacheKey, Entry, type Lease, type LoadTarget } from './entry.js';
import { loadFailure, withRetryAfter } from './load-errors.js';
import { loadPeakEstimate, MemoryBudget, steadyEstimate, type ProcessSample, type Reservation } from './footprint.js';

export { cacheKey, type Lease } from './entry.js';
import type { BlobStore } from '../storage/store.js';

export interface CacheLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export interface ModelCacheOptions {
  readonly limits: CacheLimits;
  readonly store: BlobStore;
  readonly factory: SessionFactory;
  readonly metrics: GatewayMetrics;
  readonly log: CacheLogger;
  /** First retry delay after a failed load; doubles per failure up to retryMaxMs. */
  readonly retryBaseMs?: number;
  readonly retryMaxMs?: number;
  readonly now?: () => number;
  /** The process's RSS and thread count, read around each load (tests substitute it). */
  readonly sample?: () => ProcessSample;
}


interface LoadedSession {
  readonly session: ModelSession;
  /** Counted against maxBytes. */
  readonly bytes: number;
  readonly fileBytes: number;
  readonly contentVersion: string;
  /** Held until the entry is counted in the cache. */
  readonly reservation: Reservation;
}

/** A load under way. Requests that join it reserve a lease on the entry it will produce. */
interface PendingLoad {
  readonly promise: Promise<Entry>;
  waiters: number;
}

interface Failure {
  readonly error: GatewayError;
  readonly attempts: number;
  readonly retryAt: number;
}

export type VersionState = 'loaded' | 'loadable' | 'failed';

/**
 * cache.maxBytes bounds memory, not files: each loaded version counts its footprint (footprint.ts:
 * an estimate from its file size, or the RSS growth measured around its load when that is more),
 * each load under way counts its peak from before it starts, and an evicted version still counts
 * until its session is released. The LRU holds the loaded ones; MemoryBudget the rest.
 *
 * Loads happen outside the LRU (lru-cache's fetchMethod counts a pending fetch toward `max` and
 * evicts it, failing its waiters): only a finished session takes a slot, and each request that
 * waited for a load holds a lease reserved before the entry could be evicted, so no request
 * fails because another version was loading, and every session is released exactly once.
 */
export class ModelCache {
  private lru: LRUCache<string, Entry>;
  private limits: CacheLimits;
  private readonly loading = new Map<string, PendingLoad>();
  private readonly failures = new Map<string, Failure>();
  /** Keys of the live revision's versions; undefined = any. Loads of other keys are not kept. */
  private wanted: ReadonlySet<string> | undefined;
  private readonly everLoaded = new Set<string>();
  private closed = false;
  private readonly now: () => number;
  private readonly retryBaseMs: number;
  private readonly retryMaxMs: number;
  private readonly budget: MemoryBudget;
  /** Footprints measured around a load with nothing overlapping it, reused when it loads again. */
  private readonly measured = new Map<string, number>();

  constructor(private readonly options: ModelCacheOptions) {
    this.now = options.now ?? Date.now;
    this.retryBaseMs = options.retryBaseMs ?? 1_000;
    this.retryMaxMs = options.retryMaxMs ?? 60_000;
    this.limits = options.limits;
    this.budget = new MemoryBudget(options.sample, undefined, () => this.publishGauges());
    this.lru = this.newLru(options.limits);
  }

  private newLru(limits: CacheLimits): LRUCache<string, Entry> {
    return new LRUCache<string, Entry>({
      max: limits.maxModels,
      maxSize: limits.maxBytes,
      sizeCalculation: (entry) => Math.max(1, entry.bytes),
      dispose: (entry, _key, reason) => {
        if (reason === 'evict') this.countEviction(entry);
        this.drop(entry);
      },
      disposeAfter: () => this.publishGauges(),
    });
  }

  /** A session for the version, loading it on first use. Release the lease when done. */
  async acquire(model: string, version: VersionEntry): Promise<Lease> {
    const key = cacheKey(model, version);
    const hit = this.lru.get(key);
    if (hit?.tryAcquire()) {
      this.options.metrics.cacheLookups.inc({ model, result: 'hit' });
      return hit.lease();
    }
    this.options.metrics.cacheLookups.inc({ model, result: 'miss' });
    const failure = this.failures.get(key);
    if (failure && this.now() < failure.retryAt) {
      throw withRetryAfter(failure.error, Math.ceil((failure.retryAt - this.now()) / 1000));
    }
    const pending = this.loading.get(key) ?? this.startLoad(key, { model, version });
    pending.waiters++;
    return (await pending.promise).lease();
  }

  private startLoad(key: string, target: LoadTarget, onLoaded = (entry: Entry) => this.keep(key, entry)): PendingLoad {
    const pending: PendingLoad = {
      waiters: 0,
      promise: this.load(key, target).then(
        ({ session, bytes, fileBytes, contentVersion, reservation }) => {
          // Synchronous from here on: no request can join between counting waiters and storing.
          this.loading.delete(key);
          const entry = new Entry(target, session, bytes, fileBytes, contentVersion, pending.waiters);
          onLoaded(entry);
          // Counted in the LRU (or as leaving) now: its load's reservation goes.
          reservation.release();
          this.fitBudget(0);
          return entry;
        },
        (err: unknown) => {
          this.loading.delete(key);
          throw err;
        },
      ),
    };
    this.loading.set(key, pending);
    // Waiters handle the rejection; this keeps a load nobody waits for from crashing the process.
    pending.promise.catch(() => undefined);
    return pending;
  }

  /** Stores a loaded entry, unless its version left the registry (or we are closing) meanwhile. */
  private keep(key: string, entry: Entry): void {
    if (this.closed || (this.wanted !== undefined && !this.wanted.has(key))) {
      this.drop(entry);
      return;
    }
    this.everLoaded.add(key);
    this.lru.set(key, entry);
    if (!this.lru.has(key)) this.drop(entry); // larger than the cache allows on its own
    this.publishGauges();
  }

  /**
   * Loads the version again from storage (its object was replaced in place) and swaps the new
   * session in; requests running on the old one finish there, and it is released after them.
   */
  async refresh(model: string, version: VersionEntry): Promise<void> {
    const key = cacheKey(model, version);
    if (this.loading.has(key) || !this.lru.has(key)) return;
    const pending = this.startLoad(key, { model, version }, (entry) => {
      if (this.lru.has(key)) this.keep(key, entry);
      else this.drop(entry);
    });
    await pending.promise;
  }

  /** Loaded sessions whose bytes may have changed at the source: gs:// objects and their generation. */
  loadedContent(): Array<{ model: string; version: VersionEntry; contentVersion: string }> {
    return [...this.lru.values()].map((e) => ({ model: e.target.model, version: e.target.version, contentVersion: e.contentVersion }));
  }

  /**
   * Keeps only these versions (a new registry revision): others are dropped now and released
   * once their running requests finish; loads of them still under way are not kept.
   */
  retain(versions: ReadonlyArray<{ model: string; version: VersionEntry }>): void {
    const wanted = new Set(versions.map((v) => cacheKey(v.model, v.version)));
    this.wanted = wanted;
    for (const [key, entry] of [...this.lru.entries()]) {
      if (wanted.has(key)) continue;
      this.lru.delete(key);
      this.options.log.info({ event: 'model_unloaded', model: entry.target.model, version: entry.target.version.name }, 'model unloaded: no longer in the registry');
    }
    for (const key of [...this.failures.keys()]) if (!wanted.has(key)) this.failures.delete(key);
    for (const key of [...this.everLoaded]) if (!wanted.has(key)) this.everLoaded.delete(key);
    for (const key of [...this.measured.keys()]) if (!wanted.has(key)) this.measured.delete(key);
  }

  /** New count and byte bounds (cache.* in a new revision); evicts down to them at once. */
  setLimits(limits: CacheLimits): void {
    if (limits.maxModels === this.limits.maxModels && limits.maxBytes === this.limits.maxBytes) return;
    this.limits = limits;
    const previous = this.lru;
    this.lru = this.newLru(limits);
    // Least recently used first, so the most recently used survive the new bounds.
    for (const key of [...previous.rkeys()]) {
      const entry = previous.peek(key);
      if (!entry) continue;
      this.lru.set(key, entry);
      if (!this.lru.has(key)) this.drop(entry);
    }
    this.fitBudget(0);
    this.publishGauges();
  }

  state(model: string, version: VersionEntry): VersionState {
    const key = cacheKey(model, version);
    if (this.lru.has(key)) return 'loaded';
    const failure = this.failures.get(key);
    return failure && this.now() < failure.retryAt ? 'failed' : 'loadable';
  }

  isLoaded(model: string, version: VersionEntry): boolean {
    return this.lru.has(cacheKey(model, version));
  }

  /** Loaded at least once in this revision and not failing now: fit to take traffic. */
  isWarm(model: string, version: VersionEntry): boolean {
    return this.everLoaded.has(cacheKey(model, version)) && this.state(model, version) !== 'failed';
  }

  /** Loaded entries, most recently used first: file size, and the footprint counted against maxBytes. */
  loaded(): Array<{ model: string; version: string; bytes: number; footprint: number }> {
    return [...this.lru.values()].map((e) => ({ model: e.target.model, version: e.target.version.name, bytes: e.fileBytes, footprint: e.bytes }));
  }

  /** Bytes counted against cache.maxBytes now: loaded versions, loads under way, retired sessions not yet released. */
  get accountedBytes(): number {
    return this.lru.calculatedSize + this.budget.owed;
  }

  /** A retired entry counts until its session is released. */
  private drop(entry: Entry): void {
    if (entry.retire()) this.budget.leave(entry);
  }

  private countEviction(entry: Entry): void {
    const labels = { model: entry.target.model, version: entry.target.version.name };
    this.options.metrics.evictions.inc(labels);
    this.options.log.info({ event: 'model_evicted', ...labels }, 'model evicted');
  }

  /**
   * Evicts idle versions, least recently used first, until `need` more bytes will fit in maxBytes
   * once the releases under way finish; true if they fit now. Versions with runs in flight stay:
   * evicting them would free nothing yet.
   */
  private fitBudget(need: number): boolean {
    const max = this.limits.maxBytes - need;
    for (const key of [...this.lru.rkeys()]) {
      if (this.lru.calculatedSize + this.budget.owedAfterReleases <= max) break;
      const entry = this.lru.peek(key);
      if (!entry?.idle) continue;
      this.countEviction(entry);
      this.lru.delete(key);
    }
    return this.accountedBytes <= max;
  }

  /** Releases every session (waiting for in-flight runs is the server's job at shutdown). */
  async close(): Promise<void> {
    this.closed = true;
    const entries = [...this.lru.values()];
    this.lru.clear();
    await Promise.all(entries.map((e) => e.releaseNow()));
  }

  private async load(key: string, target: LoadTarget): Promise<LoadedSession> {
    const labels = { model: target.model, version: target.version.name };
    const started = performance.now();
    let reservation: Reservation | undefined;
    try {
      // The store refuses, from metadata alone, an object larger than the whole cache may hold.
      const file = await this.options.store.fetch(target.version.location, { maxBytes: this.limits.maxBytes });
      const peak = loadPeakEstimate(file.bytes);
      reservation = await this.budget.reserve(peak, () => this.fitBudget(peak));
      const session = await this.options.factory.create(file.path);
      const measured = reservation.growth() ?? this.measured.get(key);
      if (measured !== undefined) this.measured.set(key, measured);
      const bytes = Math.max(steadyEstimate(file.bytes), measured ?? 0);
      if (bytes > this.limits.maxBytes) {
        // Measured larger than the whole cache: the LRU would refuse it, and every request would
        // load it again (evicting everything else first). Refused like an oversized file.
        await session.release();
        throw new Error(`loaded, it takes ${bytes} bytes of memory, more than cache.maxBytes (${this.limits.maxBytes}) allows`);
      }
      this.failures.delete(key);
      const ms = performance.now() - started;
      this.options.metrics.loads.inc({ ...labels, result: 'success' });
      this.options.metrics.loadDuration.observe(labels, ms / 1000);
      this.options.log.info({ event: 'model_loaded', ...labels, bytes: file.bytes, footprint: bytes, measured: measured ?? null, ms: Math.round(ms) }, 'model loaded');
      return { session, bytes, fileBytes: file.bytes, contentVersion: file.contentVersion, reservation };
    } catch (err) {
      reservation?.release();
      const error = loadFailure(target, err);
      const attempts = (this.failures.get(key)?.attempts ?? 0) + 1;
      const delay = Math.min(this.retryMaxMs, this.retryBaseMs * 2 ** (attempts - 1));
      this.failures.set(key, { error, attempts, retryAt: this.now() + delay });
      this.options.metrics.loads.inc({ ...labels, result: 'failure' });
      this.options.metrics.loadDuration.observe(labels, (performance.now() - started) / 1000);
      this.options.log.warn({ event: 'model_load_failed', ...labels, err: String(err), attempts, retryInMs: delay }, 'model load failed');
      throw withRetryAfter(error, Math.ceil(delay / 1000));
    }
  }

  private publishGauges(): void {
    this.options.metrics.modelsLoaded.set(this.lru.size);
    this.options.metrics.cacheBytes.set(this.accountedBytes);
  }
}

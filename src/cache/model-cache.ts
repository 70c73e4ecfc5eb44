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

  constructor(private readonly options: ModelCacheOptions) {
    this.now = options.now ?? Date.now;
    this.retryBaseMs = options.retryBaseMs ?? 1_000;
    this.retryMaxMs = options.retryMaxMs ?? 60_000;
    this.limits = options.limits;
    this.lru = this.newLru(options.limits);
  }

  private newLru(limits: CacheLimits): LRUCache<string, Entry> {
    return new LRUCache<string, Entry>({
      max: limits.maxModels,
      maxSize: limits.maxBytes,
      sizeCalculation: (entry) => Math.max(1, entry.bytes),
      dispose: (entry, _key, reason) => {
        const labels = { model: entry.target.model, version: entry.target.version.name };
        if (reason === 'evict') {
          this.options.metrics.evictions.inc(labels);
          this.options.log.info({ event: 'model_evicted', ...labels }, 'model evicted');
        }
        entry.retire();
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
        ({ session, bytes, contentVersion }) => {
          // Synchronous from here on: no request can join between counting waiters and storing.
          this.loading.delete(key);
          const entry = new Entry(target, session, bytes, contentVersion, pending.waiters);
          onLoaded(entry);
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
      entry.retire();
      return;
    }
    this.everLoaded.add(key);
    this.lru.set(key, entry);
    if (!this.lru.has(key)) entry.retire(); // larger than the cache allows on its own
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
      else entry.retire();
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
      if (!this.lru.has(key)) entry.retire();
    }
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

  /** Loaded entries, most recently used first. */
  loaded(): Array<{ model: string; version: string; bytes: number }> {
    return [...this.lru.values()].map((e) => ({ model: e.target.model, version: e.target.version.name, bytes: e.bytes }));
  }

  /** Releases every session (waiting for in-flight runs is the server's job at shutdown). */
  async close(): Promise<void> {
    this.closed = true;
    const entries = [...this.lru.values()];
    this.lru.clear();
    await Promise.all(entries.map((e) => e.releaseNow()));
  }

  private async load(key: string, target: LoadTarget): Promise<{ session: ModelSession; bytes: number; contentVersion: string }> {
    const labels = { model: target.model, version: target.version.name };
    const started = performance.now();
    try {
      // The store refuses, from metadata alone, an object larger than the whole cache may hold.
      const file = await this.options.store.fetch(target.version.location, { maxBytes: this.limits.maxBytes });
      const session = await this.options.factory.create(file.path);
      this.failures.delete(key);
      const ms = performance.now() - started;
      this.options.metrics.loads.inc({ ...labels, result: 'success' });
      this.options.metrics.loadDuration.observe(labels, ms / 1000);
      this.options.log.info({ event: 'model_loaded', ...labels, bytes: file.bytes, ms: Math.round(ms) }, 'model loaded');
      return { session, bytes: file.bytes, contentVersion: file.contentVersion };
    } catch (err) {
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
    this.options.metrics.cacheBytes.set(this.lru.calculatedSize);
  }
}

function loadFailure(target: LoadTarget, err: unknown): GatewayError {
  const what = `model "${target.model}" version "${target.version.name}"`;
  if (err instanceof GatewayError) return err;
  const detail = err instanceof Error ? err.message : String(err);
  return new GatewayError('MODEL_UNAVAILABLE', `${what} cannot be loaded: ${detail}`, {
    cause: err,
    publicMessage: `${what} cannot be loaded`,
  });
}

function withRetryAfter(err: GatewayError, seconds: number): GatewayError {
  if (err.code !== 'MODEL_UNAVAILABLE' && err.code !== 'STORAGE_ERROR') return err;
  return new GatewayError(err.code, err.message, {
    cause: err.cause,
    retryAfterSeconds: Math.max(1, seconds),
    ...(err.publicMessage === undefined ? {} : { publicMessage: err.publicMessage }),
  });
}

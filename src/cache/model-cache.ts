// Loaded sessions, bounded by count and bytes, least recently used evicted. lru-cache's
// fetchMethod makes concurrent first requests share one load; leases count in-flight runs so an
// evicted session is released only after they finish; a failed load is remembered for a backoff
// and then retried, never cached forever.
import { performance } from 'node:perf_hooks';
import { LRUCache } from 'lru-cache';
import { GatewayError } from '../errors/catalogue.js';
import type { SessionFactory, ModelSession } from '../inference/session.js';
import type { GatewayMetrics } from '../metrics/metrics.js';
import type { CacheLimits, VersionEntry } from '../registry/revision.js';
import { formatLocation } from '../storage/location.js';
import type { BlobStore } from '../storage/store.js';

export interface Lease {
  readonly session: ModelSession;
  /** Must be called exactly once when the run is over. */
  release(): void;
}

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

interface LoadTarget {
  readonly model: string;
  readonly version: VersionEntry;
}

class Entry {
  private inflight = 0;
  private retired = false;
  private released: Promise<void> | undefined;

  constructor(
    readonly target: LoadTarget,
    readonly session: ModelSession,
    readonly bytes: number,
  ) {}

  /** False once evicted: the caller must look the version up again. */
  tryAcquire(): boolean {
    if (this.retired) return false;
    this.inflight++;
    return true;
  }

  done(): void {
    this.inflight--;
    if (this.retired && this.inflight === 0) void this.releaseNow();
  }

  retire(): void {
    this.retired = true;
    if (this.inflight === 0) void this.releaseNow();
  }

  releaseNow(): Promise<void> {
    this.released ??= this.session.release().catch(() => undefined);
    return this.released;
  }
}

interface Failure {
  readonly error: GatewayError;
  readonly attempts: number;
  readonly retryAt: number;
}

export type VersionState = 'loaded' | 'loadable' | 'failed';

// Version entries are immutable and shared by every request of a revision: key each once.
const keys = new WeakMap<VersionEntry, string>();

export function cacheKey(model: string, version: VersionEntry): string {
  let key = keys.get(version);
  if (key === undefined) {
    // The location is part of the key: repointing a version at a new file loads it afresh.
    key = `${model}\u0000${version.name}\u0000${formatLocation(version.location)}`;
    keys.set(version, key);
  }
  return key;
}

export class ModelCache {
  private readonly lru: LRUCache<string, Entry, LoadTarget>;
  private readonly failures = new Map<string, Failure>();
  private readonly now: () => number;
  private readonly retryBaseMs: number;
  private readonly retryMaxMs: number;

  constructor(private readonly options: ModelCacheOptions) {
    this.now = options.now ?? Date.now;
    this.retryBaseMs = options.retryBaseMs ?? 1_000;
    this.retryMaxMs = options.retryMaxMs ?? 60_000;
    this.lru = new LRUCache<string, Entry, LoadTarget>({
      max: options.limits.maxModels,
      maxSize: options.limits.maxBytes,
      sizeCalculation: (entry) => Math.max(1, entry.bytes),
      fetchMethod: (key, _stale, { context }) => this.load(key, context),
      dispose: (entry, _key, reason) => {
        if (reason === 'evict') {
          options.metrics.evictions.inc({ model: entry.target.model, version: entry.target.version.name });
          options.log.info({ model: entry.target.model, version: entry.target.version.name }, 'model evicted');
        }
        entry.retire();
      },
      disposeAfter: () => this.publishGauges(),
    });
  }

  /** A session for the version, loading it on first use. Release the lease when done. */
  async acquire(model: string, version: VersionEntry): Promise<Lease> {
    const key = cacheKey(model, version);
    let counted = false;
    for (;;) {
      const failure = this.failures.get(key);
      if (failure && this.now() < failure.retryAt) {
        if (!counted) this.options.metrics.cacheLookups.inc({ model, result: 'miss' });
        throw withRetryAfter(failure.error, Math.ceil((failure.retryAt - this.now()) / 1000));
      }
      const status: LRUCache.Status<string, Entry, LoadTarget> = {};
      const entry = await this.lru.fetch(key, { context: { model, version }, status });
      // Only a load changes the cache's contents (evictions publish via disposeAfter).
      if (status.fetch !== 'hit') this.publishGauges();
      if (!counted) {
        this.options.metrics.cacheLookups.inc({ model, result: status.fetch === 'hit' ? 'hit' : 'miss' });
        counted = true;
      }
      if (!entry) throw new GatewayError('INTERNAL', `model cache returned no session for ${model}/${version.name}`);
      // False when evicted between load and now (another load pushed it out): look it up again.
      if (entry.tryAcquire()) {
        let released = false;
        return {
          session: entry.session,
          release: () => {
            if (released) return;
            released = true;
            entry.done();
          },
        };
      }
    }
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

  /** Loaded entries, most recently used first. */
  loaded(): Array<{ model: string; version: string; bytes: number }> {
    return [...this.lru.values()].map((e) => ({ model: e.target.model, version: e.target.version.name, bytes: e.bytes }));
  }

  /** Releases every session (waiting for in-flight runs is the server's job at shutdown). */
  async close(): Promise<void> {
    const entries = [...this.lru.values()];
    this.lru.clear();
    await Promise.all(entries.map((e) => e.releaseNow()));
  }

  private async load(key: string, target: LoadTarget | undefined): Promise<Entry> {
    if (!target) throw new Error('model cache fetch without context');
    const labels = { model: target.model, version: target.version.name };
    const started = performance.now();
    try {
      const file = await this.options.store.fetch(target.version.location);
      if (file.bytes > this.options.limits.maxBytes) {
        throw new GatewayError(
          'MODEL_UNAVAILABLE',
          `model "${target.model}" version "${target.version.name}" is ${file.bytes} bytes, more than cache.maxBytes (${this.options.limits.maxBytes})`,
        );
      }
      const session = await this.options.factory.create(file.path);
      this.failures.delete(key);
      this.options.metrics.loads.inc({ ...labels, result: 'success' });
      this.options.metrics.loadDuration.observe(labels, (performance.now() - started) / 1000);
      this.options.log.info({ ...labels, bytes: file.bytes, ms: Math.round(performance.now() - started) }, 'model loaded');
      return new Entry(target, session, file.bytes);
    } catch (err) {
      const error = loadFailure(target, err);
      const attempts = (this.failures.get(key)?.attempts ?? 0) + 1;
      const delay = Math.min(this.retryMaxMs, this.retryBaseMs * 2 ** (attempts - 1));
      this.failures.set(key, { error, attempts, retryAt: this.now() + delay });
      this.options.metrics.loads.inc({ ...labels, result: 'failure' });
      this.options.metrics.loadDuration.observe(labels, (performance.now() - started) / 1000);
      this.options.log.warn({ ...labels, err: String(err), attempts, retryInMs: delay }, 'model load failed');
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

// The composition root: wires storage → registry → cache → rollout → service → HTTP from plain
// options. The server entry and the tests both build gateways here; neither reads globals.
import type Koa from 'koa';
import type { StorageOptions } from '@google-cloud/storage';
import { ModelCache } from './cache/model-cache.js';
import { ConsoleFeed } from './console/feed.js';
import { createApp, type Lifecycle } from './http/app.js';
import type { HttpLogger } from './http/middleware.js';
import { Batchers } from './inference/batcher.js';
import { InferencePool } from './inference/pool/pool.js';
import { createOrtSessionFactory, type SessionFactory } from './inference/session.js';
import { GatewayMetrics } from './metrics/metrics.js';
import { Admission, type AdmissionLimits } from './service/admission.js';
import { RegistryHolder } from './registry/holder.js';
import type { CacheLimits } from './registry/revision.js';
import { singleModelSource, storeSource, type RegistrySource } from './registry/source.js';
import { stableHash, type RouteDeps } from './routing/route.js';
import { RolloutController } from './rollout/controller.js';
import { Guard } from './rollout/guard.js';
import { Reloader } from './rollout/reloader.js';
import { TrafficControl } from './rollout/traffic.js';
import { AdminService } from './service/admin-service.js';
import { GatewayService } from './service/gateway-service.js';
import { ShadowRunner } from './service/shadow.js';
import { StatsSampler } from './stats/sampler.js';
import { TrafficStats } from './stats/traffic-stats.js';
import { createGcsClient } from './storage/gcs.js';
import { createBlobStore, type BlobStore } from './storage/store.js';

export interface GatewayLogger extends HttpLogger {
  debug(obj: object, msg: string): void;
}

export interface GatewayOptions {
  /** MODEL_REGISTRY: a path, file:// URL or gs:// URI. */
  readonly registry: string;
  /** REMOTE_MODEL_PATH: serve this one model file as `default` version `1` instead of a registry. */
  readonly remoteModelPath?: string | undefined;
  readonly modelCacheDir: string;
  readonly modelRoots?: readonly string[];
  readonly cwd?: string;
  /** Concurrency limits, queues and the request deadline (REQUEST_TIMEOUT_SECONDS); defaults in service/admission.ts. */
  readonly admission?: Partial<AdmissionLimits>;
  readonly storageEmulatorHost?: string | undefined;
  readonly gcsRetryOptions?: StorageOptions['retryOptions'];
  /** Per-request GCS timeout (and download stall limit); default 60 s. */
  readonly gcsTimeoutMs?: number;
  readonly maxBodyBytes?: number;
  readonly log: GatewayLogger;
  readonly route?: Partial<RouteDeps>;
  /** Which requests are copied to shadow versions; uniform in [0, 1). */
  readonly shadowRandom?: () => number;
  readonly sessionFactory?: SessionFactory;
  /** INFERENCE_THREADS: worker threads running the models; 0 = run on the event loop. Default: cores. */
  readonly inferenceThreads?: number;
  /** A worker whose run takes longer than this is replaced and its requests fail (500). Default 60 s. */
  readonly inferenceHangTimeoutMs?: number;
  /** INFERENCE_NICE: how much the inference threads' priority is lowered (pool default when absent). */
  readonly inferenceNice?: number;
  readonly loadRetryBaseMs?: number;
  readonly defaultMetrics?: boolean;
  readonly serverVersion?: string;
  /** REGISTRY_POLL_SECONDS; 0 = only on POST /admin/reload. Polling starts with `startPolling()`. */
  readonly pollSeconds?: number;
  /** ADMIN_TOKEN; unset = /admin/* answers 404. */
  readonly adminToken?: string | undefined;
  /**
   * PROCESSES: the gateway processes sharing the registry's cache bounds. Each holds its share,
   * the bound ÷ processes (at least one model), so the cluster as a whole keeps within them.
   */
  readonly processes?: number;
  /** The clock (ms) of the guard and of the console's statistics. */
  readonly now?: () => number;
}

export interface Gateway {
  readonly app: Koa;
  readonly service: GatewayService;
  readonly admin: AdminService;
  readonly cache: ModelCache;
  readonly metrics: GatewayMetrics;
  readonly registry: RegistryHolder;
  readonly store: BlobStore;
  readonly lifecycle: Lifecycle;
  readonly source: RegistrySource;
  readonly reloader: Reloader;
  readonly controller: RolloutController;
  readonly shadow: ShadowRunner;
  /** Recent traffic per version, and the live console's snapshots built from it. */
  readonly stats: TrafficStats;
  readonly console: ConsoleFeed;
  /** Loads every version with traffic, then reports ready. */
  warm(): Promise<{ loaded: number; failed: number }>;
  /** Checks the registry every `pollSeconds`. */
  startPolling(): void;
  close(): Promise<void>;
}

export async function createGateway(options: GatewayOptions): Promise<Gateway> {
  const metrics = new GatewayMetrics({ defaultMetrics: options.defaultMetrics ?? true });
  const store = createBlobStore({
    cacheDir: options.modelCacheDir,
    gcsClient: () =>
      createGcsClient({ emulatorHost: options.storageEmulatorHost, retryOptions: options.gcsRetryOptions, timeoutMs: options.gcsTimeoutMs }),
  });
  const parse = { modelRoots: options.modelRoots ?? [], ...(options.cwd === undefined ? {} : { cwd: options.cwd }) };
  const source = options.remoteModelPath
    ? singleModelSource(options.remoteModelPath, parse, options.cwd)
    : storeSource(options.registry, store, parse);
  const initial = await source.read();
  const registry = new RegistryHolder(initial.revision);
  const traffic = new TrafficControl();
  metrics.registryReloads.inc({ result: 'success' });
  metrics.syncRevision(initial.revision, traffic.weightByName);

  const ownFactory = options.sessionFactory ? undefined : sessionFactoryFor(options);
  // REMOTE_MODEL_PATH has one model and no bounds a user set: every process holds that model whole.
  const cacheLimits = (limits: CacheLimits): CacheLimits => (options.remoteModelPath ? limits : cacheShare(limits, options.processes ?? 1));
  const cache = new ModelCache({
    limits: cacheLimits(initial.revision.cache),
    store,
    factory: options.sessionFactory ?? (ownFactory as SessionFactory),
    metrics,
    log: options.log,
    ...(options.loadRetryBaseMs === undefined ? {} : { retryBaseMs: options.loadRetryBaseMs }),
  });
  const guard = new Guard(options.now);
  const reloader = new Reloader(
    {
      source,
      holder: registry,
      cache,
      metrics,
      traffic,
      guard,
      log: options.log,
      probeModel: (location) => store.probe(location),
      prune: (keep) => store.prune(keep),
      cacheLimits,
    },
    initial,
  );
  const controller = new RolloutController({ holder: registry, traffic, guard, metrics, log: options.log, source, reloader });
  const stats = new TrafficStats(options.now);
  const sampler = new StatsSampler({
    stats,
    metrics,
    versions: () => [...registry.current().models.values()].flatMap((m) => m.versions.map((v) => ({ model: m.name, version: v.name }))),
  });
  sampler.start();
  const shadow = new ShadowRunner({ cache, metrics, log: options.log, random: options.shadowRandom ?? Math.random });
  const service = new GatewayService({
    registry,
    cache,
    metrics,
    log: options.log,
    admission: new Admission(options.admission, {
      onRejected: (model, version) => metrics.inferenceRequests.inc({ model, version, outcome: 'rejected' }),
    }),
    route: { random: options.route?.random ?? Math.random, hash: options.route?.hash ?? stableHash },
    traffic,
    // The guard and the console's statistics both hear of every finished request.
    onOutcome: (model, version, outcome, seconds) => {
      controller.observe(model, version, outcome, seconds);
      stats.record(model.name, version.name, outcome, seconds);
    },
    shadow,
    batchers: new Batchers({
      onBatch: (model, version, rows) => metrics.batchSize.observe({ model, version }, rows),
      warn: (obj, msg) => options.log.warn(obj, msg),
    }),
  });
  const admin = new AdminService({ registry, cache, traffic, guard, controller, reloader, sourceDescription: source.description });
  const lifecycle: Lifecycle = { ready: false, draining: false };
  const consoleFeed = new ConsoleFeed({ admin, stats, metrics, isDraining: () => lifecycle.draining });
  const app = createApp({
    service,
    metrics,
    log: options.log,
    lifecycle,
    maxBodyBytes: options.maxBodyBytes ?? 16 * 2 ** 20,
    serverVersion: options.serverVersion ?? '0.0.0',
    admin,
    adminToken: options.adminToken,
    console: consoleFeed,
  });
  return {
    app,
    service,
    admin,
    cache,
    metrics,
    registry,
    store,
    lifecycle,
    source,
    reloader,
    controller,
    shadow,
    stats,
    console: consoleFeed,
    async warm() {
      // Downloads left from earlier revisions (or a crash mid-download) go before new ones arrive.
      await reloader.pruneNow();
      const result = await service.warm();
      lifecycle.ready = true;
      return result;
    },
    startPolling: () => reloader.start(options.pollSeconds ?? 10),
    async close() {
      reloader.stop();
      consoleFeed.close();
      await sampler.stop();
      await controller.settled();
      await shadow.idle();
      await cache.close();
      await ownFactory?.close?.();
    },
  };
}

/** One process's part of the cache bounds when `processes` share them: at least one model, one byte. */
export function cacheShare(limits: CacheLimits, processes: number): CacheLimits {
  if (processes <= 1) return limits;
  return { maxModels: Math.max(1, Math.floor(limits.maxModels / processes)), maxBytes: Math.max(1, Math.floor(limits.maxBytes / processes)) };
}

/** Models run in a pool of worker threads, unless INFERENCE_THREADS is 0 (on the event loop). */
function sessionFactoryFor(options: GatewayOptions): SessionFactory {
  if (options.inferenceThreads === 0) return createOrtSessionFactory();
  return new InferencePool({
    ...(options.inferenceThreads === undefined ? {} : { threads: options.inferenceThreads }),
    ...(options.inferenceHangTimeoutMs === undefined ? {} : { hangTimeoutMs: options.inferenceHangTimeoutMs }),
    ...(options.inferenceNice === undefined ? {} : { workerNice: options.inferenceNice }),
    // Tiny versions measured faster than a thread round trip run inline, single-threaded.
    inlineFactory: createOrtSessionFactory({ intraOpNumThreads: 1 }),
    onWorkerLost: (index, reason) => options.log.warn({ event: 'inference_worker_lost', worker: index, reason }, 'inference worker replaced'),
    onPlacementChange: (file, where, us) => options.log.info({ event: 'inference_placement', pid: process.pid, file, where, us: Math.round(us) }, `model runs ${where === 'inline' ? 'on the event loop' : 'on its worker thread'}`),
  });
}

// The composition root: wires storage → registry → cache → service → HTTP from plain options.
// The server entry and the tests both build gateways here; neither reads globals.
import type Koa from 'koa';
import type { StorageOptions } from '@google-cloud/storage';
import { ModelCache } from './cache/model-cache.js';
import { createApp, type Lifecycle } from './http/app.js';
import type { HttpLogger } from './http/middleware.js';
import { createOrtSessionFactory, type SessionFactory } from './inference/session.js';
import { GatewayMetrics } from './metrics/metrics.js';
import { Admission, type AdmissionLimits } from './service/admission.js';
import { RegistryHolder } from './registry/holder.js';
import { loadRegistry, type LoadedRegistry } from './registry/load.js';
import { stableHash, type RouteDeps } from './routing/route.js';
import { GatewayService } from './service/gateway-service.js';
import { createGcsClient } from './storage/gcs.js';
import { createBlobStore, type BlobStore } from './storage/store.js';

export interface GatewayOptions {
  /** MODEL_REGISTRY: a path, file:// URL or gs:// URI. */
  readonly registry: string;
  readonly modelCacheDir: string;
  readonly modelRoots?: readonly string[];
  readonly cwd?: string;
  /** Concurrency limits, queues and the request deadline (REQUEST_TIMEOUT_SECONDS); defaults in service/admission.ts. */
  readonly admission?: Partial<AdmissionLimits>;
  readonly storageEmulatorHost?: string | undefined;
  readonly gcsRetryOptions?: StorageOptions['retryOptions'];
  readonly maxBodyBytes?: number;
  readonly log: HttpLogger;
  readonly route?: Partial<RouteDeps>;
  readonly sessionFactory?: SessionFactory;
  readonly loadRetryBaseMs?: number;
  readonly defaultMetrics?: boolean;
  readonly serverVersion?: string;
}

export interface Gateway {
  readonly app: Koa;
  readonly service: GatewayService;
  readonly cache: ModelCache;
  readonly metrics: GatewayMetrics;
  readonly registry: RegistryHolder;
  readonly store: BlobStore;
  readonly lifecycle: Lifecycle;
  readonly source: LoadedRegistry;
  /** Loads every version with traffic, then reports ready. */
  warm(): Promise<{ loaded: number; failed: number }>;
  close(): Promise<void>;
}

export async function createGateway(options: GatewayOptions): Promise<Gateway> {
  const metrics = new GatewayMetrics({ defaultMetrics: options.defaultMetrics ?? true });
  const store = createBlobStore({
    cacheDir: options.modelCacheDir,
    gcsClient: () => createGcsClient({ emulatorHost: options.storageEmulatorHost, retryOptions: options.gcsRetryOptions }),
  });
  const roots = { modelRoots: options.modelRoots ?? [], ...(options.cwd === undefined ? {} : { cwd: options.cwd }) };
  const source = await loadRegistry(options.registry, store, roots);
  const registry = new RegistryHolder(source.revision);
  metrics.registryReloads.inc({ result: 'success' });
  metrics.syncRevision(source.revision, (_m, _v, weight) => weight);

  const cache = new ModelCache({
    limits: source.revision.cache,
    store,
    factory: options.sessionFactory ?? createOrtSessionFactory(),
    metrics,
    log: options.log,
    ...(options.loadRetryBaseMs === undefined ? {} : { retryBaseMs: options.loadRetryBaseMs }),
  });
  const service = new GatewayService({
    registry,
    cache,
    metrics,
    log: options.log,
    admission: new Admission(options.admission, {
      onRejected: (model, version) => metrics.inferenceRequests.inc({ model, version, outcome: 'rejected' }),
    }),
    route: { random: options.route?.random ?? Math.random, hash: options.route?.hash ?? stableHash },
  });
  const lifecycle: Lifecycle = { ready: false, draining: false };
  const app = createApp({
    service,
    metrics,
    log: options.log,
    lifecycle,
    maxBodyBytes: options.maxBodyBytes ?? 16 * 2 ** 20,
    serverVersion: options.serverVersion ?? '0.0.0',
  });
  return {
    app,
    service,
    cache,
    metrics,
    registry,
    store,
    lifecycle,
    source,
    async warm() {
      const result = await service.warm();
      lifecycle.ready = true;
      return result;
    },
    close: () => cache.close(),
  };
}

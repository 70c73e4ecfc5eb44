// Entry point: the only module that reads the environment, listens, and handles signals.
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { pino } from 'pino';
import { isClusterPrimary, joinCluster, runPrimary } from './cluster.js';
import { parseSettings, SettingsError } from './config/settings.js';
import { createGateway } from './gateway.js';
import { RegistryValidationError } from './registry/parse.js';

function packageVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version?: string };
    return pkg.version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
}

async function main(): Promise<void> {
  let settings;
  try {
    settings = parseSettings(process.env);
  } catch (err) {
    process.stderr.write(`${err instanceof SettingsError ? err.message : String(err)}\n`);
    process.exit(1);
  }
  const log = pino({ level: settings.logLevel, base: { service: 'model-gateway' } });
  if (isClusterPrimary(settings.processes)) {
    runPrimary({ processes: settings.processes, graceSeconds: settings.shutdownGraceSeconds, log });
    return;
  }

  let gateway;
  try {
    gateway = await createGateway({
      registry: settings.registry,
      remoteModelPath: settings.remoteModelPath,
      pollSeconds: settings.registryPollSeconds,
      adminToken: settings.adminToken,
      modelCacheDir: settings.modelCacheDir,
      modelRoots: settings.modelRoots,
      storageEmulatorHost: settings.storageEmulatorHost,
      maxBodyBytes: settings.maxBodyBytes,
      inferenceThreads: settings.inferenceThreads,
      inferenceHangTimeoutMs: settings.inferenceHangSeconds * 1000,
      log,
      serverVersion: packageVersion(),
    });
  } catch (err) {
    if (err instanceof RegistryValidationError) log.fatal({ problems: err.problems }, err.message);
    else log.fatal({ err: err instanceof Error ? err.message : String(err) }, `cannot load registry ${settings.remoteModelPath ?? settings.registry}`);
    process.exit(1);
  }

  const clusterMetrics = joinCluster(gateway.metrics.registry);
  if (clusterMetrics) gateway.metrics.serveTextFrom(clusterMetrics);

  const server = http.createServer(gateway.app.callback());
  // Above the 256 concurrent requests per version the contract promises.
  server.maxConnections = 4096;
  server.keepAliveTimeout = 65_000; // longer than common load balancers' idle timeouts
  await new Promise<void>((resolve) => server.listen(settings.port, resolve));
  const address = server.address();
  log.info({ port: typeof address === 'object' && address ? address.port : settings.port, revision: gateway.registry.current().id }, 'listening');

  gateway.startPolling();
  gateway
    .warm()
    .then((r) => log.info(r, 'warm-up done; ready'))
    .catch((err: unknown) => log.error({ err: String(err) }, 'warm-up failed'));

  let stopping = false;
  const shutdown = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    gateway.lifecycle.draining = true;
    log.info({ signal, graceSeconds: settings.shutdownGraceSeconds }, 'shutting down');
    const forced = setTimeout(() => {
      log.warn({}, 'grace period over; closing remaining connections');
      server.closeAllConnections();
    }, settings.shutdownGraceSeconds * 1000);
    forced.unref();
    server.close(() => {
      clearTimeout(forced);
      void gateway.close().finally(() => {
        log.info({}, 'stopped');
        process.exit(0);
      });
    });
    server.closeIdleConnections();
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

void main();

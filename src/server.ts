// Entry point: the only module that reads the environment, listens, and handles signals.
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { isClusterPrimary, runPrimary } from './cluster/primary.js';
import { joinCluster } from './cluster/worker.js';
import { parseSettings, SettingsError } from './config/settings.js';
import { createGateway } from './gateway.js';
import { createLogger } from './logging/logger.js';
import { startGrpcServer, type GrpcServer } from './grpc/server.js';
import { drainOnShutdown } from './http/shutdown.js';
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
  const log = createLogger(settings);
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
      admission: {
        perVersion: settings.limits.inflightPerVersion,
        perVersionQueue: settings.limits.queuePerVersion,
        total: settings.limits.inflight,
        totalQueue: settings.limits.queue,
        timeoutMs: settings.requestTimeoutSeconds * 1000,
      },
      inferenceThreads: settings.inferenceThreads,
      processes: settings.processes,
      inferenceHangTimeoutMs: settings.inferenceHangSeconds * 1000,
      inferenceNice: settings.inferenceNice,
      log,
      serverVersion: packageVersion(),
    });
  } catch (err) {
    if (err instanceof RegistryValidationError) log.fatal({ problems: err.problems }, err.message);
    else log.fatal({ err: err instanceof Error ? err.message : String(err) }, `cannot load registry ${settings.remoteModelPath ?? settings.registry}`);
    process.exit(1);
  }

  // In a cluster: metrics, the guard, admin and the console speak for every process.
  joinCluster(gateway, log);

  // --- gRPC endpoint (issue 7): up before HTTP says "listening"; drained in shutdown below ---
  let grpcServer: GrpcServer | undefined;
  if (settings.grpcPort !== 0) {
    try {
      grpcServer = await startGrpcServer({ gateway, log, port: settings.grpcPort, maxMessageBytes: settings.maxBodyBytes, serverVersion: packageVersion() });
      log.info({ grpcPort: grpcServer.port }, 'gRPC listening');
    } catch (err) {
      log.fatal({ err: err instanceof Error ? err.message : String(err), grpcPort: settings.grpcPort }, 'cannot serve gRPC');
      process.exit(1);
    }
  }
  // --- end gRPC ---

  const server = http.createServer(gateway.app.callback());
  // Above the 256 concurrent requests per version the contract promises.
  server.maxConnections = 4096;
  server.keepAliveTimeout = 65_000; // longer than common load balancers' idle timeouts
  const drainer = drainOnShutdown(server, {
    drainMs: settings.shutdownDrainSeconds * 1000,
    graceMs: settings.shutdownGraceSeconds * 1000,
    log,
    onDraining: () => {
      gateway.lifecycle.draining = true;
    },
  });
  await new Promise<void>((resolve) => server.listen(settings.port, resolve));
  const address = server.address();
  log.info({ port: typeof address === 'object' && address ? address.port : settings.port, revision: gateway.registry.current().id }, 'listening');

  gateway.startPolling();
  gateway
    .warm()
    .then((r) => log.info(r, 'warm-up done; ready'))
    .catch((err: unknown) => log.error({ err: String(err) }, 'warm-up failed'));

  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    // gRPC (issue 7) drains beside HTTP, within the same grace period.
    const grpcDrained = grpcServer?.close(settings.shutdownGraceSeconds * 1000) ?? Promise.resolve();
    void drainer
      .shutdown(signal)
      .then(async (how) => {
        await grpcDrained;
        await gateway.close();
        log.info({ how }, 'stopped');
      })
      .finally(() => process.exit(0));
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

void main();

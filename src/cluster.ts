// PROCESSES > 1: several gateway processes share the port (node:cluster; the primary hands out
// connections round-robin). One Node process tops out near a third of bare Koa's throughput on
// a JSON model endpoint (HTTP and JSON work, measured in docs/benchmarks.md); more processes
// are what use more cores for that work. Each worker process is a whole gateway: its own
// registry polling (replicas converge through the registry), its own cache (bounds are per
// process), its own inference threads. The primary serves nothing itself: it forks, replaces a
// worker that dies, aggregates metrics for scrapes, and forwards SIGTERM/SIGINT.
import cluster, { type Worker } from 'node:cluster';
import { AggregatorRegistry, type Registry } from 'prom-client';

export interface ClusterLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

const METRICS_REQUEST = 'model-gateway:metrics?';
const METRICS_REPLY = 'model-gateway:metrics!';

interface MetricsRequest {
  readonly type: typeof METRICS_REQUEST;
  readonly id: number;
}
interface MetricsReply {
  readonly type: typeof METRICS_REPLY;
  readonly id: number;
  readonly text?: string;
  readonly error?: string;
}

/** True in the primary of a cluster (PROCESSES > 1): run `runPrimary` instead of a gateway. */
export function isClusterPrimary(processes: number): boolean {
  return processes > 1 && cluster.isPrimary;
}

export function runPrimary(options: { processes: number; graceSeconds: number; log: ClusterLogger }): void {
  const { log } = options;
  // Workers answer prom-client's metric requests; clusterMetrics() sums counters and histograms
  // (and gauges, unless a gauge names another aggregator) over every live worker.
  const aggregator = new AggregatorRegistry();
  let stopping = false;
  const fork = (): Worker => cluster.fork();
  for (let i = 0; i < options.processes; i++) fork();

  cluster.on('message', (worker, message: MetricsRequest) => {
    if (message?.type !== METRICS_REQUEST) return;
    aggregator.clusterMetrics().then(
      (text) => worker.send({ type: METRICS_REPLY, id: message.id, text } satisfies MetricsReply),
      (err: unknown) => worker.send({ type: METRICS_REPLY, id: message.id, error: String(err) } satisfies MetricsReply),
    );
  });
  const listened = new Set<number>();
  cluster.on('listening', (worker) => listened.add(worker.id));
  cluster.on('exit', (worker, code, signal) => {
    if (!stopping && !listened.has(worker.id)) {
      // It never got to serve (an invalid registry or environment): starting another would fail
      // the same way, forever. Stop the rest and exit as it did.
      stopping = true;
      log.error({ event: 'process_failed_to_start', pid: worker.process.pid, code, signal }, 'a gateway process failed to start; stopping');
      for (const other of Object.values(cluster.workers ?? {})) other?.process.kill('SIGKILL');
      process.exit(code || 1);
    }
    listened.delete(worker.id);
    if (stopping) {
      if (Object.keys(cluster.workers ?? {}).length === 0) {
        log.info({}, 'all gateway processes stopped');
        process.exit(0);
      }
      return;
    }
    log.error({ event: 'process_lost', pid: worker.process.pid, code, signal }, 'gateway process died; starting another');
    setTimeout(fork, 1_000).unref();
  });

  const shutdown = (signal: NodeJS.Signals): void => {
    if (stopping) return;
    stopping = true;
    log.info({ signal, processes: options.processes }, 'shutting down the gateway processes');
    for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill(signal);
    // Each worker drains within its own grace period; this only guards against one that hangs.
    setTimeout(() => {
      log.warn({}, 'gateway processes still running after the grace period; killing them');
      for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill('SIGKILL');
      process.exit(0);
    }, (options.graceSeconds + 5) * 1000).unref();
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

/**
 * In a cluster worker: lets the primary collect this process's metrics, and returns the text a
 * scrape of any process should see (the sum over all processes). Undefined outside a cluster.
 */
export function joinCluster(registry: Registry): (() => Promise<string>) | undefined {
  if (!cluster.isWorker) return undefined;
  // Constructing one registers prom-client's worker-side listener; setRegistries names ours.
  new AggregatorRegistry();
  AggregatorRegistry.setRegistries([registry]);
  let nextId = 1;
  const waiting = new Map<number, { resolve(text: string): void; reject(err: Error): void }>();
  process.on('message', (message: MetricsReply) => {
    if (message?.type !== METRICS_REPLY) return;
    const w = waiting.get(message.id);
    waiting.delete(message.id);
    if (message.text !== undefined) w?.resolve(message.text);
    else w?.reject(new Error(message.error ?? 'no metrics'));
  });
  return () =>
    new Promise((resolve, reject) => {
      const id = nextId++;
      waiting.set(id, { resolve, reject });
      process.send?.({ type: METRICS_REQUEST, id } satisfies MetricsRequest);
    });
}

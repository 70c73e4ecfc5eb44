// PROCESSES > 1: several gateway processes share the port (node:cluster; the primary hands out
// connections round-robin). One Node process tops out near a third of bare Koa's throughput on
// a JSON model endpoint (HTTP and JSON work, measured in docs/benchmarks.md); more processes
// are what use more cores for that work. Each worker process is a whole gateway (registry
// polling, cache share, inference threads), and the processes act as one gateway through the
// primary, which serves no requests itself: it forks, replaces a worker that dies, forwards
// SIGTERM/SIGINT, sums metrics for scrapes, and is the hub of the workers' messages (hub.ts).
import cluster, { type Worker } from 'node:cluster';
import { AggregatorRegistry } from 'prom-client';
import { ClusterHub } from './hub.js';
import { METRICS_REPLY, METRICS_REQUEST, type MetricsReply, type MetricsRequest } from './messages.js';

export interface ClusterLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

/** True in the primary of a cluster (PROCESSES > 1): run `runPrimary` instead of a gateway. */
export function isClusterPrimary(processes: number): boolean {
  return processes > 1 && cluster.isPrimary;
}

export function runPrimary(options: { processes: number; graceSeconds: number; log: ClusterLogger }): void {
  const { log } = options;
  // Structured clone, not JSON: statistics carry typed arrays.
  cluster.setupPrimary({ serialization: 'advanced' });
  // Workers answer prom-client's metric requests; clusterMetrics() sums counters and histograms
  // (and gauges, unless a gauge names another aggregator) over every live worker.
  const aggregator = new AggregatorRegistry();
  const hub = new ClusterHub(log);
  let stopping = false;
  const fork = (): Worker => cluster.fork();
  for (let i = 0; i < options.processes; i++) fork();

  cluster.on('message', (worker, message: MetricsRequest) => {
    if (hub.handle(worker, message)) return;
    if (message?.type !== METRICS_REQUEST) return;
    aggregator.clusterMetrics().then(
      (text) => worker.send({ type: METRICS_REPLY, id: message.id, text } satisfies MetricsReply),
      (err: unknown) => worker.send({ type: METRICS_REPLY, id: message.id, error: String(err) } satisfies MetricsReply),
    );
  });
  const listened = new Set<number>();
  cluster.on('listening', (worker) => listened.add(worker.id));
  cluster.on('exit', (worker, code, signal) => {
    hub.leave(worker);
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

// The process environment, parsed once into a typed, frozen object. Only the entry point calls
// this; everything else receives the values it needs.
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseByteSize } from '../registry/schema.js';
import { DEFAULT_ADMISSION } from '../service/admission.js';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface Settings {
  readonly registry: string;
  /** REMOTE_MODEL_PATH: one model served as `default`/`1` instead of a registry. */
  readonly remoteModelPath: string | undefined;
  readonly port: number;
  /** GRPC_PORT: the Open Inference Protocol gRPC endpoint; 0 = off. */
  readonly grpcPort: number;
  readonly registryPollSeconds: number;
  readonly modelCacheDir: string;
  readonly modelRoots: readonly string[];
  readonly adminToken: string | undefined;
  readonly storageEmulatorHost: string | undefined;
  /** GOOGLE_CLOUD_PROJECT (set by Google's runtimes): log lines link to Cloud Trace. */
  readonly googleCloudProject: string | undefined;
  readonly logLevel: LogLevel;
  readonly maxBodyBytes: number;
  readonly shutdownGraceSeconds: number;
  /** After SIGTERM/SIGINT, how long new connections are still accepted (at most the grace). */
  readonly shutdownDrainSeconds: number;
  /** An inference request unanswered after this is a 504; 0 = no deadline. */
  readonly requestTimeoutSeconds: number;
  /** Inference runs at once per version and in total, and the requests that may wait for one. */
  readonly limits: {
    readonly inflightPerVersion: number;
    readonly queuePerVersion: number;
    readonly inflight: number;
    readonly queue: number;
  };
  /** PROCESSES: gateway processes sharing the port (node:cluster); 1 = no cluster; default one per core. */
  readonly processes: number;
  /** INFERENCE_THREADS: worker threads per process running models; 0 = on the event loop. */
  readonly inferenceThreads: number;
  /** INFERENCE_HANG_SECONDS: a run taking longer fails (500) and its worker thread is replaced. */
  readonly inferenceHangSeconds: number;
  /** INFERENCE_NICE: how much lower the inference threads' OS priority is than the event loop's (0 = the same). */
  readonly inferenceNice: number;
}

export class SettingsError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`invalid environment:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'SettingsError';
  }
}

type Env = Readonly<Record<string, string | undefined>>;

/**
 * The cores this process may use: the machine's, or fewer under a container's CPU limit (cgroup
 * v2 cpu.max, v1 CFS quota), rounded up. Node's availableParallelism() counts the CPUs it may be
 * scheduled on, which in a container limited to 2 CPUs on a 64-core node is 64: PROCESSES=auto
 * must not start 64 gateways there.
 */
export function availableCores(read: (file: string) => string = (file) => readFileSync(file, 'utf8')): number {
  const cores = os.availableParallelism();
  const limit = cgroupCpuLimit(read);
  return limit === undefined ? cores : Math.max(1, Math.min(cores, Math.ceil(limit)));
}

function cgroupCpuLimit(read: (file: string) => string): number | undefined {
  const attempt = (fn: () => number | undefined): number | undefined => {
    try {
      const n = fn();
      return n !== undefined && Number.isFinite(n) && n > 0 ? n : undefined;
    } catch {
      return undefined; // no such cgroup file: not limited that way
    }
  };
  return (
    attempt(() => {
      const [quota, period] = read('/sys/fs/cgroup/cpu.max').trim().split(/\s+/);
      return quota === undefined || quota === 'max' ? undefined : Number(quota) / Number(period);
    }) ??
    attempt(() => {
      const quota = Number(read('/sys/fs/cgroup/cpu/cpu.cfs_quota_us').trim());
      return quota > 0 ? quota / Number(read('/sys/fs/cgroup/cpu/cpu.cfs_period_us').trim()) : undefined;
    })
  );
}

export function parseSettings(env: Env, cores: number = availableCores()): Settings {
  const problems: string[] = [];
  const value = (name: string): string | undefined => {
    const v = env[name];
    return v === undefined || v.trim() === '' ? undefined : v.trim();
  };
  const number = (name: string, fallback: number, check: (n: number) => boolean, rule: string): number => {
    const raw = value(name);
    if (raw === undefined) return fallback;
    const n = Number(raw);
    if (!Number.isFinite(n) || !check(n)) {
      problems.push(`${name}=${raw}: must be ${rule}`);
      return fallback;
    }
    return n;
  };
  const count = (name: string, fallback: number, min: number): number =>
    number(name, fallback, (n) => Number.isInteger(n) && n >= min, `a whole number >= ${min}`);
  const grace = number('SHUTDOWN_GRACE_SECONDS', 10, (n) => n >= 0, 'a number of seconds >= 0');
  const logLevel = (value('LOG_LEVEL') ?? 'info').toLowerCase();
  if (!['debug', 'info', 'warn', 'error'].includes(logLevel)) problems.push(`LOG_LEVEL=${logLevel}: must be debug, info, warn or error`);
  const bodyRaw = value('MAX_BODY_BYTES');
  const maxBodyBytes = bodyRaw === undefined ? 16 * 2 ** 20 : parseByteSize(bodyRaw);
  if (maxBodyBytes === undefined || maxBodyBytes < 1) problems.push(`MAX_BODY_BYTES=${bodyRaw}: must be a size such as 16MiB or 1048576`);

  if (value('MODEL_REGISTRY') !== undefined && value('REMOTE_MODEL_PATH') !== undefined) {
    problems.push('MODEL_REGISTRY and REMOTE_MODEL_PATH are both set: set MODEL_REGISTRY for a registry of models, or REMOTE_MODEL_PATH for one model, not both');
  }

  // One process per core by default: the benchmark (docs/benchmarks.md) shows one Node process
  // cannot match a hand-written inline server on small JSON models, and two on two cores can.
  // The processes act as one gateway (src/cluster/): guard, reloads, console, cache bounds.
  const processesRaw = value('PROCESSES') ?? 'auto';
  const processes = processesRaw === 'auto' ? cores : number('PROCESSES', cores, (n) => Number.isInteger(n) && n >= 1 && n <= 256, 'an integer from 1 to 256, or auto (one per core)');
  const settings: Settings = {
    registry: value('MODEL_REGISTRY') ?? 'config/models.yaml',
    remoteModelPath: value('REMOTE_MODEL_PATH'),
    port: number('PORT', 8080, (n) => Number.isInteger(n) && n >= 0 && n < 65536, 'a port number (0-65535)'),
    grpcPort: number('GRPC_PORT', 8081, (n) => Number.isInteger(n) && n >= 0 && n < 65536, 'a port number (1-65535), or 0 to turn gRPC off'),
    registryPollSeconds: number('REGISTRY_POLL_SECONDS', 10, (n) => n >= 0, 'a number of seconds >= 0'),
    modelCacheDir: path.resolve(value('MODEL_CACHE_DIR') ?? path.join(os.tmpdir(), 'model-gateway-cache')),
    modelRoots: (value('MODEL_ROOTS') ?? '').split(':').filter((r) => r !== '').map((r) => path.resolve(r)),
    adminToken: value('ADMIN_TOKEN'),
    storageEmulatorHost: value('STORAGE_EMULATOR_HOST'),
    googleCloudProject: value('GOOGLE_CLOUD_PROJECT'),
    logLevel: logLevel as LogLevel,
    maxBodyBytes: maxBodyBytes ?? 0,
    shutdownGraceSeconds: grace,
    requestTimeoutSeconds: number('REQUEST_TIMEOUT_SECONDS', 30, (n) => n >= 0, 'a number of seconds >= 0 (0 = no deadline)'),
    limits: {
      inflightPerVersion: count('MAX_INFLIGHT_PER_VERSION', DEFAULT_ADMISSION.perVersion, 1),
      queuePerVersion: count('MAX_QUEUE_PER_VERSION', DEFAULT_ADMISSION.perVersionQueue, 0),
      inflight: count('MAX_INFLIGHT', DEFAULT_ADMISSION.total, 1),
      queue: count('MAX_QUEUE', DEFAULT_ADMISSION.totalQueue, 0),
    },
    shutdownDrainSeconds: number('SHUTDOWN_DRAIN_SECONDS', Math.min(2, grace / 2), (n) => n >= 0 && n <= grace, `a number of seconds from 0 to SHUTDOWN_GRACE_SECONDS (${grace})`),
    processes,
    // The cores are shared among the processes: together they start as many threads as there are cores.
    inferenceThreads: number('INFERENCE_THREADS', Math.max(1, Math.floor(cores / processes)), (n) => Number.isInteger(n) && n >= 0 && n <= 1024, 'an integer >= 0 (0 runs models on the event loop)'),
    inferenceHangSeconds: number('INFERENCE_HANG_SECONDS', 60, (n) => n > 0, 'a number of seconds > 0'),
    inferenceNice: number('INFERENCE_NICE', 10, (n) => Number.isInteger(n) && n >= 0 && n <= 19, 'an integer from 0 to 19'),
  };
  if (settings.grpcPort !== 0 && settings.grpcPort === settings.port) {
    problems.push(`GRPC_PORT=${settings.grpcPort} is also PORT: give gRPC a port of its own, or GRPC_PORT=0 to turn it off`);
  }
  if (problems.length > 0) throw new SettingsError(problems);
  return Object.freeze(settings);
}

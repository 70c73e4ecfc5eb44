// The process environment, parsed once into a typed, frozen object. Only the entry point calls
// this; everything else receives the values it needs.
import os from 'node:os';
import path from 'node:path';
import { parseByteSize } from '../registry/schema.js';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface Settings {
  readonly registry: string;
  /** REMOTE_MODEL_PATH: one model served as `default`/`1` instead of a registry. */
  readonly remoteModelPath: string | undefined;
  readonly port: number;
  readonly registryPollSeconds: number;
  readonly modelCacheDir: string;
  readonly modelRoots: readonly string[];
  readonly adminToken: string | undefined;
  readonly storageEmulatorHost: string | undefined;
  readonly logLevel: LogLevel;
  readonly maxBodyBytes: number;
  readonly shutdownGraceSeconds: number;
  /** PROCESSES: gateway processes sharing the port (node:cluster); 1 = no cluster. */
  readonly processes: number;
  /** INFERENCE_THREADS: worker threads per process running models; 0 = on the event loop. */
  readonly inferenceThreads: number;
  /** INFERENCE_HANG_SECONDS: a run taking longer fails (500) and its worker thread is replaced. */
  readonly inferenceHangSeconds: number;
}

export class SettingsError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`invalid environment:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'SettingsError';
  }
}

type Env = Readonly<Record<string, string | undefined>>;

export function parseSettings(env: Env): Settings {
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
  const logLevel = (value('LOG_LEVEL') ?? 'info').toLowerCase();
  if (!['debug', 'info', 'warn', 'error'].includes(logLevel)) problems.push(`LOG_LEVEL=${logLevel}: must be debug, info, warn or error`);
  const bodyRaw = value('MAX_BODY_BYTES');
  const maxBodyBytes = bodyRaw === undefined ? 16 * 2 ** 20 : parseByteSize(bodyRaw);
  if (maxBodyBytes === undefined || maxBodyBytes < 1) problems.push(`MAX_BODY_BYTES=${bodyRaw}: must be a size such as 16MiB or 1048576`);

  if (value('MODEL_REGISTRY') !== undefined && value('REMOTE_MODEL_PATH') !== undefined) {
    problems.push('MODEL_REGISTRY and REMOTE_MODEL_PATH are both set: set MODEL_REGISTRY for a registry of models, or REMOTE_MODEL_PATH for one model, not both');
  }

  const cores = os.availableParallelism();
  // One process per core by default: the benchmark (docs/benchmarks.md) shows one Node process
  // cannot match a hand-written inline server on small JSON models, and two on two cores can.
  const processesRaw = value('PROCESSES') ?? 'auto';
  const processes = processesRaw === 'auto' ? cores : number('PROCESSES', 1, (n) => Number.isInteger(n) && n >= 1 && n <= 256, 'an integer from 1 to 256, or auto (one per core)');
  const settings: Settings = {
    registry: value('MODEL_REGISTRY') ?? 'config/models.yaml',
    remoteModelPath: value('REMOTE_MODEL_PATH'),
    port: number('PORT', 8080, (n) => Number.isInteger(n) && n >= 0 && n < 65536, 'a port number (0-65535)'),
    registryPollSeconds: number('REGISTRY_POLL_SECONDS', 10, (n) => n >= 0, 'a number of seconds >= 0'),
    modelCacheDir: path.resolve(value('MODEL_CACHE_DIR') ?? path.join(os.tmpdir(), 'model-gateway-cache')),
    modelRoots: (value('MODEL_ROOTS') ?? '').split(':').filter((r) => r !== '').map((r) => path.resolve(r)),
    adminToken: value('ADMIN_TOKEN'),
    storageEmulatorHost: value('STORAGE_EMULATOR_HOST'),
    logLevel: logLevel as LogLevel,
    maxBodyBytes: maxBodyBytes ?? 0,
    shutdownGraceSeconds: number('SHUTDOWN_GRACE_SECONDS', 10, (n) => n >= 0, 'a number of seconds >= 0'),
    processes,
    // The cores are shared among the processes: together they start as many threads as there are cores.
    inferenceThreads: number('INFERENCE_THREADS', Math.max(1, Math.floor(cores / processes)), (n) => Number.isInteger(n) && n >= 0 && n <= 1024, 'an integer >= 0 (0 runs models on the event loop)'),
    inferenceHangSeconds: number('INFERENCE_HANG_SECONDS', 60, (n) => n > 0, 'a number of seconds > 0'),
  };
  if (problems.length > 0) throw new SettingsError(problems);
  return Object.freeze(settings);
}

// Admission control for inference: at most `perVersion` runs of one version and `total` runs in
// all at once, with short FIFO queues behind them. Beyond the queues a request is refused at
// once, as Envoy's circuit breakers and Triton's queue policy do: 429 when its own version is
// saturated (the caller may retry elsewhere or later), 503 when the whole gateway is. Either way
// with Retry-After, so the process holds a bounded amount of work and memory under a flood.
// Every request also has a deadline: past it the caller gets a 504 and its slot is freed (a
// model run cannot be interrupted, so the run itself finishes in the background).
import { GatewayError } from '../errors/catalogue.js';
import { versionKey } from '../registry/revision.js';

export interface AdmissionLimits {
  /** Runs of one version at once. */
  readonly perVersion: number;
  /** Requests of one version waiting for a run slot. */
  readonly perVersionQueue: number;
  /** Runs at once over all versions. */
  readonly total: number;
  /** Requests waiting over all versions. */
  readonly totalQueue: number;
  /** From admission to answer; 0 = no deadline. */
  readonly timeoutMs: number;
}

/** 256 concurrent requests to one version are all admitted (64 running + 192 waiting). */
export const DEFAULT_ADMISSION: AdmissionLimits = Object.freeze({
  perVersion: 64,
  perVersionQueue: 256,
  total: 256,
  totalQueue: 1024,
  timeoutMs: 30_000,
});

const RETRY_AFTER_SECONDS = 1;

export type Refusal = 'TOO_MANY_REQUESTS' | 'OVERLOADED' | 'TIMEOUT';

export interface AdmissionHooks {
  /** A request refused for overload (not a timeout): counted as outcome `rejected`. */
  onRejected?(model: string, version: string, code: 'TOO_MANY_REQUESTS' | 'OVERLOADED'): void;
}

/** Handed to the admitted work: whether its caller has already been answered with a 504. */
export interface Ticket {
  readonly timedOut: boolean;
}

/** Overload and timeout answers: never a reason to try the fallback version. */
export function isRefusal(err: unknown): boolean {
  return err instanceof GatewayError && (err.code === 'TOO_MANY_REQUESTS' || err.code === 'OVERLOADED' || err.code === 'TIMEOUT');
}

interface VersionLoad {
  running: number;
  queued: number;
}

interface Waiter {
  readonly load: VersionLoad;
  readonly start: () => void;
}

class Slot implements Ticket {
  timedOut = false;
  freed = false;
}

export class Admission {
  private readonly limits: AdmissionLimits;
  private readonly versions = new Map<string, VersionLoad>();
  private readonly queue: Waiter[] = [];
  private running = 0;

  constructor(
    limits: Partial<AdmissionLimits> = {},
    private readonly hooks: AdmissionHooks = {},
  ) {
    this.limits = { ...DEFAULT_ADMISSION, ...limits };
  }

  /** Runs `work` once a slot is free; refuses, or answers TIMEOUT, as described above. */
  run<T>(model: string, version: string, work: (ticket: Ticket) => Promise<T>): Promise<T> {
    const key = versionKey(model, version);
    const load = this.loadOf(key);
    return new Promise<T>((resolve, reject) => {
      const slot = new Slot();
      let timer: NodeJS.Timeout | undefined;
      let waiter: Waiter | undefined;
      const free = (): void => {
        if (slot.freed) return;
        slot.freed = true;
        load.running--;
        this.running--;
        this.dispatch();
        this.forget(key, load);
      };
      const start = (): void => {
        load.running++;
        this.running++;
        work(slot).then(
          (value) => {
            clearTimeout(timer);
            free();
            resolve(value);
          },
          (err: unknown) => {
            clearTimeout(timer);
            free();
            reject(err);
          },
        );
      };
      if (this.limits.timeoutMs > 0) {
        timer = setTimeout(() => {
          if (waiter && this.queue.includes(waiter)) {
            this.queue.splice(this.queue.indexOf(waiter), 1);
            load.queued--;
            this.forget(key, load);
          } else {
            slot.timedOut = true;
            free();
          }
          const seconds = this.limits.timeoutMs / 1000;
          reject(new GatewayError('TIMEOUT', `model "${model}" version "${version}" did not answer within ${seconds} s`));
        }, this.limits.timeoutMs);
        timer.unref();
      }

      if (this.canStart(load)) return start();
      const refusal = this.refusal(load);
      if (refusal) {
        clearTimeout(timer);
        this.forget(key, load);
        this.hooks.onRejected?.(model, version, refusal);
        const message =
          refusal === 'TOO_MANY_REQUESTS'
            ? `model "${model}" version "${version}" is at its limit of concurrent requests; retry later`
            : 'the gateway is at its limit of concurrent requests; retry later';
        return reject(new GatewayError(refusal, message, { retryAfterSeconds: RETRY_AFTER_SECONDS }));
      }
      load.queued++;
      waiter = {
        load,
        start: () => {
          load.queued--;
          start();
        },
      };
      this.queue.push(waiter);
    });
  }

  /** Runs and waiters now, for tests and gauges. */
  stats(): { running: number; queued: number } {
    return { running: this.running, queued: this.queue.length };
  }

  private loadOf(key: string): VersionLoad {
    let load = this.versions.get(key);
    if (!load) {
      load = { running: 0, queued: 0 };
      this.versions.set(key, load);
    }
    return load;
  }

  /** Idle versions leave the map, so it holds only versions with work (memory stays bounded). */
  private forget(key: string, load: VersionLoad): void {
    if (load.running === 0 && load.queued === 0) this.versions.delete(key);
  }

  private canStart(load: VersionLoad): boolean {
    // A version with waiters queues newcomers behind them (FIFO per version).
    return load.queued === 0 && load.running < this.limits.perVersion && this.running < this.limits.total;
  }

  private refusal(load: VersionLoad): 'TOO_MANY_REQUESTS' | 'OVERLOADED' | undefined {
    if (load.queued >= this.limits.perVersionQueue) return 'TOO_MANY_REQUESTS';
    if (this.queue.length >= this.limits.totalQueue) return 'OVERLOADED';
    return undefined;
  }

  /** Starts the oldest waiters whose version has a free slot, while total slots remain. */
  private dispatch(): void {
    for (let i = 0; i < this.queue.length && this.running < this.limits.total; ) {
      const waiter = this.queue[i];
      if (waiter && waiter.load.running < this.limits.perVersion) {
        this.queue.splice(i, 1);
        waiter.start();
      } else i++;
    }
  }
}

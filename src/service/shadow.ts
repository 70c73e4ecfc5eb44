// Shadow traffic: a copy of a fraction of a model's requests goes to each shadow version after
// the primary answer exists. The caller never waits for it and never sees its failure. Work is
// bounded: a few copies run at a time, a short queue waits, and beyond it a copy is dropped
// and counted, so shadowing can never slow or break primary traffic.
import type { ModelCache } from '../cache/model-cache.js';
import { outputDifference } from '../inference/compare.js';
import type { InputTensor } from '../inference/codec.js';
import type { GatewayMetrics } from '../metrics/metrics.js';
import type { ModelEntry, VersionEntry } from '../registry/revision.js';
import { runVersion, type NamedOutput } from './run-version.js';

export interface ShadowLogger {
  debug(obj: object, msg: string): void;
}

export interface ShadowOptions {
  readonly cache: ModelCache;
  readonly metrics: GatewayMetrics;
  readonly log: ShadowLogger;
  /** Uniform in [0, 1): which requests are copied. */
  readonly random: () => number;
  /** Copies running at once (default 1: shadows share the event loop with primary traffic). */
  readonly concurrency?: number;
  /** Copies waiting at most; beyond this they are dropped (default 16). */
  readonly maxQueue?: number;
}

interface Job {
  readonly model: string;
  readonly version: VersionEntry;
  readonly inputs: ReadonlyMap<string, InputTensor>;
  readonly primary: readonly NamedOutput[];
}

export class ShadowRunner {
  private readonly queue: Job[] = [];
  private active = 0;
  private readonly idleWaiters: Array<() => void> = [];

  constructor(private readonly options: ShadowOptions) {}

  /** Called with the answer the caller got; queues copies for the model's shadow versions. */
  offer(model: ModelEntry, answeredBy: string, inputs: ReadonlyMap<string, InputTensor>, primary: readonly NamedOutput[]): void {
    for (const version of model.versions) {
      if (version.shadow <= 0 || version.name === answeredBy || this.options.random() >= version.shadow) continue;
      if (this.queue.length >= (this.options.maxQueue ?? 16)) {
        this.options.metrics.shadowDropped.inc({ model: model.name, version: version.name });
        continue;
      }
      this.queue.push({ model: model.name, version, inputs, primary });
    }
    this.pump();
  }

  /** Resolves when no copy is queued or running. */
  idle(): Promise<void> {
    if (this.active === 0 && this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private pump(): void {
    while (this.active < (this.options.concurrency ?? 1) && this.queue.length > 0) {
      const job = this.queue.shift() as Job;
      this.active++;
      // After the current turn, so the primary response is written before the copy runs.
      setImmediate(() => {
        void this.run(job).finally(() => {
          this.active--;
          this.pump();
          if (this.active === 0 && this.queue.length === 0) for (const wake of this.idleWaiters.splice(0)) wake();
        });
      });
    }
  }

  private async run(job: Job): Promise<void> {
    const labels = { model: job.model, version: job.version.name };
    let outcome: 'match' | 'mismatch' | 'error';
    try {
      const outputs = await runVersion(this.options.cache, job.model, job.version, job.inputs, job.primary.map((o) => o.name));
      const difference = outputDifference(job.primary, outputs);
      outcome = difference === undefined ? 'match' : 'mismatch';
      if (difference !== undefined) this.options.log.debug({ event: 'shadow_mismatch', ...labels, difference }, 'shadow output differs');
    } catch (err) {
      outcome = 'error';
      this.options.log.debug({ event: 'shadow_error', ...labels, err: String(err) }, 'shadow request failed');
    }
    this.options.metrics.shadowRequests.inc({ ...labels, outcome });
  }
}

// A process's guarded outcomes on their way to the other processes: buffered per version and sent
// as one message at most every `flushMs` (or once a version has `maxSamples` waiting), so the
// cost per request is an array push, never a message.
import { versionKey } from '../registry/revision.js';
import type { GuardBatch } from './messages.js';

export class GuardOutbox {
  private readonly waiting = new Map<string, GuardBatch>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly send: (batches: GuardBatch[]) => void,
    private readonly flushMs = 20,
    private readonly maxSamples = 256,
  ) {}

  /** One guarded outcome: latency and whether it was a server error. */
  add(model: string, version: string, error: boolean, latencyMs: number): void {
    const k = versionKey(model, version);
    let batch = this.waiting.get(k);
    if (!batch) {
      batch = { model, version, samples: [] };
      this.waiting.set(k, batch);
    }
    batch.samples.push(latencyMs, error ? 1 : 0);
    if (batch.samples.length >= 2 * this.maxSamples) this.flush();
    else this.timer ??= setTimeout(() => this.flush(), this.flushMs).unref();
  }

  /** Sends whatever is waiting now (before a claim, so the others have seen what this one saw). */
  flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.waiting.size === 0) return;
    const batches = [...this.waiting.values()];
    this.waiting.clear();
    this.send(batches);
  }
}

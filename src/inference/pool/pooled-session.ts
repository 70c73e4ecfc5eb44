// A ModelSession whose onnxruntime copy lives on one pool worker. Each version has its own
// queue on the main thread and at most `maxInFlight` runs handed to its worker at a time, so a
// light version sharing a worker with a heavy one waits behind at most that many heavy runs.
// A version whose runs are measured tiny moves inline onto the main thread (a worker round trip
// would cost more than the run); an inline run that turns out slow moves it back for good.
import { performance } from 'node:perf_hooks';
import type { HostTensor, ModelSession, SessionFactory, Signature } from '../session.js';
import { toWire, type WireTensor } from './protocol.js';
import type { WorkerSlot } from './worker-slot.js';

export interface InlinePolicy {
  /** Off: every run goes to a worker. */
  readonly enabled: boolean;
  /** Worker-measured runs before deciding. */
  readonly probeRuns: number;
  /** Run inline when the probed median run is below this (µs). */
  readonly belowUs: number;
  /** An inline run slower than this (µs) sends the version back to its worker, never to return. */
  readonly demoteAboveUs: number;
}

export interface PooledSessionDeps {
  readonly slot: WorkerSlot;
  readonly sid: number;
  readonly filePath: string;
  readonly threads: number;
  readonly maxInFlight: number;
  readonly inline: InlinePolicy;
  /** Loads a main-thread copy, for inline runs. */
  readonly inlineFactory: SessionFactory;
  readonly onPlacementChange?: (sid: number, where: 'inline' | 'worker') => void;
}

interface Waiting {
  readonly feeds: Readonly<Record<string, HostTensor>>;
  readonly outputs: readonly string[];
  resolve(out: Record<string, HostTensor>): void;
  reject(err: unknown): void;
}

export class PooledSession implements ModelSession {
  private loadedGeneration: number;
  private inFlight = 0;
  private readonly queue: Waiting[] = [];
  private queueHead = 0;
  private readonly probe: number[] = [];
  private inlineSession: ModelSession | undefined;
  private promoting = false;
  private neverInline: boolean;
  private reloading: Promise<void> | undefined;
  private released = false;
  private inlineInFlight = 0;

  constructor(
    readonly signature: Signature,
    private readonly deps: PooledSessionDeps,
  ) {
    this.loadedGeneration = deps.slot.generation;
    this.neverInline = !deps.inline.enabled;
  }

  /** Where runs go now (for tests and logs). */
  get placement(): 'inline' | 'worker' {
    return this.inlineSession ? 'inline' : 'worker';
  }

  get workerIndex(): number {
    return this.deps.slot.index;
  }

  run(feeds: Readonly<Record<string, HostTensor>>, outputs: readonly string[]): Promise<Record<string, HostTensor>> {
    if (this.inlineSession) return this.runInline(this.inlineSession, feeds, outputs);
    if (this.inFlight < this.deps.maxInFlight && this.queueHead === this.queue.length) return this.dispatch(feeds, outputs);
    return new Promise((resolve, reject) => this.queue.push({ feeds, outputs, resolve, reject }));
  }

  private async dispatch(feeds: Readonly<Record<string, HostTensor>>, outputs: readonly string[]): Promise<Record<string, HostTensor>> {
    this.inFlight++;
    try {
      if (this.loadedGeneration !== this.deps.slot.generation) await this.reload();
      const { wire, transfer } = toWire(feeds);
      const answer = await this.deps.slot.call({ op: 'run', sid: this.deps.sid, feeds: wire, outputs }, transfer);
      if (answer.us !== undefined) this.observe(answer.us);
      return fromWire(answer.outputs ?? []);
    } finally {
      this.inFlight--;
      this.next();
    }
  }

  private next(): void {
    while (this.inFlight < this.deps.maxInFlight && this.queueHead < this.queue.length) {
      const w = this.queue[this.queueHead] as Waiting;
      this.queue[this.queueHead++] = undefined as unknown as Waiting;
      if (this.queueHead === this.queue.length) {
        this.queue.length = 0;
        this.queueHead = 0;
      }
      const run = this.inlineSession ? this.runInline(this.inlineSession, w.feeds, w.outputs) : this.dispatch(w.feeds, w.outputs);
      run.then(w.resolve, w.reject);
    }
  }

  /** The worker was replaced since this version was loaded there: load it on the new thread. */
  private reload(): Promise<void> {
    this.reloading ??= (async () => {
      const generation = this.deps.slot.generation;
      await this.deps.slot.call({ op: 'load', sid: this.deps.sid, path: this.deps.filePath, threads: this.deps.threads });
      this.loadedGeneration = generation;
    })().finally(() => {
      this.reloading = undefined;
    });
    return this.reloading;
  }

  private observe(us: number): void {
    if (this.neverInline || this.promoting || this.probe.length >= this.deps.inline.probeRuns) return;
    this.probe.push(us);
    if (this.probe.length < this.deps.inline.probeRuns) return;
    const sorted = [...this.probe].sort((a, b) => a - b);
    const median = sorted[Math.floor(sorted.length / 2)] ?? Infinity;
    if (median < this.deps.inline.belowUs) void this.promote();
    else this.neverInline = true;
  }

  /** Loads a main-thread copy, then releases the worker's, so one copy exists once it settles. */
  private async promote(): Promise<void> {
    this.promoting = true;
    try {
      const inline = await this.deps.inlineFactory.create(this.deps.filePath);
      if (this.released || this.neverInline) {
        await inline.release();
        return;
      }
      this.inlineSession = inline;
      this.deps.onPlacementChange?.(this.deps.sid, 'inline');
      // Runs already handed to the worker finish there; the copy goes when the worker is idle.
      await this.drainWorker();
      if (this.inlineSession === inline) await this.releaseWorkerCopy();
    } catch {
      this.neverInline = true;
    } finally {
      this.promoting = false;
    }
  }

  private async drainWorker(): Promise<void> {
    while (this.inFlight > 0) await new Promise((r) => setImmediate(r));
  }

  private async runInline(session: ModelSession, feeds: Readonly<Record<string, HostTensor>>, outputs: readonly string[]): Promise<Record<string, HostTensor>> {
    const started = performance.now();
    this.inlineInFlight++;
    try {
      const out = await session.run(feeds, outputs);
      // Includes onnxruntime-node's setImmediate hop, so it errs toward demoting.
      const us = (performance.now() - started) * 1000;
      if (us > this.deps.inline.demoteAboveUs && this.inlineSession === session) void this.demote(session);
      return out;
    } finally {
      this.inlineInFlight--;
    }
  }

  private async demote(session: ModelSession): Promise<void> {
    this.neverInline = true;
    this.inlineSession = undefined;
    this.deps.onPlacementChange?.(this.deps.sid, 'worker');
    this.loadedGeneration = -1; // the worker copy was released: load it there again on the next run
    // Inline runs already started finish on the copy before it goes.
    while (this.inlineInFlight > 0) await new Promise((r) => setImmediate(r));
    await session.release().catch(() => undefined);
  }

  private async releaseWorkerCopy(): Promise<void> {
    if (this.loadedGeneration !== this.deps.slot.generation) return;
    this.loadedGeneration = -1;
    await this.deps.slot.call({ op: 'release', sid: this.deps.sid }).catch(() => undefined);
  }

  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    const inline = this.inlineSession;
    this.inlineSession = undefined;
    await Promise.all([inline?.release(), this.releaseWorkerCopy()]);
  }
}

function fromWire(wire: readonly WireTensor[]): Record<string, HostTensor> {
  const out: Record<string, HostTensor> = {};
  for (const [name, type, dims, data] of wire) out[name] = { type, dims, data };
  return out;
}

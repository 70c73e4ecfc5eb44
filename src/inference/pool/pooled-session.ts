// A ModelSession whose onnxruntime copy lives on one pool worker. Each version has its own
// queue on the main thread and at most `maxInFlight` runs handed to its worker at a time, so a
// light version sharing a worker with a heavy one waits behind at most that many heavy runs.
// A version whose runs are measured tiny moves inline onto the main thread (a worker round trip
// would cost more than the run); an inline run that turns out slow moves it back for good.
import type { HostTensor, ModelSession, SessionFactory, Signature } from '../session.js';
import { toWire, type WireTensor } from './protocol.js';
import { timedRun } from './timed-run.js';
import type { WorkerSlot } from './worker-slot.js';

export interface InlinePolicy {
  /** Off: every run goes to a worker. */
  readonly enabled: boolean;
  /** Runs not measured at first (cold). */
  readonly warmupRuns: number;
  /** Worker-measured runs before deciding. */
  readonly probeRuns: number;
  /**
   * Run inline when the probed runs' lower quartile is below this (µs). Not the median: the probe
   * runs on a worker thread at a lower OS priority (pool/priority.ts), and on a saturated machine
   * most of its runs can include time descheduled, which only ever adds; a quarter of clean runs
   * is enough to see the run's own cost. The median of inline runs still sends it back.
   */
  readonly belowUs: number;
  /**
   * A probe between belowUs and this moves the version inline on trial: kept there only if the
   * lower quartile of its first `probeRuns` inline runs, timed on the event loop, is below
   * belowUs. On a saturated machine a worker's runs measure slower than the same runs inline
   * (measured: a 784-wide MLP probed 77–139 µs on its worker from start to start, and served
   * 5,341 req/s where it went inline against 3,341 where it stayed), so a run time near the
   * threshold is settled where it would run.
   */
  readonly trialBelowUs: number;
  /**
   * Back to its worker for good when the median of the last `probeRuns` inline runs exceeds
   * 4 × belowUs, or when one run exceeds this (µs) on inputs larger than any probed. A single
   * run's wall time also holds GC pauses and time descheduled on a busy machine (we measured
   * 27 ms once under profiling for a 10 µs model), so one slow run of a familiar size is not
   * evidence; one slow run of a larger input than ever measured is.
   */
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
  /** Told when the version moves, with the probe's lower quartile, the inline median or the single slow run (µs) behind it. */
  readonly onPlacementChange?: (filePath: string, where: 'inline' | 'worker', us: number) => void;
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
  /** Inline on trial (see trialBelowUs) until its first probeRuns inline runs are in. */
  private onTrial = false;
  private neverInline: boolean;
  private reloading: Promise<void> | undefined;
  private released = false;
  private inlineInFlight = 0;
  private warmupLeft: number;
  /** The last `probeRuns` inline run times (a ring), checked each time it fills. */
  private readonly inlineTimes: number[] = [];
  private inlineCount = 0;
  /** The largest input (elements, all inputs together) among the probed runs. */
  private probedElements = 0;

  constructor(
    readonly signature: Signature,
    private readonly deps: PooledSessionDeps,
  ) {
    this.loadedGeneration = deps.slot.generation;
    this.neverInline = !deps.inline.enabled;
    this.warmupLeft = deps.inline.warmupRuns;
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
      // Counted before the buffers move to the worker (a moved buffer reads as empty here).
      const elements = this.neverInline ? 0 : elementsOf(feeds);
      const { wire, transfer } = toWire(feeds);
      const answer = await this.deps.slot.call({ op: 'run', sid: this.deps.sid, feeds: wire, outputs }, transfer);
      if (answer.us !== undefined && !this.neverInline) this.observe(answer.us, elements);
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

  private observe(us: number, elements: number): void {
    if (this.neverInline || this.promoting || this.probe.length >= this.deps.inline.probeRuns) return;
    // The first runs of a fresh session are cold (JIT, onnxruntime's first allocations): skipped.
    if (this.warmupLeft > 0) {
      this.warmupLeft--;
      return;
    }
    this.probe.push(us);
    this.probedElements = Math.max(this.probedElements, elements);
    if (this.probe.length < this.deps.inline.probeRuns) return;
    const probed = quantile(this.probe, 0.25);
    if (probed < this.deps.inline.belowUs) {
      void this.promote(probed, false);
    } else if (probed < this.deps.inline.trialBelowUs) {
      void this.promote(probed, true);
    } else {
      this.neverInline = true;
      this.deps.onPlacementChange?.(this.deps.filePath, 'worker', probed);
    }
  }

  /** Loads a main-thread copy, then releases the worker's, so one copy exists once it settles. */
  private async promote(probedUs: number, trial: boolean): Promise<void> {
    this.promoting = true;
    try {
      const inline = await this.deps.inlineFactory.create(this.deps.filePath);
      if (this.released || this.neverInline) {
        await inline.release();
        return;
      }
      this.onTrial = trial;
      this.inlineSession = inline;
      this.deps.onPlacementChange?.(this.deps.filePath, 'inline', probedUs);
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
    this.inlineInFlight++;
    try {
      const { out, us } = await timedRun(session, feeds, outputs);
      if (this.inlineSession === session) {
        const slow = this.inlineTooSlow(us, feeds);
        if (slow !== undefined) void this.demote(session, slow);
      }
      return out;
    } finally {
      this.inlineInFlight--;
    }
  }

  /** A batching version's session: never inline, and back to its worker if it had moved. */
  keepOnWorker(): void {
    const inline = this.inlineSession;
    this.neverInline = true;
    if (inline) void this.demote(inline, 0);
  }

  /** The run time (µs) that sends an inline version back to its worker, if this run settles that. */
  private inlineTooSlow(us: number, feeds: Readonly<Record<string, HostTensor>>): number | undefined {
    if (us > this.deps.inline.demoteAboveUs && elementsOf(feeds) > this.probedElements) return us;
    const { probeRuns, belowUs } = this.deps.inline;
    const window = this.inlineTimes;
    window[this.inlineCount++ % probeRuns] = us;
    if (this.inlineCount < probeRuns || this.inlineCount % probeRuns !== 0) return undefined;
    if (this.onTrial) {
      // The trial's verdict, by the probe's own rule: a quarter of quick runs.
      this.onTrial = false;
      const trial = quantile(window, 0.25);
      if (trial >= belowUs) return trial;
    }
    const median = quantile(window, 0.5);
    return median > 4 * belowUs ? median : undefined;
  }

  private async demote(session: ModelSession, us: number): Promise<void> {
    this.neverInline = true;
    this.inlineSession = undefined;
    this.deps.onPlacementChange?.(this.deps.filePath, 'worker', us);
    // loadedGeneration already says whether the worker copy is there: releaseWorkerCopy marked it
    // gone once the promotion finished; a promotion still draining the worker kept it.
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

function elementsOf(feeds: Readonly<Record<string, HostTensor>>): number {
  let n = 0;
  for (const name in feeds) n += (feeds[name] as HostTensor).data.length;
  return n;
}

/** The element at q of the sorted values (q = 0.5: the median, the upper one of an even count); Infinity when empty. */
export function quantile(xs: readonly number[], q: number): number {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * q))] ?? Infinity;
}

function fromWire(wire: readonly WireTensor[]): Record<string, HostTensor> {
  const out: Record<string, HostTensor> = {};
  for (const [name, type, dims, data] of wire) out[name] = { type, dims, data };
  return out;
}

// The inference pool: a fixed number of worker threads, each version pinned to one of them (so
// exactly one onnxruntime copy exists per loaded version and the cache's count and byte bounds
// stay true), placed on the thread with the fewest versions.
//
// Why not piscina: it hands each task to whichever thread is free, which suits stateless work;
// sessions are stateful and large, so every thread would need its own copy of every model (the
// cache's byte bound would be off by the thread count), and one FIFO queue would put light
// versions behind heavy ones. Pinning plus a queue per version is the part that matters here,
// and it is small enough to own.
import os from 'node:os';
import type { ModelSession, SessionFactory } from '../session.js';
import { ModelLoadError } from '../session.js';
import { PooledSession, type InlinePolicy, type PooledSessionDeps } from './pooled-session.js';
import { WorkerSlot } from './worker-slot.js';

export interface PoolOptions {
  /** Worker threads; default the core count. */
  readonly threads?: number;
  /** onnxruntime intra-op threads per session; 1 by default, since the pool is the parallelism. */
  readonly intraOpNumThreads?: number;
  /** Runs of one version handed to its worker at once; the rest wait in that version's queue. */
  readonly maxInFlightPerVersion?: number;
  /**
   * Added to each worker thread's nice value (Linux; 0–19, higher = lower priority), inherited
   * by onnxruntime's intra-op threads. Default 10: when models keep every core busy, the event
   * loop (HTTP, JSON, inline models) still gets a core as soon as it has work, so heavy requests
   * queue in their version's queue instead of in front of light requests (docs/benchmarks.md).
   */
  readonly workerNice?: number;
  /** A worker with runs waiting that answers nothing for this long is replaced. Default 60 s. */
  readonly hangTimeoutMs?: number;
  readonly inline?: Partial<InlinePolicy>;
  /** Loads main-thread copies for inline runs. */
  readonly inlineFactory: SessionFactory;
  /** Test-only: lets `injectFault` make a worker crash or hang on its next run. */
  readonly faults?: boolean;
  readonly onWorkerLost?: (index: number, reason: string) => void;
  readonly onPlacementChange?: PooledSessionDeps['onPlacementChange'];
}

export const DEFAULT_WORKER_NICE = 10;

export const DEFAULT_INLINE: InlinePolicy = { enabled: true, warmupRuns: 16, probeRuns: 16, belowUs: 100, trialBelowUs: 200, demoteAboveUs: 20_000 };

export class InferencePool implements SessionFactory {
  private readonly slots: WorkerSlot[];
  /** Versions pinned to each slot (inline ones included: they may come back). */
  private readonly pinned: number[];
  private nextSid = 1;
  private readonly inline: InlinePolicy;
  private readonly threadsPerSession: number;
  private readonly maxInFlight: number;

  constructor(private readonly options: PoolOptions) {
    const threads = Math.max(1, options.threads ?? os.availableParallelism());
    const slotOptions = { hangTimeoutMs: options.hangTimeoutMs ?? 60_000, faults: options.faults ?? false, nice: options.workerNice ?? DEFAULT_WORKER_NICE, onLost: options.onWorkerLost };
    this.slots = Array.from({ length: threads }, (_, i) => new WorkerSlot(i, slotOptions));
    this.pinned = this.slots.map(() => 0);
    this.inline = { ...DEFAULT_INLINE, ...options.inline };
    this.threadsPerSession = options.intraOpNumThreads ?? 1;
    this.maxInFlight = Math.max(1, options.maxInFlightPerVersion ?? 2);
  }

  get size(): number {
    return this.slots.length;
  }

  async create(filePath: string): Promise<ModelSession> {
    const index = this.leastPinned();
    const slot = this.slots[index] as WorkerSlot;
    const sid = this.nextSid++;
    this.pinned[index] = (this.pinned[index] ?? 0) + 1;
    let answer;
    try {
      answer = await slot.call({ op: 'load', sid, path: filePath, threads: this.threadsPerSession });
    } catch (err) {
      this.pinned[index] = (this.pinned[index] ?? 1) - 1;
      throw err instanceof ModelLoadError ? err : new ModelLoadError(err instanceof Error ? err.message : String(err), { cause: err });
    }
    if (!answer.signature) throw new ModelLoadError('the inference worker returned no signature');
    const session = new PooledSession(answer.signature, {
      slot,
      sid,
      filePath,
      threads: this.threadsPerSession,
      maxInFlight: this.maxInFlight,
      inline: this.inline,
      inlineFactory: this.options.inlineFactory,
      ...(this.options.onPlacementChange ? { onPlacementChange: this.options.onPlacementChange } : {}),
    });
    const release = session.release.bind(session);
    // Unpinned when the cache releases it, so the next version goes where there is room.
    let unpinned = false;
    session.release = async () => {
      if (!unpinned) this.pinned[index] = (this.pinned[index] ?? 1) - 1;
      unpinned = true;
      await release();
    };
    return session;
  }

  private leastPinned(): number {
    let best = 0;
    for (let i = 1; i < this.pinned.length; i++) if ((this.pinned[i] ?? 0) < (this.pinned[best] ?? 0)) best = i;
    return best;
  }

  /** Test-only: the next run on worker `index` crashes the thread or never returns. */
  async injectFault(index: number, kind: 'crash' | 'hang'): Promise<void> {
    const slot = this.slots[index];
    if (!slot) throw new Error(`no worker ${index}`);
    await slot.call({ op: 'fault', kind });
  }

  async close(): Promise<void> {
    await Promise.all(this.slots.map((s) => s.close()));
  }
}

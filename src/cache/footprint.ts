// What a loaded version costs in memory, which is what cache.maxBytes bounds (not file sizes).
//
// Measured with onnxruntime-node 1.30 on glibc with the gateway's malloc settings (`npm start`,
// the Dockerfile, app.yaml; README "Memory"): RSS one more session keeps (5 sessions averaged)
// and the peak growth during one load (VmHWM), `bench/ort-memory.ts --footprint`:
//   2048×2048 MatMul (16.0 MiB file): 16.0 MiB kept (×1.00), load peak +34.0 MiB (×2.12)
//   4 × 1024-wide MLP (16.1 MiB):     16.0–16.4 MiB (×1.00–1.02),   +31.8 MiB (×1.98)
//   784-wide MLP (2.4 MiB):           2.4 MiB (×0.99–1.04),          +4.7–5.2 MiB (×1.96–2.20)
//   mnist-mlp-dynamic (1.5 MiB):      1.6 MiB (×1.06),               +3.4 MiB (×2.21)
//   shufflenet-v2 int8 (2.3 MiB):     4.5–5.5 MiB (×1.96–2.41),      +5.2–6.7 MiB (×2.28–2.95)
//   tiny, mnist-8 and sklearn models (< 30 kB): under 0.5 MiB kept, under 2 MiB at the peak
// Prepacking and onnxruntime's CPU arena change none of these by more than 0.4 MiB.
// A load holds the parsed file, the weights and their prepacked copy at once, hence the peak.
// The factors below cover dense models; a model that keeps more than its file (shufflenet's
// int8 convolutions) is caught by measuring RSS around its load (ModelCache), when no other load,
// release or thread start overlapped it.

import { readFileSync } from 'node:fs';

const MiB = 2 ** 20;

/** Bytes a loaded version is counted at before (or without) a measurement. */
export function steadyEstimate(fileBytes: number): number {
  return Math.ceil(fileBytes * 1.05) + MiB / 2;
}

/** Bytes set aside while a version loads: what its load may hold at its peak. */
export function loadPeakEstimate(fileBytes: number): number {
  return Math.ceil(fileBytes * 2.25) + 2 * MiB;
}

/** A retired version whose session is not released yet. */
export interface Leaving {
  readonly bytes: number;
  readonly whenReleased: Promise<void>;
  /** Its release is under way (no request holds it any more), so it will end on its own. */
  readonly releasing: boolean;
}

/** The process's resident set size and thread count (NaN where /proc is not available). */
export interface ProcessSample {
  readonly rss: number;
  readonly threads: number;
}

export function sampleProcess(): ProcessSample {
  try {
    const status = readFileSync('/proc/self/status', 'utf8');
    const rss = /VmRSS:\s+(\d+)/.exec(status)?.[1];
    const threads = /Threads:\s+(\d+)/.exec(status)?.[1];
    return { rss: Number(rss) * 1024, threads: Number(threads) };
  } catch {
    return { rss: process.memoryUsage.rss(), threads: NaN };
  }
}

export interface Reservation {
  /**
   * RSS growth since the reservation was granted, or undefined when it may not be this load's
   * alone: another load or a release overlapped it, or a thread started meanwhile (the pool starts
   * its worker threads on their first load; a thread's own heap is not the model's).
   */
  growth(): number | undefined;
  /** Gives the reserved bytes back (once the loaded version is counted, or the load failed). */
  release(): void;
}

/**
 * The bytes the cache owes besides what is in its LRU: loads under way (their peak reserved up
 * front) and retired versions whose sessions are not released yet. A load waits for room only
 * on what ends by itself (other loads, releases under way), never on requests: a request that
 * holds one version while loading another (a fallback) must not wait for itself.
 */
export class MemoryBudget {
  private reservedBytes = 0;
  private leavingBytes = 0;
  private readonly leaving = new Set<Leaving>();
  /** Bumped whenever a load starts or ends or a session is released: RSS moved for another reason. */
  private events = 0;
  private readonly loads = new Set<Promise<void>>();

  constructor(
    private readonly sample: () => ProcessSample = sampleProcess,
    /** A load waits at most this long for room, in case a release never answers (a stuck worker). */
    private readonly maxWaitMs = 10_000,
    /** Told whenever `owed` changes (the cache republishes its gauge). */
    private readonly onChange: () => void = () => {},
  ) {}

  /** Reserved for loads plus held by retired, unreleased sessions. */
  get owed(): number {
    return this.reservedBytes + this.leavingBytes;
  }

  /** `owed` once the releases under way have finished: what evicting more could still help with. */
  get owedAfterReleases(): number {
    let releasing = 0;
    for (const l of this.leaving) if (l.releasing) releasing += l.bytes;
    return this.owed - releasing;
  }

  /** Counts a retired version's bytes until its session is released. */
  leave(entry: Leaving): void {
    this.leaving.add(entry);
    this.leavingBytes += entry.bytes;
    void entry.whenReleased.then(() => {
      this.leaving.delete(entry);
      this.leavingBytes -= entry.bytes;
      this.events++;
      this.onChange();
    });
  }

  /**
   * Reserves `bytes` for a load once `makeRoom()` (which may evict idle versions) says they fit,
   * waiting while it does not for loads and releases already under way. With none under way (or
   * after maxWaitMs) it proceeds regardless: only requests hold the rest, and they finish on their
   * own. Off Linux (no thread count) `growth` is always undefined: versions count at the estimate.
   */
  async reserve(bytes: number, makeRoom: () => boolean): Promise<Reservation> {
    const deadline = Date.now() + this.maxWaitMs;
    while (!makeRoom()) {
      const ending = [...this.loads, ...[...this.leaving].filter((l) => l.releasing).map((l) => l.whenReleased)];
      const left = deadline - Date.now();
      if (ending.length === 0 || left <= 0) break;
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([...ending, new Promise<void>((resolve) => (timer = setTimeout(resolve, left)))]);
      clearTimeout(timer);
    }
    let done!: () => void;
    const finished = new Promise<void>((resolve) => (done = resolve));
    this.loads.add(finished);
    this.reservedBytes += bytes;
    this.onChange();
    const mark = ++this.events;
    const before = this.sample();
    let released = false;
    return {
      growth: () => {
        if (this.events !== mark) return undefined;
        const after = this.sample();
        if (!(after.threads === before.threads)) return undefined;
        return Math.max(0, after.rss - before.rss);
      },
      release: () => {
        if (released) return;
        released = true;
        this.reservedBytes -= bytes;
        this.events++;
        this.loads.delete(finished);
        done();
        this.onChange();
      },
    };
  }
}

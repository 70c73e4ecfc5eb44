// One loaded session in the cache, and the leases that keep it alive while requests run on it.
import type { ModelSession } from '../inference/session.js';
import type { VersionEntry } from '../registry/revision.js';
import { formatLocation } from '../storage/location.js';

export interface Lease {
  readonly session: ModelSession;
  /** Must be called exactly once when the run is over. */
  release(): void;
}

export interface LoadTarget {
  readonly model: string;
  readonly version: VersionEntry;
}

export class Entry {
  private inflight: number;
  private retired = false;
  private released: Promise<void> | undefined;
  private markReleased!: () => void;
  /** Settles once the session is released (after the last lease, when retired). */
  readonly whenReleased = new Promise<void>((resolve) => (this.markReleased = resolve));

  /** `reserved`: leases already promised to requests that waited for this load. */
  constructor(
    readonly target: LoadTarget,
    readonly session: ModelSession,
    /** What the cache counts against cache.maxBytes: the session's memory, not its file (footprint.ts). */
    readonly bytes: number,
    readonly fileBytes: number,
    /** What identifies the loaded bytes (GCS generation), to notice an object replaced in place. */
    readonly contentVersion: string,
    reserved: number,
  ) {
    this.inflight = reserved;
  }

  /** Retired and its release under way: it ends without waiting for any request. */
  get releasing(): boolean {
    return this.released !== undefined;
  }

  /** In the cache with no run on it: evicting it frees its memory now. */
  get idle(): boolean {
    return !this.retired && this.inflight === 0;
  }

  /** False once retired: the caller must look the version up again. */
  tryAcquire(): boolean {
    if (this.retired) return false;
    this.inflight++;
    return true;
  }

  lease(): Lease {
    let released = false;
    return {
      session: this.session,
      release: () => {
        if (released) return;
        released = true;
        this.done();
      },
    };
  }

  private done(): void {
    this.inflight--;
    if (this.retired && this.inflight === 0) void this.releaseNow();
  }

  /**
   * No new leases; the session is released once the last running request finishes.
   * True the first time (the caller then owns counting its bytes until `whenReleased`).
   */
  retire(): boolean {
    if (this.retired) return false;
    this.retired = true;
    if (this.inflight === 0) void this.releaseNow();
    return true;
  }

  releaseNow(): Promise<void> {
    this.released ??= this.session
      .release()
      .catch(() => undefined)
      .finally(() => this.markReleased());
    return this.released;
  }
}

// Version entries are immutable and shared by every request of a revision: key each once.
const keys = new WeakMap<VersionEntry, string>();

export function cacheKey(model: string, version: VersionEntry): string {
  let key = keys.get(version);
  if (key === undefined) {
    // The location is part of the key: repointing a version at a new file loads it afresh.
    key = `${model}\u0000${version.name}\u0000${formatLocation(version.location)}`;
    keys.set(version, key);
  }
  return key;
}


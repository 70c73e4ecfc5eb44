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

  /** `reserved`: leases already promised to requests that waited for this load. */
  constructor(
    readonly target: LoadTarget,
    readonly session: ModelSession,
    readonly bytes: number,
    /** What identifies the loaded bytes (GCS generation), to notice an object replaced in place. */
    readonly contentVersion: string,
    reserved: number,
  ) {
    this.inflight = reserved;
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

  /** No new leases; the session is released once the last running request finishes. */
  retire(): void {
    this.retired = true;
    if (this.inflight === 0) void this.releaseNow();
  }

  releaseNow(): Promise<void> {
    this.released ??= this.session.release().catch(() => undefined);
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


// The guard's judgement: per version, a sliding window of server-side outcomes and latency,
// checked against the model's policy. Deciding is pure bookkeeping here; acting on a breach
// (routing it away, counting, writing it back) is the rollout controller's job.
import type { InferenceOutcome } from '../metrics/metrics.js';
import { versionKey, type GuardPolicy, type ModelEntry, type Revision } from '../registry/revision.js';
import type { RollbackReason } from './traffic.js';
import { SlidingWindow, type WindowSnapshot } from './window.js';

export interface Breach {
  readonly reason: RollbackReason;
  readonly snapshot: WindowSnapshot;
  readonly policy: GuardPolicy;
}

interface Tracked {
  readonly policy: GuardPolicy;
  readonly window: SlidingWindow;
}

export class Guard {
  private tracked = new Map<string, Tracked>();

  constructor(private readonly now: () => number = Date.now) {}

  /**
   * Records one finished request. Client errors and refusals say nothing about the version and
   * are not counted; a server error rescued by the fallback still counts against this version.
   * Returns the breach when this request tips the version over its policy.
   */
  observe(model: ModelEntry, version: string, outcome: InferenceOutcome, latencyMs: number): Breach | undefined {
    const policy = model.guard;
    if (!policy || (outcome !== 'success' && outcome !== 'server_error')) return undefined;
    const tracked = this.track(model.name, version, policy);
    tracked.window.record(latencyMs, outcome === 'server_error');
    const snapshot = tracked.window.snapshot();
    if (snapshot.requests < policy.minRequests) return undefined;
    if (policy.maxErrorRate !== undefined && snapshot.errorRate > policy.maxErrorRate) return { reason: 'error_rate', snapshot, policy };
    if (policy.maxP99Ms !== undefined && snapshot.p99Ms > policy.maxP99Ms) return { reason: 'p99_latency', snapshot, policy };
    return undefined;
  }

  snapshot(model: string, version: string): WindowSnapshot | undefined {
    return this.tracked.get(versionKey(model, version))?.window.snapshot();
  }

  /**
   * A new revision: versions whose policy is unchanged keep their window; a changed policy, a new
   * model file, or a version that had no traffic before (a rollout after a rollback) starts afresh.
   */
  onRevision(next: Revision, previous: Revision): void {
    const kept = new Map<string, Tracked>();
    for (const model of next.models.values()) {
      if (!model.guard) continue;
      const before = previous.models.get(model.name);
      for (const v of model.versions) {
        const old = this.tracked.get(versionKey(model.name, v.name));
        const was = before?.versions.find((o) => o.name === v.name);
        const fresh = !was || was.uri !== v.uri || (was.weight === 0 && v.weight > 0);
        if (old && !fresh && samePolicy(old.policy, model.guard)) kept.set(versionKey(model.name, v.name), old);
      }
    }
    this.tracked = kept;
  }

  /** Forgets a version's window (a rollback that ends with a registry change starts afresh). */
  forget(model: string, version: string): void {
    this.tracked.delete(versionKey(model, version));
  }

  private track(model: string, version: string, policy: GuardPolicy): Tracked {
    const k = versionKey(model, version);
    let tracked = this.tracked.get(k);
    if (!tracked) {
      tracked = { policy, window: new SlidingWindow(policy.windowSeconds * 1000, this.now) };
      this.tracked.set(k, tracked);
    }
    return tracked;
  }
}

function samePolicy(a: GuardPolicy, b: GuardPolicy): boolean {
  return a.maxErrorRate === b.maxErrorRate && a.maxP99Ms === b.maxP99Ms && a.minRequests === b.minRequests && a.windowSeconds === b.windowSeconds;
}


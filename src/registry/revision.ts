// One validated, immutable registry revision. The gateway swaps whole revisions; nothing
// mutates one in place, so a request sees a single consistent view from start to end.
import type { Location } from '../storage/location.js';

export interface GuardPolicy {
  readonly maxErrorRate: number | undefined;
  readonly maxP99Ms: number | undefined;
  readonly minRequests: number;
  readonly windowSeconds: number;
}

/** Dynamic batching of one version (inference/batcher.ts). */
export interface BatchingPolicy {
  /** Most rows (first-dimension entries) stacked into one run. */
  readonly maxBatchSize: number;
  /** Longest a request waits for company before its batch runs. */
  readonly maxDelayMs: number;
}

export interface VersionEntry {
  readonly name: string;
  /** The uri as written in the registry (for display). */
  readonly uri: string;
  /** Where the model file actually is, relative paths resolved against the registry file. */
  readonly location: Location;
  readonly weight: number;
  readonly shadow: number;
  /** Set when the registry asks for dynamic batching of this version. */
  readonly batching?: BatchingPolicy | undefined;
}

export interface ModelEntry {
  readonly name: string;
  /** In the order the registry declares them; routing walks weights in this order. */
  readonly versions: readonly VersionEntry[];
  readonly aliases: ReadonlyMap<string, string>;
  readonly sticky: string | undefined;
  readonly fallback: string | undefined;
  readonly guard: GuardPolicy | undefined;
}

export interface CacheLimits {
  readonly maxModels: number;
  readonly maxBytes: number;
}

export interface Revision {
  /** Content hash: identical files give identical revisions on every replica. */
  readonly id: string;
  /** Where the registry was read from, for display. */
  readonly source: string;
  readonly cache: CacheLimits;
  readonly models: ReadonlyMap<string, ModelEntry>;
}

/** One key per (model, version) for maps kept beside the registry (guard windows, slots, stats). */
export function versionKey(model: string, version: string): string {
  return `${model}\u0000${version}`;
}

export function findVersion(model: ModelEntry, name: string): VersionEntry | undefined {
  return model.versions.find((v) => v.name === name);
}

/** A version name, or an alias of one, to the version; undefined when neither. */
export function resolveVersionRef(model: ModelEntry, ref: string): VersionEntry | undefined {
  return findVersion(model, ref) ?? findVersion(model, model.aliases.get(ref) ?? '');
}

/** The version metadata defaults to: the largest weight, first declared on a tie. */
export function primaryVersion(model: ModelEntry): VersionEntry {
  let best = model.versions[0];
  for (const v of model.versions) if (best === undefined || v.weight > best.weight) best = v;
  if (best === undefined) throw new Error(`model ${model.name} has no versions`);
  return best;
}

/** Each version's share of the model's routed traffic (0–1), for the given effective weights. */
export function trafficShares(model: ModelEntry, weightOf: (v: VersionEntry) => number = (v) => v.weight): Map<string, number> {
  const total = model.versions.reduce((sum, v) => sum + weightOf(v), 0);
  return new Map(model.versions.map((v) => [v.name, total > 0 ? weightOf(v) / total : 0]));
}

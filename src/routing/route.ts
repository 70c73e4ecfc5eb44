// Version choice as a pure function of (model entry, request, injected randomness and hashing).
// Order, first match wins: explicit version or alias → sticky caller hash → weighted random.
import { createHash } from 'node:crypto';
import { GatewayError } from '../errors/catalogue.js';
import { resolveVersionRef, type ModelEntry, type VersionEntry } from '../registry/revision.js';

export interface RouteRequest {
  /** Version name or alias from the URL, body or x-model-version header. */
  readonly explicit?: string | undefined;
  /** Value of the model's sticky header, when it has one and the caller sent it. */
  readonly stickyKey?: string | undefined;
}

export interface RouteDeps {
  /** Uniform in [0, 1). */
  readonly random: () => number;
  /** Uniform in (0, 1], identical on every replica for the same string. */
  readonly hash: (key: string) => number;
}

export type RouteReason = 'explicit' | 'sticky' | 'weighted';

export interface RouteDecision {
  readonly version: VersionEntry;
  readonly reason: RouteReason;
}

export type WeightOf = (version: VersionEntry) => number;

/** The version a name or alias points at; VERSION_NOT_FOUND when neither exists. */
export function requireVersion(model: ModelEntry, ref: string): VersionEntry {
  const version = resolveVersionRef(model, ref);
  if (!version) throw new GatewayError('VERSION_NOT_FOUND', `model "${model.name}" has no version or alias "${ref}"`);
  return version;
}
const declaredWeight: WeightOf = (v) => v.weight;

export function chooseVersion(
  model: ModelEntry,
  request: RouteRequest,
  deps: RouteDeps,
  weightOf: WeightOf = declaredWeight,
): RouteDecision {
  if (request.explicit !== undefined) return { version: requireVersion(model, request.explicit), reason: 'explicit' };
  const live = model.versions.filter((v) => weightOf(v) > 0);
  if (live.length === 0) {
    // Validation forbids this for declared weights; only an over-eager override could cause it.
    throw new GatewayError('MODEL_UNAVAILABLE', `model "${model.name}" has no version with traffic`, { retryAfterSeconds: 5 });
  }
  if (request.stickyKey !== undefined && request.stickyKey !== '') {
    return { version: rendezvous(model.name, live, request.stickyKey, deps.hash, weightOf), reason: 'sticky' };
  }
  return { version: weighted(live, deps.random(), weightOf), reason: 'weighted' };
}

/**
 * Picks by cumulative weight in declared order: version i owns [sum(w<i), sum(w≤i)) of the total.
 * Exported for boundary tests.
 */
export function weighted(live: readonly VersionEntry[], u: number, weightOf: WeightOf = declaredWeight): VersionEntry {
  const total = live.reduce((s, v) => s + weightOf(v), 0);
  const r = u * total;
  let acc = 0;
  for (const v of live) {
    acc += weightOf(v);
    if (r < acc) return v;
  }
  // u * total can round up to total itself; the range's end belongs to the last version.
  return live[live.length - 1] as VersionEntry;
}

/**
 * Weighted rendezvous hashing: each version scores -ln(h)/w for a per-(caller, version) hash h,
 * lowest wins. A caller's choice depends only on its key and the weights, so every replica
 * agrees; raising one version's weight lowers only that version's scores, so callers can only
 * move onto it, never off it.
 */
function rendezvous(
  modelName: string,
  live: readonly VersionEntry[],
  key: string,
  hash: (key: string) => number,
  weightOf: WeightOf,
): VersionEntry {
  let best: VersionEntry | undefined;
  let bestScore = Infinity;
  for (const v of live) {
    const score = -Math.log(hash(`${modelName}\u0000${v.name}\u0000${key}`)) / weightOf(v);
    if (score < bestScore) {
      best = v;
      bestScore = score;
    }
  }
  return best as VersionEntry;
}

/** SHA-256 of the key, its first 52 bits mapped into (0, 1]. */
export function stableHash(key: string): number {
  const digest = createHash('sha256').update(key).digest();
  const high = digest.readUInt32BE(0) * 2 ** 20 + (digest.readUInt32BE(4) >>> 12);
  return (high + 1) / 2 ** 52;
}

/** Deterministic [0, 1) generator (mulberry32) for seeded routing in tests and benchmarks. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

// One JSON snapshot of the console: the live registry (AdminService.status), the last minute of
// traffic and ten-minute sparklines per version (TrafficStats), and counts the metrics already
// keep (rollbacks, load times). It carries only names, numbers and CLI text: never an input
// value, never the admin token.
import { fileURLToPath } from 'node:url';
import type { GatewayMetrics } from '../metrics/metrics.js';
import { versionKey } from '../registry/revision.js';
import { mergeStatuses, type AdminService, type RegistryStatus, type VersionStatus } from '../service/admin-service.js';
import { MergedStats } from '../stats/merged-stats.js';
import type { Sparkline, StatsExport, StatsView, TrafficStats, VersionSummary } from '../stats/traffic-stats.js';

/** The window of the "now" columns (share, rps, errors, latency). */
export const WINDOW_SECONDS = 60;

export interface ConsoleVersion extends VersionSummary {
  readonly name: string;
  /** Declared weight and its share of the model's declared weights (0–1). */
  readonly weight: number;
  readonly configuredShare: number;
  /** Share after guard rollbacks (0–1): what routing uses. */
  readonly effectiveShare: number;
  /** This version's part of the model's requests over the window (0–1); null with no traffic. */
  readonly share: number | null;
  readonly state: VersionStatus['state'];
  readonly loaded: boolean;
  readonly bytes: number | null;
  /** How long this version's last model load took (ms); null before the first. */
  readonly loadMs: number | null;
  readonly shadowFraction: number;
  /** match / (match + mismatch) over the window; null with no comparisons. */
  readonly shadowMatchRatio: number | null;
  /** Automatic rollbacks of this version since the gateway started. */
  readonly rollbacks: number;
  readonly guard: { readonly state: 'ok' | 'rolled_back'; readonly reason?: string; readonly at?: string } | null;
  readonly spark: Sparkline;
}

export interface ConsoleModel {
  readonly name: string;
  readonly sticky: string | null;
  readonly fallback: string | null;
  readonly aliases: Readonly<Record<string, string>>;
  readonly rps: number;
  /** How to change it: the CLI edits the registry; this page never does. */
  readonly commands: { readonly rollout: string; readonly rollback: string } | null;
  readonly versions: readonly ConsoleVersion[];
}

export interface ConsoleSnapshot {
  readonly at: string;
  readonly revision: string;
  readonly loadedAt: string;
  readonly windowSeconds: number;
  readonly models: readonly ConsoleModel[];
}

export interface SnapshotDeps {
  readonly admin: AdminService;
  readonly stats: TrafficStats;
  readonly metrics: GatewayMetrics;
}

type Labels = Partial<Record<string, string | number>>;
const vkey = (labels: Labels): string => versionKey(String(labels.model), String(labels.version));

/** The registry argument of the CLI, or undefined where the CLI cannot edit it. */
export function cliRegistry(source: string): string | undefined {
  if (source.startsWith('REMOTE_MODEL_PATH=')) return undefined;
  const plain = source.startsWith('file:') ? fileURLToPath(source) : source;
  return shellWord(plain);
}

function shellWord(word: string): string {
  return /^[A-Za-z0-9_./:@%+=,-]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`;
}

/** What one process of a cluster contributes to the console (plain data, sent between processes). */
export interface ConsolePart {
  readonly status: RegistryStatus;
  readonly stats: StatsExport;
  /** Rollbacks counted by this process, by versionKey. */
  readonly rollbacks: ReadonlyArray<readonly [string, number]>;
}

async function rollbackCounts(metrics: GatewayMetrics): Promise<Map<string, number>> {
  const rollbacks = new Map<string, number>();
  for (const { labels, value } of (await metrics.rollbacks.get()).values) rollbacks.set(vkey(labels), (rollbacks.get(vkey(labels)) ?? 0) + value);
  return rollbacks;
}

export async function localPart(deps: SnapshotDeps): Promise<ConsolePart> {
  return { status: deps.admin.status(), stats: deps.stats.export(WINDOW_SECONDS), rollbacks: [...(await rollbackCounts(deps.metrics))] };
}

/** This process's snapshot. */
export async function buildSnapshot(deps: SnapshotDeps): Promise<ConsoleSnapshot> {
  return snapshotOf(deps.admin.status(), deps.stats, await rollbackCounts(deps.metrics));
}

/** A cluster's snapshot: statuses merged, statistics and rollback counts summed. */
export function mergedSnapshot(parts: readonly ConsolePart[]): ConsoleSnapshot {
  const rollbacks = new Map<string, number>();
  for (const part of parts) for (const [k, n] of part.rollbacks) rollbacks.set(k, (rollbacks.get(k) ?? 0) + n);
  return snapshotOf(
    mergeStatuses(parts.map((p) => p.status)),
    new MergedStats(parts.map((p) => p.stats)),
    rollbacks,
  );
}

function snapshotOf(status: RegistryStatus, stats: StatsView, rollbacks: ReadonlyMap<string, number>): ConsoleSnapshot {
  const registry = cliRegistry(status.source);

  const models = status.models.map((model): ConsoleModel => {
    const declaredTotal = model.versions.reduce((sum, v) => sum + v.weight, 0);
    const summaries = model.versions.map((v) => stats.summary(model.name, v.name, WINDOW_SECONDS));
    const modelRequests = summaries.reduce((sum, s) => sum + s.requests, 0);
    const versions = model.versions.map((v, i): ConsoleVersion => {
      const summary = summaries[i] as VersionSummary;
      const key = versionKey(model.name, v.name);
      const compared = summary.shadow.match + summary.shadow.mismatch;
      return {
        name: v.name,
        weight: v.weight,
        configuredShare: declaredTotal > 0 ? v.weight / declaredTotal : 0,
        effectiveShare: v.share,
        ...summary,
        share: modelRequests > 0 ? summary.requests / modelRequests : null,
        state: v.state,
        loaded: v.loaded,
        bytes: v.bytes,
        loadMs: stats.lastLoadMs(model.name, v.name),
        shadowFraction: v.shadow,
        shadowMatchRatio: compared > 0 ? summary.shadow.match / compared : null,
        rollbacks: rollbacks.get(key) ?? 0,
        guard: v.guard ? { state: v.guard.state, ...(v.guard.reason ? { reason: v.guard.reason } : {}), ...(v.guard.at ? { at: v.guard.at } : {}) } : null,
        spark: stats.sparkline(model.name, v.name),
      };
    });
    const name = shellWord(model.name);
    const weights = model.versions.map((v) => `${shellWord(v.name)}=${v.weight}`).join(' ');
    return {
      name: model.name,
      sticky: model.sticky,
      fallback: model.fallback,
      aliases: model.aliases,
      rps: summaries.reduce((sum, s) => sum + s.rps, 0),
      commands:
        registry === undefined
          ? null
          : { rollout: `npx model-gateway rollout ${registry} ${name} ${weights}`, rollback: `npx model-gateway rollback ${registry} ${name}` },
      versions,
    };
  });
  return { at: new Date().toISOString(), revision: status.revision, loadedAt: status.loadedAt, windowSeconds: WINDOW_SECONDS, models };
}

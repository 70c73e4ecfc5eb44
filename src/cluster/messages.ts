// What the processes of a cluster say to each other over node:cluster's IPC channel (structured
// clone: cluster.setupPrimary({ serialization: 'advanced' }), so typed arrays pass as they are).
// Workers talk only to the primary; the primary relays, fans questions out and decides claims.
import type { RollbackClaim } from '../rollout/controller.js';

/** Guarded outcomes of one version, batched: [latencyMs, error ? 1 : 0] pairs. */
export interface GuardBatch {
  readonly model: string;
  readonly version: string;
  readonly samples: number[];
}

/** Questions the primary puts to every process, whose answers it gathers for the asker. */
export type Question = 'status' | 'console' | 'reload';

export type WorkerMessage =
  | { readonly type: 'mg:joined' }
  | { readonly type: 'mg:guard'; readonly batches: readonly GuardBatch[] }
  | { readonly type: 'mg:claim'; readonly id: number; readonly claim: RollbackClaim }
  | { readonly type: 'mg:persisted'; readonly model: string; readonly version: string }
  | { readonly type: 'mg:ask'; readonly id: number; readonly question: Question }
  | { readonly type: 'mg:answer'; readonly id: number; readonly data?: unknown; readonly error?: string };

export type PrimaryMessage =
  | { readonly type: 'mg:guard'; readonly batches: readonly GuardBatch[] }
  | { readonly type: 'mg:claimed'; readonly id: number; readonly won: boolean }
  | { readonly type: 'mg:rolled-back'; readonly claim: RollbackClaim }
  | { readonly type: 'mg:persisted'; readonly model: string; readonly version: string }
  | { readonly type: 'mg:question'; readonly id: number; readonly question: Question }
  | { readonly type: 'mg:answers'; readonly id: number; readonly answers: readonly unknown[]; readonly missing: number };

/** How long the primary waits for every process to answer (a reload may load models). */
export const ANSWER_TIMEOUT_MS: Readonly<Record<Question, number>> = { status: 5_000, console: 5_000, reload: 600_000 };

export function isMessage(message: unknown): message is { readonly type: string } {
  return typeof message === 'object' && message !== null && typeof (message as { type?: unknown }).type === 'string' && (message as { type: string }).type.startsWith('mg:');
}

/** A scrape in one process asks the primary for every process's metrics, summed (prom-client's AggregatorRegistry). */
export const METRICS_REQUEST = 'model-gateway:metrics?';
export const METRICS_REPLY = 'model-gateway:metrics!';

export interface MetricsRequest {
  readonly type: typeof METRICS_REQUEST;
  readonly id: number;
}
export interface MetricsReply {
  readonly type: typeof METRICS_REPLY;
  readonly id: number;
  readonly text?: string;
  readonly error?: string;
}

// Whether the whole server takes inference traffic: one predicate for REST /v2/health/ready and
// gRPC ServerReady, so the two never disagree.
import type { GatewayService } from './gateway-service.js';

export interface Lifecycle {
  /** Registry loaded and pinned models warmed. */
  ready: boolean;
  /** Shutting down: report not ready, finish in-flight work. */
  draining: boolean;
}

export interface ServerReadiness {
  readonly ready: boolean;
  readonly draining: boolean;
  /** Versions with traffic that are not warm yet (see GatewayService.readiness). */
  readonly waiting: readonly string[];
}

export function serverReadiness(lifecycle: Lifecycle, service: Pick<GatewayService, 'readiness'>): ServerReadiness {
  const { ready: warm, waiting } = service.readiness();
  return { ready: lifecycle.ready && !lifecycle.draining && warm, draining: lifecycle.draining, waiting };
}

/** Open Inference Protocol extensions this server speaks, as Triton names them. */
export const PROTOCOL_EXTENSIONS: readonly string[] = Object.freeze(['binary_tensor_data']);

/** The server metadata document: REST `GET /v2` and gRPC ServerMetadata answer the same. */
export function serverMetadata(serverVersion: string): { name: string; version: string; extensions: string[] } {
  return { name: 'model-gateway', version: serverVersion, extensions: [...PROTOCOL_EXTENSIONS] };
}

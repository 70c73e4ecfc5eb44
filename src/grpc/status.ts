// Gateway errors as gRPC statuses: one table from the catalogue's HTTP status to the gRPC code,
// the same public message text as REST (publicMessageOf), and the retry hint as `retry-after`
// metadata. Never a stack trace or an internal path.
import { Metadata, status as Status, type ServiceError } from '@grpc/grpc-js';
import { ERROR_CATALOGUE, GatewayError, isGatewayError, publicMessageOf } from '../errors/catalogue.js';

/**
 * HTTP status (ERROR_CATALOGUE) → gRPC code. 413 (a message or tensor over a limit) is
 * RESOURCE_EXHAUSTED as grpc-js answers for an oversized message; 502/503 (storage error, a
 * version that cannot load, overload) are UNAVAILABLE, which clients retry.
 */
export const GRPC_STATUS_OF_HTTP: Readonly<Record<number, Status>> = {
  400: Status.INVALID_ARGUMENT,
  401: Status.UNAUTHENTICATED,
  403: Status.PERMISSION_DENIED,
  404: Status.NOT_FOUND,
  405: Status.UNIMPLEMENTED,
  413: Status.RESOURCE_EXHAUSTED,
  429: Status.RESOURCE_EXHAUSTED,
  500: Status.INTERNAL,
  502: Status.UNAVAILABLE,
  503: Status.UNAVAILABLE,
  504: Status.DEADLINE_EXCEEDED,
};

export function grpcStatusOf(httpStatus: number): Status {
  return GRPC_STATUS_OF_HTTP[httpStatus] ?? (httpStatus < 500 ? Status.INVALID_ARGUMENT : Status.INTERNAL);
}

/** The name of a gRPC code, for metrics and logs ("INVALID_ARGUMENT"). */
export function statusName(code: Status): string {
  return Status[code] ?? String(code);
}

export interface MappedError {
  readonly error: GatewayError;
  readonly httpStatus: number;
  readonly serviceError: Partial<ServiceError>;
}

/** Any thrown value → the status a client sees; `metadata` (request id, model) goes along. */
export function toServiceError(err: unknown, metadata: Metadata): MappedError {
  const error = isGatewayError(err) ? err : new GatewayError('INTERNAL', String(err), { cause: err });
  const httpStatus = ERROR_CATALOGUE[error.code].status;
  metadata.set('x-error-code', error.code);
  if (error.retryAfterSeconds !== undefined) metadata.set('retry-after', String(error.retryAfterSeconds));
  return { error, httpStatus, serviceError: { code: grpcStatusOf(httpStatus), details: publicMessageOf(error), metadata } };
}

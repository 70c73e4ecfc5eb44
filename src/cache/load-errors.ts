// The errors a failed load leaves behind: one MODEL_UNAVAILABLE naming the version (its cause kept
// for the logs, not the response), and Retry-After for the backoff the cache remembers.
import { GatewayError } from '../errors/catalogue.js';
import type { LoadTarget } from './entry.js';

export function loadFailure(target: LoadTarget, err: unknown): GatewayError {
  const what = `model "${target.model}" version "${target.version.name}"`;
  if (err instanceof GatewayError) return err;
  const detail = err instanceof Error ? err.message : String(err);
  return new GatewayError('MODEL_UNAVAILABLE', `${what} cannot be loaded: ${detail}`, {
    cause: err,
    publicMessage: `${what} cannot be loaded`,
  });
}

export function withRetryAfter(err: GatewayError, seconds: number): GatewayError {
  if (err.code !== 'MODEL_UNAVAILABLE' && err.code !== 'STORAGE_ERROR') return err;
  return new GatewayError(err.code, err.message, {
    cause: err.cause,
    retryAfterSeconds: Math.max(1, seconds),
    ...(err.publicMessage === undefined ? {} : { publicMessage: err.publicMessage }),
  });
}

// One catalogue of error codes. Domain code throws GatewayError with a code; only the HTTP
// layer maps the code to a status (see http/error-middleware.ts). `expose` says whether the
// message is written for the caller; when false the caller sees `publicMessage` instead.

export const ERROR_CATALOGUE = {
  BAD_REQUEST: { status: 400, expose: true },
  MALFORMED_JSON: { status: 400, expose: true },
  INVALID_INPUT: { status: 400, expose: true },
  UNAUTHORIZED: { status: 401, expose: true },
  FORBIDDEN: { status: 403, expose: true },
  NOT_FOUND: { status: 404, expose: true },
  MODEL_NOT_FOUND: { status: 404, expose: true },
  VERSION_NOT_FOUND: { status: 404, expose: true },
  METHOD_NOT_ALLOWED: { status: 405, expose: true },
  PAYLOAD_TOO_LARGE: { status: 413, expose: true },
  /** A tensor, a request's tensors together, or a string is over an input limit (inference/limits.ts). */
  LIMIT_EXCEEDED: { status: 413, expose: true },
  OVERLOADED: { status: 503, expose: true },
  TOO_MANY_REQUESTS: { status: 429, expose: true },
  MODEL_UNAVAILABLE: { status: 503, expose: true },
  STORAGE_ERROR: { status: 502, expose: false, publicMessage: 'model storage answered with an error' },
  INFERENCE_FAILED: { status: 500, expose: false, publicMessage: 'the model failed while running' },
  TIMEOUT: { status: 504, expose: true },
  INTERNAL: { status: 500, expose: false, publicMessage: 'internal error' },
} as const satisfies Record<string, { status: number; expose: boolean; publicMessage?: string }>;

export type ErrorCode = keyof typeof ERROR_CATALOGUE;

export interface GatewayErrorOptions {
  /** Seconds a client should wait before retrying (rendered as Retry-After). */
  retryAfterSeconds?: number;
  cause?: unknown;
  /** What the caller sees instead of `message`, when `message` may hold internal detail. */
  publicMessage?: string;
}

export class GatewayError extends Error {
  readonly code: ErrorCode;
  readonly retryAfterSeconds: number | undefined;
  readonly publicMessage: string | undefined;

  constructor(code: ErrorCode, message: string, options: GatewayErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'GatewayError';
    this.code = code;
    this.retryAfterSeconds = options.retryAfterSeconds;
    this.publicMessage = options.publicMessage;
  }
}

export function isGatewayError(err: unknown): err is GatewayError {
  return err instanceof GatewayError;
}

/** The message a caller may see for an error: never a stack, never an internal path. */
export function publicMessageOf(err: GatewayError): string {
  if (err.publicMessage !== undefined) return err.publicMessage;
  const entry: { expose: boolean; publicMessage?: string } = ERROR_CATALOGUE[err.code];
  return entry.expose ? err.message : (entry.publicMessage ?? 'internal error');
}

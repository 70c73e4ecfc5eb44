// The process logger: pino JSON lines that Google Cloud Logging (and any JSON log pipeline)
// understands without a parser: `severity` instead of pino's numeric level, an ISO `time`, and a
// request's trace id turned into the `logging.googleapis.com/trace` field that links the line to
// Cloud Trace when the project is known.
import { pino, type DestinationStream, type Logger } from 'pino';
import { flushOnExit, LineWriter } from './line-writer.js';

export interface LoggerSettings {
  readonly logLevel: 'debug' | 'info' | 'warn' | 'error';
  /** GOOGLE_CLOUD_PROJECT: when set, `traceId` fields become Cloud Logging trace links. */
  readonly googleCloudProject?: string | undefined;
}

/** Cloud Logging's LogSeverity names for pino's levels. */
export const SEVERITY: Readonly<Record<string, string>> = {
  trace: 'DEBUG',
  debug: 'DEBUG',
  info: 'INFO',
  warn: 'WARNING',
  error: 'ERROR',
  fatal: 'CRITICAL',
};

/** The field Cloud Logging reads a trace from (https://cloud.google.com/logging/docs/structured-logging). */
export const TRACE_FIELD = 'logging.googleapis.com/trace';
export const SPAN_FIELD = 'logging.googleapis.com/spanId';

/**
 * Rewrites `traceId`/`spanId` (set by the request middleware) into Cloud Logging's fields when a
 * project is configured; without one they stay as they are, still greppable.
 */
export function cloudTraceFields(project: string | undefined): (obj: Record<string, unknown>) => Record<string, unknown> {
  return (obj) => {
    if (project === undefined || typeof obj.traceId !== 'string') return obj;
    const { traceId, spanId, ...rest } = obj;
    return {
      ...rest,
      traceId,
      [TRACE_FIELD]: `projects/${project}/traces/${traceId}`,
      ...(typeof spanId === 'string' ? { [SPAN_FIELD]: spanId } : {}),
    };
  };
}

/**
 * pino's isoTime, formatted once per millisecond rather than once per line: a busy gateway
 * writes several lines each millisecond, and Date#toISOString was a visible part of a request's
 * cost in profiles. Same text, same field.
 */
export function cachedIsoTime(now: () => number = Date.now): () => string {
  let last = -1;
  let text = '';
  return () => {
    const ms = now();
    if (ms !== last) {
      last = ms;
      text = `,"time":"${new Date(ms).toISOString()}"`;
    }
    return text;
  };
}

/** Writes one request's access line at `level`; fields left undefined are not written. */
export type RequestLine = (fields: Readonly<Record<string, unknown>>, level: 'info' | 'warn') => void;

const SERVICE = 'model-gateway';

/** The process logger, with a fast path for the one line every request writes. */
export type ProcessLogger = Logger & { readonly requestLine: RequestLine };

export function createLogger(settings: LoggerSettings, destination?: DestinationStream, now?: () => number): ProcessLogger {
  const dest = destination ?? stdoutDestination();
  const time = cachedIsoTime(now);
  const log = cloudTraceFields(settings.googleCloudProject);
  const options = {
    level: settings.logLevel,
    base: { service: SERVICE },
    timestamp: time,
    formatters: {
      // pino's numeric level stays beside severity: pino-pretty and jq filters use it.
      level: (label: string, number: number) => ({ severity: SEVERITY[label] ?? 'DEFAULT', level: number }),
      log,
    },
  };
  // A child's lines carry its bindings and level, which the fast path below knows nothing of.
  const onChild = (child: Logger): void => void Object.assign(child, { requestLine: undefined });
  const logger = pino({ ...options, onChild }, dest);
  // The access line, the same text pino writes for logger.info(fields, 'request'), serialized by
  // one JSON.stringify: pino's field-by-field serializer cost ~10% of a tiny request's CPU in the
  // benchmark (docs/benchmarks.md). test/logging/logger.test.ts holds the two to the same text.
  const heads = {
    info: `{"severity":"${SEVERITY.info}","level":${logger.levels.values.info}`,
    warn: `{"severity":"${SEVERITY.warn}","level":${logger.levels.values.warn}`,
  };
  const service = `,"service":${JSON.stringify(SERVICE)}`;
  // A multistream destination routes each line by pino's per-write metadata: leave it to pino.
  const routed = Reflect.get(dest, Symbol.for('pino.metadata')) === true;
  // One difference is left: a lone UTF-16 surrogate is escaped here (JSON.stringify) where pino
  // writes it raw; no request field can hold one (ids, paths and names are checked or ASCII).
  const requestLine: RequestLine = (fields, level) => {
    if (routed) return void logger[level](fields, 'request');
    if (!logger.isLevelEnabled(level)) return;
    const body = JSON.stringify(log(fields as Record<string, unknown>));
    dest.write(`${heads[level]}${time()}${service}${body.length > 2 ? `,${body.slice(1, -1)}` : ''},"msg":"request"}\n`);
  };
  return Object.assign(logger, { requestLine });
}

/** Characters the stdout buffer holds at most while the reader lags; beyond it lines are dropped. */
const MAX_BUFFERED_CHARS = 16 * 1024 * 1024;

/**
 * Standard output, written asynchronously (logging/line-writer.ts): pino's default writes each
 * line synchronously, one system call per request, and blocks the event loop (every request)
 * whenever the log reader (a pipe to the platform's agent) falls behind. What is buffered is
 * written on exit; a reader that lags by more than MAX_BUFFERED_CHARS loses lines rather than the
 * process's memory.
 */
function stdoutDestination(): DestinationStream {
  const writer = new LineWriter(1, MAX_BUFFERED_CHARS);
  flushOnExit(writer);
  return writer;
}

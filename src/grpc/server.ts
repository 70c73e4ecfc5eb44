// The gRPC server: inference.GRPCInferenceService on its own port beside the HTTP app, over the
// same Gateway (service, lifecycle, metrics). Each call gets a request id (metadata x-request-id,
// else a new one, echoed back), an abort signal tied to the client's deadline, a status from the
// error catalogue, a log line, and a count in gateway_grpc_requests_total{method, code}.
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import * as grpc from '@grpc/grpc-js';
import { Counter } from 'prom-client';
import type { InputLimits } from '../inference/limits.js';
import type { GatewayMetrics } from '../metrics/metrics.js';
import type { GatewayService } from '../service/gateway-service.js';
import type { Lifecycle } from '../service/readiness.js';
import { inferenceHandlers, type CallContext, type Handler } from './handlers.js';
import { loadInferenceService } from './proto.js';
import { statusName, toServiceError } from './status.js';

export interface GrpcLogger {
  info(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface GrpcServerOptions {
  /** The parts of a Gateway (src/gateway.ts) the endpoint serves; a Gateway object fits. */
  readonly gateway: { readonly service: GatewayService; readonly metrics: GatewayMetrics; readonly lifecycle: Lifecycle };
  readonly log: GrpcLogger;
  /** GRPC_PORT; 0 picks a free port (tests). */
  readonly port: number;
  readonly host?: string;
  /** Largest message received (MAX_BODY_BYTES); a larger one is RESOURCE_EXHAUSTED. */
  readonly maxMessageBytes: number;
  readonly serverVersion: string;
  readonly limits?: InputLimits;
}

export interface GrpcServer {
  readonly port: number;
  /** Stops taking calls, lets running ones finish for at most `graceMs`, then cuts the rest. */
  close(graceMs: number): Promise<void>;
}

export const GRPC_REQUESTS_METRIC = 'gateway_grpc_requests_total';

/** Same rule as the HTTP layer: a caller's id is kept when it is short and plain. */
const REQUEST_ID_RE = /^[A-Za-z0-9._:-]{1,128}$/;

function requestsCounter(metrics: GatewayMetrics, methods: readonly string[]): Counter<'method' | 'code'> {
  const existing = metrics.registry.getSingleMetric(GRPC_REQUESTS_METRIC);
  if (existing) return existing as Counter<'method' | 'code'>;
  const counter = new Counter<'method' | 'code'>({
    name: GRPC_REQUESTS_METRIC,
    help: 'gRPC calls of inference.GRPCInferenceService by method and status code',
    labelNames: ['method', 'code'],
    registers: [metrics.registry],
  });
  for (const method of methods) counter.inc({ method, code: 'OK' }, 0);
  return counter;
}

function firstString(metadata: grpc.Metadata, key: string): string | undefined {
  const v = metadata.get(key.toLowerCase())[0];
  return typeof v === 'string' && v !== '' ? v : undefined;
}

/** Why a call ended before it was answered: its deadline, or the client cancelled. */
function cancelledCode(call: grpc.ServerUnaryCall<unknown, unknown>): grpc.status {
  const deadline = call.getDeadline();
  const ms = deadline instanceof Date ? deadline.getTime() : deadline;
  return Number.isFinite(ms) && Date.now() >= ms ? grpc.status.DEADLINE_EXCEEDED : grpc.status.CANCELLED;
}

export async function startGrpcServer(options: GrpcServerOptions): Promise<GrpcServer> {
  const { definition } = loadInferenceService();
  const handlers = inferenceHandlers({ ...options.gateway, serverVersion: options.serverVersion, ...(options.limits ? { limits: options.limits } : {}) });
  const counter = requestsCounter(options.gateway.metrics, Object.keys(handlers));
  const { log } = options;

  const unary =
    (method: string, handler: Handler): grpc.handleUnaryCall<unknown, unknown> =>
    (call, callback) => {
      const started = performance.now();
      const given = firstString(call.metadata, 'x-request-id');
      const requestId = given !== undefined && REQUEST_ID_RE.test(given) ? given : randomUUID();
      const metadata = new grpc.Metadata();
      metadata.set('x-request-id', requestId);
      const abort = new AbortController();
      call.on('cancelled', () => abort.abort());
      const ctx: CallContext = {
        header: (name) => firstString(call.metadata, name),
        respond: (key, value) => (value === undefined ? metadata.remove(key) : metadata.set(key, value)),
        signal: abort.signal,
        logFields: {},
      };
      const finish = (code: grpc.status): void => {
        counter.inc({ method, code: statusName(code) });
        const ms = Math.round((performance.now() - started) * 100) / 100;
        log.info({ requestId, grpcMethod: method, code: statusName(code), ms, ...ctx.logFields }, 'grpc request');
      };
      Promise.resolve()
        .then(() => handler(call.request as never, ctx))
        .then(
          (response) => {
            if (call.cancelled) return finish(cancelledCode(call));
            call.sendMetadata(metadata);
            callback(null, response);
            finish(grpc.status.OK);
          },
          (err: unknown) => {
            const { error, httpStatus, serviceError } = toServiceError(err, metadata);
            if (httpStatus >= 500) {
              const cause = error.cause instanceof Error ? error.cause.stack : undefined;
              log.error({ requestId, grpcMethod: method, code: error.code, err: error.message, cause }, 'request failed');
            }
            if (call.cancelled) return finish(cancelledCode(call));
            callback(serviceError);
            finish(serviceError.code ?? grpc.status.UNKNOWN);
          },
        );
    };

  const implementation: grpc.UntypedServiceImplementation = {};
  for (const [method, handler] of Object.entries(handlers)) implementation[method] = unary(method, handler as Handler);
  const server = new grpc.Server({
    'grpc.max_receive_message_length': options.maxMessageBytes,
    // Answers can be larger than requests (a batch of logits); no cap but the client's own.
    'grpc.max_send_message_length': -1,
  });
  server.addService(definition, implementation);
  const address = `${options.host ?? '0.0.0.0'}:${options.port}`;
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(address, grpc.ServerCredentials.createInsecure(), (err, bound) => (err ? reject(err) : resolve(bound))),
  );
  let closed: Promise<void> | undefined;
  return {
    port,
    close(graceMs) {
      closed ??= new Promise<void>((resolve) => {
        const force = setTimeout(() => server.forceShutdown(), graceMs);
        force.unref();
        server.tryShutdown(() => {
          clearTimeout(force);
          resolve();
        });
      });
      return closed;
    },
  };
}

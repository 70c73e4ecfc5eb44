// The six RPCs of inference.GRPCInferenceService as plain functions over the service, mirroring
// the V2 REST routes (src/http/routes.ts): same version choice, checks, readiness and errors.
// Transport concerns (request id, metadata, status, metrics, logs) are in server.ts.
import { GatewayError } from '../errors/catalogue.js';
import type { InputLimits } from '../inference/limits.js';
import type { GatewayService } from '../service/gateway-service.js';
import { serverMetadata, serverReadiness, type Lifecycle } from '../service/readiness.js';
import type { ModelInferRequest, ModelInferResponse, ModelRef } from './proto.js';
import { inputsFromRequest, responseOutputs } from './tensors.js';

export interface HandlerDeps {
  readonly service: GatewayService;
  readonly lifecycle: Lifecycle;
  readonly serverVersion: string;
  readonly limits?: InputLimits;
}

/** What a handler may read from and add to its call. */
export interface CallContext {
  /** A request metadata value (lower-case key), like an HTTP header. */
  header(name: string): string | undefined;
  /** Response metadata: x-model-name, x-model-version, x-model-fallback-from. */
  respond(key: string, value: string | undefined): void;
  /** Aborted when the client cancels or its deadline passes. */
  readonly signal: AbortSignal;
  /** Added to the call's log line. */
  logFields: Record<string, string>;
}

export type Handler = (request: never, ctx: CallContext) => Promise<object> | object;

/** proto3 sends an unset string as "": absent. */
const given = (s: string): string | undefined => (s === '' ? undefined : s);

export function inferenceHandlers(deps: HandlerDeps) {
  const { service } = deps;
  return {
    ServerLive: () => ({ live: true }),
    ServerReady: () => ({ ready: serverReadiness(deps.lifecycle, service).ready }),
    ServerMetadata: () => serverMetadata(deps.serverVersion),
    ModelReady: (request: ModelRef) => ({ ready: service.versionState(request.name, given(request.version)) !== 'failed' }),
    ModelMetadata: async (request: ModelRef) => ({ ...(await service.metadata(request.name, given(request.version))), properties: {} }),
    ModelInfer: async (request: ModelInferRequest, ctx: CallContext): Promise<ModelInferResponse> => {
      if (request.model_name === '') throw new GatewayError('BAD_REQUEST', 'invalid request: model_name: name the model');
      const { inputs, raw } = inputsFromRequest(request, deps.limits);
      const result = await service.infer(
        {
          model: request.model_name,
          version: given(request.model_version) ?? ctx.header('x-model-version'),
          header: (name) => ctx.header(name),
          inputs,
          outputs: request.outputs.map((o) => o.name),
          signal: ctx.signal,
        },
        (model, version, fallbackFrom) => {
          ctx.respond('x-model-name', model);
          ctx.respond('x-model-version', version);
          ctx.respond('x-model-fallback-from', fallbackFrom);
          ctx.logFields = fallbackFrom === undefined ? { model, version } : { model, version, fallbackFrom };
        },
      );
      return { model_name: result.model, model_version: result.version, id: request.id, ...responseOutputs(result.outputs, raw) };
    },
  } satisfies Record<string, Handler>;
}

// Inference, metadata, health and metrics routes. Handlers translate HTTP to service calls and
// back; they hold no domain logic.
import type { Context, Middleware } from 'koa';
import { Router } from '@koa/router';
import { GatewayError } from '../errors/catalogue.js';
import { nest } from '../inference/codec.js';
import type { GatewayMetrics } from '../metrics/metrics.js';
import type { GatewayService, InferResult } from '../service/gateway-service.js';
import type { AdminService } from '../service/admin-service.js';
import { serverMetadata, serverReadiness, type Lifecycle } from '../service/readiness.js';
import { addAdminRoutes } from './admin.js';
import { readV2Body, writeV2Response } from './binary.js';
import { readJson } from './body.js';
import type { RouteLogFields } from './middleware.js';
import { headOf, JSON_TYPE } from './response-head.js';
import { TurnGate } from './turn-gate.js';
import { parsePredict, parseV2Infer, type ParsedInfer } from './requests.js';

export type { Lifecycle } from '../service/readiness.js';

export interface RouteDeps {
  readonly service: GatewayService;
  readonly metrics: GatewayMetrics;
  readonly lifecycle: Lifecycle;
  readonly maxBodyBytes: number;
  readonly serverVersion: string;
  readonly admin?: AdminService;
  readonly adminToken?: string | undefined;
}

function routed(ctx: Context) {
  const head = headOf(ctx);
  return (model: string, version: string, fallbackFrom?: string): void => {
    head.set('x-model-name', model);
    head.set('x-model-version', version);
    if (fallbackFrom !== undefined) head.set('x-model-fallback-from', fallbackFrom);
    const fields: RouteLogFields = { model, version, fallbackFrom, reason: undefined };
    ctx.state.logFields = fields;
  };
}

async function infer(ctx: Context, deps: RouteDeps, model: string, urlVersion: string | undefined, parsed: ParsedInfer): Promise<InferResult> {
  const headerVersion = ctx.get('x-model-version') || undefined;
  const result = await deps.service.infer(
    {
      model,
      version: urlVersion ?? parsed.version ?? headerVersion,
      header: (name) => ctx.get(name) || undefined,
      inputs: parsed.inputs,
      outputs: parsed.outputs,
    },
    routed(ctx),
  );
  // How the version was chosen (explicit, sticky, weighted, fallback) goes on the request's log line.
  const fields = ctx.state.logFields as RouteLogFields | undefined;
  if (fields !== undefined) fields.reason = result.reason;
  return result;
}

export interface InferenceHandlers {
  predict(ctx: Context): Promise<void>;
  v2Infer(ctx: Context, model: string, version: string | undefined): Promise<void>;
}

/** The inference handlers, shared by the fast dispatch below and the router (one gate for both). */
export function inferenceHandlers(deps: RouteDeps): InferenceHandlers {
  const { service } = deps;
  const body = { limitBytes: deps.maxBodyBytes, gate: new TurnGate() };
  const predict = async (ctx: Context): Promise<void> => {
    const parsed = parsePredict(await readJson(ctx, body));
    const model = parsed.model ?? service.soleModel();
    if (model === undefined) throw new GatewayError('BAD_REQUEST', 'invalid request: model: name the model (the registry serves more than one)');
    const result = await infer(ctx, deps, model, undefined, parsed);
    const outputs: Record<string, unknown> = {};
    for (const o of result.outputs) outputs[o.name] = nest(o.values, o.shape);
    const answer = { model: result.model, version: result.version, outputs };
    headOf(ctx).send(ctx, 200, JSON_TYPE, JSON.stringify(answer));
  };
  const v2Infer = async (ctx: Context, model: string, version: string | undefined): Promise<void> => {
    // JSON, or the binary data extension's JSON header and raw tensor bytes (http/binary.ts).
    const { json, binary } = await readV2Body(ctx, body);
    const parsed = parseV2Infer(json, undefined, binary);
    const result = await infer(ctx, deps, model, version, parsed);
    writeV2Response(ctx, result, parsed.id, parsed.binaryOutput);
  };
  return { predict, v2Infer };
}

const V2_MODELS = '/v2/models/';

/** A path segment as the router decodes it; undefined when it is not valid percent-encoding. */
function segment(raw: string | undefined): string | undefined {
  if (raw === undefined || raw === '') return undefined;
  try {
    return decodeURIComponent(raw);
  } catch {
    return undefined;
  }
}

/**
 * POST /predict and V2 infer, matched by hand before the router: they are nearly every request a
 * gateway serves, and the router's walk over every route (plus its per-request context and
 * dispatch chain) was a measurable part of a tiny model's cost (docs/benchmarks.md). Anything
 * else, and any path these do not match exactly, falls through to the router unchanged.
 */
export function inferenceFastPath({ predict, v2Infer }: InferenceHandlers): Middleware {
  return (ctx, next) => {
    if (ctx.method !== 'POST') return next();
    const path = ctx.path;
    if (path === '/predict') return predict(ctx);
    if (!path.startsWith(V2_MODELS) || !path.endsWith('/infer')) return next();
    const parts = path.slice(V2_MODELS.length, -'/infer'.length).split('/');
    if (parts.length === 1) {
      const model = segment(parts[0]);
      return model === undefined ? next() : v2Infer(ctx, model, undefined);
    }
    if (parts.length === 3 && parts[1] === 'versions') {
      const model = segment(parts[0]);
      const version = segment(parts[2]);
      return model === undefined || version === undefined ? next() : v2Infer(ctx, model, version);
    }
    return next();
  };
}

export function buildRouter(deps: RouteDeps, handlers: InferenceHandlers = inferenceHandlers(deps)): Router {
  const router = new Router();
  const { service } = deps;

  // Reached only by what inferenceFastPath passed on (kept so 405s and odd paths behave alike).
  const { predict, v2Infer } = handlers;
  router.post('/predict', predict);
  router.post('/v2/models/:model/infer', (ctx) => v2Infer(ctx, ctx.params.model as string, undefined));
  router.post('/v2/models/:model/versions/:version/infer', (ctx) => v2Infer(ctx, ctx.params.model as string, ctx.params.version));

  router.get('/v2/models/:model', async (ctx) => {
    ctx.body = await service.metadata(ctx.params.model as string);
  });
  router.get('/v2/models/:model/versions/:version', async (ctx) => {
    ctx.body = await service.metadata(ctx.params.model as string, ctx.params.version);
  });

  const modelReady = (ctx: Context, model: string, version: string | undefined): void => {
    const ready = service.versionState(model, version) !== 'failed';
    ctx.status = ready ? 200 : 503;
    ctx.body = { name: model, ...(version === undefined ? {} : { version }), ready };
  };
  router.get('/v2/models/:model/ready', (ctx) => modelReady(ctx, ctx.params.model as string, undefined));
  router.get('/v2/models/:model/versions/:version/ready', (ctx) => modelReady(ctx, ctx.params.model as string, ctx.params.version));

  router.get('/v2/health/live', (ctx) => {
    ctx.body = { live: true };
  });
  router.get('/v2/health/ready', (ctx) => {
    const { ready, draining, waiting } = serverReadiness(deps.lifecycle, service);
    ctx.status = ready ? 200 : 503;
    if (!ready) ctx.set('Retry-After', '5');
    ctx.body = ready ? { ready } : { ready, ...(draining ? { draining: true } : {}), ...(waiting.length > 0 ? { waiting } : {}) };
  });
  router.get('/v2', (ctx) => {
    ctx.body = serverMetadata(deps.serverVersion);
  });

  if (deps.admin) addAdminRoutes(router, deps.admin, deps.adminToken);

  router.get('/metrics', async (ctx) => {
    ctx.type = deps.metrics.contentType;
    ctx.body = await deps.metrics.text();
  });
  return router;
}

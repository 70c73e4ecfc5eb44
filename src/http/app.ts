// createApp(deps) builds the Koa app from ready-made parts; it reads no environment and listens
// on nothing, so tests drive app.callback() and the entry point owns the process.
import Koa from 'koa';
import type { ConsoleFeed } from '../console/feed.js';
import { consoleRouter } from '../console/routes.js';
import type { GatewayMetrics } from '../metrics/metrics.js';
import type { AdminService } from '../service/admin-service.js';
import type { GatewayService } from '../service/gateway-service.js';
import { requestContext, type HttpLogger } from './middleware.js';
import { buildRouter, inferenceFastPath, inferenceHandlers, type Lifecycle } from './routes.js';

export type { Lifecycle } from './routes.js';

export interface AppDeps {
  readonly service: GatewayService;
  readonly metrics: GatewayMetrics;
  readonly log: HttpLogger;
  readonly lifecycle: Lifecycle;
  readonly maxBodyBytes: number;
  readonly serverVersion: string;
  readonly admin?: AdminService;
  readonly adminToken?: string | undefined;
  /** The live rollout console's snapshots; absent = no /console routes. */
  readonly console?: ConsoleFeed;
}

export function createApp(deps: AppDeps): Koa {
  const app = new Koa({ proxy: true });
  // Errors are rendered by requestContext; Koa's own handler would print stacks to stderr.
  app.silent = true;
  const handlers = inferenceHandlers(deps);
  const router = buildRouter(deps, handlers);
  app.use(requestContext(deps.log));
  app.use(inferenceFastPath(handlers));
  if (deps.console) app.use(consoleRouter(deps.console, deps.adminToken).routes());
  app.use(router.routes());
  app.use(router.allowedMethods());
  return app;
}

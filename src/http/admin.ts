// /admin/*: the live registry and "reload now", behind a bearer token compared in constant
// time. With no token configured the endpoints do not exist (404), so an unconfigured gateway
// exposes no control surface.
import type { Context, Next } from 'koa';
import type { Router } from '@koa/router';
import { GatewayError } from '../errors/catalogue.js';
import type { AdminService } from '../service/admin-service.js';
import { bearerToken, sameSecret } from './credentials.js';

/** Middleware: 404 without a configured token, 401 without credentials, 403 with wrong ones. */
export function requireAdmin(token: string | undefined, path: string, bearerFrom: (ctx: Context) => string | undefined = bearerToken) {
  return async (ctx: Context, next: Next): Promise<void> => {
    if (token === undefined) throw new GatewayError('NOT_FOUND', `no route for ${ctx.method} ${path}`);
    const given = bearerFrom(ctx);
    if (given === undefined) {
      ctx.set('WWW-Authenticate', 'Bearer realm="model-gateway admin"');
      throw new GatewayError('UNAUTHORIZED', 'admin endpoints need Authorization: Bearer <ADMIN_TOKEN>');
    }
    if (!sameSecret(given, token)) throw new GatewayError('FORBIDDEN', 'the admin token is not valid');
    await next();
  };
}

export function addAdminRoutes(router: Router, admin: AdminService, token: string | undefined): void {
  router.get('/admin/registry', requireAdmin(token, '/admin/registry'), async (ctx) => {
    ctx.set('Cache-Control', 'no-store');
    ctx.body = await admin.registryStatus();
  });
  router.post('/admin/reload', requireAdmin(token, '/admin/reload'), async (ctx) => {
    const outcome = await admin.reload();
    ctx.set('Cache-Control', 'no-store');
    if (outcome.result === 'invalid' || outcome.result === 'unreachable') {
      // The body keeps the error shape ({error, code}) and adds what a person needs to fix it.
      ctx.status = outcome.result === 'invalid' ? 422 : 503;
      ctx.body = {
        error: `registry ${outcome.result}; still serving revision ${outcome.revision}`,
        code: outcome.result === 'invalid' ? 'INVALID_REGISTRY' : 'REGISTRY_UNREACHABLE',
        revision: outcome.revision,
        problems: outcome.problems ?? [],
      };
      return;
    }
    ctx.body = outcome;
  });
}

// app.yaml checked against the App Engine standard environment's app.yaml reference: only
// documented elements, valid values, and what this gateway needs to run there.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { z } from 'zod';
import { describe, expect, it } from 'vitest';
import { parseSettings } from '../../src/config/settings.js';
import { REPO_ROOT } from '../support/harness.js';

const automaticScaling = z.strictObject({
  target_cpu_utilization: z.number().min(0.5).max(0.95).optional(),
  target_throughput_utilization: z.number().min(0.5).max(0.95).optional(),
  max_concurrent_requests: z.number().int().min(1).max(1000).optional(),
  max_instances: z.number().int().min(1).optional(),
  min_instances: z.number().int().min(0).optional(),
  max_idle_instances: z.union([z.number().int(), z.literal('automatic')]).optional(),
  min_idle_instances: z.union([z.number().int(), z.literal('automatic')]).optional(),
  max_pending_latency: z.string().regex(/^(\d+(ms|s)|automatic)$/).optional(),
  min_pending_latency: z.string().regex(/^(\d+(ms|s)|automatic)$/).optional(),
});

const handler = z.strictObject({
  url: z.string(),
  script: z.literal('auto').optional(),
  static_dir: z.string().optional(),
  static_files: z.string().optional(),
  upload: z.string().optional(),
  secure: z.enum(['always', 'optional', 'never']).optional(),
  login: z.enum(['optional', 'required', 'admin']).optional(),
  redirect_http_response_code: z.number().optional(),
  expiration: z.string().optional(),
  http_headers: z.record(z.string(), z.string()).optional(),
});

// Elements of app.yaml for the standard environment's second-generation runtimes.
const standardAppYaml = z.strictObject({
  runtime: z.string().regex(/^nodejs\d+$/),
  service: z.string().optional(),
  instance_class: z.enum(['F1', 'F2', 'F4', 'F4_1G']).optional(),
  entrypoint: z.string().optional(),
  env_variables: z.record(z.string().regex(/^[A-Z_][A-Z0-9_]*$/), z.string()).optional(),
  build_env_variables: z.record(z.string(), z.string()).optional(),
  automatic_scaling: automaticScaling.optional(),
  handlers: z.array(handler).optional(),
  inbound_services: z.array(z.enum(['warmup', 'mail', 'mail_bounce'])).optional(),
  service_account: z.string().optional(),
  vpc_access_connector: z.object({ name: z.string() }).optional(),
  default_expiration: z.string().optional(),
  app_engine_apis: z.boolean().optional(),
});

const appYaml = parse(readFileSync(path.join(REPO_ROOT, 'app.yaml'), 'utf8')) as Record<string, unknown>;
const pkg = JSON.parse(readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };

describe('app.yaml', () => {
  it('is valid App Engine standard configuration (documented elements and values only)', () => {
    const result = standardAppYaml.safeParse(appYaml);
    expect(result.success, JSON.stringify(result.error?.issues)).toBe(true);
  });

  it('runs npm start on nodejs22, with gcp-build compiling first', () => {
    expect(appYaml.runtime).toBe('nodejs22');
    expect(appYaml.entrypoint ?? 'npm start').toBe('npm start');
    expect(pkg.scripts['gcp-build']).toBe('npm run build');
    // exec: no shell stays between npm and node, so a SIGTERM to the group reaches node alone and npm exits 0.
    // Only environment assignments (the malloc tunables, README "Memory") may come before it,
    // and only node's own flags (the young generation's cap, README "Memory") between node and the entry.
    expect(pkg.scripts.start).toMatch(/^(?:[A-Z_]+=\S+ )*exec node (?:--[a-z-]+=\S+ )*dist\/server\.js$/);
  });

  it('takes MODEL_REGISTRY from the environment it sets, a gs:// registry the gateway accepts', () => {
    const env = appYaml.env_variables as Record<string, string>;
    expect(env.MODEL_REGISTRY).toMatch(/^gs:\/\//);
    expect(env.PORT).toBeUndefined(); // the platform sets PORT
    const settings = parseSettings({ ...env, PORT: '8081' });
    expect(settings.registry).toBe(env.MODEL_REGISTRY);
    expect(settings.port).toBe(8081);
    expect(settings.modelCacheDir.startsWith('/tmp/')).toBe(true); // the only writable folder
  });

  it('uploads sources only: .gcloudignore leaves out node_modules, dist and tests', () => {
    const ignored = readFileSync(path.join(REPO_ROOT, '.gcloudignore'), 'utf8').split('\n');
    for (const entry of ['node_modules/', 'dist/', 'test/']) expect(ignored).toContain(entry);
    expect(ignored).not.toContain('config/');
  });
});

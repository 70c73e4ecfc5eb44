// Builds real gateways on a real port for tests: a temp folder with a registry and models,
// createGateway() on it, and small fetch helpers.
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { createGateway, type Gateway, type GatewayLogger, type GatewayOptions } from '../../src/gateway.js';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const SHARED_MODELS = path.resolve(REPO_ROOT, '..', 'shared', 'models');

export const silentLog = pino({ level: 'silent' });

export function makeTempDir(prefix = 'mg-test-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export function writeFile(dir: string, rel: string, content: Uint8Array | string): string {
  const file = path.join(dir, rel);
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, content);
  return file;
}

export interface Response<T = unknown> {
  readonly status: number;
  readonly headers: Headers;
  readonly body: T;
  readonly text: string;
}

export interface RunningGateway {
  readonly url: string;
  readonly gateway: Gateway;
  readonly dir: string;
  /** The registry file the gateway reads (unless started with registryUri). */
  readonly registryFile: string;
  post<T = Record<string, unknown>>(p: string, body: unknown, headers?: Record<string, string>): Promise<Response<T>>;
  get<T = Record<string, unknown>>(p: string, headers?: Record<string, string>): Promise<Response<T>>;
  close(): Promise<void>;
}

export interface StartOptions extends Partial<Omit<GatewayOptions, 'registry'>> {
  /** Registry text written to <dir>/registry.yaml; models are written beside it. */
  readonly registry: string;
  readonly files?: Record<string, Uint8Array | string>;
  readonly registryName?: string;
  /** Use this registry URI instead of the written file (e.g. gs://…). */
  readonly registryUri?: string;
}

async function request<T>(url: string, init: RequestInit): Promise<Response<T>> {
  const res = await fetch(url, init);
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON (e.g. /metrics)
  }
  return { status: res.status, headers: res.headers, body: body as T, text };
}

export async function startGateway(options: StartOptions): Promise<RunningGateway> {
  const { dir, cleanup } = makeTempDir();
  const registryFile = writeFile(dir, options.registryName ?? 'registry.yaml', options.registry);
  for (const [rel, content] of Object.entries(options.files ?? {})) writeFile(dir, rel, content);
  const { registry: _r, files: _f, registryName: _n, registryUri, ...rest } = options;
  let gateway: Gateway;
  try {
    gateway = await createGateway({
      modelCacheDir: path.join(dir, '.cache'),
      defaultMetrics: false,
      log: silentLog,
      ...rest,
      registry: registryUri ?? registryFile,
    });
  } catch (err) {
    cleanup();
    throw err;
  }
  const server = http.createServer(gateway.app.callback());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    gateway,
    dir,
    registryFile,
    post: (p, body, headers = {}) =>
      request(`${url}${p}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: typeof body === 'string' ? body : JSON.stringify(body),
      }),
    get: (p, headers = {}) => request(`${url}${p}`, { headers }),
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await gateway.close();
      cleanup();
    },
  };
}

/** A gateway whose registry is an object on the test GCS server, with client retries off. */
export function startGatewayOnGcs(emulatorHost: string, registryUri: string, options: Partial<StartOptions> = {}): Promise<RunningGateway> {
  return startGateway({ registry: '', registryUri, storageEmulatorHost: emulatorHost, gcsRetryOptions: { autoRetry: false, maxRetries: 0 }, ...options });
}

/** Reads one sample's value from Prometheus text, or undefined when the series is absent. */
export function sampleValue(metricsText: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of metricsText.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const body = /\{(.*)\}/.exec(line)?.[1] ?? '';
    const have = Object.fromEntries([...body.matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1], m[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v) && Object.keys(have).length === Object.keys(labels).length) {
      return Number(line.slice(line.lastIndexOf(' ') + 1));
    }
  }
  return undefined;
}

/** A pino logger that keeps every line as an object, for tests that read what was logged. */
export function capturingLog(): { log: GatewayLogger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const log = pino({ level: 'debug' }, { write: (s: string) => void lines.push(JSON.parse(s) as Record<string, unknown>) });
  return { log, lines };
}

// A real cluster for tests: `node dist/server.js` with PROCESSES=2, waited on until both gateway
// processes are warm, and fetch helpers that open a new connection per request, so the
// primary's round-robin hands consecutive requests to alternate processes.
import { spawnGateway } from './gateway-process.js';
import type { ServerProcess } from './process.js';

export const CLUSTER_PROCESSES = 2;

/** Spawns a two-process cluster (one inference thread each) and waits until both are ready. */
export async function spawnCluster(env: Record<string, string>): Promise<ServerProcess> {
  const server = await spawnGateway({ PROCESSES: String(CLUSTER_PROCESSES), INFERENCE_THREADS: '1', ...env });
  await waitForLines(server, /"msg":"warm-up done; ready"/g, CLUSTER_PROCESSES);
  return server;
}

/** Waits until `pattern` (global) has matched the output `count` times. */
export async function waitForLines(server: ServerProcess, pattern: RegExp, count: number, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while ([...server.output().matchAll(pattern)].length < count) {
    if (Date.now() > deadline) throw new Error(`${pattern} seen fewer than ${count} times:\n${server.output()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** One request on a connection of its own (so consecutive ones reach alternate processes). */
export function fresh(server: ServerProcess, path: string, init: RequestInit = {}): Promise<Response> {
  return fetch(`${server.url}${path}`, { ...init, headers: { connection: 'close', ...(init.headers as Record<string, string> | undefined) } });
}

export async function freshJson<T>(server: ServerProcess, path: string, init: RequestInit = {}): Promise<{ status: number; headers: Headers; body: T }> {
  const res = await fresh(server, path, init);
  return { status: res.status, headers: res.headers, body: (await res.json()) as T };
}

/** Polls `check` until it returns true (or the time is up); returns its last answer. */
export async function eventually(check: () => Promise<boolean>, timeoutMs = 5_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 50));
  }
}

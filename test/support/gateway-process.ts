// `node dist/server.js` as a test fixture: spawned with PORT=0 and the given environment, waited
// on until ready, and stopped with SIGTERM (SIGKILL if it does not exit in time).
import { REPO_ROOT } from './harness.js';
import { startServerProcess, type ServerProcess } from './process.js';

/**
 * Spawns the built server (run `npm run build` first: it serves dist/). The registry variables of
 * the test's own environment are dropped, so each test sets exactly the ones it means.
 */
export function spawnGateway(env: Record<string, string>): Promise<ServerProcess> {
  const { MODEL_REGISTRY: _r, REMOTE_MODEL_PATH: _p, ADMIN_TOKEN: _t, REGISTRY_POLL_SECONDS: _s, ...inherited } = process.env;
  return startServerProcess('node', ['dist/server.js'], { cwd: REPO_ROOT, env: { ...inherited, PORT: '0', ...env } });
}

/** Resolves once /v2/health/ready answers 200 (every version with traffic is warm). */
export async function waitReady(server: ServerProcess, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const res = await fetch(`${server.url}/v2/health/ready`).catch(() => undefined);
    await res?.body?.cancel();
    if (res?.status === 200) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${server.url} never became ready:\n${server.output()}`);
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves once the process has exited. */
export async function stopGateway(server: ServerProcess | undefined, graceMs = 5_000): Promise<void> {
  if (!server || server.child.exitCode !== null || server.child.signalCode !== null) return;
  server.child.kill('SIGTERM');
  const timer = setTimeout(() => server.child.kill('SIGKILL'), graceMs);
  await server.exited;
  clearTimeout(timer);
}

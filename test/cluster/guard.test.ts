// The guard of a cluster (PROCESSES=2) judges the whole gateway's traffic: a failing canary is
// rolled back after `minRequests` outcomes counted over both processes (each saw about half),
// the rollback is counted and written once, and every process routes away from it, also when
// the registry cannot be written (then it holds in memory in both).
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, fresh, freshJson, spawnCluster } from '../support/cluster.js';
import { startFakeGcs, type FakeGcs } from '../support/fake-gcs.js';
import { stopGateway } from '../support/gateway-process.js';
import { makeTempDir, sampleValue } from '../support/harness.js';
import { echo, failsOnOdd } from '../support/models.js';
import type { ServerProcess } from '../support/process.js';

const BUCKET = 'cluster-guard';
const OBJECT = 'registry.yaml';
const MIN_REQUESTS = 20;
// Two canaries: version 2 of each fails inside onnxruntime for odd-length inputs.
const model = (name: string) => `  ${name}:
    versions:
      "1": { uri: gs://${BUCKET}/ok.onnx, weight: 50 }
      "2": { uri: gs://${BUCKET}/odd.onnx, weight: 50 }
    fallback: "1"
    guard: { maxErrorRate: 0.2, minRequests: ${MIN_REQUESTS}, windowSeconds: 120 }
`;
const REGISTRY = `models:\n${model('a')}${model('b')}`;
const TOKEN = 'cluster-guard-token';

let gcs: FakeGcs;
let server: ServerProcess;
const temp = makeTempDir('mg-cluster-guard-');

beforeAll(async () => {
  gcs = await startFakeGcs();
  gcs.put(BUCKET, 'ok.onnx', echo);
  gcs.put(BUCKET, 'odd.onnx', failsOnOdd);
  gcs.put(BUCKET, OBJECT, REGISTRY);
  server = await spawnCluster({
    MODEL_REGISTRY: `gs://${BUCKET}/${OBJECT}`,
    STORAGE_EMULATOR_HOST: gcs.host,
    // No polling: only the cluster's own messages make the processes read the registry again.
    REGISTRY_POLL_SECONDS: '0',
    ADMIN_TOKEN: TOKEN,
    MODEL_CACHE_DIR: path.join(temp.dir, 'cache'),
  });
});
afterAll(async () => {
  await stopGateway(server);
  await gcs?.close();
  temp.cleanup();
});

/** n requests pinned to the failing version 2 (each on its own connection: alternate processes). */
async function failCanary(name: string, n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    const res = await freshJson<{ error?: string }>(server, '/predict', { method: 'POST', body: JSON.stringify({ model: name, version: '2', inputs: { x: [1, 2, 3] } }) });
    expect(res.status).toBe(500);
  }
}

const rollbacks = async (name: string) =>
  sampleValue(await (await fresh(server, '/metrics')).text(), 'gateway_rollbacks_total', { model: name, version: '2', reason: 'error_rate' });

/** The version each of n model-level requests was answered by. */
async function routed(name: string, n: number): Promise<string[]> {
  const versions = [];
  for (let i = 0; i < n; i++) {
    const res = await fresh(server, '/predict', { method: 'POST', body: JSON.stringify({ model: name, inputs: { x: [1, 2] } }) });
    await res.body?.cancel();
    expect(res.status).toBe(200);
    versions.push(res.headers.get('x-model-version') ?? '?');
  }
  return versions;
}

interface Status {
  revision: string;
  models: Array<{ name: string; versions: Array<{ name: string; weight: number; effectiveWeight: number; guard: { state: string; persisted?: boolean; requests: number } | null }> }>;
}
const canaryStatus = async (name: string) => {
  const { body } = await freshJson<Status>(server, '/admin/registry', { headers: { authorization: `Bearer ${TOKEN}` } });
  return { revision: body.revision, v2: body.models.find((m) => m.name === name)?.versions.find((v) => v.name === '2') };
};

describe('the guard in a cluster (PROCESSES=2)', () => {
  it('holds a rollback in memory in every process when the registry cannot be written', async () => {
    gcs.denyUploads();
    try {
      await failCanary('b', MIN_REQUESTS - 1);
      // Each process saw about half of the 19: no rollback yet, anywhere.
      await new Promise((r) => setTimeout(r, 300));
      expect(await rollbacks('b')).toBe(0);

      await failCanary('b', 1);
      expect(await eventually(async () => (await rollbacks('b')) === 1)).toBe(true);
      // Every process routes away (consecutive connections alternate between them); at the declared
      // 50/50, twenty answers from version 1 alone would be a one-in-a-million chance.
      expect(await routed('b', 20)).toEqual(Array(20).fill('1'));
      for (let i = 0; i < 4; i++) {
        expect((await canaryStatus('b')).v2).toMatchObject({ weight: 50, effectiveWeight: 0, guard: { state: 'rolled_back', persisted: false } });
      }
      expect(gcs.read(BUCKET, OBJECT)?.text).toBe(REGISTRY);
      expect(gcs.uploads(BUCKET, OBJECT)).toBe(0);
    } finally {
      gcs.denyUploads(false);
    }
    // Counted once over both processes, however long we look.
    await new Promise((r) => setTimeout(r, 300));
    expect(await rollbacks('b')).toBe(1);
    expect([...server.output().matchAll(/"event":"guard_rollback"/g)]).toHaveLength(1);
    // One process tried the write (and was refused); the other held the winner's rollback.
    expect([...server.output().matchAll(/"event":"guard_rollback_not_written"/g)]).toHaveLength(1);
    expect(server.output()).toContain('"event":"guard_rollback_shared"');
  });

  it('rolls back after minRequests failures counted over both processes, written once, and every process follows', async () => {
    const before = (await canaryStatus('a')).revision;
    await failCanary('a', MIN_REQUESTS - 1);
    await new Promise((r) => setTimeout(r, 300));
    expect(await rollbacks('a')).toBe(0);
    expect(gcs.uploads(BUCKET, OBJECT)).toBe(0);

    await failCanary('a', 1);
    expect(await eventually(async () => (await rollbacks('a')) === 1)).toBe(true);
    expect(await eventually(async () => gcs.uploads(BUCKET, OBJECT) === 1)).toBe(true);
    expect(gcs.read(BUCKET, OBJECT)?.text).toBe(REGISTRY.replace(`"2": { uri: gs://${BUCKET}/odd.onnx, weight: 50 }`, `"2": { uri: gs://${BUCKET}/odd.onnx, weight: 0 }`));

    // Both processes read the written registry (no polling: the writer told the other) ...
    const after = await eventually(async () => {
      const seen = await Promise.all([canaryStatus('a'), canaryStatus('a'), canaryStatus('a'), canaryStatus('a')]);
      return seen.every((s) => s.revision !== before && s.v2?.weight === 0 && s.v2.guard?.state === 'rolled_back' && s.v2.guard.persisted === true);
    });
    expect(after).toBe(true);
    // ... and route away from version 2.
    expect(await routed('a', 20)).toEqual(Array(20).fill('1'));
    await new Promise((r) => setTimeout(r, 300));
    expect(await rollbacks('a')).toBe(1);
    expect(gcs.uploads(BUCKET, OBJECT)).toBe(1);
    expect([...server.output().matchAll(/"event":"guard_rollback_written"/g)]).toHaveLength(1);
  });
});

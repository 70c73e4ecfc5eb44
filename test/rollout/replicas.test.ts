// Three gateway processes that share nothing but one gs:// registry object (on the test GCS
// server): a rollout written to the object reaches every replica within one poll interval plus a
// second, and sticky callers see the same version on all three.
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeGcs, type FakeGcs } from '../support/fake-gcs.js';
import { spawnGateway, stopGateway, waitReady } from '../support/gateway-process.js';
import { makeTempDir, sampleValue } from '../support/harness.js';
import { doubler, tripler } from '../support/models.js';
import type { ServerProcess } from '../support/process.js';

const POLL_SECONDS = 1;
const BUCKET = 'rollout-bkt';
const OBJECT = 'prod/registry.yaml';

const registryText = (w1: number, w2: number) => `# the canary of ab
models:
  ab:
    versions:
      "1": { uri: gs://${BUCKET}/models/doubler.onnx, weight: ${w1} }
      "2": { uri: gs://${BUCKET}/models/tripler.onnx, weight: ${w2} }
    sticky: x-user-id
`;

let gcs: FakeGcs;
const temp = makeTempDir('mg-replicas-');
const replicas: ServerProcess[] = [];

beforeAll(async () => {
  gcs = await startFakeGcs();
  gcs.put(BUCKET, 'models/doubler.onnx', doubler);
  gcs.put(BUCKET, 'models/tripler.onnx', tripler);
  gcs.put(BUCKET, OBJECT, registryText(100, 0));
  const started = await Promise.all(
    ['r1', 'r2', 'r3'].map((name) =>
      spawnGateway({
        MODEL_REGISTRY: `gs://${BUCKET}/${OBJECT}`,
        STORAGE_EMULATOR_HOST: gcs.host,
        REGISTRY_POLL_SECONDS: String(POLL_SECONDS),
        MODEL_CACHE_DIR: path.join(temp.dir, name),
      }),
    ),
  );
  replicas.push(...started);
  await Promise.all(replicas.map((r) => waitReady(r)));
});

afterAll(async () => {
  await Promise.all(replicas.map((r) => stopGateway(r)));
  await gcs?.close();
  temp.cleanup();
});

async function predict(replica: ServerProcess, userId?: string): Promise<{ status: number; version: string | null; y: unknown }> {
  const res = await fetch(`${replica.url}/predict`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(userId === undefined ? {} : { 'x-user-id': userId }) },
    body: JSON.stringify({ model: 'ab', inputs: { x: [[1]] } }),
  });
  const body = (await res.json()) as { outputs?: { y?: unknown } };
  return { status: res.status, version: res.headers.get('x-model-version'), y: body.outputs?.y };
}

async function metrics(replica: ServerProcess): Promise<string> {
  return (await fetch(`${replica.url}/metrics`)).text();
}

const revisionOf = (text: string): string | undefined => /^gateway_registry_info\{revision="([^"]+)"\} 1$/m.exec(text)?.[1];

/** Waits until every replica's gateway_registry_info names one revision other than `old`. */
async function converged(old: string | undefined, timeoutMs = 5_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const revisions = await Promise.all(replicas.map(async (r) => revisionOf(await metrics(r))));
    const first = revisions[0];
    if (first !== undefined && first !== old && revisions.every((r) => r === first)) return first;
    if (Date.now() > deadline) throw new Error(`replicas did not converge: ${revisions.join(', ')}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * Polls a replica every 100 ms from `t0` and returns the time until its answers are v2 for good:
 * the first v2 answer after which none is v1 for at least `holdMs`. Every answer must be 200.
 */
async function timeToV2(replica: ServerProcess, t0: number, holdMs: number, limitMs: number): Promise<number> {
  let firstV2: number | undefined;
  for (;;) {
    const now = Date.now();
    const answer = await predict(replica);
    expect(answer.status).toBe(200);
    if (answer.version === '2') {
      expect(answer.y).toEqual([[3]]);
      firstV2 ??= now - t0;
      if (now - t0 - firstV2 >= holdMs) return firstV2;
    } else {
      expect(answer.version).toBe('1');
      firstV2 = undefined; // back on v1 after a v2 answer: not switched yet
    }
    if (now - t0 > limitMs) throw new Error(`still not on v2 after ${limitMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('three replicas on one gs:// registry', () => {
  it('a rollout v1=100 → v2=100 reaches each replica within one poll plus a second; sticky callers agree at 50/50', async () => {
    const before = await converged(undefined);
    for (const r of replicas) expect((await predict(r)).version).toBe('1');
    const successes = async () => Promise.all(replicas.map(async (r) => sampleValue(await metrics(r), 'gateway_registry_reloads_total', { result: 'success' }) ?? 0));
    const successesBefore = await successes();

    const t0 = Date.now();
    gcs.put(BUCKET, OBJECT, registryText(0, 100));
    const limit = (POLL_SECONDS + 1) * 1000;
    const times = await Promise.all(replicas.map((r) => timeToV2(r, t0, 500, limit + 1_000)));
    console.log(`time from registry write to all-v2 per replica (ms): ${times.join(', ')}`);
    for (const t of times) expect(t).toBeLessThanOrEqual(limit);
    const afterRollout = await converged(before);

    gcs.put(BUCKET, OBJECT, registryText(50, 50));
    const split = await converged(afterRollout);
    const callers = Array.from({ length: 200 }, (_, i) => `caller-${i}`);
    const seen = await Promise.all(
      replicas.map(async (r) => {
        const out: Array<string | null> = [];
        for (const id of callers) {
          const answer = await predict(r, id);
          expect(answer.status).toBe(200);
          out.push(answer.version);
        }
        return out;
      }),
    );
    expect(seen[1]).toEqual(seen[0]);
    expect(seen[2]).toEqual(seen[0]);
    const onV2 = seen[0]?.filter((v) => v === '2').length ?? 0;
    console.log(`50/50: ${onV2} of 200 sticky callers on v2, identical on all three replicas`);
    expect(onV2).toBeGreaterThan(60); // both versions really take callers
    expect(onV2).toBeLessThan(140);

    const successesAfter = await successes();
    for (const [i, r] of replicas.entries()) {
      const text = await metrics(r);
      expect(revisionOf(text)).toBe(split);
      // Each replica applied the rollout and the 50/50 change: exactly two more successes.
      expect(successesAfter[i]).toBeGreaterThanOrEqual(2);
      expect((successesAfter[i] ?? 0) - (successesBefore[i] ?? 0)).toBe(2);
      expect(sampleValue(text, 'gateway_registry_reloads_total', { result: 'invalid' })).toBe(0);
      expect(sampleValue(text, 'gateway_registry_reloads_total', { result: 'unreachable' })).toBe(0);
    }
  });
});

// Overload and timeouts over HTTP: the default limits take 256 concurrent requests to one
// version; past small limits, requests are refused with 429 (version) or 503 (gateway) and
// Retry-After, counted as `rejected`; a request past its deadline is a 504 and frees its slot;
// and a loopback flood against a separate gateway process leaves memory bounded and service
// normal right after.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AdmissionLimits } from '../../src/service/admission.js';
import { countingFactory } from '../support/counting-factory.js';
import { makeTempDir, REPO_ROOT, sampleValue, startGateway, writeFile, type RunningGateway } from '../support/harness.js';
import { doubler } from '../support/models.js';
import { startServerProcess, type ServerProcess } from '../support/process.js';
import { SLOW_WIDTH, slowBody, slowModel } from '../support/slow-model.js';

const SLOW_REGISTRY = 'models:\n  slow:\n    versions:\n      "1": { uri: slow.onnx, weight: 1 }\n      "2": { uri: slow.onnx, weight: 1 }\n';
const FOUR_VERSIONS = `models:\n  m:\n    versions:\n${[1, 2, 3, 4].map((v) => `      "${v}": { uri: m.onnx, weight: 1 }\n`).join('')}`;
const body = (version: string) => ({ model: 'm', version, inputs: { x: [[1]] } });

describe('default limits', () => {
  let gw: RunningGateway;
  beforeAll(async () => {
    gw = await startGateway({ registry: SLOW_REGISTRY, files: { 'slow.onnx': slowModel } });
  });
  afterAll(() => gw.close());

  it('serve 256 concurrent requests to one version without refusing any', async () => {
    const answers = await Promise.all(Array.from({ length: 256 }, (_, i) => gw.post<{ outputs: { sum: number[][] } }>('/predict', slowBody('slow', 1 + (i % 8)), { 'x-model-version': '1' })));
    expect(answers.map((a) => a.status)).toEqual(answers.map(() => 200));
    expect(answers.map((a) => a.body.outputs.sum[0]?.[0])).toEqual(answers.map((_, i) => (1 + (i % 8)) * SLOW_WIDTH));
    expect(sampleValue(await gw.get('/metrics').then((r) => r.text), 'gateway_inference_requests_total', { model: 'slow', version: '1', outcome: 'rejected' })).toBe(0);
  });
});

/** Four versions of one small model, loaded through a factory the test can slow down. */
async function fourVersions(admission: Partial<AdmissionLimits>) {
  const factory = countingFactory({ workers: true });
  const gw = await startGateway({ registry: FOUR_VERSIONS, files: { 'm.onnx': doubler }, sessionFactory: factory, admission });
  return { factory, gw };
}

describe('past the limits', () => {
  it('refuses with 429 per version and 503 for the gateway, with Retry-After, counted as rejected', async () => {
    const { factory, gw } = await fourVersions({ perVersion: 1, perVersionQueue: 1, total: 2, totalQueue: 2, timeoutMs: 0 });
    factory.delayMs = 600; // each first request holds its slot while its version loads
    try {
      const pause = () => new Promise((r) => setTimeout(r, 40));
      const sent: Array<Promise<{ status: number; headers: Headers; body: Record<string, unknown> }>> = [];
      for (const v of ['1', '1', '1', '2', '3', '4']) {
        sent.push(gw.post('/predict', body(v)));
        await pause();
      }
      const [v1a, v1b, v1c, v2, v3, v4] = await Promise.all(sent);
      // v1: one running, one waiting, the third refused for its version.
      expect(v1c?.status).toBe(429);
      expect(v1c?.headers.get('retry-after')).toBe('1');
      expect(v1c?.body).toEqual({ code: 'TOO_MANY_REQUESTS', error: 'model "m" version "1" is at its limit of concurrent requests; retry later' });
      // v2 takes the second of two slots; v3 waits in the shared queue (now full); v4 is refused.
      expect(v4?.status).toBe(503);
      expect(v4?.headers.get('retry-after')).toBe('1');
      expect(v4?.body).toMatchObject({ code: 'OVERLOADED' });
      for (const ok of [v1a, v1b, v2, v3]) expect(ok?.body).toMatchObject({ outputs: { y: [[2]] } });
      const metrics = (await gw.get('/metrics')).text;
      const count = (version: string, outcome: string) => sampleValue(metrics, 'gateway_inference_requests_total', { model: 'm', version, outcome });
      expect([count('1', 'rejected'), count('4', 'rejected'), count('2', 'rejected'), count('1', 'success')]).toEqual([1, 1, 0, 2]);
      // Nothing is left holding a slot: service is normal.
      expect((await gw.post('/predict', body('4'))).status).toBe(200);
    } finally {
      await gw.close();
    }
  });

  it('answers 504 TIMEOUT after REQUEST_TIMEOUT_SECONDS and frees the slot', async () => {
    const { factory, gw } = await fourVersions({ perVersion: 1, perVersionQueue: 4, total: 1, totalQueue: 4, timeoutMs: 300 });
    try {
      factory.delayMs = 2000;
      const started = performance.now();
      const slow = gw.post('/predict', body('1'));
      await new Promise((r) => setTimeout(r, 50));
      factory.delayMs = 0;
      const res = await slow;
      expect(res.status).toBe(504);
      expect(res.body).toEqual({ code: 'TIMEOUT', error: 'model "m" version "1" did not answer within 0.3 s' });
      expect(performance.now() - started).toBeLessThan(1500);
      // The only slot was freed at the deadline, though the load goes on in the background.
      const next = await gw.post('/predict', body('2'));
      expect(next.status).toBe(200);
      expect(next.body).toMatchObject({ outputs: { y: [[2]] } });
    } finally {
      await gw.close();
    }
  });
});

function rssKiB(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1]);
  return { rss: field('VmRSS'), peak: field('VmHWM') };
}

describe('a loopback flood', () => {
  const temp = makeTempDir();
  let server: ServerProcess;
  beforeAll(async () => {
    const registry = writeFile(temp.dir, 'models.yaml', SLOW_REGISTRY);
    writeFile(temp.dir, 'slow.onnx', slowModel);
    server = await startServerProcess('node', ['dist/server.js'], {
      cwd: REPO_ROOT,
      env: {
        ...process.env,
        PORT: '0',
        MODEL_REGISTRY: registry,
        MODEL_CACHE_DIR: path.join(temp.dir, 'cache'),
        MAX_INFLIGHT_PER_VERSION: '4',
        MAX_QUEUE_PER_VERSION: '8',
        MAX_INFLIGHT: '6',
        MAX_QUEUE: '12',
      },
    });
  });
  afterAll(async () => {
    server.child.kill('SIGKILL');
    await server.exited;
    temp.cleanup();
  });

  const predict = (version: string, rows: number) =>
    fetch(`${server.url}/predict`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-model-version': version }, body: slowBody('slow', rows) });

  it('gets only 200, or 429/503 with Retry-After; memory stays bounded; service is normal right after', async () => {
    for (let i = 0; i < 20; i++) expect((await predict(String(1 + (i % 2)), 50)).status).toBe(200);
    const pid = server.child.pid ?? 0;
    const before = rssKiB(pid);

    const total = 2000;
    const statuses = new Map<string, number>();
    let next = 0;
    const worker = async () => {
      while (next < total) {
        const i = next++;
        const res = await predict(i % 4 === 0 ? '2' : '1', 40); // v1 fills its own queue first
        const text = await res.text();
        const retry = res.headers.get('retry-after');
        const key = res.status === 200 ? '200' : `${res.status} retry-after=${retry} ${JSON.parse(text).code}`;
        statuses.set(key, (statuses.get(key) ?? 0) + 1);
      }
    };
    const started = performance.now();
    await Promise.all(Array.from({ length: 400 }, worker));
    const seconds = (performance.now() - started) / 1000;
    const after = rssKiB(pid);

    const growthMiB = (after.peak - before.rss) / 1024;
    console.info(`flood: ${total} requests at 400 concurrency in ${seconds.toFixed(1)} s: ${JSON.stringify(Object.fromEntries(statuses))}; RSS ${(before.rss / 1024).toFixed(0)} MiB before, peak ${(after.peak / 1024).toFixed(0)} MiB, ${(after.rss / 1024).toFixed(0)} MiB after`);
    const kinds = [...statuses.keys()].sort();
    expect(kinds.every((k) => ['200', '429 retry-after=1 TOO_MANY_REQUESTS', '503 retry-after=1 OVERLOADED'].includes(k)), kinds.join(', ')).toBe(true);
    expect(statuses.get('200')).toBeGreaterThan(0);
    expect(statuses.get('429 retry-after=1 TOO_MANY_REQUESTS')).toBeGreaterThan(0);
    expect(statuses.get('503 retry-after=1 OVERLOADED')).toBeGreaterThan(0);
    expect(growthMiB).toBeLessThan(100);

    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    const rejected = [1, 2].reduce((n, v) => n + (sampleValue(metrics, 'gateway_inference_requests_total', { model: 'slow', version: String(v), outcome: 'rejected' }) ?? 0), 0);
    expect(rejected).toBe(total - (statuses.get('200') ?? 0));

    for (let i = 0; i < 20; i++) {
      const res = await predict(String(1 + (i % 2)), 10 + i);
      expect(res.status).toBe(200);
      expect(((await res.json()) as { outputs: { sum: number[][] } }).outputs.sum).toEqual([[(10 + i) * SLOW_WIDTH]]);
    }
  }, 120_000);
});

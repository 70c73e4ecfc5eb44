// Acceptance: under a steady, bounded loopback load the registry changes from v1=100 to v2=100.
// All traffic is on v2 within one poll interval plus a second, not one request fails, and v2 is
// loaded before it takes its first request. Once for a registry file, once for a gs:// registry
// object on the test GCS server.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SessionFactory } from '../../src/inference/session.js';
import { countingFactory } from '../support/counting-factory.js';
import { startFakeGcs, type FakeGcs } from '../support/fake-gcs.js';
import { sampleValue, startGateway, type RunningGateway } from '../support/harness.js';
import { doubler, tripler } from '../support/models.js';

const POLL_SECONDS = 1;
const LOOPS = 12;
const BEFORE_CHANGE_MS = 1_000;
const AFTER_CHANGE_MS = 3_000;
/** Every load after start-up takes this long, so a request that waited for v2's load shows. */
const LOAD_DELAY_MS = 300;

const registryText = (w1: number, w2: number, uri1: string, uri2: string) => `models:
  ab:
    versions:
      "1": { uri: ${uri1}, weight: ${w1} }
      "2": { uri: ${uri2}, weight: ${w2} }
`;

interface Sample {
  readonly start: number;
  readonly end: number;
  readonly status: number;
  readonly version: string | null;
  readonly y: unknown;
}

/** A session factory that notes when each load begins (performance.now()). */
function timedFactory(): SessionFactory & { loadStarts: number[]; delayMs: number } {
  const inner = countingFactory({ workers: true });
  const factory = {
    loadStarts: [] as number[],
    get delayMs() {
      return inner.delayMs;
    },
    set delayMs(ms: number) {
      inner.delayMs = ms;
    },
    create(filePath: string) {
      factory.loadStarts.push(performance.now());
      return inner.create(filePath);
    },
  };
  return factory;
}

async function loop(url: string, until: number, out: Sample[]): Promise<void> {
  const body = JSON.stringify({ model: 'ab', inputs: { x: [[1]] } });
  while (performance.now() < until) {
    const start = performance.now();
    try {
      const res = await fetch(`${url}/predict`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
      const json = (await res.json()) as { outputs?: { y?: unknown } };
      out.push({ start, end: performance.now(), status: res.status, version: res.headers.get('x-model-version'), y: json.outputs?.y });
    } catch (err) {
      out.push({ start, end: performance.now(), status: 0, version: String(err), y: undefined });
    }
  }
}

/**
 * Runs LOOPS request loops; `change` is called BEFORE_CHANGE_MS in (at t0) and the load goes on
 * for AFTER_CHANGE_MS more. Then checks the acceptance and returns nothing: it asserts.
 */
async function rolloutUnderLoad(label: string, gw: RunningGateway, factory: ReturnType<typeof timedFactory>, change: () => void): Promise<void> {
  await gw.gateway.warm(); // v1 loaded; from here on, only v2 should ever load
  expect(factory.loadStarts).toHaveLength(1);
  factory.loadStarts.length = 0;
  factory.delayMs = LOAD_DELAY_MS;
  gw.gateway.startPolling();

  const samples: Sample[] = [];
  const begin = performance.now();
  const t0 = begin + BEFORE_CHANGE_MS;
  const end = t0 + AFTER_CHANGE_MS;
  const changed = new Promise<void>((resolve) =>
    setTimeout(() => {
      change();
      resolve();
    }, t0 - performance.now()),
  );
  await Promise.all([...Array.from({ length: LOOPS }, () => loop(gw.url, end, samples)), changed]);

  const failed = samples.filter((s) => s.status !== 200);
  const beforeT0 = samples.filter((s) => s.start < t0);
  const late = samples.filter((s) => s.start >= t0 + (POLL_SECONDS + 1) * 1000);
  const v2 = samples.filter((s) => s.version === '2');
  const firstV2Received = Math.min(...v2.map((s) => s.end));
  const lastV1Started = Math.max(...samples.filter((s) => s.version === '1').map((s) => s.start));
  console.log(
    `${label}: ${samples.length} requests in ${Math.round(performance.now() - begin)} ms over ${LOOPS} loops; ` +
      `failed ${failed.length}; before t0: ${beforeT0.length} (v1 ${beforeT0.filter((s) => s.version === '1').length}); ` +
      `after t0: v1 ${samples.filter((s) => s.start >= t0 && s.version === '1').length}, v2 ${v2.length}; ` +
      `last v1 request started t0+${Math.round(lastV1Started - t0)} ms, first v2 answer at t0+${Math.round(firstV2Received - t0)} ms; ` +
      `v2 load began t0+${Math.round((factory.loadStarts[0] ?? NaN) - t0)} ms; requests started after t0+${POLL_SECONDS + 1}s: ${late.length}`,
  );

  expect(failed.slice(0, 3)).toEqual([]);
  // The change really changed something: traffic was on v1 before it, with v1's answers.
  expect(beforeT0.length).toBeGreaterThan(LOOPS);
  expect(beforeT0.every((s) => s.version === '1' && JSON.stringify(s.y) === '[[2]]')).toBe(true);
  // All traffic is on v2 within one poll interval plus a second.
  expect(late.length).toBeGreaterThan(LOOPS);
  expect(late.filter((s) => s.version !== '2')).toEqual([]);
  expect(v2.every((s) => JSON.stringify(s.y) === '[[3]]')).toBe(true);
  // The swap is atomic: once one v2 answer has arrived, no request sent after it gets v1.
  expect(samples.filter((s) => s.version === '1' && s.start > firstV2Received)).toEqual([]);
  // v2 was loaded once, by the reload, before its first request: no v2 answer belongs to a
  // request sent before v2's load began (a lazy first load would have to be triggered by one).
  expect(factory.loadStarts).toHaveLength(1);
  const loadStart = factory.loadStarts[0] ?? Infinity;
  expect(v2.filter((s) => s.start <= loadStart).map((s) => Math.round(s.start - loadStart))).toEqual([]);
  const metrics = (await gw.get('/metrics')).text;
  expect(sampleValue(metrics, 'gateway_model_loads_total', { model: 'ab', version: '2', result: 'success' })).toBe(1);
  expect(sampleValue(metrics, 'gateway_model_loads_total', { model: 'ab', version: '2', result: 'failure' }) ?? 0).toBe(0);
  expect(sampleValue(metrics, 'gateway_registry_reloads_total', { result: 'invalid' })).toBe(0);
}

describe('a rollout under steady load', () => {
  it('registry file v1=100 → v2=100: all on v2 within one poll plus a second, no request fails, v2 warm first', async () => {
    const factory = timedFactory();
    const gw = await startGateway({
      registry: registryText(100, 0, 'v1.onnx', 'v2.onnx'),
      files: { 'v1.onnx': doubler, 'v2.onnx': tripler },
      pollSeconds: POLL_SECONDS,
      sessionFactory: factory,
    });
    try {
      await rolloutUnderLoad('file', gw, factory, () => writeFileSync(path.join(gw.dir, 'registry.yaml'), registryText(0, 100, 'v1.onnx', 'v2.onnx')));
    } finally {
      await gw.close();
    }
  });

  describe('gs:// registry object', () => {
    let gcs: FakeGcs;
    beforeAll(async () => {
      gcs = await startFakeGcs();
    });
    afterAll(() => gcs?.close());

    it('v1=100 → v2=100: all on v2 within one poll plus a second, no request fails, v2 warm first', async () => {
      const [uri1, uri2] = ['gs://load-bkt/models/v1.onnx', 'gs://load-bkt/models/v2.onnx'];
      gcs.put('load-bkt', 'models/v1.onnx', doubler);
      gcs.put('load-bkt', 'models/v2.onnx', tripler);
      gcs.put('load-bkt', 'registry.yaml', registryText(100, 0, uri1, uri2));
      const factory = timedFactory();
      const gw = await startGateway({
        registry: 'unused: true',
        registryUri: 'gs://load-bkt/registry.yaml',
        storageEmulatorHost: gcs.host,
        gcsRetryOptions: { autoRetry: false, maxRetries: 0 },
        pollSeconds: POLL_SECONDS,
        sessionFactory: factory,
      });
      try {
        await rolloutUnderLoad('gs://', gw, factory, () => gcs.put('load-bkt', 'registry.yaml', registryText(0, 100, uri1, uri2)));
      } finally {
        await gw.close();
      }
      // The model objects were downloaded once each: polling probed, it did not re-download.
      expect(gcs.mediaDownloads('load-bkt', 'models/v2.onnx')).toBe(1);
    });
  });
});

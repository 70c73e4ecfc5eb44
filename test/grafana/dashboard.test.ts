// The Grafana dashboard: committed JSON is current, its layout is sound, and every panel and
// annotation query runs against a real Prometheus scraping a real gateway that serves a canary
// which fails (guard rollback, fallbacks), a shadow pair (matches and mismatches) and a model
// that cannot load, returning non-zero data. The alert rules load on the same Prometheus, are
// all healthy, and the guard rollback alert fires from the real gateway's metrics.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildDashboard } from '../../grafana/dashboard.js';
import { seededRandom } from '../../src/routing/route.js';
import { buildModel } from '../../tools/onnx-builder.js';
import { REPO_ROOT, sampleValue, startGateway, type RunningGateway } from '../support/harness.js';
import { doubler, failsOnOdd, garbage, tripler } from '../support/models.js';
import { hasPrometheus, startPrometheus, type RunningPrometheus } from '../support/prometheus.js';

const dashboard = buildDashboard();
const committed = JSON.parse(readFileSync(path.join(REPO_ROOT, 'grafana/model-gateway.json'), 'utf8')) as unknown;
const RULES = readFileSync(path.join(REPO_ROOT, 'prometheus/rules/model-gateway.yml'), 'utf8');

interface Target {
  expr: string;
  legendFormat: string;
  refId: string;
}
type JsonPanel = { id: number; type: string; title: string; gridPos: { x: number; y: number; w: number; h: number }; targets?: Target[] };
type JsonAnnotation = { name: string; expr: string; step: string; enable: boolean };
// Queries come from the committed JSON: that is what users import into Grafana.
const json = committed as { panels: JsonPanel[]; annotations: { list: JsonAnnotation[] } };
const panels = json.panels.filter((p) => p.type !== 'row');
const queries = panels.flatMap((p) => (p.targets ?? []).map((t) => ({ panel: p.title, expr: t.expr })));
const annotations = json.annotations.list;

/** What Grafana substitutes before sending a query, with "All" selected. */
function interpolate(expr: string, interval = '3s'): string {
  return expr
    .replaceAll('$model', '.*')
    .replaceAll('$version', '.*')
    .replaceAll('$__rate_interval', '30s')
    .replaceAll('$__range', '5m')
    .replaceAll('$__interval', interval);
}

type Sample = { metric: Record<string, string>; value: [number, string] };
const nonZero = (v: string): boolean => Number.isFinite(Number(v)) && Number(v) !== 0;

describe('grafana/model-gateway.json', () => {
  it('is the rendering of grafana/dashboard.ts (run npm run dashboard:write after changing it)', () => {
    expect(committed).toEqual(JSON.parse(JSON.stringify(dashboard)));
  });

  it('has unique panel ids, non-overlapping panels, and a query on every panel', () => {
    expect(new Set(json.panels.map((p) => p.id)).size).toBe(json.panels.length);
    const cells = new Set<string>();
    for (const p of json.panels) {
      if (p.type !== 'row') expect(p.targets?.length, p.title).toBeGreaterThan(0);
      for (let x = p.gridPos.x; x < p.gridPos.x + p.gridPos.w; x++) {
        for (let y = p.gridPos.y; y < p.gridPos.y + p.gridPos.h; y++) {
          expect(cells.has(`${x},${y}`), `${p.title} overlaps at ${x},${y}`).toBe(false);
          cells.add(`${x},${y}`);
        }
      }
      expect(p.gridPos.x + p.gridPos.w).toBeLessThanOrEqual(24);
    }
  });

  it('has a rollout row and rollback and registry revision annotations', () => {
    expect(json.panels.filter((p) => p.type === 'row').map((p) => p.title)).toContain('Rollout: canary, shadow, fallback, guard');
    const all = queries.map((q) => q.expr).join('\n');
    for (const family of ['gateway_fallbacks_total', 'gateway_shadow_requests_total', 'gateway_rollbacks_total', 'gateway_traffic_weight']) expect(all).toContain(family);
    expect(annotations.map((a) => a.name)).toEqual(['Guard rollbacks', 'Registry revisions']);
    for (const a of annotations) expect(a.enable).toBe(true);
  });
});

/** Reshapes [n] to [3, -1]: runs when n is a multiple of 3, fails inside onnxruntime otherwise. */
const failsUnlessTriple = buildModel({
  inputs: [{ name: 'x', type: 'float32', shape: ['n'] }],
  outputs: [{ name: 'y', type: 'float32', shape: [3, 'm'] }],
  initializers: [{ name: 'shape', type: 'int64', dims: [2], values: [3, -1] }],
  nodes: [{ op: 'Reshape', inputs: ['x', 'shape'], outputs: ['y'] }],
});

// m: stable 1 fails on lengths that are not multiples of 3, canary 2 on odd lengths, so length-3
// inputs break only the canary (the fallback, version 1, answers them) and explicit length-2
// requests give the stable version a small error ratio, below its guard.
const REGISTRY = `cache: { maxModels: 3 }
models:
  m:
    versions:
      "1": { uri: m1.onnx, weight: 80 }
      "2": { uri: m2.onnx, weight: 20 }
    fallback: "1"
    guard: { maxErrorRate: 0.3, minRequests: 10, windowSeconds: 60 }
  s:
    versions:
      "1": { uri: two.onnx, weight: 1 }
      same: { uri: two.onnx, shadow: 1 }
      other: { uri: three.onnx, shadow: 1 }
  broken:
    versions: { "1": { uri: broken.onnx, weight: 1 } }
`;

describe('every panel, annotation and alert query against a real Prometheus', () => {
  let gw: RunningGateway;
  let prom: RunningPrometheus;
  let started: number;
  let firstRevision: string;

  async function traffic(): Promise<void> {
    for (let i = 0; i < 80; i++) {
      await gw.post('/predict', { model: 'm', inputs: { x: [1, 2, 3] } }); // the canary fails, the fallback answers
      await gw.post('/predict', { model: 's', inputs: { x: [[i + 1]] } }); // shadows: same matches, other mismatches
      if (i % 10 === 0) {
        await gw.post('/predict', { model: 'm', inputs: { x: 'not a tensor' } }); // client_error
        await gw.post('/predict', { model: 'm', version: '1', inputs: { x: [1, 2] } }); // stable server_error
      }
    }
    await gw.post('/predict', { model: 'broken', inputs: { x: [[1]] } }); // load failure
    await gw.gateway.controller.settled();
    await gw.gateway.shadow.idle();
  }

  beforeAll(async () => {
    expect(hasPrometheus, 'prometheus is not installed: apt-get install prometheus (see .ci/run)').toBe(true);
    started = Date.now() / 1000;
    gw = await startGateway({
      registry: REGISTRY,
      files: { 'm1.onnx': failsUnlessTriple, 'm2.onnx': failsOnOdd, 'two.onnx': doubler, 'three.onnx': tripler, 'broken.onnx': garbage },
      defaultMetrics: true,
      loadRetryBaseMs: 1,
      route: { random: seededRandom(11) },
    });
    firstRevision = gw.gateway.registry.current().id;
    prom = await startPrometheus([new URL(gw.url).host], RULES);
    // Counters must move while Prometheus watches: a jump before its first scrape shows no rate.
    await prom.waitForScrapes(2);
    await traffic();
    await prom.waitForMoreScrapes(3);
  }, 60_000);
  afterAll(async () => {
    await prom?.stop();
    await gw?.close();
  });

  it('the traffic did what the panels should show: a guard rollback, fallbacks, shadow mismatches, a new revision', async () => {
    const text = (await gw.get('/metrics')).text;
    expect(sampleValue(text, 'gateway_rollbacks_total', { model: 'm', version: '2', reason: 'error_rate' })).toBe(1);
    expect(sampleValue(text, 'gateway_fallbacks_total', { model: 'm', version: '2', fallback: '1' })).toBeGreaterThanOrEqual(10);
    expect(sampleValue(text, 'gateway_shadow_requests_total', { model: 's', version: 'other', outcome: 'mismatch' })).toBeGreaterThan(0);
    expect(gw.gateway.registry.current().id).not.toBe(firstRevision);
  });

  it.each(queries)('$panel: $expr', async ({ expr }) => {
    const res = await prom.query(interpolate(expr));
    expect(res.status, res.error).toBe('success');
    const result = (res.data?.result ?? []) as Sample[];
    expect(result.length, 'the query returned no series').toBeGreaterThan(0);
    expect(result.some((s) => nonZero(s.value[1])), `every series is zero or NaN: ${JSON.stringify(result)}`).toBe(true);
  });

  it.each(annotations)('annotation $name marks an event', async ({ expr }) => {
    const res = await prom.queryRange(interpolate(expr), Math.floor(started), Math.ceil(Date.now() / 1000), 1);
    expect(res.status, res.error).toBe('success');
    const marked = (res.data?.result ?? []).filter((s) => s.values.some(([, v]) => nonZero(v)));
    expect(marked.length, `no step above 0: ${JSON.stringify(res.data?.result)}`).toBeGreaterThan(0);
  });

  it('the revision annotation marks the revision the guard wrote, after the first one', async () => {
    const written = gw.gateway.registry.current().id;
    expect(written).not.toBe(firstRevision);
    const expr = annotations.find((a) => a.name === 'Registry revisions')?.expr ?? '';
    const res = await prom.queryRange(interpolate(expr), Math.floor(started), Math.ceil(Date.now() / 1000), 1);
    const firstMark = (revision: string) => res.data?.result.find((s) => s.metric.revision === revision)?.values.find(([, v]) => nonZero(v))?.[0];
    expect(firstMark(written)).toBeGreaterThan(firstMark(firstRevision) ?? Infinity);
  });

  it('the rollout alert rules are healthy on it, and the guard rollback alert fires', async () => {
    type Rule = { name: string; type: string; query: string; health: string; lastError?: string };
    let rules: Rule[] = [];
    for (let i = 0; i < 50; i++) {
      const body = (await (await fetch(`${prom.url}/api/v1/rules`)).json()) as { data: { groups: Array<{ rules: Rule[] }> } };
      rules = body.data.groups.flatMap((g) => g.rules);
      if (rules.length > 0 && rules.every((r) => r.health === 'ok')) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(rules.filter((r) => r.type === 'alerting').length).toBeGreaterThanOrEqual(10);
    for (const r of rules) expect([r.name, r.health, r.lastError ?? '']).toEqual([r.name, 'ok', '']);
    for (const r of rules.filter((x) => x.type === 'alerting')) {
      const res = await prom.query(r.query);
      expect(res.status, `${r.name}: ${res.error}`).toBe('success');
    }
    const firing = await prom.query('ALERTS{alertname="ModelGatewayGuardRollback", alertstate="firing"}');
    expect((firing.data?.result as Sample[]).map((s) => s.metric)).toContainEqual(expect.objectContaining({ model: 'm', version: '2', reason: 'error_rate' }));
    const down = await prom.query('ALERTS{alertname=~"ModelGatewayDown|ModelGatewayTargetDown"}');
    expect(down.data?.result).toEqual([]);
  });

  it('the template variables find the registry models and versions', async () => {
    const models = (await (await fetch(`${prom.url}/api/v1/label/model/values?match[]=gateway_traffic_weight`)).json()) as { data: string[] };
    expect(models.data.sort()).toEqual(['broken', 'm', 's']);
    const shares = await prom.query('sum by (model) (gateway_traffic_weight)');
    for (const s of shares.data?.result as Sample[]) expect(Number(s.value[1])).toBeCloseTo(1, 9);
  });
});

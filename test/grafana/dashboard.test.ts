// The Grafana dashboard: committed JSON is current, its layout is sound, and every panel query
// runs against a real Prometheus scraping a real gateway, returning data.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildDashboard } from '../../grafana/dashboard.js';
import { REPO_ROOT, startGateway, type RunningGateway } from '../support/harness.js';
import { doubler, failsOnOdd, garbage, tripler } from '../support/models.js';
import { hasPrometheus, startPrometheus, type RunningPrometheus } from '../support/prometheus.js';

const dashboard = buildDashboard();
const committed = JSON.parse(readFileSync(path.join(REPO_ROOT, 'grafana/model-gateway.json'), 'utf8')) as unknown;

interface Target {
  expr: string;
  legendFormat: string;
  refId: string;
}
type JsonPanel = { id: number; title: string; gridPos: { x: number; y: number; w: number; h: number }; targets: Target[] };
// Queries come from the committed JSON: that is what users import into Grafana.
const panels = (committed as { panels: JsonPanel[] }).panels;
const queries = panels.flatMap((p) => p.targets.map((t) => ({ panel: p.title, expr: t.expr })));

/** What Grafana substitutes before sending a query, with "All" selected. */
function interpolate(expr: string): string {
  return expr.replaceAll('$model', '.*').replaceAll('$version', '.*').replaceAll('$__rate_interval', '30s').replaceAll('$__range', '5m');
}

describe('grafana/model-gateway.json', () => {
  it('is the rendering of grafana/dashboard.ts (run npm run dashboard:write after changing it)', () => {
    expect(committed).toEqual(JSON.parse(JSON.stringify(dashboard)));
  });

  it('has unique panel ids, non-overlapping panels, and a query on every panel', () => {
    expect(new Set(panels.map((p) => p.id)).size).toBe(panels.length);
    const cells = new Set<string>();
    for (const p of panels) {
      expect(p.targets.length, p.title).toBeGreaterThan(0);
      for (let x = p.gridPos.x; x < p.gridPos.x + p.gridPos.w; x++) {
        for (let y = p.gridPos.y; y < p.gridPos.y + p.gridPos.h; y++) {
          expect(cells.has(`${x},${y}`), `${p.title} overlaps at ${x},${y}`).toBe(false);
          cells.add(`${x},${y}`);
        }
      }
      expect(p.gridPos.x + p.gridPos.w).toBeLessThanOrEqual(24);
    }
  });
});

describe.runIf(hasPrometheus || process.env.CI === 'true')('every panel query against a real Prometheus', () => {
  let gw: RunningGateway;
  let prom: RunningPrometheus;

  async function traffic(): Promise<void> {
    for (let i = 0; i < 20; i++) {
      await gw.post('/predict', { model: 'ab', inputs: { x: [[i]] } }); // success, both versions
      await gw.post('/predict', { model: 'ab', inputs: { x: 'not a tensor' } }); // client_error
    }
    await gw.post('/predict', { model: 'odd', inputs: { x: [1, 2, 3] } }); // server_error
    await gw.post('/predict', { model: 'broken', inputs: { x: [[1]] } }); // load failure
  }

  beforeAll(async () => {
    gw = await startGateway({
      registry: `
cache: { maxModels: 2 }
models:
  ab:
    versions:
      "1": { uri: ab/1.onnx, weight: 70 }
      "2": { uri: ab/2.onnx, weight: 30 }
  odd:
    versions: { "1": { uri: odd.onnx, weight: 1 } }
  broken:
    versions: { "1": { uri: broken.onnx, weight: 1 } }
`,
      files: { 'ab/1.onnx': doubler, 'ab/2.onnx': tripler, 'odd.onnx': failsOnOdd, 'broken.onnx': garbage },
      defaultMetrics: true,
      loadRetryBaseMs: 1,
    });
    prom = await startPrometheus([new URL(gw.url).host]);
    await traffic(); // three models through a cache of two: evictions too
    await prom.waitForScrapes(3);
    await traffic();
    await prom.waitForScrapes(6);
  }, 90_000);
  afterAll(async () => {
    await prom?.stop();
    await gw?.close();
  });

  it.each(queries)('$panel: $expr', async ({ expr }) => {
    const res = await prom.query(interpolate(expr));
    expect(res.status, res.error).toBe('success');
    expect(res.data?.result.length, 'the query returned no series').toBeGreaterThan(0);
  });

  it('the template variables find the registry models and versions', async () => {
    const models = (await (await fetch(`${prom.url}/api/v1/label/model/values?match[]=gateway_traffic_weight`)).json()) as { data: string[] };
    expect(models.data.sort()).toEqual(['ab', 'broken', 'odd']);
    const shares = await prom.query('sum by (model) (gateway_traffic_weight)');
    for (const s of shares.data?.result as Array<{ value: [number, string] }>) expect(Number(s.value[1])).toBeCloseTo(1, 9);
  });
});

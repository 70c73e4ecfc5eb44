// GatewayMetrics' per-request series: counted without prom-client on the request path, and
// every count is in the next scrape; registry reloads keep the versions' histories.
import { describe, expect, it } from 'vitest';
import { GatewayMetrics } from '../../src/metrics/metrics.js';
import { parseRegistry } from '../../src/registry/parse.js';

const source = { kind: 'file' as const, path: '/srv/registry/models.yaml' };
const revision = (versions: string[]) =>
  parseRegistry(`models:\n  m:\n    versions:\n${versions.map((v) => `      "${v}": { uri: ${v}.onnx, weight: 1 }`).join('\n')}\n`, { source, cwd: '/srv/app' });
const sync = (metrics: GatewayMetrics, versions: string[]) => metrics.syncRevision(revision(versions), (_m, _v, w) => w);

function sample(text: string, line: string): number {
  const at = text.split('\n').find((l) => l.startsWith(`${line} `));
  return at === undefined ? Number.NaN : Number(at.slice(line.length + 1));
}

describe('GatewayMetrics per-request series', () => {
  it('counts each outcome and duration of a version, all of them in the next scrape', async () => {
    const metrics = new GatewayMetrics({ defaultMetrics: false });
    sync(metrics, ['1']);
    const series = metrics.versionSeries('m', '1');
    for (let i = 0; i < 5; i++) series.requests.success.inc();
    series.requests.client_error.inc();
    series.duration.observe(0.002);
    series.duration.observe(0.2);
    let text = await metrics.text();
    expect(sample(text, 'gateway_inference_requests_total{model="m",version="1",outcome="success"}')).toBe(5);
    expect(sample(text, 'gateway_inference_requests_total{model="m",version="1",outcome="client_error"}')).toBe(1);
    expect(sample(text, 'gateway_inference_requests_total{model="m",version="1",outcome="server_error"}')).toBe(0);
    expect(sample(text, 'gateway_inference_duration_seconds_bucket{le="0.0025",model="m",version="1"}')).toBe(1);
    expect(sample(text, 'gateway_inference_duration_seconds_count{model="m",version="1"}')).toBe(2);

    // Counted once: a second scrape adds only what came after the first.
    series.requests.success.inc();
    text = await metrics.text();
    expect(sample(text, 'gateway_inference_requests_total{model="m",version="1",outcome="success"}')).toBe(6);
    // The JSON the cluster aggregates sees the same counts.
    const json = await metrics.registry.getMetricsAsJSON();
    const requests = json.find((m) => m.name === 'gateway_inference_requests_total');
    expect(requests?.values.find((v) => v.labels.outcome === 'success')?.value).toBe(6);
  });

  it('a request that finishes after a reload removed its version does not bring the version back', async () => {
    const metrics = new GatewayMetrics({ defaultMetrics: false });
    sync(metrics, ['1', '2']);
    const held = metrics.versionSeries('m', '2'); // taken when the request started
    sync(metrics, ['1']);
    held.requests.success.inc();
    held.duration.observe(0.01);
    expect(await metrics.text()).not.toContain('version="2"');
    sync(metrics, ['1']);
    expect(await metrics.text()).not.toContain('version="2"');
  });

  it('resetMetrics drops counts not yet scraped, and the series keep counting from 0', async () => {
    const metrics = new GatewayMetrics({ defaultMetrics: false });
    sync(metrics, ['1']);
    const series = metrics.versionSeries('m', '1');
    series.requests.success.inc();
    series.duration.observe(0.01);
    metrics.registry.resetMetrics();
    let text = await metrics.text();
    expect(text).not.toMatch(/gateway_inference_requests_total\{[^}]*outcome="success"\} [1-9]/);
    expect(sample(text, 'gateway_inference_duration_seconds_count{model="m",version="1"}')).toBe(0);
    series.requests.success.inc();
    text = await metrics.text();
    expect(sample(text, 'gateway_inference_requests_total{model="m",version="1",outcome="success"}')).toBe(1);
  });

  it('the same series object serves every request of a version', () => {
    const metrics = new GatewayMetrics({ defaultMetrics: false });
    sync(metrics, ['1', '2']);
    expect(metrics.versionSeries('m', '1')).toBe(metrics.versionSeries('m', '1'));
    expect(metrics.versionSeries('m', '1')).not.toBe(metrics.versionSeries('m', '2'));
  });

  it('a registry reload keeps the history of the versions it keeps, and drops removed ones', async () => {
    const metrics = new GatewayMetrics({ defaultMetrics: false });
    sync(metrics, ['1', '2']);
    const one = metrics.versionSeries('m', '1');
    one.requests.success.inc();
    one.duration.observe(0.01);
    const two = metrics.versionSeries('m', '2');
    two.requests.success.inc(); // not scraped before version 2 leaves

    sync(metrics, ['1', '3']);
    let text = await metrics.text();
    expect(sample(text, 'gateway_inference_duration_seconds_count{model="m",version="1"}')).toBe(1);
    expect(sample(text, 'gateway_inference_requests_total{model="m",version="1",outcome="success"}')).toBe(1);
    expect(sample(text, 'gateway_inference_duration_seconds_count{model="m",version="3"}')).toBe(0);
    expect(text).not.toContain('version="2"');

    // Version 2 comes back: its series start again at 0, nothing carried over from before.
    sync(metrics, ['1', '2']);
    text = await metrics.text();
    expect(sample(text, 'gateway_inference_requests_total{model="m",version="2",outcome="success"}')).toBe(0);
    expect(sample(text, 'gateway_inference_duration_seconds_count{model="m",version="2"}')).toBe(0);
    metrics.versionSeries('m', '2').duration.observe(0.01);
    text = await metrics.text();
    expect(sample(text, 'gateway_inference_duration_seconds_count{model="m",version="2"}')).toBe(1);
  });
});

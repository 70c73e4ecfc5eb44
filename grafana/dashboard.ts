// The gateway's Grafana dashboard, typed against @grafana/schema so the compiler checks its
// shape. `npm run dashboard:write` renders it to grafana/model-gateway.json for import.
import type { Dashboard, Panel } from '@grafana/schema';

const DS = { type: 'prometheus', uid: '${datasource}' };
const SEL = 'model=~"$model", version=~"$version"';

interface PanelSpec {
  title: string;
  description: string;
  exprs: Array<[expr: string, legend: string]>;
  unit: string;
  type?: 'timeseries' | 'stat';
  stack?: boolean;
  max?: number;
}

function panel(spec: PanelSpec, id: number, x: number, y: number, w = 12, h = 8): Panel {
  return {
    id,
    type: spec.type ?? 'timeseries',
    title: spec.title,
    description: spec.description,
    datasource: DS,
    gridPos: { x, y, w, h },
    targets: spec.exprs.map(([expr, legendFormat], i) => ({
      refId: String.fromCharCode(65 + i),
      datasource: DS,
      expr,
      legendFormat,
    })),
    fieldConfig: {
      defaults: {
        unit: spec.unit,
        ...(spec.max === undefined ? {} : { max: spec.max, min: 0 }),
        custom: spec.stack ? { stacking: { mode: 'normal', group: 'A' }, fillOpacity: 30 } : { fillOpacity: 10 },
      },
      overrides: [],
    },
    options: { legend: { displayMode: 'table', placement: 'right', calcs: ['lastNotNull', 'max'] }, tooltip: { mode: 'multi' } },
  };
}

/** Every panel, in reading order; each row holds two panels side by side. */
export const PANELS: PanelSpec[] = [
  {
    title: 'Requests per second by version',
    description: 'Inference requests per second for each model version, all outcomes.',
    exprs: [[`sum by (model, version) (rate(gateway_inference_requests_total{${SEL}}[$__rate_interval]))`, '{{model}} v{{version}}']],
    unit: 'reqps',
    stack: true,
  },
  {
    title: 'Outcomes',
    description: 'success, client_error (4xx), server_error (5xx, counts for the guard) and rejected (overload).',
    exprs: [[`sum by (outcome) (rate(gateway_inference_requests_total{${SEL}}[$__rate_interval]))`, '{{outcome}}']],
    unit: 'reqps',
    stack: true,
  },
  {
    title: 'Server error ratio by version',
    description: 'server_error / all requests: what the rollback guard watches.',
    exprs: [
      [
        `sum by (model, version) (rate(gateway_inference_requests_total{${SEL}, outcome="server_error"}[$__rate_interval])) / clamp_min(sum by (model, version) (rate(gateway_inference_requests_total{${SEL}}[$__rate_interval])), 1e-9)`,
        '{{model}} v{{version}}',
      ],
    ],
    unit: 'percentunit',
    max: 1,
  },
  {
    title: 'Latency p50 / p99 by version',
    description: 'From routing to response, including model loads on a cold version.',
    exprs: [
      [`histogram_quantile(0.5, sum by (model, version, le) (rate(gateway_inference_duration_seconds_bucket{${SEL}}[$__rate_interval])))`, 'p50 {{model}} v{{version}}'],
      [`histogram_quantile(0.99, sum by (model, version, le) (rate(gateway_inference_duration_seconds_bucket{${SEL}}[$__rate_interval])))`, 'p99 {{model}} v{{version}}'],
    ],
    unit: 's',
  },
  {
    title: 'Traffic share by version',
    description: 'Effective weight of each version (0-1), after any guard rollback.',
    exprs: [[`gateway_traffic_weight{${SEL}}`, '{{model}} v{{version}}']],
    unit: 'percentunit',
    max: 1,
    stack: true,
  },
  {
    title: 'Session cache hit ratio',
    description: 'Share of requests served by an already-loaded session.',
    exprs: [
      [
        `sum by (model) (rate(gateway_model_cache_lookups_total{model=~"$model", result="hit"}[$__rate_interval])) / clamp_min(sum by (model) (rate(gateway_model_cache_lookups_total{model=~"$model"}[$__rate_interval])), 1e-9)`,
        '{{model}}',
      ],
    ],
    unit: 'percentunit',
    max: 1,
  },
  {
    title: 'Model loads and evictions',
    description: 'Loads by result, and sessions evicted from the LRU, per interval.',
    exprs: [
      [`sum by (model, version, result) (increase(gateway_model_loads_total{${SEL}}[$__rate_interval]))`, 'load {{result}} {{model}} v{{version}}'],
      [`sum by (model, version) (increase(gateway_model_evictions_total{${SEL}}[$__rate_interval]))`, 'evicted {{model}} v{{version}}'],
    ],
    unit: 'short',
  },
  {
    title: 'Model load time p95',
    description: 'Fetch (download if remote) plus onnxruntime session creation.',
    exprs: [[`histogram_quantile(0.95, sum by (model, version, le) (rate(gateway_model_load_duration_seconds_bucket{${SEL}}[$__rate_interval])))`, '{{model}} v{{version}}']],
    unit: 's',
  },
  {
    title: 'Loaded sessions and their bytes',
    description: 'Against cache.maxModels and cache.maxBytes in the registry.',
    exprs: [
      ['sum(gateway_models_loaded)', 'sessions'],
      ['sum(gateway_model_cache_bytes)', 'bytes'],
    ],
    unit: 'short',
  },
  {
    title: 'Event loop lag p99 and memory',
    description: 'onnxruntime runs block the event loop: lag rises with inference time.',
    exprs: [
      ['max(nodejs_eventloop_lag_p99_seconds)', 'event loop lag p99 (s)'],
      ['max(process_resident_memory_bytes)', 'resident memory (bytes)'],
    ],
    unit: 'short',
  },
  {
    title: 'Registry revision',
    description: 'The active registry revision and how its checks went.',
    exprs: [
      ['max by (revision) (gateway_registry_info)', '{{revision}}'],
      ['sum by (result) (increase(gateway_registry_reloads_total[$__range]))', 'reloads {{result}}'],
    ],
    unit: 'short',
    type: 'stat',
  },
];

export function buildDashboard(): Dashboard {
  const panels = PANELS.map((spec, i) => panel(spec, i + 1, (i % 2) * 12, Math.floor(i / 2) * 8));
  return {
    uid: 'model-gateway',
    title: 'model-gateway',
    description: 'Traffic, errors, latency, routing and the model cache of model-gateway.',
    tags: ['model-gateway', 'inference'],
    timezone: 'browser',
    editable: true,
    graphTooltip: 1,
    schemaVersion: 39,
    version: 1,
    refresh: '30s',
    time: { from: 'now-1h', to: 'now' },
    templating: {
      list: [
        { name: 'datasource', label: 'Data source', type: 'datasource', query: 'prometheus' },
        {
          name: 'model',
          label: 'Model',
          type: 'query',
          datasource: DS,
          query: 'label_values(gateway_traffic_weight, model)',
          refresh: 2,
          includeAll: true,
          multi: true,
          allValue: '.*',
          current: { text: 'All', value: '$__all' },
        },
        {
          name: 'version',
          label: 'Version',
          type: 'query',
          datasource: DS,
          query: 'label_values(gateway_traffic_weight{model=~"$model"}, version)',
          refresh: 2,
          includeAll: true,
          multi: true,
          allValue: '.*',
          current: { text: 'All', value: '$__all' },
        },
      ],
    },
    annotations: { list: [] },
    panels,
  };
}

// The gateway's Grafana dashboard, typed against @grafana/schema so the compiler checks its
// shape. `npm run dashboard:write` renders it to grafana/model-gateway.json for import.
import type { AnnotationQuery, Dashboard, Panel, RowPanel } from '@grafana/schema';

const DS = { type: 'prometheus', uid: '${datasource}' };
const SEL = 'model=~"$model", version=~"$version"';
const RATE = (metric: string, filter = '') => `rate(${metric}{${SEL}${filter}}[$__rate_interval])`;

/** server_error / all requests per version: what the rollback guard watches. */
const ERROR_RATIO = `sum by (model, version) (${RATE('gateway_inference_requests_total', ', outcome="server_error"')}) / clamp_min(sum by (model, version) (${RATE('gateway_inference_requests_total')}), 1e-9)`;
const P99 = `histogram_quantile(0.99, sum by (model, version, le) (${RATE('gateway_inference_duration_seconds_bucket')}))`;

// Stable = the version(s) with the model's largest weight; canary = every other version, also
// one the guard rolled back to weight 0 (its errors must stay visible after the rollback).
const WEIGHT = `max by (model, version) (gateway_traffic_weight{${SEL}})`;
const MODEL_MAX_WEIGHT = 'max by (model) (gateway_traffic_weight{model=~"$model"})';
const byRole = (expr: string): string =>
  [
    `label_replace((${expr}) and on (model, version) (${WEIGHT} == on (model) group_left () ${MODEL_MAX_WEIGHT}), "role", "stable", "", "")`,
    `label_replace((${expr}) and on (model, version) (${WEIGHT} < on (model) group_left () ${MODEL_MAX_WEIGHT}), "role", "canary", "", "")`,
  ].join(' or ');

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
    exprs: [[ERROR_RATIO, '{{model}} v{{version}}']],
    unit: 'percentunit',
    max: 1,
  },
  {
    title: 'Latency p50 / p99 by version',
    description: 'From routing to response, including model loads on a cold version.',
    exprs: [
      [`histogram_quantile(0.5, sum by (model, version, le) (rate(gateway_inference_duration_seconds_bucket{${SEL}}[$__rate_interval])))`, 'p50 {{model}} v{{version}}'],
      [P99, 'p99 {{model}} v{{version}}'],
    ],
    unit: 's',
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

/** The rollout row: is the split what was configured, and is the new version as good as the old? */
export const ROLLOUT_PANELS: PanelSpec[] = [
  {
    title: 'Traffic share: actual vs configured',
    description: 'Share of each model\'s requests each version served, against its configured (effective) share. Sticky callers and explicit versions move the actual share.',
    exprs: [
      [
        `sum by (model, version) (${RATE('gateway_inference_requests_total')}) / on (model) group_left () clamp_min(sum by (model) (rate(gateway_inference_requests_total{model=~"$model"}[$__rate_interval])), 1e-9)`,
        'actual {{model}} v{{version}}',
      ],
      [WEIGHT, 'configured {{model}} v{{version}}'],
    ],
    unit: 'percentunit',
    max: 1,
  },
  {
    title: 'Canary vs stable: server error ratio',
    description: 'Stable is the version with the largest weight; canaries are the others (also after a guard rollback).',
    exprs: [[byRole(ERROR_RATIO), '{{role}} {{model}} v{{version}}']],
    unit: 'percentunit',
    max: 1,
  },
  {
    title: 'Canary vs stable: latency p99',
    description: 'p99 from routing to response of the stable version and its canaries.',
    exprs: [[byRole(P99), '{{role}} {{model}} v{{version}}']],
    unit: 's',
  },
  {
    title: 'Fallback ratio by version',
    description: 'Share of the requests routed to a version that its model\'s fallback answered instead (the version could not load or run).',
    exprs: [
      [
        `sum by (model, version) (${RATE('gateway_fallbacks_total')}) / on (model, version) clamp_min(sum by (model, version) (${RATE('gateway_inference_requests_total')}), 1e-9)`,
        '{{model}} v{{version}}',
      ],
    ],
    unit: 'percentunit',
    max: 1,
  },
  {
    title: 'Shadow match ratio by version',
    description: 'Share of shadow copies whose answer matched the primary version\'s (mismatches and errors are the rest).',
    exprs: [
      [
        `sum by (model, version) (${RATE('gateway_shadow_requests_total', ', outcome="match"')}) / clamp_min(sum by (model, version) (${RATE('gateway_shadow_requests_total')}), 1e-9)`,
        '{{model}} v{{version}}',
      ],
    ],
    unit: 'percentunit',
    max: 1,
  },
  {
    title: 'Rollbacks and fallbacks in the time range',
    description: 'Guard rollbacks by reason, and responses served by a fallback, over the dashboard\'s time range.',
    exprs: [
      [`sum by (model, version, reason) (increase(gateway_rollbacks_total{${SEL}}[$__range])) > 0`, 'rolled back {{model}} v{{version}} ({{reason}})'],
      [`sum by (model, version) (increase(gateway_fallbacks_total{${SEL}}[$__range])) > 0`, 'fallback for {{model}} v{{version}}'],
    ],
    unit: 'short',
    type: 'stat',
  },
];

/** Prometheus annotation queries: Grafana marks every step where a series is above 0. */
export interface PrometheusAnnotation extends AnnotationQuery {
  expr: string;
  step: string;
  titleFormat: string;
  textFormat: string;
  tagKeys: string;
  useValueForTime: boolean;
}

function annotation(name: string, iconColor: string, expr: string, titleFormat: string, tagKeys: string): PrometheusAnnotation {
  return { name, datasource: DS, enable: true, iconColor, expr, step: '$__interval', titleFormat, textFormat: '', tagKeys, useValueForTime: false };
}

export const ANNOTATIONS: PrometheusAnnotation[] = [
  annotation(
    'Guard rollbacks',
    'red',
    'sum by (model, version, reason) (increase(gateway_rollbacks_total{model=~"$model"}[$__interval])) > 0',
    'guard rolled back {{model}} v{{version}} ({{reason}})',
    'model,version,reason',
  ),
  annotation(
    'Registry revisions',
    'blue',
    'max by (revision) (gateway_registry_info) unless max by (revision) (gateway_registry_info offset $__interval)',
    'registry revision {{revision}}',
    'revision',
  ),
];

function row(title: string, id: number, y: number): RowPanel {
  return { type: 'row', id, title, collapsed: false, gridPos: { x: 0, y, w: 24, h: 1 }, panels: [] };
}

/** Panels two to a line under a row header; returns them and the next free y. */
function section(title: string, specs: PanelSpec[], firstId: number, y: number): { panels: Array<Panel | RowPanel>; y: number } {
  const panels: Array<Panel | RowPanel> = [row(title, firstId, y)];
  specs.forEach((spec, i) => panels.push(panel(spec, firstId + 1 + i, (i % 2) * 12, y + 1 + Math.floor(i / 2) * 8)));
  return { panels, y: y + 1 + Math.ceil(specs.length / 2) * 8 };
}

export function buildDashboard(): Dashboard {
  const overview = section('Traffic, latency and the model cache', PANELS, 1, 0);
  const rollout = section('Rollout: canary, shadow, fallback, guard', ROLLOUT_PANELS, 100, overview.y);
  return {
    uid: 'model-gateway',
    title: 'model-gateway',
    description: 'Traffic, errors, latency, routing, the model cache and rollouts (canary, shadow, fallback, guard rollbacks) of model-gateway.',
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
    annotations: { list: ANNOTATIONS },
    panels: [...overview.panels, ...rollout.panels],
  };
}

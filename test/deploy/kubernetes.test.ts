// deploy/kubernetes: parsed and checked against the contract (env names and ports from its env
// table, the health and metrics paths from its HTTP table) and against the gateway's own
// settings parser, so a typo in a value fails here rather than in a crash-looping pod.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { describe, expect, it } from 'vitest';
import { parseSettings } from '../../src/config/settings.js';
import { REPO_ROOT } from '../support/harness.js';

const DIR = path.join(REPO_ROOT, 'deploy', 'kubernetes');
const CONTRACT = path.resolve(REPO_ROOT, '..', 'shared', 'CONTRACT.md');
const README = readFileSync(path.join(REPO_ROOT, 'README.md'), 'utf8');
// The contract where it is present (the team's checkout), else the README's configuration table.
const contractText = existsSync(CONTRACT) ? readFileSync(CONTRACT, 'utf8') : README;

/** Env var names of the first cells of markdown table rows: | `NAME` | or | `A`, `B` |. */
function envTable(markdown: string): Map<string, string> {
  const vars = new Map<string, string>();
  for (const m of markdown.matchAll(/^\| *((?:`[A-Z][A-Z0-9_]*`(?:, *)?)+) *\|[^|]*\| *([^|]*?) *\|$/gm)) {
    for (const name of (m[1] ?? '').matchAll(/`([A-Z][A-Z0-9_]*)`/g)) vars.set(name[1] ?? '', m[2] ?? '');
  }
  return vars;
}
const contractEnv = envTable(contractText);

/** The README's "Operating it" section may name platform variables the gateway reads besides. */
function operatingSection(): string {
  const start = README.indexOf('\n## Operating it');
  const end = README.indexOf('\n## ', start + 1);
  return start === -1 ? '' : README.slice(start, end === -1 ? undefined : end);
}

type Doc = { apiVersion: string; kind: string; metadata: { name: string; labels?: Record<string, string> }; spec: Record<string, unknown> };
const kustomization = readDocs('kustomization.yaml')[0] as unknown as { resources: string[] };

function readDocs(file: string): Doc[] {
  const docs = parseAllDocuments(readFileSync(path.join(DIR, file), 'utf8'));
  for (const d of docs) expect(d.errors, file).toEqual([]);
  return docs.map((d) => d.toJS() as Doc);
}
const docs = kustomization.resources.flatMap(readDocs);
function one(kind: string): Doc {
  const found = docs.filter((d) => d.kind === kind);
  expect(found, kind).toHaveLength(1);
  return found[0] as Doc;
}

interface Container {
  name: string;
  ports: Array<{ name: string; containerPort: number }>;
  env: Array<{ name: string; value?: string; valueFrom?: unknown }>;
  readinessProbe: { httpGet: { path: string; port: string } };
  livenessProbe: { httpGet: { path: string; port: string } };
  lifecycle?: { preStop?: { exec?: { command: string[] } } };
  resources: { requests: Record<string, string>; limits: Record<string, string> };
  securityContext: { allowPrivilegeEscalation: boolean; readOnlyRootFilesystem?: boolean; capabilities?: { drop: string[] } };
}
interface PodSpec {
  terminationGracePeriodSeconds: number;
  securityContext: { runAsNonRoot: boolean; runAsUser: number };
  containers: Container[];
}
const deployment = one('Deployment');
const pod = (deployment.spec.template as { metadata: { labels: Record<string, string> }; spec: PodSpec }).spec;
const podLabels = (deployment.spec.template as { metadata: { labels: Record<string, string> } }).metadata.labels;
const container = pod.containers[0] as Container;
const env = new Map(container.env.map((e) => [e.name, e]));
const envValue = (name: string): string | undefined => env.get(name)?.value;
const portOf = (name: string): number | undefined => container.ports.find((p) => p.name === name)?.containerPort;
const selects = (selector: Record<string, string>, labels: Record<string, string>) => Object.entries(selector).every(([k, v]) => labels[k] === v);

describe('deploy/kubernetes', () => {
  it('lists every manifest of the folder in kustomization.yaml, each one parsing', () => {
    const files = readdirSync(DIR).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml');
    expect([...kustomization.resources].sort()).toEqual(files.sort());
    expect(docs.map((d) => d.kind).sort()).toEqual(['Deployment', 'HorizontalPodAutoscaler', 'PodDisruptionBudget', 'Service', 'ServiceAccount', 'ServiceMonitor']);
  });

  it('reads the contract env table', () => {
    for (const name of ['MODEL_REGISTRY', 'PORT', 'SHUTDOWN_GRACE_SECONDS']) expect(contractEnv.has(name), name).toBe(true);
  });

  it('runs 3 replicas on the contract ports: PORT 8080 as "http", GRPC_PORT 8081 as "grpc"', () => {
    expect(deployment.apiVersion).toBe('apps/v1');
    expect(deployment.spec.replicas).toBe(3);
    expect(selects((deployment.spec.selector as { matchLabels: Record<string, string> }).matchLabels, podLabels)).toBe(true);
    expect(envValue('PORT')).toBe('8080');
    expect(portOf('http')).toBe(Number(envValue('PORT')));
    if (contractEnv.has('GRPC_PORT')) {
      expect(envValue('GRPC_PORT')).toBe('8081');
      expect(portOf('grpc')).toBe(Number(envValue('GRPC_PORT')));
    }
  });

  it('sets only environment variables the contract (or README "Operating it") names, with values the gateway accepts', () => {
    const operating = operatingSection();
    for (const name of env.keys()) {
      expect(contractEnv.has(name) || operating.includes(`\`${name}\``), `${name} is neither in the contract env table nor in README "Operating it"`).toBe(true);
    }
    expect(envValue('MODEL_REGISTRY')).toMatch(/^gs:\/\/[a-z0-9._-]+\/.+/);
    const plain = Object.fromEntries([...env.values()].filter((e) => e.value !== undefined).map((e) => [e.name, e.value]));
    const settings = parseSettings(plain);
    expect(settings.registry).toBe(envValue('MODEL_REGISTRY'));
    expect(settings.port).toBe(8080);
    expect(settings.modelCacheDir).toBe(envValue('MODEL_CACHE_DIR'));
    // Processes and their inference threads fit the CPU limit (one process per CPU by default).
    const cpuLimit = Number(String(container.resources.limits.cpu).replace(/m$/, '')) / (String(container.resources.limits.cpu).endsWith('m') ? 1000 : 1);
    expect(settings.processes).toBe(cpuLimit);
    expect(settings.processes * settings.inferenceThreads).toBeLessThanOrEqual(cpuLimit);
  });

  it('gives the pod longer to stop than preStop plus SHUTDOWN_GRACE_SECONDS, so draining finishes before SIGKILL', () => {
    const grace = parseSettings({ SHUTDOWN_GRACE_SECONDS: envValue('SHUTDOWN_GRACE_SECONDS') }).shutdownGraceSeconds;
    expect(envValue('SHUTDOWN_GRACE_SECONDS'), 'set explicitly').toBeDefined();
    const preStop = container.lifecycle?.preStop?.exec?.command;
    const preStopSeconds = preStop?.[0] === 'sleep' ? Number(preStop[1]) : 0;
    expect(pod.terminationGracePeriodSeconds).toBeGreaterThan(grace + preStopSeconds);
  });

  it('probes readiness and liveness on the V2 health endpoints of the http port', () => {
    expect(container.readinessProbe.httpGet).toEqual({ path: '/v2/health/ready', port: 'http' });
    expect(container.livenessProbe.httpGet).toEqual({ path: '/v2/health/live', port: 'http' });
    for (const p of ['/v2/health/ready', '/v2/health/live']) expect(contractText).toContain(p);
  });

  it('has resource requests and limits, and runs as a non-root user without privileges', () => {
    for (const r of ['cpu', 'memory']) {
      expect(container.resources.requests[r], `requests.${r}`).toBeDefined();
      expect(container.resources.limits[r], `limits.${r}`).toBeDefined();
    }
    expect(pod.securityContext.runAsNonRoot).toBe(true);
    expect(pod.securityContext.runAsUser).toBeGreaterThan(0);
    expect(container.securityContext).toMatchObject({ allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } });
  });

  it('exposes http 8080 and grpc 8081 through the Service, to the pods', () => {
    const service = one('Service');
    const ports = service.spec.ports as Array<{ name: string; port: number; targetPort: string }>;
    expect(ports.find((p) => p.name === 'http')).toMatchObject({ port: 8080, targetPort: 'http' });
    expect(ports.find((p) => p.name === 'grpc')).toMatchObject({ port: 8081, targetPort: 'grpc' });
    for (const p of ports) expect(portOf(p.targetPort), p.name).toBeDefined();
    expect(selects(service.spec.selector as Record<string, string>, podLabels)).toBe(true);
  });

  it('autoscales the Deployment (autoscaling/v2) from its replica count, and keeps all but one replica through disruptions', () => {
    const hpa = one('HorizontalPodAutoscaler');
    expect(hpa.apiVersion).toBe('autoscaling/v2');
    expect(hpa.spec.scaleTargetRef).toEqual({ apiVersion: 'apps/v1', kind: 'Deployment', name: deployment.metadata.name });
    expect(hpa.spec.minReplicas).toBe(deployment.spec.replicas);
    expect(hpa.spec.maxReplicas as number).toBeGreaterThan(hpa.spec.minReplicas as number);
    expect((hpa.spec.metrics as unknown[]).length).toBeGreaterThan(0);
    const pdb = one('PodDisruptionBudget');
    expect(pdb.apiVersion).toBe('policy/v1');
    expect(pdb.spec.maxUnavailable).toBe(1);
    expect(selects((pdb.spec.selector as { matchLabels: Record<string, string> }).matchLabels, podLabels)).toBe(true);
  });

  it('has Prometheus scrape /metrics on the Service http port through a ServiceMonitor', () => {
    const monitor = one('ServiceMonitor');
    const service = one('Service');
    expect(monitor.apiVersion).toBe('monitoring.coreos.com/v1');
    expect(selects((monitor.spec.selector as { matchLabels: Record<string, string> }).matchLabels, service.metadata.labels ?? {})).toBe(true);
    const endpoints = monitor.spec.endpoints as Array<{ port: string; path: string }>;
    expect(endpoints).toEqual([expect.objectContaining({ port: 'http', path: '/metrics' })]);
    expect(contractText).toContain('GET /metrics');
    // The alert rules watch job="model-gateway": the Operator names the job after the Service.
    expect(service.metadata.name).toBe('model-gateway');
    expect(readFileSync(path.join(REPO_ROOT, 'prometheus/rules/model-gateway.yml'), 'utf8')).toContain('job="model-gateway"');
  });
});

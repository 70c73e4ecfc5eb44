// A cluster (PROCESSES=2) answers as one gateway: the cache bounds hold for the whole of it,
// the console shows both processes' traffic and models, POST /admin/reload applies in both
// before it answers (or in neither, 422, when the registry is invalid), and /admin/registry
// says the same whichever process answers.
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLUSTER_PROCESSES, fresh, freshJson, spawnCluster } from '../support/cluster.js';
import { stopGateway } from '../support/gateway-process.js';
import { makeTempDir, sampleValue, writeFile } from '../support/harness.js';
import { doubler, tripler } from '../support/models.js';
import type { ServerProcess } from '../support/process.js';

const TOKEN = 'one-gateway-token';
const auth = { authorization: `Bearer ${TOKEN}` };
const MAX_MODELS = 2;
const REGISTRY = `cache: { maxModels: ${MAX_MODELS} }
models:
  m:
    versions:
      "1": { uri: ./doubler.onnx, weight: 1 }
      "2": { uri: ./tripler.onnx, weight: 0 }
${[1, 2, 3, 4].map((i) => `  c${i}:\n    versions:\n      "1": { uri: ./doubler.onnx, weight: 1 }\n`).join('')}`;

const temp = makeTempDir('mg-one-gateway-');
let server: ServerProcess;
let registryFile: string;

beforeAll(async () => {
  writeFile(temp.dir, 'doubler.onnx', doubler);
  writeFile(temp.dir, 'tripler.onnx', tripler);
  registryFile = writeFile(temp.dir, 'registry.yaml', REGISTRY);
  server = await spawnCluster({ MODEL_REGISTRY: registryFile, REGISTRY_POLL_SECONDS: '0', ADMIN_TOKEN: TOKEN, MODEL_CACHE_DIR: path.join(temp.dir, 'cache') });
});
afterAll(async () => {
  await stopGateway(server);
  temp.cleanup();
});

/** The answer y = k·x tells which version served: 2 (doubler) or 3 (tripler). */
async function factor(model: string): Promise<number> {
  const res = await freshJson<{ outputs: { y: number[][] } }>(server, '/predict', { method: 'POST', body: JSON.stringify({ model, inputs: { x: [[5]] } }) });
  expect(res.status).toBe(200);
  return (res.body.outputs.y[0]?.[0] ?? 0) / 5;
}

const metrics = async () => (await fresh(server, '/metrics')).text();

interface ConsoleData {
  revision: string;
  models: Array<{ name: string; versions: Array<{ name: string; requests: number; rps: number; loaded: boolean; p99Ms: number | null }> }>;
}
const consoleVersion = async (model: string, version: string) => {
  const { status, body } = await freshJson<ConsoleData>(server, '/console/data', { headers: auth });
  expect(status).toBe(200);
  return { revision: body.revision, v: body.models.find((m) => m.name === model)?.versions.find((v) => v.name === version) };
};

describe('a cluster as one gateway (PROCESSES=2)', () => {
  it('keeps cache.maxModels for the whole gateway: each process holds its share', async () => {
    const loads = (text: string) => ['c1', 'c2', 'c3', 'c4'].reduce((sum, model) => sum + (sampleValue(text, 'gateway_model_loads_total', { model, version: '1', result: 'success' }) ?? 0), 0);
    const before = await metrics();
    for (let round = 0; round < 2; round++) {
      for (const model of ['c1', 'c2', 'c3', 'c4']) {
        expect(await factor(model)).toBe(2);
        // The sum over both processes (the scrape is aggregated) stays within the gateway's bound.
        const loaded = sampleValue(await metrics(), 'gateway_models_loaded');
        expect(loaded).toBeGreaterThan(0);
        expect(loaded).toBeLessThanOrEqual(MAX_MODELS);
      }
    }
    // Versions were evicted and loaded again to keep within it.
    expect(loads(await metrics()) - loads(before)).toBeGreaterThanOrEqual(4);
  });

  it('shows the traffic and loaded models of both processes in the console', async () => {
    const n = 10;
    for (let i = 0; i < n; i++) expect(await factor('c1')).toBe(2);
    for (let look = 0; look < 4; look++) {
      const { v } = await consoleVersion('c1', '1');
      // Both processes' requests (and the two of the test above), not one process's half.
      expect(v?.requests).toBe(n + 2);
      expect(v?.loaded).toBe(true);
      expect(v?.p99Ms).toBeGreaterThan(0);
    }
    // A version loaded in one process only is loaded, whichever process answers.
    const before = sampleValue(await metrics(), 'gateway_model_loads_total', { model: 'm', version: '2', result: 'success' });
    const pinned = await freshJson<{ outputs: { y: number[][] } }>(server, '/predict', { method: 'POST', body: JSON.stringify({ model: 'm', version: '2', inputs: { x: [[1]] } }) });
    expect(pinned.body.outputs.y).toEqual([[3]]);
    expect(sampleValue(await metrics(), 'gateway_model_loads_total', { model: 'm', version: '2', result: 'success' })).toBe((before ?? 0) + 1);
    for (let look = 0; look < 4; look++) expect((await consoleVersion('m', '2')).v).toMatchObject({ loaded: true, requests: 1 });
  });

  it('applies POST /admin/reload in every process before answering, and /admin/registry agrees', async () => {
    for (let i = 0; i < 4; i++) expect(await factor('m')).toBe(2);
    writeFileSync(registryFile, readFileSync(registryFile, 'utf8').replace('doubler.onnx, weight: 1 }', 'doubler.onnx, weight: 0 }').replace('tripler.onnx, weight: 0 }', 'tripler.onnx, weight: 1 }'));
    const reload = await freshJson<{ result: string; revision: string }>(server, '/admin/reload', { method: 'POST', headers: auth });
    expect(reload.status).toBe(200);
    expect(reload.body.result).toBe('success');
    // At once, with no polling: both processes serve the new revision.
    for (let i = 0; i < 8; i++) expect(await factor('m')).toBe(3);
    for (let i = 0; i < 4; i++) {
      const { body } = await freshJson<{ revision: string; models: Array<{ name: string; versions: Array<{ name: string; weight: number }> }> }>(server, '/admin/registry', { headers: auth });
      expect(body.revision).toBe(reload.body.revision);
      expect(body.models.find((m) => m.name === 'm')?.versions.map((v) => v.weight)).toEqual([0, 1]);
      expect((await consoleVersion('m', '2')).revision).toBe(reload.body.revision);
    }
    const text = await metrics();
    expect(sampleValue(text, 'gateway_registry_reloads_total', { result: 'success' })).toBe(2 * CLUSTER_PROCESSES); // start-up + this reload, in each
    expect(sampleValue(text, 'gateway_registry_info', { revision: reload.body.revision })).toBe(1);
  });

  it('answers 422 with the problems for an invalid registry, and every process keeps serving the last good one', async () => {
    const good = readFileSync(registryFile, 'utf8');
    writeFileSync(registryFile, good.replace('tripler.onnx, weight: 1 }', 'tripler.onnx, weight: -1 }'));
    const reload = await freshJson<{ code: string; problems: string[]; revision: string }>(server, '/admin/reload', { method: 'POST', headers: auth });
    expect(reload.status).toBe(422);
    expect(reload.body.code).toBe('INVALID_REGISTRY');
    expect(reload.body.problems.join('\n')).toContain('must be >= 0');
    for (let i = 0; i < 6; i++) expect(await factor('m')).toBe(3);
    const text = await metrics();
    expect(sampleValue(text, 'gateway_registry_reloads_total', { result: 'invalid' })).toBe(CLUSTER_PROCESSES);
    writeFileSync(registryFile, good);
  });
});

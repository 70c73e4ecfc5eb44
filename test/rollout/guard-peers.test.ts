// The controller's side of a cluster's guard (src/cluster/ carries the messages): outcomes are
// shared, outcomes shared by others are judged, a breach is claimed, and only a won claim is
// counted and written; a rollback another process won is held here in memory.
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import type { RollbackClaim, RollbackPeers } from '../../src/rollout/controller.js';
import { seededRandom } from '../../src/routing/route.js';
import { sampleValue, startGateway, type RunningGateway } from '../support/harness.js';
import { echo, failsOnOdd } from '../support/models.js';

const files = { 'ok.onnx': echo, 'odd.onnx': failsOnOdd };
const REGISTRY = `models:
  m:
    versions:
      "1": { uri: ok.onnx, weight: 50 }
      "2": { uri: odd.onnx, weight: 50 }
    fallback: "1"
    guard: { maxErrorRate: 0.2, minRequests: 10, windowSeconds: 60 }
`;

class FakePeers implements RollbackPeers {
  readonly shared: Array<{ model: string; version: string; error: boolean }> = [];
  readonly claims: RollbackClaim[] = [];
  readonly persistedCalls: string[] = [];
  constructor(private readonly wins: boolean) {}
  share(model: string, version: string, error: boolean): void {
    this.shared.push({ model, version, error });
  }
  async claim(claim: RollbackClaim): Promise<boolean> {
    this.claims.push(claim);
    return this.wins;
  }
  persisted(model: string, version: string): void {
    this.persistedCalls.push(`${model}/${version}`);
  }
}

let gw: RunningGateway | undefined;
afterEach(async () => {
  await gw?.close();
  gw = undefined;
});

const rollbacks = async (g: RunningGateway) => sampleValue((await g.get('/metrics')).text, 'gateway_rollbacks_total', { model: 'm', version: '2', reason: 'error_rate' });
const v2 = (g: RunningGateway) => g.gateway.admin.status().models[0]?.versions[1];

describe('the guard with cluster peers', () => {
  it('shares each guarded outcome, routes away on a breach, and neither counts nor writes a lost claim', async () => {
    gw = await startGateway({ registry: REGISTRY, files, route: { random: seededRandom(7) } });
    const peers = new FakePeers(false);
    gw.gateway.controller.usePeers(peers);
    let failed = 0;
    for (let i = 0; i < 60; i++) if ((await gw.post('/predict', { model: 'm', inputs: { x: [1, 2, 3] } })).headers.get('x-model-fallback-from') === '2') failed++;
    await gw.gateway.controller.settled();
    expect(failed).toBe(10);
    expect(peers.shared.filter((s) => s.version === '2')).toEqual(Array(10).fill({ model: 'm', version: '2', error: true }));
    expect(peers.shared.filter((s) => s.version === '1' && !s.error).length).toBe(60); // every answer of the fallback
    expect(peers.claims).toEqual([expect.objectContaining({ model: 'm', version: '2', reason: 'error_rate', revision: gw.gateway.registry.current().id })]);
    expect(v2(gw)).toMatchObject({ weight: 50, effectiveWeight: 0 });
    expect(await rollbacks(gw)).toBe(0);
    expect(readFileSync(gw.registryFile, 'utf8')).toBe(REGISTRY);
    expect(peers.persistedCalls).toEqual([]);
  });

  it('judges outcomes shared by other processes, and counts and writes a won claim once', async () => {
    gw = await startGateway({ registry: REGISTRY, files });
    const peers = new FakePeers(true);
    gw.gateway.controller.usePeers(peers);
    // Nine failures from elsewhere: below minRequests, nothing happens.
    gw.gateway.controller.observeShared('m', '2', Array.from({ length: 9 }, () => [3, 1]).flat());
    await gw.gateway.controller.settled();
    expect(peers.claims).toEqual([]);
    expect(v2(gw)?.guard).toMatchObject({ state: 'ok', requests: 9, errorRate: 1 });
    gw.gateway.controller.observeShared('m', '2', [3, 1]);
    await gw.gateway.controller.settled();
    expect(peers.claims).toHaveLength(1);
    expect(await rollbacks(gw)).toBe(1);
    expect(readFileSync(gw.registryFile, 'utf8')).toBe(REGISTRY.replace('"2": { uri: odd.onnx, weight: 50 }', '"2": { uri: odd.onnx, weight: 0 }'));
    expect(peers.persistedCalls).toEqual(['m/2']);
    // Shared outcomes are not passed on again (the primary relays them to every process).
    expect(peers.shared).toEqual([]);
  });

  it('holds a rollback another process won, on the same revision only', async () => {
    gw = await startGateway({ registry: REGISTRY, files });
    const claim: RollbackClaim = { model: 'm', version: '2', revision: 'another-revision', reason: 'p99_latency', at: '2026-01-02T03:04:05.000Z' };
    gw.gateway.controller.rolledBackElsewhere(claim);
    expect(v2(gw)).toMatchObject({ effectiveWeight: 50, guard: { state: 'ok' } });
    gw.gateway.controller.rolledBackElsewhere({ ...claim, revision: gw.gateway.registry.current().id });
    expect(v2(gw)).toMatchObject({ effectiveWeight: 0, guard: { state: 'rolled_back', reason: 'p99_latency', at: claim.at, persisted: false } });
    for (let i = 0; i < 20; i++) expect((await gw.post('/predict', { model: 'm', inputs: { x: [1, 2] } })).headers.get('x-model-version')).toBe('1');
    expect(await rollbacks(gw)).toBe(0);
    await gw.gateway.controller.persistedElsewhere('m', '2');
    expect(v2(gw)?.guard).toMatchObject({ state: 'rolled_back', persisted: true });
  });
});

// One answer for a cluster's processes: /admin/registry merged from every process's status, and
// POST /admin/reload's outcome from every process's reload; and each process's cache share.
import { describe, expect, it } from 'vitest';
import { cacheShare } from '../../src/gateway.js';
import { mergeReloads, mergeStatuses, type RegistryStatus, type VersionStatus } from '../../src/service/admin-service.js';

const version = (over: Partial<VersionStatus>): VersionStatus => ({
  name: '1',
  uri: 'a.onnx',
  weight: 50,
  effectiveWeight: 50,
  share: 0.5,
  shadow: 0,
  state: 'loadable',
  loaded: false,
  bytes: null,
  guard: { state: 'ok', requests: 0, errorRate: 0, p99Ms: 0 },
  ...over,
});
const status = (versions: VersionStatus[]): RegistryStatus => ({
  revision: 'r1',
  source: 'registry.yaml',
  loadedAt: '2026-01-01T00:00:00.000Z',
  models: [{ name: 'm', sticky: null, fallback: null, aliases: {}, versions }],
});

describe('mergeStatuses', () => {
  it('a version is loaded where any process has it, failed only where none has it, rolled back where any rolled it back', () => {
    const a = status([
      version({ name: '1', state: 'loaded', loaded: true, bytes: 1234 }),
      version({ name: '2', guard: { state: 'ok', requests: 7, errorRate: 0.5, p99Ms: 3 } }),
      version({ name: '3', state: 'failed' }),
    ]);
    const b = status([
      version({ name: '1' }),
      version({ name: '2', effectiveWeight: 0, share: 0, guard: { state: 'rolled_back', reason: 'error_rate', at: '2026-01-01T00:00:01.000Z', persisted: false, requests: 8, errorRate: 0.5, p99Ms: 4 } }),
      version({ name: '3', state: 'loaded', loaded: true, bytes: 99 }),
    ]);
    for (const merged of [mergeStatuses([a, b]), mergeStatuses([b, a])]) {
      const [v1, v2, v3] = merged.models[0]?.versions ?? [];
      expect(v1).toMatchObject({ state: 'loaded', loaded: true, bytes: 1234 });
      expect(v2).toMatchObject({ effectiveWeight: 0, share: 0, guard: { state: 'rolled_back', reason: 'error_rate', persisted: false, requests: 8, p99Ms: 4 } });
      expect(v3).toMatchObject({ state: 'loaded', loaded: true, bytes: 99 });
    }
    expect(mergeStatuses([a]).models[0]?.versions[1]?.guard).toEqual({ state: 'ok', requests: 7, errorRate: 0.5, p99Ms: 3 });
    expect(mergeStatuses([a, a]).models[0]?.versions[2]).toMatchObject({ state: 'failed', loaded: false, bytes: null });
  });
});

describe('mergeReloads', () => {
  it('reports the first failure with its problems; else success where any process swapped', () => {
    const ok = { result: 'unchanged', revision: 'r1' } as const;
    const swapped = { result: 'success', revision: 'r2' } as const;
    const invalid = { result: 'invalid', revision: 'r1', problems: ['models.m: bad'] } as const;
    const unreachable = { result: 'unreachable', revision: 'r1', problems: ['down'] } as const;
    expect(mergeReloads([ok, ok])).toEqual(ok);
    expect(mergeReloads([ok, swapped])).toEqual(swapped);
    expect(mergeReloads([swapped, unreachable, invalid])).toEqual(invalid);
    expect(mergeReloads([swapped, unreachable])).toEqual(unreachable);
  });
});

describe('cacheShare', () => {
  it('gives each process bound ÷ processes, at least one model', () => {
    expect(cacheShare({ maxModels: 8, maxBytes: 2 ** 30 }, 1)).toEqual({ maxModels: 8, maxBytes: 2 ** 30 });
    expect(cacheShare({ maxModels: 8, maxBytes: 2 ** 30 }, 2)).toEqual({ maxModels: 4, maxBytes: 2 ** 29 });
    expect(cacheShare({ maxModels: 5, maxBytes: 1000 }, 3)).toEqual({ maxModels: 1, maxBytes: 333 });
    expect(cacheShare({ maxModels: 1, maxBytes: 1000 }, 4)).toEqual({ maxModels: 1, maxBytes: 250 });
  });
});

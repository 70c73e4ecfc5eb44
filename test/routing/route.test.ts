import { describe, expect, it } from 'vitest';
import { GatewayError } from '../../src/errors/catalogue.js';
import type { ModelEntry } from '../../src/registry/revision.js';
import { chooseVersion, seededRandom, stableHash, weighted, type RouteDeps } from '../../src/routing/route.js';
import { modelEntry } from '../support/model-entry.js';

const model = (weights: Record<string, number>, aliases: Record<string, string> = {}): ModelEntry => modelEntry('iris', weights, aliases);

const fixed = (u: number): RouteDeps => ({ random: () => u, hash: stableHash });

describe('weighted', () => {
  const m = model({ a: 1, b: 3, c: 0, d: 4 }); // total 8: a [0,1) b [1,4) d [4,8)
  const live = m.versions.filter((v) => v.weight > 0);
  it.each([
    [0, 'a'],
    [1 / 8 - 1e-12, 'a'],
    [1 / 8, 'b'],
    [4 / 8 - 1e-12, 'b'],
    [4 / 8, 'd'],
    [1 - 1e-12, 'd'],
  ])('u=%d picks %s', (u, name) => {
    expect(weighted(live, u).name).toBe(name);
  });

  it('never picks a zero-weight version by chance', () => {
    const rand = seededRandom(7);
    for (let i = 0; i < 2000; i++) expect(chooseVersion(m, {}, { random: rand, hash: stableHash }).version.name).not.toBe('c');
  });

  it('gives the end of the range to the last version even when u * total rounds up', () => {
    expect(weighted(live, 0.9999999999999999).name).toBe('d');
  });
});

describe('chooseVersion', () => {
  const m = model({ '1': 50, '2': 50, '3': 0 }, { stable: '1', canary: '3' });

  it('honours an explicit version or alias before anything else, zero weight included', () => {
    expect(chooseVersion(m, { explicit: '3', stickyKey: 'u1' }, fixed(0))).toMatchObject({ reason: 'explicit', version: { name: '3' } });
    expect(chooseVersion(m, { explicit: 'canary' }, fixed(0)).version.name).toBe('3');
    expect(chooseVersion(m, { explicit: 'stable' }, fixed(0.99)).version.name).toBe('1');
  });

  it('refuses an unknown version or alias with VERSION_NOT_FOUND', () => {
    expect(() => chooseVersion(m, { explicit: '9' }, fixed(0))).toThrowError(
      expect.objectContaining({ code: 'VERSION_NOT_FOUND' }) as GatewayError,
    );
  });

  it('serves 50/50 in proportion: a fixed seed gives a fixed split, 10,000 draws pass chi-square', () => {
    const count = (seed: number, n: number) => {
      const rand = seededRandom(seed);
      const counts: Record<string, number> = { '1': 0, '2': 0 };
      for (let i = 0; i < n; i++) {
        const name = chooseVersion(m, {}, { random: rand, hash: stableHash }).version.name;
        counts[name] = (counts[name] ?? 0) + 1;
      }
      return counts;
    };
    expect(count(42, 1000)).toEqual(count(42, 1000));
    const n = 10_000;
    const counts = count(1234, n);
    const chi2 = Object.values(counts).reduce((s, c) => s + (c - n / 2) ** 2 / (n / 2), 0);
    expect(chi2).toBeLessThan(10.83); // p = 0.001 for 1 degree of freedom
    // Math.random, as production uses it, is held to the same test.
    const live = { '1': 0, '2': 0 } as Record<string, number>;
    for (let i = 0; i < n; i++) live[chooseVersion(m, {}, { random: Math.random, hash: stableHash }).version.name]!++;
    const chiLive = Object.values(live).reduce((s, c) => s + (c - n / 2) ** 2 / (n / 2), 0);
    expect(chiLive).toBeLessThan(23.93); // p = 1e-6: unseeded, so this must not flake
  });

  it('sticks a caller to one version, independently of randomness', () => {
    for (const user of ['alice', 'bob', 'carol']) {
      const first = chooseVersion(m, { stickyKey: user }, fixed(0)).version.name;
      for (const u of [0.1, 0.5, 0.9]) expect(chooseVersion(m, { stickyKey: user }, fixed(u))).toMatchObject({ reason: 'sticky', version: { name: first } });
    }
  });

  it('spreads sticky callers by weight and only moves callers onto a version whose weight rises', () => {
    const users = Array.from({ length: 4000 }, (_, i) => `user-${i}`);
    const at = (w2: number) => {
      const mm = model({ '1': 100 - w2, '2': w2 });
      return users.map((u) => chooseVersion(mm, { stickyKey: u }, fixed(0)).version.name);
    };
    const ramp = [5, 10, 25, 50, 75, 100].map(at);
    ramp.forEach((assignment, i) => {
      const share = assignment.filter((v) => v === '2').length / users.length;
      expect(Math.abs(share - [0.05, 0.1, 0.25, 0.5, 0.75, 1][i]!)).toBeLessThan(0.03);
      if (i > 0) {
        ramp[i - 1]!.forEach((prev, u) => {
          if (prev === '2') expect(assignment[u]).toBe('2');
        });
      }
    });
  });

  it('ignores an empty sticky value and falls back to weighted random', () => {
    expect(chooseVersion(m, { stickyKey: '' }, fixed(0.75))).toMatchObject({ reason: 'weighted', version: { name: '2' } });
  });
});

describe('stableHash', () => {
  it('is deterministic and stays within (0, 1]', () => {
    expect(stableHash('x')).toBe(stableHash('x'));
    for (let i = 0; i < 1000; i++) {
      const h = stableHash(`k${i}`);
      expect(h).toBeGreaterThan(0);
      expect(h).toBeLessThanOrEqual(1);
    }
  });
});

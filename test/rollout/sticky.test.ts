// The sticky hash is part of the contract between releases: a caller id must land on the same
// version for the same weights in every release and on every replica, or a new release would
// reshuffle callers mid-experiment. The table below is a known answer, computed once and frozen.
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ModelEntry } from '../../src/registry/revision.js';
import { chooseVersion, stableHash } from '../../src/routing/route.js';
import { linearModel } from '../../tools/onnx-builder.js';
import { spawnGateway, stopGateway, waitReady } from '../support/gateway-process.js';
import { makeTempDir, writeFile } from '../support/harness.js';
import { modelEntry } from '../support/model-entry.js';
import { doubler, tripler } from '../support/models.js';
import type { ServerProcess } from '../support/process.js';

const MODEL = 'scorer';

const model = (weights: Record<string, number>): ModelEntry => modelEntry(MODEL, weights);

// Randomness must play no part in a sticky choice: a random() that is called fails the test.
const deps = {
  random: (): number => {
    throw new Error('sticky routing must not draw randomness');
  },
  hash: stableHash,
};
const pick = (m: ModelEntry, id: string): string => chooseVersion(m, { stickyKey: id }, deps).version.name;

/** Frozen: scorer with a=60, b=30, c=10. Changing stableHash or rendezvous scoring breaks this. */
const KNOWN: ReadonlyArray<readonly [string, string]> = [
  ['user-1', 'a'],
  ['user-2', 'a'],
  ['user-3', 'b'],
  ['user-4', 'a'],
  ['user-5', 'a'],
  ['user-6', 'a'],
  ['user-7', 'a'],
  ['user-8', 'b'],
  ['user-9', 'b'],
  ['user-10', 'a'],
  ['user-11', 'a'],
  ['user-12', 'b'],
  ['user-13', 'a'],
  ['user-14', 'a'],
  ['user-15', 'a'],
  ['user-16', 'a'],
  ['user-17', 'a'],
  ['user-18', 'a'],
  ['user-19', 'c'],
  ['user-20', 'b'],
  ['ユーザー-7', 'c'],
  ['josé@example.com', 'a'],
  ['🦊-fox', 'b'],
  ['x'.repeat(300), 'a'],
  ['user-1 ', 'b'], // ids are taken as given: no trimming ...
  ['USER-1', 'b'], // ... and no case folding
];

describe('sticky hash: known answers', () => {
  it('stableHash gives these exact values (SHA-256, first 52 bits, into (0, 1])', () => {
    expect(stableHash('')).toBe(0.8894159948913374);
    expect(stableHash('a')).toBe(0.7913742705223816);
    expect(stableHash('user-1')).toBe(0.7764059241441006);
    expect(stableHash('scorer\u0000a\u0000user-1')).toBe(0.6658360680094573);
    expect(stableHash('🦊')).toBe(0.041495496623316974);
  });

  it('a=60/b=30/c=10: each fixed caller id gets its recorded version', () => {
    const m = model({ a: 60, b: 30, c: 10 });
    const got = KNOWN.map(([id]) => [id, pick(m, id)] as const);
    expect(got).toEqual(KNOWN);
  });
});

describe('sticky hash: shares and movement', () => {
  const ids = Array.from({ length: 10_000 }, (_, i) => `caller-${i}`);
  const assign = (weights: Record<string, number>): string[] => {
    const m = model(weights);
    return ids.map((id) => pick(m, id));
  };
  const shares = (assignment: readonly string[]): Record<string, number> => {
    const out: Record<string, number> = { a: 0, b: 0, c: 0 };
    for (const v of assignment) out[v] = (out[v] ?? 0) + 100 / assignment.length;
    return out;
  };
  const base = assign({ a: 60, b: 30, c: 10 });

  it('10,000 caller ids split within ±1.5 points of 60/30/10', () => {
    const s = shares(base);
    expect(Math.abs((s.a ?? 0) - 60), `a=${s.a}`).toBeLessThanOrEqual(1.5);
    expect(Math.abs((s.b ?? 0) - 30), `b=${s.b}`).toBeLessThanOrEqual(1.5);
    expect(Math.abs((s.c ?? 0) - 10), `c=${s.c}`).toBeLessThanOrEqual(1.5);
  });

  /** Ids whose version differs between two assignments, as before/after pairs. */
  const moves = (before: readonly string[], after: readonly string[]) =>
    before.flatMap((b, i) => (after[i] === b ? [] : [{ id: ids[i], before: b, after: after[i] }]));

  // b is the case the issue names; a and c too, since a version's place in the list must not
  // matter (a cumulative-weight split keeps the middle version's moves clean but not the ends').
  it.each([
    ['b', { a: 60, b: 50, c: 10 }],
    ['a', { a: 80, b: 30, c: 10 }],
    ['c', { a: 60, b: 30, c: 30 }],
  ] as const)('raising %s moves callers only onto it: none between the others, none off it', (raised, weights) => {
    const moved = moves(base, assign(weights));
    for (const m of moved) expect(m).toEqual({ ...m, after: raised });
    // The movers are exactly its gain in share (total weight is now 120): real movement, 6-15%.
    const share = moved.length / ids.length;
    const gain = weights[raised] / 120 - { a: 60, b: 30, c: 10 }[raised] / 100;
    expect(Math.abs(share - gain), `moved ${share}, expected about ${gain}`).toBeLessThan(0.02);
  });

  it('lowering b 30→10 moves callers only off b: no a or c caller changes', () => {
    const moved = moves(base, assign({ a: 60, b: 10, c: 10 }));
    for (const m of moved) expect(m).toEqual({ ...m, before: 'b' });
    // b's share falls from 30% to 10/80 = 12.5%: about 17.5% of the callers leave it.
    expect(Math.abs(moved.length / ids.length - 0.175)).toBeLessThan(0.02);
  });
});

describe('sticky hash across gateway processes', () => {
  const temp = makeTempDir('mg-sticky-');
  const servers: ServerProcess[] = [];
  const callers = Array.from({ length: 200 }, (_, i) => `caller-${i}`);

  beforeAll(async () => {
    writeFile(temp.dir, 'a.onnx', doubler);
    writeFile(temp.dir, 'b.onnx', tripler);
    writeFile(temp.dir, 'c.onnx', linearModel([[5]], [0]));
    const registry = writeFile(
      temp.dir,
      'registry.yaml',
      `models:
  ${MODEL}:
    versions:
      a: { uri: a.onnx, weight: 60 }
      b: { uri: b.onnx, weight: 30 }
      c: { uri: c.onnx, weight: 10 }
    sticky: x-user-id
`,
    );
    for (const name of ['one', 'two']) {
      servers.push(await spawnGateway({ MODEL_REGISTRY: registry, MODEL_CACHE_DIR: path.join(temp.dir, `cache-${name}`) }));
    }
    await Promise.all(servers.map((s) => waitReady(s)));
  });
  afterAll(async () => {
    await Promise.all(servers.map((s) => stopGateway(s)));
    temp.cleanup();
  });

  async function versionsFrom(server: ServerProcess): Promise<string[]> {
    const out: string[] = [];
    for (const id of callers) {
      const res = await fetch(`${server.url}/predict`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-user-id': id },
        body: JSON.stringify({ model: MODEL, inputs: { x: [[1]] } }),
      });
      const body = (await res.json()) as { version?: string; outputs?: { y: number[][] } };
      expect(res.status, JSON.stringify(body)).toBe(200);
      const version = res.headers.get('x-model-version') ?? '';
      expect(body.version).toBe(version);
      // The answer really came from that version's model: y = 2x, 3x or 5x.
      expect(body.outputs?.y).toEqual([[{ a: 2, b: 3, c: 5 }[version]]]);
      out.push(version);
    }
    return out;
  }

  it('200 caller ids get the same version from both processes, the same as chooseVersion in-process', async () => {
    const [one, two] = servers as [ServerProcess, ServerProcess];
    const fromOne = await versionsFrom(one);
    const fromTwo = await versionsFrom(two);
    const m = model({ a: 60, b: 30, c: 10 });
    const expected = callers.map((id) => pick(m, id));
    expect(fromOne).toEqual(expected);
    expect(fromTwo).toEqual(expected);
    // Every version is somebody's: the comparison covers all three.
    expect(new Set(expected)).toEqual(new Set(['a', 'b', 'c']));
  });
});

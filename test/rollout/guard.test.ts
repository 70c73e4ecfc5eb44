import { describe, expect, it } from 'vitest';
import type { GuardPolicy, ModelEntry, Revision } from '../../src/registry/revision.js';
import { Guard } from '../../src/rollout/guard.js';

function model(guard: Partial<GuardPolicy> | undefined, weights: Record<string, number> = { a: 90, b: 10 }): ModelEntry {
  return {
    name: 'm',
    versions: Object.entries(weights).map(([name, weight]) => ({ name, uri: `${name}.onnx`, location: { kind: 'file', path: `/x/${name}.onnx` }, weight, shadow: 0 })),
    aliases: new Map(),
    sticky: undefined,
    fallback: undefined,
    guard: guard && { maxErrorRate: undefined, maxP99Ms: undefined, minRequests: 10, windowSeconds: 60, ...guard },
  };
}
const revision = (m: ModelEntry): Revision => ({ id: 'r', source: 's', cache: { maxModels: 1, maxBytes: 1 }, models: new Map([[m.name, m]]) });

describe('Guard', () => {
  it('breaches on error rate only once minRequests have been seen, and only above the limit', () => {
    const g = new Guard(() => 0);
    const m = model({ maxErrorRate: 0.2, minRequests: 10 });
    for (let i = 0; i < 9; i++) expect(g.observe(m, 'b', 'server_error', 1)).toBeUndefined();
    // 10th request, 10 errors: 100 % > 20 %.
    expect(g.observe(m, 'b', 'server_error', 1)).toMatchObject({ reason: 'error_rate', snapshot: { requests: 10, errors: 10 } });

    const h = new Guard(() => 0);
    for (let i = 0; i < 8; i++) h.observe(m, 'b', 'success', 1);
    h.observe(m, 'b', 'server_error', 1);
    expect(h.observe(m, 'b', 'server_error', 1)).toBeUndefined(); // exactly 20 %: not above
    expect(h.observe(m, 'b', 'server_error', 1)).toMatchObject({ reason: 'error_rate' }); // 3/11
  });

  it('ignores client errors and refusals: they say nothing about the version', () => {
    const g = new Guard(() => 0);
    const m = model({ maxErrorRate: 0.1, minRequests: 5 });
    for (let i = 0; i < 50; i++) expect(g.observe(m, 'b', i % 2 ? 'client_error' : 'rejected', 1)).toBeUndefined();
    expect(g.snapshot('m', 'b')).toBeUndefined();
  });

  it('breaches on p99 latency', () => {
    const g = new Guard(() => 0);
    const m = model({ maxP99Ms: 100, minRequests: 20 });
    for (let i = 0; i < 19; i++) g.observe(m, 'b', 'success', 50);
    expect(g.observe(m, 'b', 'success', 500)).toMatchObject({ reason: 'p99_latency' });
    const fast = new Guard(() => 0);
    for (let i = 0; i < 100; i++) expect(fast.observe(m, 'b', 'success', 50)).toBeUndefined();
  });

  it('does nothing for a model without a guard', () => {
    const g = new Guard(() => 0);
    for (let i = 0; i < 200; i++) expect(g.observe(model(undefined), 'b', 'server_error', 1)).toBeUndefined();
  });

  it('forgets errors older than the window', () => {
    let now = 0;
    const g = new Guard(() => now);
    const m = model({ maxErrorRate: 0.5, minRequests: 10, windowSeconds: 10 });
    for (let i = 0; i < 9; i++) g.observe(m, 'b', 'server_error', 1);
    now = 11_000;
    for (let i = 0; i < 9; i++) expect(g.observe(m, 'b', 'success', 1)).toBeUndefined();
    expect(g.observe(m, 'b', 'success', 1)).toBeUndefined();
    expect(g.snapshot('m', 'b')).toMatchObject({ requests: 10, errors: 0 });
  });

  it('starts a version afresh when a new revision gives it traffic again', () => {
    const g = new Guard(() => 0);
    const before = model({ maxErrorRate: 0.5 }, { a: 100, b: 0 });
    for (let i = 0; i < 5; i++) g.observe(before, 'b', 'server_error', 1);
    for (let i = 0; i < 5; i++) g.observe(before, 'a', 'success', 1);
    const after = model({ maxErrorRate: 0.5 }, { a: 50, b: 50 });
    g.onRevision(revision(after), revision(before));
    expect(g.snapshot('m', 'b')).toBeUndefined();
    expect(g.snapshot('m', 'a')).toMatchObject({ requests: 5 });
  });
});

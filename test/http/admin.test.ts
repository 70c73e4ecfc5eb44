import { writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type RunningGateway } from '../support/harness.js';
import { doubler, tripler } from '../support/models.js';

const TOKEN = 's3cret-token-for-tests';
const registry = (w1: number, w2: number) => `models:
  m:
    versions:
      "1": { uri: v1.onnx, weight: ${w1} }
      "2": { uri: v2.onnx, weight: ${w2} }
    aliases: { stable: "1" }
    sticky: x-user-id
    fallback: "1"
    guard: { maxErrorRate: 0.5 }
`;
const files = { 'v1.onnx': doubler, 'v2.onnx': tripler };
const auth = { authorization: `Bearer ${TOKEN}` };

let gw: RunningGateway;
beforeAll(async () => {
  gw = await startGateway({ registry: registry(90, 10), files, adminToken: TOKEN });
  await gw.gateway.warm();
});
afterAll(() => gw.close());

describe('admin API', () => {
  it('answers 401 without a token, 403 with a wrong one, and never says why beyond that', async () => {
    for (const [method, p] of [['GET', '/admin/registry'], ['POST', '/admin/reload']] as const) {
      const none = method === 'GET' ? await gw.get(p) : await gw.post(p, {});
      expect([none.status, (none.body as { code: string }).code]).toEqual([401, 'UNAUTHORIZED']);
      expect(none.headers.get('www-authenticate')).toMatch(/^Bearer/);
      const wrong = method === 'GET' ? await gw.get(p, { authorization: 'Bearer nope' }) : await gw.post(p, {}, { authorization: 'Bearer nope' });
      expect([wrong.status, (wrong.body as { code: string }).code]).toEqual([403, 'FORBIDDEN']);
      expect(wrong.text).not.toContain(TOKEN);
      const prefix = await gw.get('/admin/registry', { authorization: `Bearer ${TOKEN.slice(0, -1)}` });
      expect(prefix.status).toBe(403);
    }
  });

  it('describes the live registry: revision, source, weights, shares, loaded versions, guard state', async () => {
    const res = await gw.get('/admin/registry', auth);
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.body).toEqual({
      revision: gw.gateway.registry.current().id,
      source: expect.stringMatching(/^file:\/\/.*registry\.yaml$/),
      loadedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      models: [
        {
          name: 'm',
          sticky: 'x-user-id',
          fallback: '1',
          aliases: { stable: '1' },
          versions: [
            { name: '1', uri: 'v1.onnx', weight: 90, effectiveWeight: 90, share: 0.9, shadow: 0, state: 'loaded', loaded: true, bytes: doubler.length, guard: { state: 'ok', requests: 0, errorRate: 0, p99Ms: 0 } },
            { name: '2', uri: 'v2.onnx', weight: 10, effectiveWeight: 10, share: 0.1, shadow: 0, state: 'loaded', loaded: true, bytes: tripler.length, guard: { state: 'ok', requests: 0, errorRate: 0, p99Ms: 0 } },
          ],
        },
      ],
    });
  });

  it('POST /admin/reload applies a changed registry file at once', async () => {
    writeFileSync(gw.registryFile, registry(0, 100));
    const res = await gw.post('/admin/reload', {}, auth);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ result: 'success', revision: gw.gateway.registry.current().id });
    expect((await gw.post('/predict', { model: 'm', inputs: { x: [[1]] } })).headers.get('x-model-version')).toBe('2');
    expect((await gw.post('/admin/reload', {}, auth)).body).toMatchObject({ result: 'unchanged' });
  });

  it('POST /admin/reload of an invalid file answers 422 with every problem and keeps the revision', async () => {
    const live = gw.gateway.registry.current().id;
    writeFileSync(gw.registryFile, registry(-5, 0));
    const res = await gw.post<{ code: string; revision: string; problems: string[] }>('/admin/reload', {}, auth);
    expect(res.status).toBe(422);
    expect(res.body.code).toBe('INVALID_REGISTRY');
    expect(res.body.revision).toBe(live);
    expect(res.body.problems).toEqual(expect.arrayContaining([expect.stringContaining('models.m.versions.1.weight')]));
  });
});

describe('admin API without ADMIN_TOKEN', () => {
  it('does not exist: 404 for every admin path, with or without credentials', async () => {
    const off = await startGateway({ registry: registry(1, 1), files });
    try {
      expect((await off.get('/admin/registry')).status).toBe(404);
      expect((await off.get('/admin/registry', auth)).status).toBe(404);
      expect((await off.post('/admin/reload', {}, auth)).status).toBe(404);
    } finally {
      await off.close();
    }
  });
});

import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { countingFactory } from '../support/counting-factory.js';
import { SHARED_MODELS, sampleValue, startGateway, type RunningGateway } from '../support/harness.js';
import { doubler, garbage, tripler } from '../support/models.js';

let gw: RunningGateway | undefined;
afterEach(async () => {
  await gw?.close();
  gw = undefined;
});

const shadowCount = async (g: RunningGateway, version: string, outcome: string) =>
  sampleValue((await g.get('/metrics')).text, 'gateway_shadow_requests_total', { model: 'm', version, outcome });

describe('shadow traffic', () => {
  it('copies every request to shadow versions, returns only the primary answer, and counts match, mismatch and error', async () => {
    gw = await startGateway({
      registry: `models:
  m:
    versions:
      "1": { uri: two.onnx, weight: 1 }
      same: { uri: two.onnx, shadow: 1 }
      other: { uri: three.onnx, shadow: 1 }
      broken: { uri: bad.onnx, shadow: 1 }
`,
      files: { 'two.onnx': doubler, 'three.onnx': tripler, 'bad.onnx': garbage },
    });
    for (let i = 0; i < 5; i++) {
      const res = await gw.post('/predict', { model: 'm', inputs: { x: [[i]] } });
      expect([res.status, res.body]).toEqual([200, { model: 'm', version: '1', outputs: { y: [[2 * i]] } }]);
    }
    await gw.gateway.shadow.idle();
    expect(await shadowCount(gw, 'same', 'match')).toBe(5);
    // 0 × 3 = 0 × 2: the first request matches even on the other model.
    expect(await shadowCount(gw, 'other', 'mismatch')).toBe(4);
    expect(await shadowCount(gw, 'other', 'match')).toBe(1);
    expect(await shadowCount(gw, 'broken', 'error')).toBe(5);
    // Shadow copies are not primary traffic.
    expect(sampleValue((await gw.get('/metrics')).text, 'gateway_inference_requests_total', { model: 'm', version: 'other', outcome: 'success' })).toBe(0);
  });

  it('copies the given fraction of requests', async () => {
    gw = await startGateway({
      registry: 'models:\n  m:\n    versions:\n      "1": { uri: two.onnx, weight: 1 }\n      s: { uri: two.onnx, shadow: 0.25 }\n',
      files: { 'two.onnx': doubler },
      shadowRandom: (() => {
        let i = 0;
        return () => (i++ % 4) / 4; // 0, .25, .5, .75: one in four is below 0.25
      })(),
    });
    for (let i = 0; i < 40; i++) await gw.post('/predict', { model: 'm', inputs: { x: [[1]] } });
    await gw.gateway.shadow.idle();
    expect(await shadowCount(gw, 's', 'match')).toBe(10);
  });

  it('drops copies beyond its small queue instead of slowing callers', async () => {
    const factory = countingFactory();
    gw = await startGateway({
      registry: 'models:\n  m:\n    versions:\n      "1": { uri: two.onnx, weight: 1 }\n      s: { uri: three.onnx, shadow: 1 }\n',
      files: { 'two.onnx': doubler, 'three.onnx': tripler },
      sessionFactory: factory,
    });
    await gw.gateway.warm();
    factory.delayMs = 3000; // the shadow version's first load holds the only shadow slot
    const started = performance.now();
    const answers = await Promise.all(Array.from({ length: 60 }, () => gw!.post('/predict', { model: 'm', inputs: { x: [[1]] } })));
    const elapsed = performance.now() - started;
    expect(answers.every((a) => a.status === 200)).toBe(true);
    expect(elapsed).toBeLessThan(3000); // nobody waited for the shadow load
    await gw.gateway.shadow.idle();
    const text = (await gw.get('/metrics')).text;
    const dropped = sampleValue(text, 'gateway_shadow_dropped_total', { model: 'm', version: 's' }) ?? 0;
    const ran = ['match', 'mismatch', 'error'].reduce((n, o) => n + (sampleValue(text, 'gateway_shadow_requests_total', { model: 'm', version: 's', outcome: o }) ?? 0), 0);
    expect(dropped + ran).toBe(60);
    expect(ran).toBeLessThanOrEqual(17); // one running and sixteen queued at most
    expect(dropped).toBeGreaterThanOrEqual(43);
  });
});

describe.runIf(existsSync(SHARED_MODELS))('shadow with real models', () => {
  it('linreg answers, ridge shadows it, and the mismatches are counted', async () => {
    const cases = JSON.parse(readFileSync(path.join(SHARED_MODELS, 'sklearn-linreg', 'cases.json'), 'utf8')) as Array<{
      input: { input: { dims: number[]; data: number[] } };
      expected: { variable: { data: number[] } };
    }>;
    gw = await startGateway({
      registry: `models:\n  reg:\n    versions:\n      linreg: { uri: ${path.join(SHARED_MODELS, 'sklearn-linreg', 'model.onnx')}, weight: 1 }\n      ridge: { uri: ${path.join(SHARED_MODELS, 'sklearn-ridge', 'model.onnx')}, shadow: 1.0 }\n`,
      modelRoots: [SHARED_MODELS],
    });
    for (const c of cases) {
      const res = await gw.post<{ version: string; outputs: { variable: number[][] } }>('/predict', { model: 'reg', inputs: { input: [c.input.input.data] } });
      expect(res.body.version).toBe('linreg');
      const got = res.body.outputs.variable[0]?.[0] ?? NaN;
      const want = c.expected.variable.data[0] ?? NaN;
      expect(Math.abs(got - want)).toBeLessThanOrEqual(1e-4 * Math.max(1, Math.abs(want)));
    }
    await gw.gateway.shadow.idle();
    const text = (await gw.get('/metrics')).text;
    const mismatch = sampleValue(text, 'gateway_shadow_requests_total', { model: 'reg', version: 'ridge', outcome: 'mismatch' });
    const match = sampleValue(text, 'gateway_shadow_requests_total', { model: 'reg', version: 'ridge', outcome: 'match' });
    expect((mismatch ?? 0) + (match ?? 0)).toBe(cases.length);
    expect(mismatch).toBeGreaterThan(0);
  });
});

// Defect: with cache.maxModels 1 and 4 versions, 40 concurrent cold requests answered 500 (a
// loading entry was evicted by the next load) and leaked sessions. Now every request is answered
// by its own version, nothing falls back, and every session but the cached one is released.
import { afterEach, describe, expect, it } from 'vitest';
import { linearModel } from '../../tools/onnx-builder.js';
import { countingFactory } from '../support/counting-factory.js';
import { sampleValue, startGateway, type RunningGateway } from '../support/harness.js';

let gw: RunningGateway | undefined;
afterEach(async () => {
  await gw?.close();
  gw = undefined;
});

const files = Object.fromEntries([1, 2, 3, 4].map((k) => [`v${k}.onnx`, linearModel([[k]], [0])]));
const versions = [1, 2, 3, 4].map((k) => `      "${k}": { uri: v${k}.onnx, weight: 1 }`).join('\n');

describe('cold loads of more versions than cache.maxModels at once', () => {
  it('answers 40 concurrent explicit-version requests over 4 versions in a 1-model cache, each from its version', async () => {
    const factory = countingFactory({ workers: true });
    factory.delayMs = 30;
    gw = await startGateway({ registry: `cache: { maxModels: 1 }\nmodels:\n  m:\n    versions:\n${versions}\n`, files, sessionFactory: factory });
    const answers = await Promise.all(
      Array.from({ length: 40 }, (_, i) => gw!.post<{ version: string; outputs: { y: number[][] } }>('/predict', { model: 'm', version: String((i % 4) + 1), inputs: { x: [[1]] } })),
    );
    expect(answers.map((a) => a.status)).toEqual(Array(40).fill(200));
    expect(answers.map((a) => a.body.outputs.y[0]?.[0])).toEqual(Array.from({ length: 40 }, (_, i) => (i % 4) + 1));
    await new Promise((r) => setTimeout(r, 50));
    expect(factory.created.length - factory.released.length).toBe(1);
  });

  it('routed requests do not fall back because another version was loading', async () => {
    const factory = countingFactory({ workers: true });
    factory.delayMs = 30;
    gw = await startGateway({
      registry: `cache: { maxModels: 1 }\nmodels:\n  m:\n    versions:\n${versions}\n    fallback: "1"\n`,
      files,
      sessionFactory: factory,
    });
    const answers = await Promise.all(Array.from({ length: 40 }, () => gw!.post('/predict', { model: 'm', inputs: { x: [[1]] } })));
    expect(answers.every((a) => a.status === 200 && a.headers.get('x-model-fallback-from') === null)).toBe(true);
    const text = (await gw.get('/metrics')).text;
    for (const v of ['2', '3', '4']) expect(sampleValue(text, 'gateway_fallbacks_total', { model: 'm', version: v, fallback: '1' })).toBe(0);
  });
});

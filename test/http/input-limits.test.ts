import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildModel, identityModel } from '../../tools/onnx-builder.js';
import { startGateway, type RunningGateway } from '../support/harness.js';

/** recip = 1 / x and log = ln x, the latter also cast to float64 and float16: non-finite on demand. */
const nonFinite = buildModel({
  inputs: [{ name: 'x', type: 'float32', shape: ['n'] }],
  outputs: [
    { name: 'recip', type: 'float32', shape: ['n'] },
    { name: 'log', type: 'float32', shape: ['n'] },
    { name: 'log64', type: 'float64', shape: ['n'] },
    { name: 'log16', type: 'float16', shape: ['n'] },
  ],
  initializers: [{ name: 'one', type: 'float32', dims: [1], values: [1] }],
  nodes: [
    { op: 'Div', inputs: ['one', 'x'], outputs: ['recip'] },
    { op: 'Log', inputs: ['x'], outputs: ['log'] },
    { op: 'Cast', inputs: ['log'], outputs: ['log64'], attrs: { to: 11 } },
    { op: 'Cast', inputs: ['log'], outputs: ['log16'], attrs: { to: 10 } },
  ],
});

const REGISTRY = `
models:
  f32: { versions: { "1": { uri: f32.onnx, weight: 1 } } }
  i64: { versions: { "1": { uri: i64.onnx, weight: 1 } } }
  str: { versions: { "1": { uri: str.onnx, weight: 1 } } }
  nonfinite: { versions: { "1": { uri: nonfinite.onnx, weight: 1 } } }
`;

type ErrorBody = { error: string; code: string };
type V2 = { outputs: Array<{ name: string; datatype: string; shape: number[]; data: unknown[] }> };
type Predict = { outputs: Record<string, unknown> };

let gw: RunningGateway;
beforeAll(async () => {
  gw = await startGateway({
    registry: REGISTRY,
    files: { 'f32.onnx': identityModel('float32'), 'i64.onnx': identityModel('int64'), 'str.onnx': identityModel('string'), 'nonfinite.onnx': nonFinite },
  });
});
afterAll(() => gw.close());

async function stillServes(): Promise<void> {
  const ok = await gw.post<Predict>('/predict', { model: 'f32', inputs: { in: [1.5, 2] } });
  expect([ok.status, ok.body.outputs]).toEqual([200, { out: [1.5, 2] }]);
}

describe('nesting depth and rank', () => {
  it('answers 400 JSON to 20,000 levels of nesting (a 40 KB body), on /predict and V2', async () => {
    const deep = `${'['.repeat(20_000)}1${']'.repeat(20_000)}`;
    const predict = await gw.post<ErrorBody>('/predict', `{"model": "f32", "inputs": {"in": ${deep}}}`);
    expect(predict.status).toBe(400);
    expect(predict.body).toEqual({ code: 'INVALID_INPUT', error: 'input "in": arrays nest deeper than 32 levels; a tensor has at most 32 dimensions' });
    const v2 = await gw.post<ErrorBody>('/v2/models/f32/infer', `{"inputs": [{"name": "in", "shape": [1], "datatype": "FP32", "data": ${deep}}]}`);
    expect([v2.status, v2.body.code]).toEqual([400, 'INVALID_INPUT']);
    await stillServes();
  });

  it('refuses a V2 shape of more than 32 dimensions', async () => {
    const res = await gw.post<ErrorBody>('/v2/models/f32/infer', { inputs: [{ name: 'in', shape: Array(33).fill(1), datatype: 'FP32', data: [1] }] });
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ code: 'INVALID_INPUT', error: 'input "in": shape has 33 dimensions; a tensor has at most 32' });
  });
});

describe('declared sizes', () => {
  it('refuses a V2 shape declaring more elements than allowed before walking its data, and one that does not match its data', async () => {
    const huge = await gw.post<ErrorBody>('/v2/models/f32/infer', { inputs: [{ name: 'in', shape: [2 ** 20, 2 ** 20, 2 ** 12], datatype: 'FP32', data: [1] }] });
    expect(huge.status).toBe(413);
    expect(huge.body).toEqual({ code: 'LIMIT_EXCEEDED', error: 'input "in": shape [1048576, 1048576, 4096] has 4503599627370496 elements; at most 16777216 are accepted per input' });
    const short = await gw.post<ErrorBody>('/v2/models/f32/infer', { inputs: [{ name: 'in', shape: [4096, 4096], datatype: 'FP32', data: [1, 2] }] });
    expect(short.status).toBe(400);
    expect(short.body).toEqual({ code: 'INVALID_INPUT', error: 'input "in": shape [4096, 4096] needs 16777216 values, got 2' });
    await stillServes();
  });

  it('refuses a BYTES element over 1 Mi characters with 413, and takes one at the limit', async () => {
    const atLimit = 'é'.repeat(2 ** 20);
    const ok = await gw.post<V2>('/v2/models/str/infer', { inputs: [{ name: 'in', shape: [1], datatype: 'BYTES', data: [atLimit] }] });
    expect(ok.status).toBe(200);
    expect(ok.body.outputs[0]?.data[0]).toBe(atLimit);
    const res = await gw.post<ErrorBody>('/v2/models/str/infer', { inputs: [{ name: 'in', shape: [2], datatype: 'BYTES', data: ['a', `${atLimit}x`] }] });
    expect(res.status).toBe(413);
    expect(res.body).toEqual({ code: 'LIMIT_EXCEEDED', error: 'input "in": element [1] is a string of 1048577 characters; at most 1048576 are accepted' });
  });

  it('refuses a million-digit INT64 string at once, by its length', async () => {
    const started = performance.now();
    const res = await gw.post<ErrorBody>('/v2/models/i64/infer', { inputs: [{ name: 'in', shape: [1], datatype: 'INT64', data: ['9'.repeat(1_000_000)] }] });
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('input "in" (int64): element 0: a decimal string of 1000000 characters is too long: int64 takes at most 20 digits and a sign');
    expect(performance.now() - started).toBeLessThan(500);
    const big = await gw.post<V2>('/v2/models/i64/infer', { inputs: [{ name: 'in', shape: [1], datatype: 'INT64', data: ['-9223372036854775808'] }] });
    expect(big.body.outputs[0]?.data).toEqual(['-9223372036854775808']);
  });
});

describe('non-finite floats', () => {
  it('writes NaN and infinities from a real model as strings, on /predict and V2', async () => {
    const predict = await gw.post<Predict>('/predict', { model: 'nonfinite', inputs: { x: [0, -1, 2] } });
    expect(predict.status).toBe(200);
    expect(predict.body.outputs).toEqual({
      recip: ['Infinity', -1, 0.5],
      log: ['-Infinity', 'NaN', 0.6931472],
      log64: ['-Infinity', 'NaN', Math.fround(Math.LN2)],
      log16: ['-Infinity', 'NaN', 0.693359375],
    });
    const v2 = await gw.post<V2>('/v2/models/nonfinite/infer', { inputs: [{ name: 'x', shape: [2], datatype: 'FP32', data: [0, -1] }], outputs: [{ name: 'log' }] });
    expect(v2.body.outputs).toEqual([{ name: 'log', datatype: 'FP32', shape: [2], data: ['-Infinity', 'NaN'] }]);
  });

  it('reads back the strings it writes', async () => {
    const res = await gw.post<Predict>('/predict', { model: 'nonfinite', inputs: { x: ['Infinity', 'NaN', '-Infinity', 1] } });
    expect(res.status).toBe(200);
    expect(res.body.outputs.recip).toEqual([0, 'NaN', 0, 1]);
    expect(res.body.outputs.log).toEqual(['Infinity', 'NaN', 'NaN', 0]);
  });
});

// Dynamic batching through a real gateway and real onnxruntime sessions: concurrent requests
// share runs (counted by a session factory that records every run's rows), each caller gets its
// own rows, a bad request fails alone (refused before the batch, or failing the model's run), a
// lone request waits at most maxDelayMs, and the rows of each run land in gateway_batch_size.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createOrtSessionFactory, type ModelSession, type SessionFactory } from '../../src/inference/session.js';
import { buildModel, identityModel, linearModel } from '../../tools/onnx-builder.js';
import { capturingLog, sampleValue, startGateway, type RunningGateway } from '../support/harness.js';

/** y = x · W + b, W 4×3: y_j = Σ_i x_i W_ij + b_j, small integers so float32 answers are exact. */
const W = [
  [1, 0, 2],
  [0, 1, 0],
  [0, 0, 1],
  [1, -1, 0],
];
const B = [0.5, 0, -1];
const expected = (x: readonly number[]) => B.map((b, j) => x.reduce((s, xi, i) => s + xi * (W[i]?.[j] ?? NaN), b));

/** Records the first dimension of every run of every session it makes. */
function runCountingFactory(): SessionFactory & { runs: number[] } {
  const real = createOrtSessionFactory({ intraOpNumThreads: 1 });
  const runs: number[] = [];
  return {
    runs,
    async create(filePath) {
      const session = await real.create(filePath);
      const counted: ModelSession = {
        signature: session.signature,
        run: (feeds, outputs) => {
          runs.push(Object.values(feeds)[0]?.dims[0] ?? -1);
          return session.run(feeds, outputs);
        },
        release: () => session.release(),
      };
      return counted;
    },
  };
}

/** y = TABLE[i]: a row of a 10 × 3 table per index; an index outside 0..9 makes onnxruntime fail the run. */
const TABLE = Array.from({ length: 10 }, (_, r) => [r, 10 * r, -r]);
const lookupModel = () =>
  buildModel({
    inputs: [{ name: 'i', type: 'int64', shape: ['batch'] }],
    outputs: [{ name: 'y', type: 'float32', shape: ['batch', 3] }],
    initializers: [{ name: 'table', type: 'float32', dims: [10, 3], values: TABLE.flat() }],
    nodes: [{ op: 'Gather', inputs: ['table', 'i'], outputs: ['y'], attrs: { axis: 0 } }],
  });

const REGISTRY = `
models:
  lookup:
    versions:
      "1": { uri: lookup.onnx, weight: 1, batching: { maxBatchSize: 16, maxDelayMs: 50 } }
  lin:
    versions:
      "1": { uri: lin.onnx, weight: 1, batching: { maxBatchSize: 16, maxDelayMs: 20 } }
      plain: { uri: lin.onnx, weight: 0 }
  fixed:
    versions:
      "1": { uri: fixed.onnx, weight: 1, batching: { maxBatchSize: 8, maxDelayMs: 20 } }
  slow:
    versions:
      "1": { uri: lin.onnx, weight: 1, batching: { maxBatchSize: 64, maxDelayMs: 150 } }
`;

type V2Out = { outputs: Array<{ name: string; shape: number[]; data: number[] }> };

const rowsFor = (c: number, n: number) => Array.from({ length: n }, (_, r) => [c, r, c - r, 2]);

describe('dynamic batching over HTTP', () => {
  let gw: RunningGateway;
  let factory: ReturnType<typeof runCountingFactory>;
  let logged: ReturnType<typeof capturingLog>;

  beforeAll(async () => {
    factory = runCountingFactory();
    logged = capturingLog();
    gw = await startGateway({
      registry: REGISTRY,
      files: { 'lin.onnx': linearModel(W, B), 'fixed.onnx': identityModel('float32', [2, 3]), 'lookup.onnx': lookupModel() },
      sessionFactory: factory,
      log: logged.log,
    });
    await gw.gateway.warm();
  });
  afterAll(() => gw.close());

  it('has a zero gateway_batch_size series for each batching version only, from the first scrape', async () => {
    const text = (await gw.get('/metrics')).text;
    expect(sampleValue(text, 'gateway_batch_size_count', { model: 'lin', version: '1' })).toBe(0);
    expect(sampleValue(text, 'gateway_batch_size_count', { model: 'slow', version: '1' })).toBe(0);
    expect(sampleValue(text, 'gateway_batch_size_count', { model: 'lin', version: 'plain' })).toBeUndefined();
  });

  it('answers 32 concurrent callers sending 1, 3 and 5 rows each with exactly their rows, in fewer runs', async () => {
    factory.runs.length = 0;
    const sizes = Array.from({ length: 32 }, (_, c) => [1, 3, 5][c % 3] ?? 1);
    const responses = await Promise.all(
      sizes.map((n, c) =>
        gw.post<V2Out>('/v2/models/lin/versions/1/infer', { inputs: [{ name: 'x', shape: [n, 4], datatype: 'FP32', data: rowsFor(c, n).flat() }] }),
      ),
    );
    responses.forEach((res, c) => {
      expect(res.status, res.text).toBe(200);
      const n = sizes[c] ?? 0;
      expect(res.body.outputs[0]?.shape).toEqual([n, 3]);
      expect(res.body.outputs[0]?.data).toEqual(rowsFor(c, n).flatMap(expected));
    });
    const totalRows = sizes.reduce((a, b) => a + b, 0);
    expect(factory.runs.reduce((a, b) => a + b, 0)).toBe(totalRows);
    expect(factory.runs.length).toBeLessThan(32);
    expect(Math.max(...factory.runs)).toBeGreaterThan(5);
    expect(Math.max(...factory.runs)).toBeLessThanOrEqual(16);

    const text = (await gw.get('/metrics')).text;
    const labels = { model: 'lin', version: '1' };
    expect(sampleValue(text, 'gateway_batch_size_count', labels)).toBe(factory.runs.length);
    expect(sampleValue(text, 'gateway_batch_size_sum', labels)).toBe(totalRows);
    // Some run held more than 4 rows: its bucket and only it tells 5..16 apart from 1..4.
    const upTo4 = sampleValue(text, 'gateway_batch_size_bucket', { ...labels, le: '4' }) ?? NaN;
    const upTo16 = sampleValue(text, 'gateway_batch_size_bucket', { ...labels, le: '16' }) ?? NaN;
    expect(upTo16).toBe(factory.runs.length);
    expect(upTo16 - upTo4).toBeGreaterThan(0);
  });

  it('fails a bad request alone while the requests around it are answered', async () => {
    const good = [0, 1, 2, 3].map((c) =>
      gw.post<V2Out>('/v2/models/lin/versions/1/infer', { inputs: [{ name: 'x', shape: [2, 4], datatype: 'FP32', data: rowsFor(c, 2).flat() }] }),
    );
    const wrongWidth = gw.post('/v2/models/lin/versions/1/infer', { inputs: [{ name: 'x', shape: [1, 5], datatype: 'FP32', data: [1, 2, 3, 4, 5] }] });
    const wrongType = gw.post('/predict', { model: 'lin', version: '1', inputs: { x: [[1, 2, 3, 'four']] } });
    const [a, b, c, d, bad1, bad2] = await Promise.all([...good, wrongWidth, wrongType]);
    [a, b, c, d].forEach((res, i) => {
      expect(res?.status, res?.text).toBe(200);
      expect((res?.body as V2Out).outputs[0]?.data).toEqual(rowsFor(i, 2).flatMap(expected));
    });
    expect(bad1?.status).toBe(400);
    expect(bad1?.body).toMatchObject({ code: 'INVALID_INPUT', error: expect.stringMatching(/dimension 1 must be 4/) });
    expect(bad2?.status).toBe(400);
    expect(bad2?.body).toMatchObject({ code: 'INVALID_INPUT' });
  });

  it('when the model fails a batched run, runs each caller alone: the bad one gets a 500, the others their rows', async () => {
    factory.runs.length = 0;
    const callers = [[1, 2], [3], [7, 99], [4, 5, 6]]; // 99 is outside the table
    const responses = await Promise.all(callers.map((i) => gw.post<{ outputs: { y: number[][] } }>('/predict', { model: 'lookup', inputs: { i } })));
    responses.forEach((res, c) => {
      if (c === 2) return;
      expect(res.status, res.text).toBe(200);
      expect(res.body.outputs.y).toEqual((callers[c] ?? []).map((i) => TABLE[i]));
    });
    expect(responses[2]?.status).toBe(500);
    expect(responses[2]?.body).toMatchObject({ code: 'INFERENCE_FAILED' });
    // One run of all 8 rows, which failed; then each caller's rows alone.
    expect(factory.runs[0]).toBe(8);
    expect(factory.runs.slice(1).sort()).toEqual([1, 2, 2, 3]);
  });

  it('answers a lone request after at most maxDelayMs and a margin', async () => {
    factory.runs.length = 0;
    const started = performance.now();
    const res = await gw.post<{ outputs: { y: number[][] } }>('/predict', { model: 'slow', inputs: { x: [[1, 2, 3, 4]] } });
    const elapsed = performance.now() - started;
    expect(res.status, res.text).toBe(200);
    expect(res.body.outputs.y).toEqual([expected([1, 2, 3, 4])]);
    expect(factory.runs).toEqual([1]);
    expect(elapsed).toBeGreaterThanOrEqual(145); // it did wait for company...
    expect(elapsed).toBeLessThan(150 + 130); // ...but not much beyond maxDelayMs (twice it would fail)
  });

  it('leaves a version without batching unbatched', async () => {
    factory.runs.length = 0;
    const responses = await Promise.all(
      [0, 1, 2, 3, 4, 5].map((c) => gw.post<{ outputs: { y: number[][] } }>('/predict', { model: 'lin', version: 'plain', inputs: { x: rowsFor(c, 1) } })),
    );
    responses.forEach((res, c) => expect(res.body.outputs.y).toEqual(rowsFor(c, 1).map(expected)));
    expect(factory.runs).toEqual([1, 1, 1, 1, 1, 1]);
  });

  it('serves a model with a fixed first dimension unbatched and says so in the log', async () => {
    factory.runs.length = 0;
    const grid = [1, 2, 3, 4, 5, 6];
    const responses = await Promise.all([0, 1, 2].map(() => gw.post<V2Out>('/v2/models/fixed/infer', { inputs: [{ name: 'in', shape: [2, 3], datatype: 'FP32', data: grid }] })));
    for (const res of responses) expect(res.body.outputs[0]?.data).toEqual(grid);
    expect(factory.runs).toEqual([2, 2, 2]);
    const warnings = logged.lines.filter((l) => l.event === 'batching_off');
    expect(warnings).toMatchObject([{ model: 'fixed', version: '1', reason: 'input "in" has a fixed first dimension (2)' }]);
    expect(sampleValue((await gw.get('/metrics')).text, 'gateway_batch_size_count', { model: 'fixed', version: '1' })).toBe(0);
  });
});

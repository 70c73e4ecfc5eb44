// Every RPC of inference.GRPCInferenceService against a real gateway with the project's own
// models, compared with what the V2 REST endpoints answer for the same thing.
import { describe, expect, it } from 'vitest';
import { sampleValue } from '../support/harness.js';
import { doubler, garbage, tripler } from '../support/models.js';
import { f32Bytes, f32FromBytes, gatewayPerTest } from './grpc-client.js';

const files = { 'a.onnx': doubler, 'b.onnx': tripler, 'bad.onnx': garbage };
const registry = `
models:
  m:
    versions:
      "1": { uri: a.onnx, weight: 1 }
      "2": { uri: b.onnx, weight: 0 }
  broken:
    versions:
      "1": { uri: a.onnx, weight: 1 }
      "2": { uri: bad.onnx, weight: 0 }
`;

const startBoth = gatewayPerTest();
const start = () => startBoth({ registry, files, serverVersion: '9.9.9-test' });

type Infer = {
  model_name: string;
  model_version: string;
  id: string;
  outputs: Array<{ name: string; datatype: string; shape: string[]; contents: { fp32_contents: number[] } | null }>;
  raw_output_contents: Buffer[];
};

describe('gRPC health and metadata', () => {
  it('ServerLive answers live, and every call echoes the caller x-request-id or gives a new one', async () => {
    const { g } = await start();
    const mine = await g.call('ServerLive', {}, { metadata: { 'x-request-id': 'trace-42' } });
    expect(mine.response).toEqual({ live: true });
    expect(mine.headers['x-request-id']).toBe('trace-42');
    const fresh = await g.call('ServerLive', {}, { metadata: { 'x-request-id': 'bad id with spaces' } });
    expect(fresh.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('ServerReady agrees with /v2/health/ready before warm-up, after it, and while draining', async () => {
    const { gw, g } = await start();
    const both = async () => [(await g.call<{ ready: boolean }>('ServerReady', {})).response?.ready, (await gw.get('/v2/health/ready')).status];
    expect(await both()).toEqual([false, 503]);
    await gw.gateway.warm();
    expect(await both()).toEqual([true, 200]);
    gw.gateway.lifecycle.draining = true;
    expect(await both()).toEqual([false, 503]);
  });

  it('ServerMetadata is the REST /v2 document', async () => {
    const { gw, g } = await start();
    const rest = await gw.get('/v2');
    expect((await g.call('ServerMetadata', {})).response).toEqual(rest.body);
    expect(rest.body).toEqual({ name: 'model-gateway', version: '9.9.9-test', extensions: ['binary_tensor_data'] });
  });

  it('ModelReady: a loadable version is ready, a failed one not, an unknown model is NOT_FOUND with the REST message', async () => {
    const { gw, g } = await start();
    expect((await g.call('ModelReady', { name: 'm' })).response).toEqual({ ready: true });
    expect((await g.call('ModelReady', { name: 'm', version: '2' })).response).toEqual({ ready: true });
    expect((await gw.post('/v2/models/broken/versions/2/infer', { inputs: [{ name: 'x', shape: [1, 1], datatype: 'FP32', data: [1] }] })).status).toBe(503);
    expect((await g.call('ModelReady', { name: 'broken', version: '2' })).response).toEqual({ ready: false });
    expect((await gw.get('/v2/models/broken/versions/2/ready')).body).toEqual({ name: 'broken', version: '2', ready: false });
    const unknown = await g.call('ModelReady', { name: 'nope' });
    const rest = await gw.get<{ error: string }>('/v2/models/nope/ready');
    expect([unknown.error?.code, unknown.error?.details, rest.status]).toEqual([5, rest.body.error, 404]);
  });

  it('ModelMetadata is the REST metadata of the same version', async () => {
    const { gw, g } = await start();
    for (const [req, path] of [
      [{ name: 'm' }, '/v2/models/m'],
      [{ name: 'm', version: '2' }, '/v2/models/m/versions/2'],
    ] as const) {
      const res = await g.call<{ inputs: Array<{ shape: string[] }>; outputs: Array<{ shape: string[] }> }>('ModelMetadata', req);
      const numeric = (ts: Array<{ shape: string[] }>) => ts.map((t) => ({ ...t, shape: t.shape.map(Number) }));
      const r = res.response as NonNullable<typeof res.response>;
      expect({ ...r, inputs: numeric(r.inputs), outputs: numeric(r.outputs) }).toEqual({ ...(await gw.get(path)).body, properties: {} });
    }
  });
});

describe('gRPC ModelInfer with own models', () => {
  it('answers typed contents with typed contents, names the version, echoes id, and sets response metadata', async () => {
    const { g } = await start();
    const res = await g.call<Infer>('ModelInfer', {
      model_name: 'm',
      id: 'req-7',
      inputs: [{ name: 'x', datatype: 'FP32', shape: [3, 1], contents: { fp32_contents: [1, 2.5, -4] } }],
    });
    expect(res.error).toBeUndefined();
    const r = res.response as Infer;
    expect([r.model_name, r.model_version, r.id]).toEqual(['m', '1', 'req-7']);
    expect(r.outputs).toEqual([{ name: 'y', datatype: 'FP32', shape: ['3', '1'], parameters: {}, contents: expect.objectContaining({ fp32_contents: [2, 5, -8] }) }]);
    expect(r.raw_output_contents).toEqual([]);
    expect([res.headers['x-model-name'], res.headers['x-model-version'], res.headers['x-model-fallback-from']]).toEqual(['m', '1', undefined]);
    expect(res.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('answers raw_input_contents with raw_output_contents (little-endian), as Triton does', async () => {
    const { g } = await start();
    const res = await g.call<Infer>('ModelInfer', {
      model_name: 'm',
      model_version: '2',
      inputs: [{ name: 'x', datatype: 'FP32', shape: [2, 1] }],
      outputs: [{ name: 'y' }],
      raw_input_contents: [f32Bytes([1.5, -2])],
    });
    const r = res.response as Infer;
    expect([r.model_version, r.outputs[0]?.name, r.outputs[0]?.shape, r.outputs[0]?.contents]).toEqual(['2', 'y', ['2', '1'], null]);
    expect(r.raw_output_contents).toHaveLength(1);
    expect(f32FromBytes(r.raw_output_contents[0] as Buffer)).toEqual([4.5, -6]);
  });

  it('counts calls in gateway_grpc_requests_total{method, code} and inferences in the shared families, labels unchanged', async () => {
    const { gw, g } = await start();
    const infer = { model_name: 'm', inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 1], contents: { fp32_contents: [1] } }] };
    await g.call('ModelInfer', infer);
    await g.call('ModelInfer', infer);
    await g.call('ModelInfer', { ...infer, inputs: [{ ...infer.inputs[0], datatype: 'INT32', contents: { int_contents: [1] } }] });
    await g.call('ServerLive', {});
    const text = (await gw.get('/metrics')).text;
    expect(sampleValue(text, 'gateway_grpc_requests_total', { method: 'ModelInfer', code: 'OK' })).toBe(2);
    expect(sampleValue(text, 'gateway_grpc_requests_total', { method: 'ModelInfer', code: 'INVALID_ARGUMENT' })).toBe(1);
    expect(sampleValue(text, 'gateway_grpc_requests_total', { method: 'ServerLive', code: 'OK' })).toBe(1);
    expect(sampleValue(text, 'gateway_grpc_requests_total', { method: 'ModelMetadata', code: 'OK' })).toBe(0);
    expect(sampleValue(text, 'gateway_inference_requests_total', { model: 'm', version: '1', outcome: 'success' })).toBe(2);
    expect(sampleValue(text, 'gateway_inference_requests_total', { model: 'm', version: '1', outcome: 'client_error' })).toBe(1);
  });
});

// ModelInfer routes exactly like REST: model_version, else metadata x-model-version (name or
// alias), else the sticky metadata hashed onto the weights, else the weighted split; and the
// fallback answers a routed request whose version cannot load.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sampleValue, startGateway, type RunningGateway } from '../support/harness.js';
import { doubler, garbage, tripler } from '../support/models.js';
import { startGrpc, type CallResult, type GrpcTestClient } from './grpc-client.js';

const registry = `
models:
  m:
    versions:
      "1": { uri: a.onnx, weight: 1 }
      "2": { uri: b.onnx, weight: 1 }
    aliases: { canary: "2" }
    sticky: x-user-id
  f:
    versions:
      "1": { uri: a.onnx, weight: 0 }
      "2": { uri: bad.onnx, weight: 1 }
    fallback: "1"
  s:
    versions:
      "1": { uri: a.onnx, weight: 1 }
      "2": { uri: b.onnx, weight: 0, shadow: 1 }
      "3": { uri: a.onnx, weight: 0, shadow: 1 }
`;

type Infer = { model_version: string; outputs: Array<{ contents: { fp32_contents: number[] } }> };

let gw: RunningGateway;
let g: GrpcTestClient;
/** The weighted split's uniform draw: below 0.5 picks version 1, above it version 2. */
let draw = 0.25;
beforeAll(async () => {
  gw = await startGateway({ registry, files: { 'a.onnx': doubler, 'b.onnx': tripler, 'bad.onnx': garbage }, route: { random: () => draw } });
  g = await startGrpc(gw);
});
afterAll(async () => {
  await g?.close();
  await gw?.close();
});

const x = (value: number) => ({ name: 'x', datatype: 'FP32', shape: [1, 1], contents: { fp32_contents: [value] } });

async function infer(model: string, extra: object = {}, metadata: Record<string, string> = {}): Promise<CallResult<Infer>> {
  return g.call<Infer>('ModelInfer', { model_name: model, inputs: [x(10)], ...extra }, { metadata });
}

/** Which version answered, checked three ways: the response field, the metadata, the numbers. */
function answeredBy(res: CallResult<Infer>): string {
  expect(res.error).toBeUndefined();
  const r = res.response as Infer;
  expect(res.headers['x-model-version']).toBe(r.model_version);
  expect(r.outputs[0]?.contents.fp32_contents).toEqual([r.model_version === '1' ? 20 : 30]);
  return r.model_version;
}

describe('gRPC ModelInfer version choice', () => {
  it('takes model_version, then metadata x-model-version (a name or an alias), before the split', async () => {
    draw = 0.25;
    expect(answeredBy(await infer('m', { model_version: '2' }))).toBe('2');
    expect(answeredBy(await infer('m', {}, { 'x-model-version': 'canary' }))).toBe('2');
    expect(answeredBy(await infer('m', {}, { 'x-model-version': '2' }))).toBe('2');
    draw = 0.75;
    expect(answeredBy(await infer('m', { model_version: '1' }, { 'x-model-version': 'canary' }))).toBe('1');
  });

  it('follows the weighted split when nothing else decides', async () => {
    draw = 0.25;
    expect(answeredBy(await infer('m'))).toBe('1');
    draw = 0.75;
    expect(answeredBy(await infer('m'))).toBe('2');
  });

  it('hashes the sticky metadata onto the weights: the same caller gets the version REST gives it, every time', async () => {
    const seen = new Set<string>();
    for (let i = 0; i < 16; i++) {
      const user = `user-${i}`;
      const rest = await gw.post('/v2/models/m/infer', { inputs: [{ name: 'x', shape: [1, 1], datatype: 'FP32', data: [10] }] }, { 'x-user-id': user });
      for (const d of [0.01, 0.99]) {
        draw = d; // the draw must not matter for a sticky caller
        expect(answeredBy(await infer('m', {}, { 'x-user-id': user })), user).toBe(rest.body.model_version);
      }
      seen.add(rest.body.model_version as string);
    }
    expect([...seen].sort()).toEqual(['1', '2']);
  });

  it('serves the fallback when the routed version cannot load, and says so in the metadata', async () => {
    const res = await infer('f');
    expect(answeredBy(res)).toBe('1');
    expect([res.headers['x-model-name'], res.headers['x-model-fallback-from']]).toEqual(['f', '2']);
  });

  it('never falls back for an explicitly requested version: UNAVAILABLE with a retry hint', async () => {
    const res = await infer('f', { model_version: '2' });
    expect(res.error?.code).toBe(14);
    expect(Number(res.trailers['retry-after'])).toBeGreaterThan(0);
    expect([res.trailers['x-model-version'], res.trailers['x-error-code']]).toEqual(['2', 'MODEL_UNAVAILABLE']);
  });

  it('copies raw gRPC inputs to shadow versions like REST ones (typed storage reused as is)', async () => {
    const res = await g.call<{ raw_output_contents: Buffer[] }>('ModelInfer', {
      model_name: 's',
      inputs: [{ name: 'x', datatype: 'FP32', shape: [2, 1] }],
      raw_input_contents: [Buffer.from(Float32Array.of(1, 2).buffer)],
    });
    expect(res.error).toBeUndefined();
    await gw.gateway.shadow.idle();
    const text = (await gw.get('/metrics')).text;
    expect(sampleValue(text, 'gateway_shadow_requests_total', { model: 's', version: '2', outcome: 'mismatch' })).toBe(1);
    expect(sampleValue(text, 'gateway_shadow_requests_total', { model: 's', version: '3', outcome: 'match' })).toBe(1);
  });
});

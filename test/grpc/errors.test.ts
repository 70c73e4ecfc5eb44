// Errors over gRPC: each catalogue class as its status code, with the REST message text and no
// internal detail; the retry hint in metadata; the receive limit; the client's deadline.
import { status as Status, Metadata } from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { ERROR_CATALOGUE, GatewayError, type ErrorCode } from '../../src/errors/catalogue.js';
import type { SessionFactory } from '../../src/inference/session.js';
import { GRPC_STATUS_OF_HTTP, toServiceError } from '../../src/grpc/status.js';
import { countingFactory } from '../support/counting-factory.js';
import { sampleValue, type RunningGateway } from '../support/harness.js';
import { doubler, failsOnOdd, garbage } from '../support/models.js';
import { f32Bytes, gatewayPerTest, type GrpcTestClient } from './grpc-client.js';

const EXPECTED: Record<ErrorCode, Status> = {
  BAD_REQUEST: Status.INVALID_ARGUMENT,
  MALFORMED_JSON: Status.INVALID_ARGUMENT,
  INVALID_INPUT: Status.INVALID_ARGUMENT,
  UNAUTHORIZED: Status.UNAUTHENTICATED,
  FORBIDDEN: Status.PERMISSION_DENIED,
  NOT_FOUND: Status.NOT_FOUND,
  MODEL_NOT_FOUND: Status.NOT_FOUND,
  VERSION_NOT_FOUND: Status.NOT_FOUND,
  METHOD_NOT_ALLOWED: Status.UNIMPLEMENTED,
  PAYLOAD_TOO_LARGE: Status.RESOURCE_EXHAUSTED,
  LIMIT_EXCEEDED: Status.RESOURCE_EXHAUSTED,
  TOO_MANY_REQUESTS: Status.RESOURCE_EXHAUSTED,
  OVERLOADED: Status.UNAVAILABLE,
  MODEL_UNAVAILABLE: Status.UNAVAILABLE,
  STORAGE_ERROR: Status.UNAVAILABLE,
  INFERENCE_FAILED: Status.INTERNAL,
  TIMEOUT: Status.DEADLINE_EXCEEDED,
  INTERNAL: Status.INTERNAL,
};

describe('the status table', () => {
  it('maps every catalogue code explicitly (no fallback guess), with the public message and retry hint', () => {
    for (const [code, entry] of Object.entries(ERROR_CATALOGUE) as Array<[ErrorCode, (typeof ERROR_CATALOGUE)[ErrorCode]]>) {
      expect(GRPC_STATUS_OF_HTTP[entry.status], `${code} (HTTP ${entry.status}) has a row`).toBeDefined();
      const metadata = new Metadata();
      const mapped = toServiceError(new GatewayError(code, 'secret /srv/path detail', { retryAfterSeconds: 7 }), metadata);
      expect(mapped.serviceError.code, code).toBe(EXPECTED[code]);
      expect(mapped.serviceError.details).toBe(entry.expose ? 'secret /srv/path detail' : entry.publicMessage);
      expect([metadata.get('retry-after')[0], metadata.get('x-error-code')[0]]).toEqual(['7', code]);
    }
    const crash = toServiceError(new TypeError('x is undefined at /app/src/y.ts:1'), new Metadata());
    expect([crash.serviceError.code, crash.serviceError.details]).toEqual([Status.INTERNAL, 'internal error']);
  });
});

const start = gatewayPerTest();

const registry = `
models:
  m:
    versions:
      "1": { uri: a.onnx, weight: 1 }
      "2": { uri: bad.onnx, weight: 0 }
  odd:
    versions: { "1": { uri: odd.onnx, weight: 1 } }
`;
const files = { 'a.onnx': doubler, 'bad.onnx': garbage, 'odd.onnx': failsOnOdd };
const input = (shape: number[], values: number[]) => ({ name: 'x', datatype: 'FP32', shape, contents: { fp32_contents: values } });

/** The gRPC status and details next to the REST status and body for the same request. */
async function both(gw: RunningGateway, g: GrpcTestClient, model: string, version: string | undefined, inputs: Array<ReturnType<typeof input>>) {
  const grpcRes = await g.call('ModelInfer', { model_name: model, model_version: version ?? '', inputs });
  const path = version === undefined ? `/v2/models/${model}/infer` : `/v2/models/${model}/versions/${version}/infer`;
  const rest = await gw.post<{ error: string; code: string }>(path, {
    inputs: inputs.map((i) => ({ name: i.name, datatype: i.datatype, shape: i.shape, data: i.contents.fp32_contents })),
  });
  return { grpc: [grpcRes.error?.code, grpcRes.error?.details, grpcRes.trailers['x-error-code']], rest: [rest.status, rest.body.error, rest.body.code], res: grpcRes };
}

describe('gRPC errors from a real gateway', () => {
  it('answers each class with its status and the REST message: 400, 404, 413, 500, 503', async () => {
    const { gw, g } = await start({ registry, files });
    const cases: Array<[string, string | undefined, Array<ReturnType<typeof input>>, Status, number]> = [
      ['m', undefined, [input([1, 2], [1, 2])], Status.INVALID_ARGUMENT, 400],
      ['nope', undefined, [input([1, 1], [1])], Status.NOT_FOUND, 404],
      ['m', '9', [input([1, 1], [1])], Status.NOT_FOUND, 404],
      ['m', undefined, [input([2 ** 25, 1], [])], Status.RESOURCE_EXHAUSTED, 413],
      ['odd', undefined, [input([3], [1, 2, 3])], Status.INTERNAL, 500],
      ['m', '2', [input([1, 1], [1])], Status.UNAVAILABLE, 503],
    ];
    for (const [model, version, inputs, code, http] of cases) {
      const { grpc, rest, res } = await both(gw, g, model, version, inputs);
      expect(rest[0], `${model}/${version}`).toBe(http);
      expect(grpc, `${model}/${version}`).toEqual([code, rest[1], rest[2]]);
      expect(String(grpc[1])).not.toMatch(/\bat \S+:\d+|\/tmp\/|\.ts\b|\.onnx\b/);
      if (http === 503) expect(Number(res.trailers['retry-after'])).toBeGreaterThan(0);
      expect(res.trailers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    }
    const noModel = await g.call('ModelInfer', { inputs: [input([1, 1], [1])] });
    expect([noModel.error?.code, noModel.error?.details]).toEqual([Status.INVALID_ARGUMENT, 'invalid request: model_name: name the model']);
  });

  it('refuses a message over the receive limit (MAX_BODY_BYTES) with RESOURCE_EXHAUSTED', async () => {
    const { g } = await start({ registry, files }, { maxMessageBytes: 4096 });
    const small = await g.call('ModelInfer', { model_name: 'm', inputs: [{ name: 'x', datatype: 'FP32', shape: [100, 1] }], raw_input_contents: [f32Bytes(new Array(100).fill(1))] });
    expect(small.error).toBeUndefined();
    const big = await g.call('ModelInfer', { model_name: 'm', inputs: [{ name: 'x', datatype: 'FP32', shape: [2000, 1] }], raw_input_contents: [f32Bytes(new Array(2000).fill(1))] });
    expect(big.error?.code).toBe(Status.RESOURCE_EXHAUSTED);
  });

  it('honours the client deadline: DEADLINE_EXCEEDED, and the model never runs for that call', async () => {
    const counting = countingFactory();
    let runs = 0;
    const factory: SessionFactory = {
      async create(file) {
        const s = await counting.create(file);
        return { ...s, signature: s.signature, run: (feeds, outs) => (runs++, s.run(feeds, outs)), release: () => s.release() };
      },
    };
    const { gw, g } = await start({ registry, files, sessionFactory: factory });
    counting.delayMs = 1500; // the first load of m/1 is slow; the call gives up after 300 ms
    const started = Date.now();
    const late = await g.call('ModelInfer', { model_name: 'm', inputs: [input([1, 1], [1])] }, { deadlineMs: 300 });
    expect(late.error?.code).toBe(Status.DEADLINE_EXCEEDED);
    expect(Date.now() - started).toBeLessThan(1200);
    await new Promise((r) => setTimeout(r, 1800)); // the load finishes; the abandoned call must not run
    expect([counting.created.length, runs]).toEqual([1, 0]);
    const text = (await gw.get('/metrics')).text;
    expect(sampleValue(text, 'gateway_grpc_requests_total', { method: 'ModelInfer', code: 'DEADLINE_EXCEEDED' })).toBe(1);
    expect(sampleValue(text, 'gateway_inference_requests_total', { model: 'm', version: '1', outcome: 'client_error' })).toBe(1);
    expect(sampleValue(text, 'gateway_inference_requests_total', { model: 'm', version: '1', outcome: 'server_error' })).toBe(0);
    const next = await g.call('ModelInfer', { model_name: 'm', inputs: [input([1, 1], [1])] }, { deadlineMs: 5000 });
    expect([next.error, runs]).toEqual([undefined, 1]);
  });
});

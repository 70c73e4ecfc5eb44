// Tensors over gRPC: every element type both as typed contents and as raw little-endian bytes,
// 64-bit integers beyond 2^53 exact, BYTES length-prefixed, and the checks REST makes, with the
// same message text.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeInputs } from '../../src/inference/codec.js';
import { identityModel } from '../../tools/onnx-builder.js';
import { startGateway, type RunningGateway } from '../support/harness.js';
import { startGrpc, type GrpcTestClient } from './grpc-client.js';

const TYPES = { i64: 'int64', u64: 'uint64', str: 'string', bool: 'bool', i8: 'int8', u16: 'uint16', f16: 'float16', f64: 'float64', i32: 'int32' } as const;
const registry = `models:\n${Object.keys(TYPES)
  .map((m) => `  ${m}:\n    versions: { "1": { uri: ${m}.onnx, weight: 1 } }\n`)
  .join('')}`;
const files = Object.fromEntries(Object.entries(TYPES).map(([m, t]) => [`${m}.onnx`, identityModel(t)]));

type Out = { name: string; datatype: string; shape: string[]; contents: Record<string, unknown[]> | null };
type Infer = { outputs: Out[]; raw_output_contents: Buffer[] };

let gw: RunningGateway;
let g: GrpcTestClient;
beforeAll(async () => {
  gw = await startGateway({ registry, files });
  g = await startGrpc(gw);
});
afterAll(async () => {
  await g?.close();
  await gw?.close();
});

async function typed(model: string, datatype: string, contents: Record<string, unknown[]>, n: number) {
  return g.call<Infer>('ModelInfer', { model_name: model, inputs: [{ name: 'in', datatype, shape: [n], contents }] });
}
async function raw(model: string, datatype: string, bytes: Uint8Array, n: number) {
  return g.call<Infer>('ModelInfer', { model_name: model, inputs: [{ name: 'in', datatype, shape: [n] }], raw_input_contents: [Buffer.from(bytes)] });
}
const bytesOf = (a: ArrayBufferView) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

describe('gRPC typed contents', () => {
  it('carries INT64 and UINT64 beyond 2^53 exactly (decimal strings through proto-loader)', async () => {
    const i64 = ['9223372036854775807', '-9223372036854775808', '9007199254740993', '-5'];
    const a = await typed('i64', 'INT64', { int64_contents: i64 }, 4);
    expect(a.response?.outputs[0]?.contents?.int64_contents).toEqual(i64);
    const u64 = ['18446744073709551615', '9007199254740993', '0'];
    const b = await typed('u64', 'UINT64', { uint64_contents: u64 }, 3);
    expect(b.response?.outputs[0]?.contents?.uint64_contents).toEqual(u64);
  });

  it('carries BYTES, BOOL, INT8, UINT16, INT32 and FP64 in their contents fields', async () => {
    const strings = ['héllo', '', 'zürich ✓'];
    const s = await typed('str', 'BYTES', { bytes_contents: strings.map((x) => Buffer.from(x)) }, 3);
    expect((s.response?.outputs[0]?.contents?.bytes_contents as Buffer[]).map((b) => b.toString('utf8'))).toEqual(strings);
    expect((await typed('bool', 'BOOL', { bool_contents: [true, false, true] }, 3)).response?.outputs[0]?.contents?.bool_contents).toEqual([true, false, true]);
    expect((await typed('i8', 'INT8', { int_contents: [-128, 127, 5] }, 3)).response?.outputs[0]?.contents?.int_contents).toEqual([-128, 127, 5]);
    expect((await typed('u16', 'UINT16', { uint_contents: [65535, 1] }, 2)).response?.outputs[0]?.contents?.uint_contents).toEqual([65535, 1]);
    expect((await typed('i32', 'INT32', { int_contents: [-(2 ** 31), 2 ** 31 - 1] }, 2)).response?.outputs[0]?.contents?.int_contents).toEqual([-(2 ** 31), 2 ** 31 - 1]);
    expect((await typed('f64', 'FP64', { fp64_contents: [0.1, -1e300] }, 2)).response?.outputs[0]?.contents?.fp64_contents).toEqual([0.1, -1e300]);
  });

  it('answers FP16 outputs raw, since FP16 has no contents field', async () => {
    const res = await raw('f16', 'FP16', bytesOf(Uint16Array.of(0x3c00, 0xc000)), 2);
    expect(res.response?.outputs[0]).toMatchObject({ datatype: 'FP16', contents: null });
    expect([...new Uint16Array(Uint8Array.from(res.response?.raw_output_contents[0] as Buffer).buffer)]).toEqual([0x3c00, 0xc000]);
  });
});

describe('gRPC raw contents', () => {
  it('round-trips INT64 beyond 2^53, BYTES length-prefixed and BOOL bytes unchanged', async () => {
    const i64 = BigInt64Array.of(2n ** 63n - 1n, -(2n ** 63n), 2n ** 53n + 1n);
    const a = await raw('i64', 'INT64', bytesOf(i64), 3);
    expect(a.response?.raw_output_contents[0]?.equals(Buffer.from(bytesOf(i64)))).toBe(true);
    const strs = Buffer.concat([Buffer.from([2, 0, 0, 0]), Buffer.from('hi'), Buffer.from([0, 0, 0, 0]), Buffer.from([3, 0, 0, 0]), Buffer.from('✓')]);
    const b = await raw('str', 'BYTES', strs, 3);
    expect(b.response?.raw_output_contents[0]?.equals(strs)).toBe(true);
    const c = await raw('bool', 'BOOL', Uint8Array.of(1, 0, 1), 3);
    expect([...(c.response?.raw_output_contents[0] as Buffer)]).toEqual([1, 0, 1]);
  });
});

describe('gRPC tensor checks', () => {
  const details = async (p: Promise<{ error?: { code: number; details: string } }>) => {
    const { error } = await p;
    return [error?.code, error?.details];
  };

  it('refuses a wrong datatype with INVALID_ARGUMENT and the same message as REST', async () => {
    const rest = await gw.post<{ error: string }>('/v2/models/i64/infer', { inputs: [{ name: 'in', shape: [1], datatype: 'FP32', data: [1] }] });
    expect(rest.status).toBe(400);
    expect(await details(typed('i64', 'FP32', { fp32_contents: [1] }, 1))).toEqual([3, rest.body.error]);
  });

  it('refuses counts, fields, ranges and encodings that do not fit, naming the input', async () => {
    expect(await details(typed('i64', 'INT64', { int64_contents: ['1', '2'] }, 3))).toEqual([3, 'input "in": shape [3] needs 3 values, got 2']);
    expect(await details(typed('i64', 'INT64', { int64_contents: [], fp32_contents: [1] }, 1))).toEqual([
      3,
      'input "in": INT64 data goes in contents.int64_contents, not contents.fp32_contents',
    ]);
    expect(await details(typed('i8', 'INT8', { int_contents: [300] }, 1))).toEqual([3, 'input "in" (int8): element 0: 300 is out of range for int8']);
    expect((await details(typed('f16', 'FP16', { fp32_contents: [1] }, 1)))[1]).toContain('send it in raw_input_contents');
    expect((await details(typed('str', 'BYTES', { bytes_contents: [Buffer.from([0xff, 0xfe])] }, 1)))[1]).toContain('not valid UTF-8');
    expect(await details(raw('i64', 'INT64', new Uint8Array(12), 2))).toEqual([3, 'input "in": 2 int64 elements need 16 bytes, got 12']);
    expect(await details(raw('bool', 'BOOL', Uint8Array.of(2), 1))).toEqual([3, 'input "in": BOOL element 0 is byte 2; only 0 and 1 are booleans']);
    const both = g.call('ModelInfer', {
      model_name: 'i32',
      inputs: [{ name: 'in', datatype: 'INT32', shape: [1], contents: { int_contents: [1] } }],
      raw_input_contents: [Buffer.alloc(4)],
    });
    expect((await details(both))[1]).toContain('contents and raw_input_contents are both set');
  });
});

describe('codec RawTensor input kind', () => {
  const signature = { inputs: [{ name: 'in', isTensor: true as const, type: 'int64' as const, shape: ['n'] }], outputs: [] };
  it('passes typed data through after checking datatype and element count against the shape', () => {
    const data = BigInt64Array.of(1n, 2n);
    expect(encodeInputs(signature, new Map([['in', { kind: 'raw', shape: [2], datatype: 'INT64', data }]])).in?.data).toBe(data);
    expect(() => encodeInputs(signature, new Map([['in', { kind: 'raw', shape: [3], datatype: 'INT64', data }]]))).toThrow('shape [3] needs 3 values, got 2');
    expect(() => encodeInputs(signature, new Map([['in', { kind: 'raw', shape: [2], datatype: 'INT32', data: Int32Array.of(1, 2) }]]))).toThrow(
      'datatype INT32 does not match the model',
    );
  });
});

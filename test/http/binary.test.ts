// The V2 binary data extension through a real gateway. Request bytes are written out by hand
// (hex literals and DataView), never with the gateway's own encoder, so the wire format itself
// is what is checked.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ORT_TYPES, V2_DATATYPE, type OrtType } from '../../src/inference/dtypes.js';
import { buildModel, identityModel } from '../../tools/onnx-builder.js';
import { startGateway, type RunningGateway } from '../support/harness.js';

const hex = (s: string) => Uint8Array.from(s.replace(/\s+/g, '').match(/../g) ?? [], (b) => parseInt(b, 16));
function le(bytesPer: number, count: number, write: (view: DataView, i: number) => void): Uint8Array {
  const out = new Uint8Array(bytesPer * count);
  const view = new DataView(out.buffer);
  for (let i = 0; i < count; i++) write(view, i);
  return out;
}

/** Per dtype: the input's raw little-endian bytes, its element count, and what JSON makes of it. */
const WIRE: Record<OrtType, { bytes: Uint8Array; count: number; json: unknown[] }> = {
  // 1.5 = 0x3fc00000, -2 = 0xc0000000, then NaN and +Infinity
  float32: { bytes: hex('0000c03f 000000c0 0000c07f 0000807f'), count: 4, json: [1.5, -2, 'NaN', 'Infinity'] },
  float64: { bytes: le(8, 3, (v, i) => v.setFloat64(i * 8, [0.1, -1e300, -Infinity][i] ?? 0, true)), count: 3, json: [0.1, -1e300, '-Infinity'] },
  // IEEE half: 1.0 = 0x3c00, -2.0 = 0xc000, 65504 = 0x7bff
  float16: { bytes: hex('003c 00c0 ff7b'), count: 3, json: [1, -2, 65504] },
  int8: { bytes: hex('80 00 7f ff'), count: 4, json: [-128, 0, 127, -1] },
  int16: { bytes: hex('0080 ff7f 0100'), count: 3, json: [-32768, 32767, 1] },
  int32: { bytes: hex('ffffffff 00000080 2a000000'), count: 3, json: [-1, -2147483648, 42] },
  int64: { bytes: hex('0000000000000080 ffffffffffffff7f 0500000000000000'), count: 3, json: ['-9223372036854775808', '9223372036854775807', 5] },
  uint8: { bytes: hex('00 ff 07'), count: 3, json: [0, 255, 7] },
  uint16: { bytes: hex('ffff 3412'), count: 2, json: [65535, 0x1234] },
  uint32: { bytes: hex('ffffffff 01000000'), count: 2, json: [4294967295, 1] },
  uint64: { bytes: hex('ffffffffffffffff 2a00000000000000'), count: 2, json: ['18446744073709551615', 42] },
  bool: { bytes: hex('01 00 01'), count: 3, json: [true, false, true] },
  // Each BYTES element: a 4-byte little-endian length, then UTF-8: "hé", "", "ab"
  string: { bytes: hex('03000000 68c3a9 00000000 02000000 6162'), count: 3, json: ['hé', '', 'ab'] },
};

/** A request: JSON header then the given binary parts, with the header length header. */
function frame(header: unknown, ...parts: Uint8Array[]): { body: Uint8Array; headerLength: number } {
  const head = new TextEncoder().encode(JSON.stringify(header));
  const body = new Uint8Array(head.length + parts.reduce((n, p) => n + p.length, 0));
  body.set(head, 0);
  let at = head.length;
  for (const p of parts) {
    body.set(p, at);
    at += p.length;
  }
  return { body, headerLength: head.length };
}

interface BinaryAnswer {
  status: number;
  headers: Headers;
  /** The JSON (whole body, or the header part of a binary answer). */
  json: Record<string, unknown> & { outputs?: Array<Record<string, unknown>> };
  /** The bytes after the JSON header; empty for a JSON answer. */
  tail: Uint8Array;
}

async function send(gw: RunningGateway, path: string, body: Uint8Array | string, headers: Record<string, string> = {}): Promise<BinaryAnswer> {
  const res = await fetch(`${gw.url}${path}`, { method: 'POST', body, headers: { 'content-type': 'application/octet-stream', ...headers } });
  const bytes = new Uint8Array(await res.arrayBuffer());
  const declared = res.headers.get('inference-header-content-length');
  const split = declared === null ? bytes.length : Number(declared);
  return { status: res.status, headers: res.headers, json: JSON.parse(new TextDecoder().decode(bytes.subarray(0, split))), tail: bytes.subarray(split) };
}

async function sendFramed(gw: RunningGateway, path: string, header: unknown, ...parts: Uint8Array[]): Promise<BinaryAnswer> {
  const { body, headerLength } = frame(header, ...parts);
  return send(gw, path, body, { 'Inference-Header-Content-Length': String(headerLength) });
}

/** sum = a + b and copy = a, over float32 [n]: two inputs and two outputs. */
const addModel = buildModel({
  inputs: [
    { name: 'a', type: 'float32', shape: ['n'] },
    { name: 'b', type: 'float32', shape: ['n'] },
  ],
  outputs: [
    { name: 'sum', type: 'float32', shape: ['n'] },
    { name: 'copy', type: 'float32', shape: ['n'] },
  ],
  nodes: [
    { op: 'Add', inputs: ['a', 'b'], outputs: ['sum'] },
    { op: 'Identity', inputs: ['a'], outputs: ['copy'] },
  ],
});

const f32 = (...values: number[]) => le(4, values.length, (v, i) => v.setFloat32(i * 4, values[i] ?? 0, true));

describe('V2 binary data extension', () => {
  let gw: RunningGateway;
  beforeAll(async () => {
    const files: Record<string, Uint8Array> = { 'add.onnx': addModel };
    let registry = 'models:\n  add:\n    versions: { "1": { uri: add.onnx, weight: 1 } }\n';
    for (const t of ORT_TYPES) {
      files[`${t}.onnx`] = identityModel(t);
      registry += `  id-${t}:\n    versions: { "1": { uri: ${t}.onnx, weight: 1 } }\n`;
    }
    gw = await startGateway({ registry, files, maxBodyBytes: 4096 });
  });
  afterAll(() => gw.close());

  it('lists binary_tensor_data in GET /v2 extensions', async () => {
    expect((await gw.get('/v2')).body).toMatchObject({ extensions: ['binary_tensor_data'] });
  });

  it.each([...ORT_TYPES])('round-trips %s: known bytes in, the same bytes out', async (t) => {
    const { bytes, count } = WIRE[t];
    const datatype = V2_DATATYPE[t];
    const res = await sendFramed(
      gw,
      `/v2/models/id-${t}/infer`,
      { id: 'b1', parameters: { binary_data_output: true }, inputs: [{ name: 'in', shape: [count], datatype, parameters: { binary_data_size: bytes.length } }] },
      bytes,
    );
    expect(res.status, JSON.stringify(res.json)).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/octet-stream');
    expect(res.json).toEqual({
      model_name: `id-${t}`,
      model_version: '1',
      id: 'b1',
      outputs: [{ name: 'out', datatype, shape: [count], parameters: { binary_data_size: bytes.length } }],
    });
    expect(Buffer.from(res.tail).toString('hex')).toBe(Buffer.from(bytes).toString('hex'));
  });

  it.each([...ORT_TYPES])('reads %s bytes as the values JSON writes for them', async (t) => {
    const { bytes, count, json } = WIRE[t];
    const res = await sendFramed(gw, `/v2/models/id-${t}/infer`, { inputs: [{ name: 'in', shape: [count], datatype: V2_DATATYPE[t], parameters: { binary_data_size: bytes.length } }] }, bytes);
    expect(res.status, JSON.stringify(res.json)).toBe(200);
    expect(res.headers.get('inference-header-content-length')).toBeNull();
    expect(res.json.outputs).toEqual([{ name: 'out', datatype: V2_DATATYPE[t], shape: [count], data: json }]);
  });

  it('takes binary and JSON inputs in one request', async () => {
    const res = await sendFramed(
      gw,
      '/v2/models/add/infer',
      {
        inputs: [
          { name: 'a', shape: [3], datatype: 'FP32', data: [1, 2, 3] },
          { name: 'b', shape: [3], datatype: 'FP32', parameters: { binary_data_size: 12 } },
        ],
      },
      f32(10, 20, 30.5),
    );
    expect(res.status, JSON.stringify(res.json)).toBe(200);
    expect(res.json.outputs).toEqual([
      { name: 'sum', datatype: 'FP32', shape: [3], data: [11, 22, 33.5] },
      { name: 'copy', datatype: 'FP32', shape: [3], data: [1, 2, 3] },
    ]);
  });

  it('drops a byte-order mark before the JSON header, as for a JSON body', async () => {
    const header = { inputs: [{ name: 'a', shape: [1], datatype: 'FP32', data: [1] }, { name: 'b', shape: [1], datatype: 'FP32', parameters: { binary_data_size: 4 } }] };
    const head = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(JSON.stringify(header))]);
    const body = Buffer.concat([head, Buffer.from(f32(2))]);
    const res = await send(gw, '/v2/models/add/infer', body, { 'Inference-Header-Content-Length': String(head.length) });
    expect(res.status, JSON.stringify(res.json)).toBe(200);
    expect(res.json.outputs?.[0]).toEqual({ name: 'sum', datatype: 'FP32', shape: [1], data: [3] });
  });

  it('sends only the outputs asked for in binary, in output order', async () => {
    const header = {
      inputs: [
        { name: 'a', shape: [2], datatype: 'FP32', parameters: { binary_data_size: 8 } },
        { name: 'b', shape: [2], datatype: 'FP32', parameters: { binary_data_size: 8 } },
      ],
      outputs: [{ name: 'copy' }, { name: 'sum', parameters: { binary_data: true } }],
    };
    const res = await sendFramed(gw, '/v2/models/add/infer', header, f32(1, 2), f32(0.5, -4));
    expect(res.status, JSON.stringify(res.json)).toBe(200);
    expect(res.json.outputs).toEqual([
      { name: 'copy', datatype: 'FP32', shape: [2], data: [1, 2] },
      { name: 'sum', datatype: 'FP32', shape: [2], parameters: { binary_data_size: 8 } },
    ]);
    expect(Buffer.from(res.tail).toString('hex')).toBe('0000c03f000000c0'); // 1.5, -2
    expect(Number(res.headers.get('inference-header-content-length'))).toBeGreaterThan(0);
  });

  it('sends every output in binary for binary_data_output, unless an output says binary_data: false', async () => {
    const all = await send(
      gw,
      '/v2/models/add/infer',
      JSON.stringify({ parameters: { binary_data_output: true }, inputs: [{ name: 'a', shape: [1], datatype: 'FP32', data: [2] }, { name: 'b', shape: [1], datatype: 'FP32', data: [3] }] }),
    );
    expect(all.status).toBe(200);
    expect(all.json.outputs).toEqual([
      { name: 'sum', datatype: 'FP32', shape: [1], parameters: { binary_data_size: 4 } },
      { name: 'copy', datatype: 'FP32', shape: [1], parameters: { binary_data_size: 4 } },
    ]);
    expect(Buffer.from(all.tail).toString('hex')).toBe(Buffer.from(f32(5, 2)).toString('hex'));

    const oneBack = await send(
      gw,
      '/v2/models/add/infer',
      JSON.stringify({
        parameters: { binary_data_output: true },
        inputs: [{ name: 'a', shape: [1], datatype: 'FP32', data: [2] }, { name: 'b', shape: [1], datatype: 'FP32', data: [3] }],
        outputs: [{ name: 'sum', parameters: { binary_data: false } }, { name: 'copy' }],
      }),
    );
    expect(oneBack.json.outputs).toEqual([
      { name: 'sum', datatype: 'FP32', shape: [1], data: [5] },
      { name: 'copy', datatype: 'FP32', shape: [1], parameters: { binary_data_size: 4 } },
    ]);
    expect(Buffer.from(oneBack.tail).toString('hex')).toBe(Buffer.from(f32(2)).toString('hex'));
  });

  const a3 = (size: number) => ({ inputs: [{ name: 'in', shape: [3], datatype: 'FP32', parameters: { binary_data_size: size } }] });

  it.each<[string, () => Promise<BinaryAnswer>, string, RegExp]>([
    ['binary_data_size does not match the shape', () => sendFramed(gw, '/v2/models/id-float32/infer', a3(8), f32(1, 2)), 'INVALID_INPUT', /input "in": 3 float32 elements need 12 bytes, got 8/],
    [
      'an INT64 binary_data_size counted at 4 bytes per element',
      () => sendFramed(gw, '/v2/models/id-int64/infer', { inputs: [{ name: 'in', shape: [3], datatype: 'INT64', parameters: { binary_data_size: 12 } }] }, hex('0100000000000000 0200000000000000').subarray(0, 12)),
      'INVALID_INPUT',
      /input "in": 3 int64 elements need 24 bytes, got 12/,
    ],
    [
      'the header length is beyond the body',
      () => send(gw, '/v2/models/id-float32/infer', frame(a3(12), f32(1, 2, 3)).body, { 'Inference-Header-Content-Length': '5000' }),
      'BAD_REQUEST',
      /Inference-Header-Content-Length is 5000 but the body has only \d+ bytes/,
    ],
    ['bytes are left over', () => sendFramed(gw, '/v2/models/id-float32/infer', a3(12), f32(1, 2, 3, 4)), 'BAD_REQUEST', /binary part has 16 bytes but the inputs' binary_data_size add up to 12/],
    ['sizes go beyond the bytes', () => sendFramed(gw, '/v2/models/id-float32/infer', a3(12), f32(1, 2)), 'BAD_REQUEST', /binary_data_size 12 goes beyond the binary part \(8 bytes left\)/],
    [
      'the header length is not a number',
      () => send(gw, '/v2/models/id-float32/infer', frame(a3(12), f32(1, 2, 3)).body, { 'Inference-Header-Content-Length': '12abc' }),
      'BAD_REQUEST',
      /must be a byte count/,
    ],
    ['the header is cut inside its JSON', () => send(gw, '/v2/models/id-float32/infer', frame(a3(12), f32(1, 2, 3)).body, { 'Inference-Header-Content-Length': '20' }), 'MALFORMED_JSON', /the JSON header is not valid JSON/],
    ['binary_data_size without the header', () => send(gw, '/v2/models/id-float32/infer', JSON.stringify(a3(12))), 'BAD_REQUEST', /has parameters.binary_data_size but the request has no binary part/],
    [
      'both data and binary_data_size',
      () => sendFramed(gw, '/v2/models/id-float32/infer', { inputs: [{ name: 'in', shape: [3], datatype: 'FP32', data: [1, 2, 3], parameters: { binary_data_size: 12 } }] }, f32(1, 2, 3)),
      'INVALID_INPUT',
      /has both data and parameters.binary_data_size/,
    ],
    ['a negative binary_data_size', () => sendFramed(gw, '/v2/models/id-float32/infer', a3(-12), f32(1, 2, 3)), 'INVALID_INPUT', /binary_data_size must be a byte count, got -12/],
    [
      'a BOOL byte that is not 0 or 1',
      () => sendFramed(gw, '/v2/models/id-bool/infer', { inputs: [{ name: 'in', shape: [2], datatype: 'BOOL', parameters: { binary_data_size: 2 } }] }, hex('0102')),
      'INVALID_INPUT',
      /BOOL element 1 is byte 2/,
    ],
    [
      'a BYTES length prefix beyond its bytes',
      () => sendFramed(gw, '/v2/models/id-string/infer', { inputs: [{ name: 'in', shape: [1], datatype: 'BYTES', parameters: { binary_data_size: 6 } }] }, hex('09000000 6162')),
      'INVALID_INPUT',
      /claims 9 bytes, only 2 remain/,
    ],
    [
      'a datatype that is not the model\'s',
      () => sendFramed(gw, '/v2/models/id-float32/infer', { inputs: [{ name: 'in', shape: [3], datatype: 'INT32', parameters: { binary_data_size: 12 } }] }, f32(1, 2, 3)),
      'INVALID_INPUT',
      /datatype INT32 does not match the model's FP32/,
    ],
    ['binary_data_output that is not a boolean', () => send(gw, '/v2/models/id-float32/infer', JSON.stringify({ parameters: { binary_data_output: 'yes' }, inputs: [{ name: 'in', shape: [1], datatype: 'FP32', data: [1] }] })), 'BAD_REQUEST', /parameters.binary_data_output must be true or false/],
  ])('is a 400 with a code when %s', async (_what, call, code, message) => {
    const res = await call();
    expect(res.status).toBe(400);
    expect(res.json).toEqual({ error: expect.stringMatching(message), code });
    expect(res.headers.get('content-type')).toMatch(/application\/json/);
  });

  it('holds a binary body to MAX_BODY_BYTES (413)', async () => {
    const big = new Uint8Array(1100 * 4);
    const res = await sendFramed(gw, '/v2/models/id-float32/infer', { inputs: [{ name: 'in', shape: [1100], datatype: 'FP32', parameters: { binary_data_size: big.length } }] }, big);
    expect(res.status).toBe(413);
    expect(res.json).toMatchObject({ code: 'PAYLOAD_TOO_LARGE' });
  });

  it('leaves a JSON client as it was: JSON in, JSON out, no binary header', async () => {
    const res = await gw.post('/v2/models/add/infer', { id: 'j', inputs: [{ name: 'a', shape: [2], datatype: 'FP32', data: [1, 2] }, { name: 'b', shape: [2], datatype: 'FP32', data: [3, 4] }] });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/application\/json/);
    expect(res.headers.get('inference-header-content-length')).toBeNull();
    expect(res.body).toEqual({
      model_name: 'add',
      model_version: '1',
      id: 'j',
      outputs: [
        { name: 'sum', datatype: 'FP32', shape: [2], data: [4, 6] },
        { name: 'copy', datatype: 'FP32', shape: [2], data: [1, 2] },
      ],
    });
  });
});

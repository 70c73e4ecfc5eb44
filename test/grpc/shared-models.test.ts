// Real published models (../shared/models) over gRPC, typed and raw, against their expected
// outputs. Runs wherever that folder exists (CI has it); the own-model tests beside this file
// cover the same paths without it.
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SHARED_MODELS, startGateway, type RunningGateway } from '../support/harness.js';
import { loadShared as load, sharedModel as uri } from '../support/shared-models.js';
import { startGrpc, type GrpcTestClient } from './grpc-client.js';

type Fixture = { type: 'float32' | 'int64' | 'string'; dims: number[]; data: Array<number | string> };
type Tensors = Record<string, Fixture>;
type Out = { name: string; datatype: string; shape: string[]; contents: Record<string, unknown[]> | null };
type Infer = { model_version: string; outputs: Out[]; raw_output_contents: Buffer[] };

const DATATYPE = { float32: 'FP32', int64: 'INT64', string: 'BYTES' } as const;

/** Encoded here by hand (not with the gateway's raw-tensor code), so the test checks the format. */
function rawBytes(f: Fixture): Buffer {
  if (f.type === 'float32') return Buffer.from(Float32Array.from(f.data as number[]).buffer);
  if (f.type === 'int64') return Buffer.from(BigInt64Array.from(f.data, (v) => BigInt(v)).buffer);
  return Buffer.concat(
    (f.data as string[]).flatMap((s) => {
      const len = Buffer.alloc(4);
      len.writeUInt32LE(Buffer.byteLength(s));
      return [len, Buffer.from(s)];
    }),
  );
}

function fromRaw(datatype: string, b: Buffer): Array<number | string> {
  const out: Array<number | string> = [];
  if (datatype === 'FP32') for (let i = 0; i < b.length; i += 4) out.push(b.readFloatLE(i));
  else if (datatype === 'INT64') for (let i = 0; i < b.length; i += 8) out.push(Number(b.readBigInt64LE(i)));
  else throw new Error(`no decoder for ${datatype}`);
  return out;
}

function typedContents(f: Fixture): Record<string, unknown[]> {
  if (f.type === 'float32') return { fp32_contents: f.data };
  if (f.type === 'int64') return { int64_contents: f.data.map(String) };
  return { bytes_contents: (f.data as string[]).map((s) => Buffer.from(s)) };
}

function request(model: string, inputs: Tensors, raw: boolean) {
  const entries = Object.entries(inputs);
  return {
    model_name: model,
    inputs: entries.map(([name, f]) => ({ name, datatype: DATATYPE[f.type], shape: f.dims, ...(raw ? {} : { contents: typedContents(f) }) })),
    raw_input_contents: raw ? entries.map(([, f]) => rawBytes(f)) : [],
  };
}

/** name → flat values, read from typed contents or raw bytes, whichever the response used. */
function outputs(r: Infer): Record<string, { datatype: string; shape: number[]; data: Array<number | string> }> {
  return Object.fromEntries(
    r.outputs.map((o, i) => {
      const data = r.raw_output_contents.length > 0
        ? fromRaw(o.datatype, r.raw_output_contents[i] as Buffer)
        : ((o.contents?.fp32_contents?.length ? o.contents.fp32_contents : o.contents?.int64_contents?.map(Number)) as number[]);
      return [o.name, { datatype: o.datatype, shape: o.shape.map(Number), data }];
    }),
  );
}

function expectClose(actual: Array<number | string>, expected: Array<number | string>, what: string): void {
  expect(actual.length, what).toBe(expected.length);
  expected.forEach((e, i) => expect(Math.abs(Number(actual[i]) - Number(e)), `${what}[${i}]`).toBeLessThanOrEqual(1e-4 * Math.max(1, Math.abs(Number(e)))));
}

describe.runIf(existsSync(SHARED_MODELS))('shared real models over gRPC', () => {
  let gw: RunningGateway;
  let g: GrpcTestClient;
  beforeAll(async () => {
    const registry = `
models:
  mnist:
    versions: { "8": { uri: ${uri('mnist-8')}, weight: 1 } }
  topk:
    versions: { "1": { uri: ${uri('onnx-topk')}, weight: 1 } }
  labels:
    versions: { "1": { uri: ${uri('onnx-label-encoder-string-int')}, weight: 1 } }
`;
    gw = await startGateway({ registry, modelRoots: [SHARED_MODELS] });
    g = await startGrpc(gw);
  });
  afterAll(async () => {
    await g?.close();
    await gw?.close();
  });

  for (const raw of [false, true]) {
    const how = raw ? 'raw contents' : 'typed contents';

    it(`mnist-8 returns the expected logits via ${how}`, async () => {
      const cases = load<Array<{ input: Tensors; expected: Tensors }>>('mnist-8/cases.json');
      expect(cases.length).toBe(3);
      for (const c of cases) {
        const res = await g.call<Infer>('ModelInfer', request('mnist', c.input, raw));
        expect(res.error).toBeUndefined();
        const r = res.response as Infer;
        expect(r.raw_output_contents.length).toBe(raw ? 1 : 0);
        const out = outputs(r).Plus214_Output_0;
        expect([out?.datatype, out?.shape]).toEqual(['FP32', [1, 10]]);
        expectClose(out?.data ?? [], c.expected.Plus214_Output_0?.data ?? [], how);
      }
    });

    it(`onnx-topk: FP32 and INT64 in, FP32 and INT64 out via ${how}`, async () => {
      const res = await g.call<Infer>('ModelInfer', request('topk', load<Tensors>('onnx-topk/input.json'), raw));
      const expected = load<Tensors>('onnx-topk/expected.json');
      const out = outputs(res.response as Infer);
      expect(out.indices).toEqual({ datatype: 'INT64', shape: [3, 3], data: expected.indices?.data });
      expect([out.values?.datatype, out.values?.shape]).toEqual(['FP32', [3, 3]]);
      expectClose(out.values?.data ?? [], expected.values?.data ?? [], 'values');
    });

    it(`onnx-label-encoder-string-int: BYTES in, INT64 out via ${how}`, async () => {
      const res = await g.call<Infer>('ModelInfer', request('labels', load<Tensors>('onnx-label-encoder-string-int/input.json'), raw));
      expect(outputs(res.response as Infer)).toEqual({ Y: { datatype: 'INT64', shape: [5], data: [0, 1, 42, 2, 42] } });
    });
  }
});

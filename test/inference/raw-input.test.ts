// encodeInputs with typed-storage inputs (RawTensor: the binary data extension, gRPC raw
// contents): checked against the signature like JSON inputs, the elements passed through as-is.
import { describe, expect, it } from 'vitest';
import { encodeInputs, type InputTensor } from '../../src/inference/codec.js';
import type { Signature } from '../../src/inference/session.js';

const signature: Signature = {
  inputs: [
    { name: 'x', isTensor: true, type: 'float32', shape: ['batch', 3] },
    { name: 'k', isTensor: true, type: 'int64', shape: ['batch'] },
  ],
  outputs: [],
};

function refusal(inputs: ReadonlyMap<string, InputTensor>): string {
  try {
    encodeInputs(signature, inputs);
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error('expected a refusal');
}

describe('encodeInputs with raw inputs', () => {
  it('passes typed storage through untouched, beside a JSON input', () => {
    const data = Float32Array.of(1, 2, 3, 4, 5, 6);
    const feeds = encodeInputs(
      signature,
      new Map<string, InputTensor>([
        ['x', { kind: 'raw', shape: [2, 3], datatype: 'FP32', data }],
        ['k', { shape: [2], values: ['9007199254740993', 7], datatype: 'INT64' }],
      ]),
    );
    expect(feeds.x).toEqual({ type: 'float32', dims: [2, 3], data, borrowed: true }); // the pool copies it rather than detach it
    expect(feeds.x?.data).toBe(data);
    expect(feeds.k?.data).toEqual(BigInt64Array.of(9007199254740993n, 7n));
  });

  it('refuses a datatype, a fixed dimension or an element count the signature does not allow', () => {
    const k: [string, InputTensor] = ['k', { kind: 'raw', shape: [1], datatype: 'INT64', data: BigInt64Array.of(1n) }];
    expect(refusal(new Map([['x', { kind: 'raw', shape: [1, 3], datatype: 'FP64', data: new Float64Array(3) }], k]))).toBe(
      'input "x": datatype FP64 does not match the model\'s FP32',
    );
    expect(refusal(new Map([['x', { kind: 'raw', shape: [1, 4], datatype: 'FP32', data: new Float32Array(4) }], k]))).toMatch(/dimension 1 must be 3/);
    expect(refusal(new Map([['x', { kind: 'raw', shape: [2, 3], datatype: 'FP32', data: new Float32Array(5) }], k]))).toBe(
      'input "x": shape [2, 3] needs 6 values, got 5',
    );
  });
});

import { describe, expect, it } from 'vitest';
import { rawFromTensor, tensorFromRaw } from '../../src/inference/raw-tensor.js';

const bytes = (...b: number[]) => Uint8Array.from(b);

describe('raw tensors (little-endian, BYTES length-prefixed)', () => {
  it('reads known byte patterns for each kind of element', () => {
    expect(Array.from(tensorFromRaw('float32', bytes(0, 0, 0x80, 0x3f, 0, 0, 0, 0xc0), 2, 'x') as Float32Array)).toEqual([1, -2]);
    expect(Array.from(tensorFromRaw('float16', bytes(0x00, 0x3c), 1, 'x') as Uint16Array)).toEqual([0x3c00]);
    expect(Array.from(tensorFromRaw('int64', bytes(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1, 0, 0, 0, 0, 0, 0, 0x80), 2, 'x') as BigInt64Array)).toEqual([
      -1n,
      -(2n ** 63n) + 1n,
    ]);
    expect(Array.from(tensorFromRaw('uint16', bytes(0x34, 0x12), 1, 'x') as Uint16Array)).toEqual([0x1234]);
    expect(Array.from(tensorFromRaw('bool', bytes(1, 0, 1), 3, 'x') as Uint8Array)).toEqual([1, 0, 1]);
    expect(tensorFromRaw('string', bytes(2, 0, 0, 0, 0x61, 0x62, 0, 0, 0, 0, 3, 0, 0, 0, 0xe2, 0x82, 0xac), 3, 'x')).toEqual(['ab', '', '€']);
  });

  it('writes the same byte patterns', () => {
    expect(Array.from(rawFromTensor('float32', Float32Array.of(1, -2)))).toEqual([0, 0, 0x80, 0x3f, 0, 0, 0, 0xc0]);
    expect(Array.from(rawFromTensor('int32', Int32Array.of(-2)))).toEqual([0xfe, 0xff, 0xff, 0xff]);
    expect(Array.from(rawFromTensor('string', ['ab', '€']))).toEqual([2, 0, 0, 0, 0x61, 0x62, 3, 0, 0, 0, 0xe2, 0x82, 0xac]);
    // A view into a larger buffer is written from its own offset.
    const big = Float64Array.of(7, 1.5, 9);
    expect(Array.from(rawFromTensor('float64', big.subarray(1, 2)))).toEqual([0, 0, 0, 0, 0, 0, 0xf8, 0x3f]);
  });

  it('refuses a byte count that does not fit the shape, a bad BOOL byte, and malformed BYTES', () => {
    expect(() => tensorFromRaw('float32', bytes(0, 0, 0x80), 1, 'input "x"')).toThrow(/input "x": 1 float32 elements need 4 bytes, got 3/);
    expect(() => tensorFromRaw('bool', bytes(2), 1, 'x')).toThrow(/byte 2/);
    expect(() => tensorFromRaw('string', bytes(5, 0, 0, 0, 0x61), 1, 'x')).toThrow(/claims 5 bytes/);
    expect(() => tensorFromRaw('string', bytes(1, 0), 1, 'x')).toThrow(/truncated length prefix/);
    expect(() => tensorFromRaw('string', bytes(1, 0, 0, 0, 0x61), 2, 'x')).toThrow(/expected 2 BYTES elements, got 1/);
    expect(() => tensorFromRaw('string', bytes(1, 0, 0, 0, 0xff), 1, 'x')).toThrow(/not valid UTF-8/);
  });

  it('reads from an unaligned slice of a larger message', () => {
    const message = bytes(9, 0, 0, 0x80, 0x3f);
    expect(Array.from(tensorFromRaw('float32', message.subarray(1), 1, 'x') as Float32Array)).toEqual([1]);
  });
});

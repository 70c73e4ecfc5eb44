import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeOutput, encodeInputs, flattenNested, nest } from '../../src/inference/codec.js';
import { type OrtType } from '../../src/inference/dtypes.js';
import { DEFAULT_INPUT_LIMITS, type InputLimits } from '../../src/inference/limits.js';
import type { HostTensor, Signature } from '../../src/inference/session.js';

const small: InputLimits = Object.freeze({ maxRank: 4, maxElementsPerInput: 100, maxElementsPerRequest: 150, maxStringLength: 8 });

/** Calls fn and returns the error it threw (code and message), failing if it returned. */
function thrown(fn: () => unknown): { code?: string; message: string; name: string } {
  try {
    fn();
  } catch (err) {
    return err as { code?: string; message: string; name: string };
  }
  throw new Error('expected an error');
}

function deepArray(levels: number, leaf: unknown = 1): unknown {
  let v: unknown = leaf;
  for (let i = 0; i < levels; i++) v = [v];
  return v;
}

describe('flattenNested', () => {
  it('refuses 20,000 levels of nesting with a 400 naming the rank limit, not a stack overflow', () => {
    const err = thrown(() => flattenNested(deepArray(20_000), 'input "x"'));
    expect(err.code).toBe('INVALID_INPUT');
    expect(err.message).toMatch(/input "x": arrays nest deeper than 32 levels/);
  });

  it('accepts nesting up to the rank limit and refuses one level more', () => {
    expect(flattenNested(deepArray(32, 5), 'v')).toEqual({ shape: Array(32).fill(1), values: Float64Array.of(5) });
    expect(thrown(() => flattenNested(deepArray(5), 'v', small)).message).toMatch(/deeper than 4 levels/);
    expect(flattenNested(deepArray(4), 'v', small).shape).toEqual([1, 1, 1, 1]);
  });

  it('refuses more elements than an input may hold, and still reports a ragged array as ragged', () => {
    const big = Array.from({ length: 11 }, () => Array(10).fill(0));
    const err = thrown(() => flattenNested(big, 'input "x"', small));
    expect(err.code).toBe('LIMIT_EXCEEDED');
    expect(err.message).toBe('input "x": shape [11, 10] has 110 elements; at most 100 are accepted per input');
    // The first path implies 11 x 10, but the array is ragged: that is the caller's real mistake.
    const ragged = [Array(10).fill(0), ...Array.from({ length: 10 }, () => [0])];
    expect(thrown(() => flattenNested(ragged, 'input "x"', small)).message).toBe('input "x": [1] should be an array of 10 (ragged array)');
  });

  it('refuses a string longer than the limit', () => {
    const err = thrown(() => flattenNested([['short', '123456789']], 'input "s"', small));
    expect(err.code).toBe('LIMIT_EXCEEDED');
    expect(err.message).toBe('input "s": element [0][1] is a string of 9 characters; at most 8 are accepted');
    expect(flattenNested(['12345678'], 'v', small).values).toEqual(['12345678']);
  });

  it('names where a ragged array goes wrong, deep inside', () => {
    expect(thrown(() => flattenNested([[[1, 2], [3, 4]], [[5, 6], [7]]], 'v')).message).toBe('v: [1][1] should be an array of 2 (ragged array)');
    expect(thrown(() => flattenNested([[1, 2], [3, [4]]], 'v')).message).toBe('v: [1][1] nests deeper than its siblings (ragged array)');
    expect(thrown(() => flattenNested([[1, 2], 3], 'v')).message).toBe('v: [1] should be an array of 2 (ragged array)');
  });

  it('reads all-number inputs into a Float64Array, and switches to a plain array at the first other element', () => {
    const numbers = flattenNested([[1.5, -0, 3], [4, 5e-320, 6]], 'v');
    expect(numbers.values).toBeInstanceOf(Float64Array);
    expect(Array.from(numbers.values)).toEqual([1.5, -0, 3, 4, 5e-320, 6]);
    const mixed = flattenNested([[1, 2], ['NaN', 4], [true, null]], 'v');
    expect(Array.isArray(mixed.values)).toBe(true);
    expect(mixed.values).toEqual([1, 2, 'NaN', 4, true, null]);
    expect(mixed.shape).toEqual([3, 2]);
  });

  it('keeps row-major order for a 1x3x224x224 image', () => {
    const image = Array.from({ length: 3 }, (_, c) => Array.from({ length: 224 }, (_, y) => Array.from({ length: 224 }, (_, x) => c * 50176 + y * 224 + x)));
    const { shape, values } = flattenNested([image], 'v');
    expect(shape).toEqual([1, 3, 224, 224]);
    expect(values.length).toBe(150_528);
    expect(Array.from(values).every((v, i) => v === i)).toBe(true);
  });
});

describe('nest', () => {
  it('builds deep outputs without recursion', () => {
    const dims = Array<number>(100_000).fill(1);
    let node = nest([42], dims);
    let depth = 0;
    while (Array.isArray(node)) {
      expect(node.length).toBe(1);
      node = node[0];
      depth++;
    }
    expect([depth, node]).toEqual([100_000, 42]);
  });

  it('keeps zero-sized dimensions and row-major order', () => {
    expect(nest([], [2, 0, 3])).toEqual([[], []]);
    expect(nest([], [0, 2])).toEqual([]);
    expect(nest([], [3, 0])).toEqual([[], [], []]);
    expect(nest([1, 2, 3, 4, 5, 6], [3, 1, 2])).toEqual([[[1, 2]], [[3, 4]], [[5, 6]]]);
    expect(nest([9], [])).toBe(9);
  });
});

const floatSignature = (type: OrtType): Signature => ({ inputs: [{ name: 'x', isTensor: true, type, shape: [] }], outputs: [] });

/** What a client does: read the gateway's JSON and send it back as an input. */
function roundTrip(type: OrtType, t: HostTensor): HostTensor {
  const json = JSON.parse(JSON.stringify(decodeOutput(t).values)) as unknown[];
  const feeds = encodeInputs(floatSignature(type), new Map([['x', { shape: [json.length], values: json }]]));
  return feeds.x as HostTensor;
}

describe('floats in JSON', () => {
  it('writes FLT_MAX as 3.4028235e38 and reads it back to the same bits', () => {
    const bits = new Uint32Array([0x7f7fffff, 0xff7fffff]);
    const t: HostTensor = { type: 'float32', dims: [2], data: new Float32Array(bits.buffer) };
    expect(decodeOutput(t).values).toEqual([3.4028235e38, -3.4028235e38]);
    expect([...new Uint32Array((roundTrip('float32', t).data as Float32Array).buffer)]).toEqual([0x7f7fffff, 0xff7fffff]);
  });

  it('writes NaN and infinities as strings for every float type', () => {
    const expected = ['NaN', 'Infinity', '-Infinity', 1.5];
    expect(decodeOutput({ type: 'float32', dims: [4], data: new Float32Array([NaN, Infinity, -Infinity, 1.5]) }).values).toEqual(expected);
    expect(decodeOutput({ type: 'float64', dims: [4], data: new Float64Array([NaN, Infinity, -Infinity, 1.5]) }).values).toEqual(expected);
    expect(decodeOutput({ type: 'float16', dims: [4], data: new Uint16Array([0x7e00, 0x7c00, 0xfc00, 0x3e00]) }).values).toEqual(expected);
  });

  it('reads back every float16 the gateway can write, bit for bit (all 65,536 patterns)', () => {
    const bits = Uint16Array.from({ length: 65536 }, (_, i) => i);
    const back = roundTrip('float16', { type: 'float16', dims: [65536], data: bits }).data as Uint16Array;
    for (let i = 0; i < 65536; i++) {
      const isNaN16 = (i & 0x7c00) === 0x7c00 && (i & 0x03ff) !== 0;
      if (isNaN16) expect(back[i]! & 0x7fff, `bits ${i}`).toBeGreaterThan(0x7c00);
      else if (i === 0x8000) expect(back[i]).toBe(0); // JSON writes -0 as 0
      else if (back[i] !== i) expect.fail(`float16 bits ${i.toString(16)} came back as ${back[i]!.toString(16)}`);
    }
  });

  it('reads back every float32 and float64 the gateway can write (property, fixed seed)', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 2 ** 32 - 1 }), { minLength: 1, maxLength: 64 }), (words) => {
        const data = new Float32Array(Uint32Array.from(words).buffer);
        const back = roundTrip('float32', { type: 'float32', dims: [data.length], data }).data as Float32Array;
        data.forEach((v, i) => (Number.isNaN(v) ? expect(back[i]).toBeNaN() : expect(Object.is(back[i], v) || (v === 0 && back[i] === 0)).toBe(true)));
      }),
      { seed: 9, numRuns: 300 },
    );
    fc.assert(
      fc.property(fc.array(fc.double(), { minLength: 1, maxLength: 64 }), (doubles) => {
        const data = Float64Array.from(doubles);
        const back = roundTrip('float64', { type: 'float64', dims: [data.length], data }).data as Float64Array;
        data.forEach((v, i) => (Number.isNaN(v) ? expect(back[i]).toBeNaN() : expect(back[i] === v).toBe(true)));
      }),
      { seed: 9, numRuns: 300 },
    );
  });
});

describe('default limits', () => {
  it('are frozen and admit a 1x3x224x224 image and rank-8 tensors', () => {
    expect(Object.isFrozen(DEFAULT_INPUT_LIMITS)).toBe(true);
    expect(DEFAULT_INPUT_LIMITS.maxElementsPerInput).toBeGreaterThanOrEqual(150_528);
    expect(DEFAULT_INPUT_LIMITS.maxRank).toBeGreaterThanOrEqual(8);
  });
});

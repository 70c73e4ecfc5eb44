import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nest, flattenNested } from '../../src/inference/codec.js';
import { elementProblem, ORT_TYPES, shortestFloat32, V2_DATATYPE, type OrtType } from '../../src/inference/dtypes.js';
import { identityModel } from '../../tools/onnx-builder.js';
import { startGateway, type RunningGateway } from '../support/harness.js';

describe('elementProblem', () => {
  it.each<[OrtType, unknown]>([
    ['int8', -128],
    ['int8', 127],
    ['uint8', 255],
    ['int32', 2 ** 31 - 1],
    ['uint32', 2 ** 32 - 1],
    ['int64', '-9223372036854775808'],
    ['int64', 9007199254740991],
    ['uint64', '18446744073709551615'],
    ['bool', true],
    ['bool', 0],
    ['float16', 65504],
    ['float32', -3.4e38],
    ['float32', 3.4028235e38],
    ['float32', -3.4028235677973362e38],
    ['float16', 65519],
    ['float64', 1e300],
    ['float64', 1.7976931348623157e308],
    ['float32', 'NaN'],
    ['float16', 'Infinity'],
    ['float64', '-Infinity'],
    ['int64', '-9223372036854775808'],
    ['uint64', '00000000000000000042'],
    ['string', ''],
  ])('accepts %s %j', (type, value) => {
    expect(elementProblem(type, value)).toBeUndefined();
  });

  it.each<[OrtType, unknown, RegExp]>([
    ['int8', 128, /out of range for int8/],
    ['uint8', -1, /out of range/],
    ['int32', 1.5, /expected an integer/],
    ['int32', '7', /expected an integer/],
    ['int64', '9223372036854775808', /out of range/],
    ['int64', 2 ** 60, /beyond 2\^53; send it as a decimal string/],
    ['uint64', '-1', /out of range/],
    ['bool', 2, /expected true\/false/],
    ['bool', 'true', /expected true\/false/],
    ['float16', 70000, /out of range for float16/],
    ['float32', 1e39, /out of range for float32/],
    ['float32', 3.4028235677973366e38, /out of range for float32/],
    ['float16', 65520, /out of range for float16/],
    ['float64', Infinity, /out of range for float64/],
    ['float32', 'nan', /^expected a number, got "nan" \(NaN and the infinities as "NaN", "Infinity", "-Infinity"\)$/],
    ['float64', '1.5', /expected a number, got "1.5"/],
    ['int32', 'NaN', /expected an integer/],
    ['int64', 'Infinity', /expected an integer/],
    ['int64', '-922337203685477580800', /at most 20 digits/],
    ['int64', '-92233720368547758080', /out of range for int64/],
    ['uint64', '000000000000000000042', /at most 20 digits/],
    ['float32', null, /expected a number/],
    ['string', 5, /expected a string/],
  ])('refuses %s %j', (type, value, message) => {
    expect(elementProblem(type, value)).toMatch(message);
  });
});

describe('long 64-bit decimal strings', () => {
  it('are refused by their length before any parsing, in well under a millisecond per megabyte', () => {
    const digits = '7'.repeat(4_000_000);
    const started = performance.now();
    expect(elementProblem('int64', digits)).toBe('a decimal string of 4000000 characters is too long: int64 takes at most 20 digits and a sign');
    expect(elementProblem('uint64', `-${digits}`)).toMatch(/uint64 takes at most 20 digits/);
    expect(performance.now() - started).toBeLessThan(50);
  });
});

describe('nesting', () => {
  it('flattens and nests back, zero-sized dims and scalars included', () => {
    for (const value of [[[1, 2, 3], [4, 5, 6]], [[[1], [2]]], [], [[], []], 7]) {
      const { shape, values } = flattenNested(value, 'v');
      expect(nest(Array.from(values), shape)).toEqual(value);
    }
    expect(flattenNested([[1, 2], [3, 4]], 'v').shape).toEqual([2, 2]);
  });

  it('prints float32 as the shortest decimal that reads back the same', () => {
    expect(shortestFloat32(Math.fround(0.1))).toBe(0.1);
    expect(shortestFloat32(Math.fround(15.1))).toBe(15.1);
    const v = Math.fround(1 / 3);
    expect(Math.fround(shortestFloat32(v))).toBe(v);
    // Known answers (numpy.float32's repr agrees on all but the subnormal: the search starts at
    // six significant digits, so 1e-45 reads 1.4013e-45).
    expect(shortestFloat32(Math.fround(1 / 3))).toBe(0.33333334);
    expect(shortestFloat32(Math.fround(-2 / 3))).toBe(-0.6666667);
    expect(shortestFloat32(Math.fround(3.4028235e38))).toBe(3.4028235e38);
    expect(shortestFloat32(Math.fround(1e-45))).toBe(1.4013e-45); // the smallest subnormal
    expect(shortestFloat32(Math.fround(16777217))).toBe(16777216);
    expect(shortestFloat32(Math.fround(123456789))).toBe(123456790);
    expect(shortestFloat32(Math.fround(0.3))).toBe(0.3);
    expect(shortestFloat32(Math.fround(1e10))).toBe(1e10);
  });

  it('finds the same digits as a toPrecision search, across random float32 bit patterns', () => {
    // The plain definition: fewest significant digits (6 to 9) whose double reads back as v.
    const byFormatting = (v: number): number => {
      for (let digits = 6; digits < 9; digits++) {
        const c = Number(v.toPrecision(digits));
        if (Math.fround(c) === v) return c;
      }
      return Number(v.toPrecision(9));
    };
    const bits = new Uint32Array(1);
    const float = new Float32Array(bits.buffer);
    let seed = 12345;
    const differ: number[] = [];
    for (let i = 0; i < 200_000; i++) {
      seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0; // a fixed LCG: the same patterns every run
      bits[0] = seed;
      const v = float[0] as number;
      if (v === 0) continue; // ±0 is returned as it is; the reference would turn -0 into 0
      if (!Object.is(shortestFloat32(v), byFormatting(v))) differ.push(v);
    }
    // Few mantissa bits (m × 2^e): exact decimals ending in 5, ties for the digit to round.
    for (let m = 1; m < 1 << 12; m += 2) {
      for (let e = -40; e <= 20; e++) {
        const v = Math.fround(m * 2 ** e);
        if (!Object.is(shortestFloat32(v), byFormatting(v))) differ.push(v);
      }
    }
    // Powers of ten and their neighbours, where log10 and the scaling are closest to an edge.
    for (let e = -45; e <= 38; e++) {
      for (const v of [Math.fround(Number(`1e${e}`)), Math.fround(Number(`9.999999e${e}`)), Math.fround(Number(`5e${e}`))]) {
        if (!Object.is(shortestFloat32(v), byFormatting(v))) differ.push(v);
      }
    }
    expect(differ).toEqual([]);
  });
});

const SAMPLES: Record<OrtType, { data: unknown[]; expected?: unknown[] }> = {
  // FLT_MAX as the gateway prints it, the largest finite values, and the non-finite strings.
  float32: { data: [1.5, -2.25, 0.1, 3.4e38, 3.4028235e38, -3.4028235e38, 'NaN', 'Infinity', '-Infinity'] },
  float64: { data: [0.1, -1e300, 5e-324, 1.7976931348623157e308, 'NaN', '-Infinity'] },
  float16: { data: [1.5, -2, 0.25, 65504, -65504, 'Infinity', 'NaN'] },
  int8: { data: [-128, 0, 127] },
  int16: { data: [-32768, 32767] },
  int32: { data: [-2147483648, 2147483647] },
  int64: { data: ['-9223372036854775808', 9007199254740991, '9223372036854775807', 5], expected: ['-9223372036854775808', 9007199254740991, '9223372036854775807', 5] },
  uint8: { data: [0, 255] },
  uint16: { data: [0, 65535] },
  uint32: { data: [0, 4294967295] },
  uint64: { data: ['18446744073709551615', 0, '42'], expected: ['18446744073709551615', 0, 42] },
  bool: { data: [true, false, 1, 0], expected: [true, false, true, false] },
  string: { data: ['héllo', '', 'a b'] },
};

describe('every onnxruntime-node dtype through V2 infer', () => {
  let gw: RunningGateway;
  beforeAll(async () => {
    const files: Record<string, Uint8Array> = {};
    let registry = 'models:\n';
    for (const t of ORT_TYPES) {
      files[`${t}.onnx`] = identityModel(t);
      registry += `  id-${t}:\n    versions: { "1": { uri: ${t}.onnx, weight: 1 } }\n`;
    }
    gw = await startGateway({ registry, files });
  });
  afterAll(() => gw.close());

  it.each([...ORT_TYPES])('round-trips %s with its V2 datatype', async (t) => {
    const sample = SAMPLES[t];
    const res = await gw.post<{ outputs: Array<{ name: string; datatype: string; shape: number[]; data: unknown[] }> }>(`/v2/models/id-${t}/infer`, {
      inputs: [{ name: 'in', shape: [sample.data.length], datatype: V2_DATATYPE[t], data: sample.data }],
    });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.outputs).toEqual([{ name: 'out', datatype: V2_DATATYPE[t], shape: [sample.data.length], data: sample.expected ?? sample.data }]);
    const meta = await gw.get(`/v2/models/id-${t}`);
    expect(meta.body).toMatchObject({ inputs: [{ name: 'in', datatype: V2_DATATYPE[t], shape: [-1] }] });
  });

  it('names the input and element for a value out of its type range', async () => {
    const res = await gw.post<{ error: string }>('/v2/models/id-uint8/infer', { inputs: [{ name: 'in', shape: [2], datatype: 'UINT8', data: [1, 256] }] });
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('input "in" (uint8): element 1: 256 is out of range for uint8');
  });
});

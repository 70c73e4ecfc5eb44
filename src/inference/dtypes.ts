// Element types: onnxruntime's names, KServe V2 datatype names, and the checks that turn one JSON
// value into one tensor element without silent conversion (range, integrality, kind).
import { f16round, Float16Array } from '@petamoriken/float16';

export const ORT_TYPES = [
  'float32',
  'float64',
  'float16',
  'int8',
  'int16',
  'int32',
  'int64',
  'uint8',
  'uint16',
  'uint32',
  'uint64',
  'bool',
  'string',
] as const;
export type OrtType = (typeof ORT_TYPES)[number];

export const V2_DATATYPE: Readonly<Record<OrtType, string>> = {
  float32: 'FP32',
  float64: 'FP64',
  float16: 'FP16',
  int8: 'INT8',
  int16: 'INT16',
  int32: 'INT32',
  int64: 'INT64',
  uint8: 'UINT8',
  uint16: 'UINT16',
  uint32: 'UINT32',
  uint64: 'UINT64',
  bool: 'BOOL',
  string: 'BYTES',
};

export function isOrtType(t: string): t is OrtType {
  return (ORT_TYPES as readonly string[]).includes(t);
}

export function ortTypeFromV2(datatype: string): OrtType | undefined {
  return ORT_TYPES.find((t) => V2_DATATYPE[t] === datatype);
}

export type TensorData =
  | Float32Array
  | Float64Array
  | Int8Array
  | Int16Array
  | Int32Array
  | BigInt64Array
  | Uint8Array
  | Uint16Array
  | Uint32Array
  | BigUint64Array
  | string[];

const INT_RANGE: Partial<Record<OrtType, readonly [bigint, bigint]>> = {
  int8: [-128n, 127n],
  int16: [-32768n, 32767n],
  int32: [-(2n ** 31n), 2n ** 31n - 1n],
  int64: [-(2n ** 63n), 2n ** 63n - 1n],
  uint8: [0n, 255n],
  uint16: [0n, 65535n],
  uint32: [0n, 2n ** 32n - 1n],
  uint64: [0n, 2n ** 64n - 1n],
};
/**
 * How a JSON number becomes each float type: it is accepted when it rounds to a finite value, so
 * FLT_MAX printed as 3.4028235e38 (a hair above FLT_MAX, but rounding to it) reads back.
 */
const FLOAT_ROUND: Partial<Record<OrtType, (v: number) => number>> = { float16: f16round, float32: Math.fround, float64: (v) => v };

/** NaN and the infinities travel as these strings, both ways (JSON has no literal for them). */
const NON_FINITE = new Set(['NaN', 'Infinity', '-Infinity']);

/** uint64's largest value has 20 digits; anything longer is refused before BigInt sees it. */
const MAX_INT64_DIGITS = 20;

/** Why `value` is not a valid element of `type`, or undefined when it is. */
export function elementProblem(type: OrtType, value: unknown): string | undefined {
  if (type === 'string') return typeof value === 'string' ? undefined : `expected a string, got ${show(value)}`;
  if (type === 'bool') {
    return value === true || value === false || value === 0 || value === 1 ? undefined : `expected true/false, got ${show(value)}`;
  }
  const round = FLOAT_ROUND[type];
  if (round !== undefined) {
    if (typeof value === 'number') return Number.isFinite(round(value)) ? undefined : `${value} is out of range for ${type}`;
    if (typeof value === 'string' && NON_FINITE.has(value)) return undefined;
    return `expected a number, got ${show(value)} (NaN and the infinities as "NaN", "Infinity", "-Infinity")`;
  }
  const range = INT_RANGE[type];
  if (range === undefined) return `unsupported type ${type}`;
  let n: bigint;
  if (typeof value === 'number') {
    if (!Number.isInteger(value)) return `expected an integer, got ${value}`;
    if (!Number.isSafeInteger(value) && (type === 'int64' || type === 'uint64')) {
      return `${value} is beyond 2^53; send it as a decimal string`;
    }
    n = BigInt(value);
  } else if (typeof value === 'string' && (type === 'int64' || type === 'uint64')) {
    // BigInt parsing is superlinear in length: millions of digits would block the event loop.
    const digits = value.startsWith('-') ? value.length - 1 : value.length;
    if (digits > MAX_INT64_DIGITS) {
      return `a decimal string of ${value.length} characters is too long: ${type} takes at most ${MAX_INT64_DIGITS} digits and a sign`;
    }
    if (!/^-?\d+$/.test(value)) return `expected an integer, got ${show(value)}`;
    n = BigInt(value);
  } else {
    return `expected an integer, got ${show(value)}`;
  }
  return n < range[0] || n > range[1] ? `${show(value)} is out of range for ${type}` : undefined;
}

/** A value for a message: short, and never a walk over a deep or large structure. */
function show(v: unknown): string {
  if (typeof v === 'string') return v.length > 40 ? `${JSON.stringify(v.slice(0, 37))}...` : JSON.stringify(v);
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object' && v !== null) return 'an object';
  return String(v);
}

/** Packs already-validated JSON elements into the typed storage onnxruntime expects. */
export function packElements(type: OrtType, values: ArrayLike<unknown>): TensorData {
  switch (type) {
    case 'string':
      // Checked to be strings element by element, so never a Float64Array of numbers.
      return (Array.isArray(values) ? values : Array.from(values)) as string[];
    case 'bool':
      return Uint8Array.from(values, (v) => (v === true || v === 1 ? 1 : 0));
    // The float constructors convert "NaN"/"Infinity"/"-Infinity" themselves (ToNumber), and
    // round numbers the same way elementProblem checked them.
    case 'float16':
      // onnxruntime-node takes float16 as raw IEEE half bits in a Uint16Array.
      return new Uint16Array(Float16Array.from(values as number[]).buffer);
    case 'int64':
      return BigInt64Array.from(values, (v) => BigInt(v as number | string));
    case 'uint64':
      return BigUint64Array.from(values, (v) => BigInt(v as number | string));
    default:
      return new TYPED[type](values as number[]);
  }
}

const TYPED = {
  float32: Float32Array,
  float64: Float64Array,
  int8: Int8Array,
  int16: Int16Array,
  int32: Int32Array,
  uint8: Uint8Array,
  uint16: Uint16Array,
  uint32: Uint32Array,
} as const;

/**
 * Tensor storage → JSON elements: 64-bit integers beyond 2^53 become decimal strings, and NaN and
 * the infinities become "NaN", "Infinity", "-Infinity" (JSON.stringify would write null).
 */
export function unpackElements(type: OrtType, data: TensorData): unknown[] {
  if (type === 'bool') return Array.from(data as Uint8Array, (v) => v !== 0);
  if (type === 'float16') {
    const bits = data as Uint16Array;
    return jsonFloats(Array.from(new Float16Array(bits.buffer, bits.byteOffset, bits.length)));
  }
  if (type === 'int64' || type === 'uint64') {
    return Array.from(data as BigInt64Array | BigUint64Array, (v: bigint) => {
      const n = Number(v);
      return Number.isSafeInteger(n) ? n : v.toString();
    });
  }
  if (type === 'float32') {
    const floats = data as Float32Array;
    const out = new Array<unknown>(floats.length);
    for (let i = 0; i < floats.length; i++) {
      const v = floats[i] as number;
      out[i] = v - v === 0 ? shortestFloat32(v) : String(v);
    }
    return out;
  }
  if (type === 'float64') return jsonFloats(Array.from(data as Float64Array));
  return Array.from(data as ArrayLike<unknown>);
}

/** Replaces non-finite numbers in place by their strings; `v - v` is NaN only for them. */
function jsonFloats(values: Array<number | string>): Array<number | string> {
  for (let i = 0; i < values.length; i++) {
    const v = values[i] as number;
    if (!(v - v === 0)) values[i] = String(v);
  }
  return values;
}

/** 10^0 … 10^22: every one exact in a double, so m / 10^k is the double nearest to the decimal. */
const POW10: readonly number[] = Array.from({ length: 23 }, (_, i) => Number(`1e${i}`));

/**
 * The shortest decimal that reads back as the same float32, so 0.1f prints as 0.1 rather than
 * 0.10000000149011612; consumers parsing it as float32 get the identical value.
 *
 * Digits are found by scaling (m = round(|v| × 10^k), candidate m / 10^k, the double nearest to
 * that decimal) rather than by formatting with toPrecision and parsing back: 50 rather than 380
 * ns a value, most of the cost of a 1000-class output. Every candidate is checked by reading it
 * back, so an inexact product can at worst cost a digit; test/inference/dtypes.test.ts finds
 * the same digits as the toPrecision search across random and tie-prone floats.
 */
export function shortestFloat32(v: number): number {
  if (!Number.isFinite(v) || v === 0) return v;
  const a = Math.abs(v);
  let exponent = Math.floor(Math.log10(a));
  // log10 may land one off next to a power of ten.
  if (a < 10 ** exponent) exponent--;
  else if (a >= 10 ** (exponent + 1)) exponent++;
  for (let digits = 6; digits <= 9; digits++) {
    const k = digits - 1 - exponent;
    const p = POW10[Math.abs(k)];
    if (p === undefined) break; // beyond 10^±22: subnormal or huge floats
    const m = Math.round(k >= 0 ? a * p : a / p);
    const candidate = k >= 0 ? m / p : m * p;
    if (Math.fround(candidate) === a) return v < 0 ? -candidate : candidate;
  }
  return byPrecision(v);
}

/** The same search by formatting, for floats whose scale is outside POW10. */
function byPrecision(v: number): number {
  for (let digits = 6; digits < 9; digits++) {
    const candidate = Number(v.toPrecision(digits));
    if (Math.fround(candidate) === v) return candidate;
  }
  return Number(v.toPrecision(9));
}

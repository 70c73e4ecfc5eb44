// Element types: onnxruntime's names, KServe V2 datatype names, and the checks that turn one JSON
// value into one tensor element without silent conversion (range, integrality, kind).
import { Float16Array } from '@petamoriken/float16';

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
const FLOAT_MAX: Partial<Record<OrtType, number>> = { float16: 65504, float32: 3.4028234663852886e38, float64: Number.MAX_VALUE };

/** Why `value` is not a valid element of `type`, or undefined when it is. */
export function elementProblem(type: OrtType, value: unknown): string | undefined {
  if (type === 'string') return typeof value === 'string' ? undefined : `expected a string, got ${show(value)}`;
  if (type === 'bool') {
    return value === true || value === false || value === 0 || value === 1 ? undefined : `expected true/false, got ${show(value)}`;
  }
  const floatMax = FLOAT_MAX[type];
  if (floatMax !== undefined) {
    if (typeof value !== 'number') return `expected a number, got ${show(value)}`;
    return Math.abs(value) <= floatMax ? undefined : `${value} is out of range for ${type}`;
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
  } else if (typeof value === 'string' && (type === 'int64' || type === 'uint64') && /^-?\d+$/.test(value)) {
    n = BigInt(value);
  } else {
    return `expected an integer, got ${show(value)}`;
  }
  return n < range[0] || n > range[1] ? `${show(value)} is out of range for ${type}` : undefined;
}

function show(v: unknown): string {
  const s = JSON.stringify(v);
  return s === undefined ? String(v) : s.length > 40 ? `${s.slice(0, 37)}...` : s;
}

/** Packs already-validated JSON elements into the typed storage onnxruntime expects. */
export function packElements(type: OrtType, values: readonly unknown[]): TensorData {
  switch (type) {
    case 'string':
      return values as string[];
    case 'bool':
      return Uint8Array.from(values, (v) => (v === true || v === 1 ? 1 : 0));
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

/** Tensor storage → JSON elements: 64-bit integers beyond 2^53 become decimal strings. */
export function unpackElements(type: OrtType, data: TensorData): unknown[] {
  if (type === 'bool') return Array.from(data as Uint8Array, (v) => v !== 0);
  if (type === 'float16') {
    const bits = data as Uint16Array;
    return Array.from(new Float16Array(bits.buffer, bits.byteOffset, bits.length));
  }
  if (type === 'int64' || type === 'uint64') {
    return Array.from(data as BigInt64Array | BigUint64Array, (v: bigint) => {
      const n = Number(v);
      return Number.isSafeInteger(n) ? n : v.toString();
    });
  }
  if (type === 'float32') return Array.from(data as Float32Array, shortestFloat32);
  return Array.from(data as ArrayLike<unknown>);
}

/**
 * The shortest decimal that reads back as the same float32, so 0.1f prints as 0.1 rather than
 * 0.10000000149011612; consumers parsing it as float32 get the identical value.
 */
export function shortestFloat32(v: number): number {
  if (!Number.isFinite(v) || v === 0) return v;
  for (let digits = 6; digits < 9; digits++) {
    const candidate = Number(v.toPrecision(digits));
    if (Math.fround(candidate) === v) return candidate;
  }
  return Number(v.toPrecision(9));
}

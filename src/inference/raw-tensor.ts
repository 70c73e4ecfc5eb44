// Tensors as raw bytes, as the Open Inference Protocol carries them in gRPC
// raw_input_contents / raw_output_contents and in the REST binary data extension: little-endian
// elements back to back; BOOL one byte each; FP16 as IEEE half bits; BYTES as a 4-byte
// little-endian length before each element. These map straight onto the typed arrays
// onnxruntime takes (TensorData), with no per-element JSON work.
import { GatewayError } from '../errors/catalogue.js';
import type { OrtType, TensorData } from './dtypes.js';

type Numeric = Exclude<OrtType, 'string' | 'bool'>;
type TypedCtor = { new (buffer: ArrayBuffer, offset?: number, length?: number): Exclude<TensorData, string[]>; BYTES_PER_ELEMENT: number };

const ARRAYS: Readonly<Record<Numeric | 'bool', TypedCtor>> = {
  float32: Float32Array,
  float64: Float64Array,
  float16: Uint16Array,
  int8: Int8Array,
  int16: Int16Array,
  int32: Int32Array,
  int64: BigInt64Array,
  uint8: Uint8Array,
  uint16: Uint16Array,
  uint32: Uint32Array,
  uint64: BigUint64Array,
  bool: Uint8Array,
};

const LITTLE_ENDIAN = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1;

/** Bytes per element, or undefined for BYTES (variable length). */
export function elementSize(type: OrtType): number | undefined {
  return type === 'string' ? undefined : ARRAYS[type].BYTES_PER_ELEMENT;
}

function invalid(message: string): GatewayError {
  return new GatewayError('INVALID_INPUT', message);
}

/**
 * Raw little-endian bytes → the element array for `type`, checked to hold exactly `count`
 * elements. `what` names the tensor in errors ("input \"x\"").
 */
export function tensorFromRaw(type: OrtType, bytes: Uint8Array, count: number, what: string): TensorData {
  if (type === 'string') return stringsFromRaw(bytes, count, what);
  const ctor = ARRAYS[type];
  const expected = count * ctor.BYTES_PER_ELEMENT;
  if (bytes.byteLength !== expected) {
    throw invalid(`${what}: ${count} ${type} elements need ${expected} bytes, got ${bytes.byteLength}`);
  }
  // Copy into a fresh, aligned buffer: the source may be a slice of a larger message at any offset.
  const buffer = new ArrayBuffer(expected);
  new Uint8Array(buffer).set(bytes);
  if (!LITTLE_ENDIAN) swapBytes(new Uint8Array(buffer), ctor.BYTES_PER_ELEMENT);
  const data = new ctor(buffer);
  if (type === 'bool') {
    for (let i = 0; i < data.length; i++) {
      const b = (data as Uint8Array)[i] ?? 0;
      if (b > 1) throw invalid(`${what}: BOOL element ${i} is byte ${b}; only 0 and 1 are booleans`);
    }
  }
  return data;
}

/** The element array as raw little-endian bytes (BYTES length-prefixed). */
export function rawFromTensor(type: OrtType, data: TensorData): Uint8Array {
  if (type === 'string' || Array.isArray(data)) return stringsToRaw(data as readonly string[]);
  const typed = data as Exclude<TensorData, string[]>;
  const out = new Uint8Array(typed.byteLength);
  out.set(new Uint8Array(typed.buffer, typed.byteOffset, typed.byteLength));
  if (!LITTLE_ENDIAN) swapBytes(out, typed.BYTES_PER_ELEMENT);
  return out;
}

function stringsFromRaw(bytes: Uint8Array, count: number, what: string): string[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const decoder = new TextDecoder('utf-8', { fatal: true });
  const out: string[] = [];
  let at = 0;
  while (at < bytes.byteLength) {
    if (at + 4 > bytes.byteLength) throw invalid(`${what}: BYTES element ${out.length} has a truncated length prefix`);
    const length = view.getUint32(at, true);
    at += 4;
    if (at + length > bytes.byteLength) throw invalid(`${what}: BYTES element ${out.length} claims ${length} bytes, only ${bytes.byteLength - at} remain`);
    try {
      out.push(decoder.decode(bytes.subarray(at, at + length)));
    } catch {
      throw invalid(`${what}: BYTES element ${out.length} is not valid UTF-8 (onnxruntime strings are text)`);
    }
    at += length;
    if (out.length > count) break;
  }
  if (out.length !== count) throw invalid(`${what}: expected ${count} BYTES elements, got ${out.length}`);
  return out;
}

function stringsToRaw(values: readonly string[]): Uint8Array {
  const encoder = new TextEncoder();
  const parts = values.map((v) => encoder.encode(v));
  const out = new Uint8Array(parts.reduce((n, p) => n + 4 + p.length, 0));
  const view = new DataView(out.buffer);
  let at = 0;
  for (const p of parts) {
    view.setUint32(at, p.length, true);
    out.set(p, at + 4);
    at += 4 + p.length;
  }
  return out;
}

function swapBytes(bytes: Uint8Array, size: number): void {
  if (size === 1) return;
  for (let i = 0; i < bytes.length; i += size) bytes.subarray(i, i + size).reverse();
}

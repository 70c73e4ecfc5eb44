// JSON tensors ↔ host tensors, checked against the model's signature before anything runs.
// Every error names the input and says what was expected, so a caller can fix the request.
import { GatewayError } from '../errors/catalogue.js';
import { elementProblem, packElements, unpackElements, V2_DATATYPE, type OrtType, type TensorData } from './dtypes.js';
import { DEFAULT_INPUT_LIMITS, type InputLimits } from './limits.js';
import type { HostTensor, Signature, TensorSpec } from './session.js';

export interface JsonTensor {
  readonly shape: readonly number[];
  /** Row-major, flat: a Float64Array when every element is a JSON number (nearly always). */
  readonly values: ArrayLike<unknown>;
  /** V2 only: the datatype the caller declared, checked against the model's. */
  readonly datatype?: string;
}

/**
 * An input whose elements already sit in the typed storage the session takes (gRPC contents and
 * raw bytes, decoded by their transport with their own checks). Datatype, shape and element
 * count are checked against the signature like a JsonTensor's; the elements are not walked.
 */
export interface RawTensor {
  readonly kind: 'raw';
  readonly shape: readonly number[];
  /** The V2 datatype the caller declared, which `data` is stored as. */
  readonly datatype: string;
  readonly data: TensorData;
}

/** What the service takes as one input: JSON values (REST) or typed storage (gRPC). */
export type InputTensor = JsonTensor | RawTensor;

function invalid(message: string): GatewayError {
  return new GatewayError('INVALID_INPUT', message);
}

/** Shape text as messages print it: [1, 3, 224, 224]. */
function dimsText(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

function deeperThanRank(what: string, limits: InputLimits): GatewayError {
  return invalid(`${what}: arrays nest deeper than ${limits.maxRank} levels; a tensor has at most ${limits.maxRank} dimensions`);
}

/** Throws LIMIT_EXCEEDED when one input's element count is over the per-input limit. */
function checkElementCount(what: string, shape: readonly number[], count: number, limits: InputLimits): void {
  if (count > limits.maxElementsPerInput) {
    throw new GatewayError('LIMIT_EXCEEDED', `${what}: shape ${dimsText(shape)} has ${count} elements; at most ${limits.maxElementsPerInput} are accepted per input`);
  }
}

/** A V2 declared shape → its element count, refused (rank, size) before any data is walked. */
export function declaredElements(what: string, shape: readonly number[], limits: InputLimits = DEFAULT_INPUT_LIMITS): number {
  if (shape.length > limits.maxRank) throw invalid(`${what}: shape has ${shape.length} dimensions; a tensor has at most ${limits.maxRank}`);
  let count = 1;
  for (const d of shape) count *= d;
  checkElementCount(what, shape, count, limits);
  return count;
}

/** "[1][0][2]": where an element sits, built only for an error message. */
function pathText(index: readonly number[], depth: number, last: number): string {
  let at = '';
  for (let d = 0; d < depth; d++) at += `[${(index[d] ?? 1) - 1}]`;
  return `${at}[${last}]`;
}

/**
 * A nested JSON array → shape and flat values; ragged nesting is an error naming `what`. The
 * shape comes from the first element of each level, so depth and size are refused before the
 * walk, and the walk is a loop over an explicit index stack: no recursion, no per-node strings.
 */
export function flattenNested(value: unknown, what: string, limits: InputLimits = DEFAULT_INPUT_LIMITS): JsonTensor {
  const shape: number[] = [];
  let count = 1;
  for (let probe: unknown = value; Array.isArray(probe); probe = probe[0]) {
    if (shape.length === limits.maxRank) throw deeperThanRank(what, limits);
    shape.push(probe.length);
    count *= probe.length;
    if (probe.length === 0) break;
  }
  // Over the limit, still walk (the body bounds the walk) so a ragged array is reported as ragged,
  // but keep nothing.
  const collect = count <= limits.maxElementsPerInput;
  // Numbers, nearly every input, go straight into a Float64Array: no boxed number per element.
  // An element of any other kind (a string such as "NaN", or what the signature check will
  // refuse) moves what was read into a plain array. Sized up front only up to PREALLOCATED: the
  // count comes from the first element of each level, and a small ragged body could claim a huge
  // one; beyond that it doubles as elements actually arrive.
  let numbers: Float64Array | undefined = collect ? new Float64Array(Math.min(count, PREALLOCATED)) : undefined;
  let values: unknown[] = [];
  let filled = 0;
  const maxString = limits.maxStringLength;
  const rank = shape.length;
  if (rank === 0) {
    if (typeof value === 'string' && value.length > maxString) throw stringTooLong(what, '', value.length, limits);
    return { shape, values: [value] };
  }
  const last = rank - 1;
  const rowLength = shape[last] ?? 0;
  const nodes: unknown[][] = [value as unknown[]];
  const index: number[] = Array<number>(rank).fill(0);
  let depth = 0;
  while (depth >= 0) {
    const node = nodes[depth] as unknown[];
    if (depth === last) {
      for (let i = 0; i < rowLength; i++) {
        const x = node[i];
        if (typeof x === 'object') {
          if (Array.isArray(x)) throw invalid(`${what}: ${pathText(index, depth, i)} nests deeper than its siblings (ragged array)`);
        } else if (typeof x === 'string' && x.length > maxString) {
          throw stringTooLong(what, pathText(index, depth, i), x.length, limits);
        }
        if (!collect) continue;
        if (numbers !== undefined) {
          if (typeof x === 'number') {
            if (filled === numbers.length) numbers = grown(numbers, count);
            numbers[filled++] = x;
            continue;
          }
          values = Array.from(numbers.subarray(0, filled));
          numbers = undefined;
        }
        values[filled++] = x;
      }
      depth--;
      continue;
    }
    const i = index[depth] ?? 0;
    if (i === shape[depth]) {
      index[depth] = 0;
      depth--;
      continue;
    }
    index[depth] = i + 1;
    const child = node[i];
    if (!Array.isArray(child) || child.length !== shape[depth + 1]) {
      throw invalid(`${what}: ${pathText(index, depth, i)} should be an array of ${shape[depth + 1]} (ragged array)`);
    }
    nodes[depth + 1] = child;
    depth++;
  }
  checkElementCount(what, shape, count, limits);
  return { shape, values: numbers ?? values };
}

/** Elements of an input read into storage allocated before they are seen. */
const PREALLOCATED = 1 << 16;

function grown(numbers: Float64Array, count: number): Float64Array {
  const next = new Float64Array(Math.min(count, numbers.length * 2));
  next.set(numbers);
  return next;
}

function stringTooLong(what: string, at: string, length: number, limits: InputLimits): GatewayError {
  return new GatewayError('LIMIT_EXCEEDED', `${what}: ${at ? `element ${at}` : 'value'} is a string of ${length} characters; at most ${limits.maxStringLength} are accepted`);
}

/**
 * Flat values and dims → nested arrays (a scalar for rank 0). Built bottom-up: rows of the last
 * dimension first, then each level above groups the one below, so rank is never recursion depth.
 */
export function nest(values: readonly unknown[], dims: readonly number[]): unknown {
  const rank = dims.length;
  if (rank === 0) return values[0];
  // How many arrays each level holds: products of the dims above it (no division, so 0 is fine).
  const arraysAt: number[] = [1];
  for (let d = 1; d < rank; d++) arraysAt.push((arraysAt[d - 1] ?? 0) * (dims[d - 1] ?? 0));
  const rowLength = dims[rank - 1] ?? 0;
  const rows = arraysAt[rank - 1] ?? 0;
  let level: unknown[] = [];
  for (let r = 0; r < rows; r++) level.push(values.slice(r * rowLength, (r + 1) * rowLength));
  for (let d = rank - 2; d >= 0; d--) {
    const n = dims[d] ?? 0;
    const count = arraysAt[d] ?? 0;
    const above: unknown[] = [];
    for (let a = 0; a < count; a++) above.push(level.slice(a * n, (a + 1) * n));
    level = above;
  }
  return level[0];
}

function shapeText(spec: TensorSpec): string {
  return `[${spec.shape.map((d) => (typeof d === 'number' && d >= 0 ? d : -1)).join(', ')}]`;
}

function checkShape(spec: TensorSpec, shape: readonly number[]): void {
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) throw invalid(`input "${spec.name}": shape [${shape.join(', ')}] has an invalid dimension`);
  }
  if (spec.shape.length === 0) return; // the model does not declare a shape
  if (shape.length !== spec.shape.length) {
    throw invalid(`input "${spec.name}": expected rank ${spec.shape.length} ${shapeText(spec)}, got shape [${shape.join(', ')}]`);
  }
  for (let i = 0; i < spec.shape.length; i++) {
    const want = spec.shape[i];
    if (typeof want === 'number' && want >= 0 && shape[i] !== want) {
      throw invalid(`input "${spec.name}": dimension ${i} must be ${want} (expected ${shapeText(spec)}), got shape [${shape.join(', ')}]`);
    }
  }
}

function encodeOne(spec: TensorSpec, t: InputTensor): HostTensor {
  if (t.datatype !== undefined && t.datatype !== V2_DATATYPE[spec.type]) {
    throw invalid(`input "${spec.name}": datatype ${t.datatype} does not match the model's ${V2_DATATYPE[spec.type]}`);
  }
  checkShape(spec, t.shape);
  const count = t.shape.reduce((a, b) => a * b, 1);
  if ('kind' in t) {
    if (count !== t.data.length) throw invalid(`input "${spec.name}": shape ${dimsText(t.shape)} needs ${count} values, got ${t.data.length}`);
    // The request keeps this storage (a fallback or shadow copy runs it again): lend, don't give.
    return { type: spec.type, dims: [...t.shape], data: t.data, borrowed: true };
  }
  if (count !== t.values.length) {
    throw invalid(`input "${spec.name}": shape ${dimsText(t.shape)} needs ${count} values, got ${t.values.length}`);
  }
  if (spec.type === 'float32' || spec.type === 'float64') return { type: spec.type, dims: [...t.shape], data: packFloats(spec, t.values) };
  for (let i = 0; i < t.values.length; i++) {
    const problem = elementProblem(spec.type, t.values[i]);
    if (problem) throw invalid(`input "${spec.name}" (${spec.type}): element ${i}: ${problem}`);
  }
  return { type: spec.type, dims: [...t.shape], data: packElements(spec.type, t.values) };
}

/**
 * The common case in one pass: checks each element and writes it straight into the typed array
 * (no second pass, no intermediate array). Anything but a plain finite number goes through
 * elementProblem, so the accepted forms and the messages are exactly the general path's.
 */
function packFloats(spec: TensorSpec, values: ArrayLike<unknown>): Float32Array | Float64Array {
  const n = values.length;
  const out = spec.type === 'float32' ? new Float32Array(n) : new Float64Array(n);
  const single = spec.type === 'float32';
  for (let i = 0; i < n; i++) {
    const v = values[i];
    if (typeof v === 'number') {
      const r = single ? Math.fround(v) : v;
      // r - r is 0 only for finite numbers: out-of-range for float32 rounds to Infinity.
      if (r - r === 0) {
        out[i] = v;
        continue;
      }
    }
    const problem = elementProblem(spec.type, v);
    if (problem) throw invalid(`input "${spec.name}" (${spec.type}): element ${i}: ${problem}`);
    out[i] = Number(v); // "NaN", "Infinity", "-Infinity"
  }
  return out;
}

/** Checks names against the signature, then each tensor; returns feeds for the session. */
// Input names per signature, computed once per loaded version rather than per request.
const inputNames = new WeakMap<Signature, ReadonlySet<string>>();

export function encodeInputs(signature: Signature, inputs: ReadonlyMap<string, InputTensor>): Record<string, HostTensor> {
  // Only built when a request is wrong: this runs on every request.
  const expected = () => signature.inputs.map((i) => `"${i.name}" ${i.type}${shapeText(i)}`).join(', ');
  let names = inputNames.get(signature);
  if (!names) inputNames.set(signature, (names = new Set(signature.inputs.map((i) => i.name))));
  for (const name of inputs.keys()) {
    if (!names.has(name)) {
      throw invalid(`unknown input "${name}"; the model takes ${expected()}`);
    }
  }
  const feeds: Record<string, HostTensor> = {};
  for (const spec of signature.inputs) {
    const t = inputs.get(spec.name);
    if (!t) throw invalid(`missing input "${spec.name}"; the model takes ${expected()}`);
    feeds[spec.name] = encodeOne(spec, t);
  }
  return feeds;
}

/** Which outputs to fetch: those asked for, else every tensor output (sequences/maps skipped). */
const tensorOutputs = new WeakMap<Signature, readonly string[]>();

export function selectOutputs(signature: Signature, requested?: readonly string[]): readonly string[] {
  if (requested === undefined || requested.length === 0) {
    let all = tensorOutputs.get(signature);
    if (!all) tensorOutputs.set(signature, (all = Object.freeze(signature.outputs.filter((o) => o.isTensor).map((o) => o.name))));
    return all;
  }
  for (const name of requested) {
    const spec = signature.outputs.find((o) => o.name === name);
    if (!spec) {
      throw invalid(`unknown output "${name}"; the model has ${signature.outputs.map((o) => `"${o.name}"`).join(', ')}`);
    }
    if (!spec.isTensor) throw invalid(`output "${name}" is a sequence or map, which this gateway cannot return`);
  }
  return [...requested];
}

export interface DecodedTensor {
  readonly type: OrtType;
  readonly shape: readonly number[];
  readonly values: unknown[];
}

export function decodeOutput(t: HostTensor): DecodedTensor {
  return { type: t.type, shape: t.dims, values: unpackElements(t.type, t.data) };
}

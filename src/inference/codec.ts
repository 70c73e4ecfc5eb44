// JSON tensors ↔ host tensors, checked against the model's signature before anything runs.
// Every error names the input and says what was expected, so a caller can fix the request.
import { GatewayError } from '../errors/catalogue.js';
import { elementProblem, packElements, unpackElements, V2_DATATYPE, type OrtType } from './dtypes.js';
import type { HostTensor, Signature, TensorSpec } from './session.js';

export interface JsonTensor {
  readonly shape: readonly number[];
  /** Row-major, flat. */
  readonly values: readonly unknown[];
  /** V2 only: the datatype the caller declared, checked against the model's. */
  readonly datatype?: string;
}

function invalid(message: string): GatewayError {
  return new GatewayError('INVALID_INPUT', message);
}

/** A nested JSON array → shape and flat values; ragged nesting is an error naming `what`. */
export function flattenNested(value: unknown, what: string): JsonTensor {
  const shape: number[] = [];
  for (let probe: unknown = value; Array.isArray(probe); probe = probe[0]) {
    shape.push(probe.length);
    if (probe.length === 0) break;
  }
  const values: unknown[] = [];
  const walk = (node: unknown, depth: number, at: string): void => {
    if (depth === shape.length) {
      if (Array.isArray(node)) throw invalid(`${what}: ${at || 'value'} nests deeper than its siblings (ragged array)`);
      values.push(node);
      return;
    }
    if (!Array.isArray(node) || node.length !== shape[depth]) {
      throw invalid(`${what}: ${at || 'value'} should be an array of ${shape[depth]} (ragged array)`);
    }
    for (let i = 0; i < node.length; i++) walk(node[i], depth + 1, `${at}[${i}]`);
  };
  walk(value, 0, '');
  return { shape, values };
}

/** Flat values and dims → nested arrays (a scalar for rank 0). */
export function nest(values: readonly unknown[], dims: readonly number[]): unknown {
  if (dims.length === 0) return values[0];
  const strides = dims.map((_, d) => dims.slice(d + 1).reduce((a, b) => a * b, 1));
  const build = (offset: number, d: number): unknown[] => {
    const n = dims[d] ?? 0;
    if (d === dims.length - 1) return values.slice(offset, offset + n);
    const stride = strides[d] ?? 1;
    return Array.from({ length: n }, (_, i) => build(offset + i * stride, d + 1));
  };
  return build(0, 0);
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
  spec.shape.forEach((want, i) => {
    if (typeof want === 'number' && want >= 0 && shape[i] !== want) {
      throw invalid(`input "${spec.name}": dimension ${i} must be ${want} (expected ${shapeText(spec)}), got shape [${shape.join(', ')}]`);
    }
  });
}

function encodeOne(spec: TensorSpec, t: JsonTensor): HostTensor {
  if (t.datatype !== undefined && t.datatype !== V2_DATATYPE[spec.type]) {
    throw invalid(`input "${spec.name}": datatype ${t.datatype} does not match the model's ${V2_DATATYPE[spec.type]}`);
  }
  checkShape(spec, t.shape);
  const count = t.shape.reduce((a, b) => a * b, 1);
  if (count !== t.values.length) {
    throw invalid(`input "${spec.name}": shape [${t.shape.join(', ')}] needs ${count} values, got ${t.values.length}`);
  }
  for (let i = 0; i < t.values.length; i++) {
    const problem = elementProblem(spec.type, t.values[i]);
    if (problem) throw invalid(`input "${spec.name}" (${spec.type}): element ${i}: ${problem}`);
  }
  return { type: spec.type, dims: [...t.shape], data: packElements(spec.type, t.values) };
}

/** Checks names against the signature, then each tensor; returns feeds for the session. */
export function encodeInputs(signature: Signature, inputs: ReadonlyMap<string, JsonTensor>): Record<string, HostTensor> {
  // Only built when a request is wrong: this runs on every request.
  const expected = () => signature.inputs.map((i) => `"${i.name}" ${i.type}${shapeText(i)}`).join(', ');
  for (const name of inputs.keys()) {
    if (!signature.inputs.some((i) => i.name === name)) {
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
export function selectOutputs(signature: Signature, requested?: readonly string[]): string[] {
  if (requested === undefined || requested.length === 0) {
    return signature.outputs.filter((o) => o.isTensor).map((o) => o.name);
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

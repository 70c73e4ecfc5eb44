// ModelInferRequest tensors → the service's inputs, and its outputs → ModelInferResponse. Inputs
// come as typed `contents` or as `raw_input_contents` (little-endian bytes, BYTES length-prefixed);
// either way they become typed storage (RawTensor) without a per-element JSON walk. Outputs are
// raw when the request was raw, as Triton answers, else typed contents.
import { GatewayError } from '../errors/catalogue.js';
import { declaredElements, type RawTensor } from '../inference/codec.js';
import { elementProblem, ortTypeFromV2, packElements, V2_DATATYPE, type OrtType, type TensorData } from '../inference/dtypes.js';
import { DEFAULT_INPUT_LIMITS, type InputLimits } from '../inference/limits.js';
import { rawFromTensor, tensorFromRaw } from '../inference/raw-tensor.js';
import type { NamedOutput } from '../service/gateway-service.js';
import type { InferInputTensor, InferOutputTensor, ModelInferRequest, TensorContents } from './proto.js';

type ContentsField = keyof TensorContents;

/** Which InferTensorContents field carries each element type; FP16 travels only raw. */
const CONTENTS_FIELD: Readonly<Record<OrtType, ContentsField | undefined>> = {
  float32: 'fp32_contents',
  float64: 'fp64_contents',
  float16: undefined,
  int8: 'int_contents',
  int16: 'int_contents',
  int32: 'int_contents',
  int64: 'int64_contents',
  uint8: 'uint_contents',
  uint16: 'uint_contents',
  uint32: 'uint_contents',
  uint64: 'uint64_contents',
  bool: 'bool_contents',
  string: 'bytes_contents',
};

function invalid(message: string): GatewayError {
  return new GatewayError('INVALID_INPUT', message);
}

/** int64 dims arrive as decimal strings (longs: String); each must be a non-negative integer. */
function shapeOf(what: string, dims: ReadonlyArray<string | number>): number[] {
  return dims.map((d) => {
    const n = Number(d);
    if (!Number.isSafeInteger(n) || n < 0) throw invalid(`${what}: shape [${dims.join(', ')}] has an invalid dimension`);
    return n;
  });
}

export interface GrpcInputs {
  readonly inputs: Map<string, RawTensor>;
  /** The request sent raw_input_contents: the response answers raw too. */
  readonly raw: boolean;
}

export function inputsFromRequest(request: ModelInferRequest, limits: InputLimits = DEFAULT_INPUT_LIMITS): GrpcInputs {
  const rawContents = request.raw_input_contents;
  const raw = rawContents.length > 0;
  if (request.inputs.length === 0) throw new GatewayError('BAD_REQUEST', 'invalid request: inputs: must hold at least one input');
  if (raw && rawContents.length !== request.inputs.length) {
    throw invalid(`raw_input_contents holds ${rawContents.length} tensors for ${request.inputs.length} inputs; send one per input, in the order of inputs`);
  }
  const inputs = new Map<string, RawTensor>();
  let total = 0;
  request.inputs.forEach((input, i) => {
    const what = `input "${input.name}"`;
    if (input.name === '') throw new GatewayError('BAD_REQUEST', `invalid request: inputs.${i}.name: must name the input`);
    if (inputs.has(input.name)) throw invalid(`${what} is given twice`);
    const type = ortTypeFromV2(input.datatype);
    if (!type) throw invalid(`${what}: "${input.datatype}" is not a V2 datatype this gateway supports`);
    const shape = shapeOf(what, input.shape);
    const count = declaredElements(what, shape, limits);
    total += count;
    if (total > limits.maxElementsPerRequest) {
      throw new GatewayError(
        'LIMIT_EXCEEDED',
        `the inputs of this request hold more than ${limits.maxElementsPerRequest} elements together (at least ${total}); split it into smaller requests`,
      );
    }
    const bytes = rawContents[i];
    if (bytes !== undefined && hasContents(input)) throw invalid(`${what}: contents and raw_input_contents are both set; use one of them for all inputs`);
    const data = bytes !== undefined ? tensorFromRaw(type, bytes, count, what) : fromContents(what, type, input, count);
    if (Array.isArray(data)) checkStrings(what, data, limits);
    inputs.set(input.name, { kind: 'raw', shape, datatype: input.datatype, data });
  });
  return { inputs, raw };
}

function hasContents(input: InferInputTensor): boolean {
  const c = input.contents;
  return c != null && Object.values(c).some((v) => Array.isArray(v) && v.length > 0);
}

function fromContents(what: string, type: OrtType, input: InferInputTensor, count: number): TensorData {
  const field = CONTENTS_FIELD[type];
  if (field === undefined) throw invalid(`${what}: ${input.datatype} has no contents field; send it in raw_input_contents`);
  const contents: TensorContents = input.contents ?? {};
  for (const [other, v] of Object.entries(contents)) {
    if (other !== field && Array.isArray(v) && v.length > 0) throw invalid(`${what}: ${input.datatype} data goes in contents.${field}, not contents.${other}`);
  }
  const values: readonly unknown[] = contents[field] ?? [];
  if (values.length !== count) throw invalid(`${what}: shape [${input.shape.join(', ')}] needs ${count} values, got ${values.length}`);
  switch (type) {
    case 'string':
      return (values as Uint8Array[]).map((b, i) => utf8(what, b, i));
    case 'int8':
    case 'int16':
    case 'uint8':
    case 'uint16':
      // int_contents / uint_contents are 32-bit: narrower types are range-checked, never wrapped.
      for (let i = 0; i < values.length; i++) {
        const problem = elementProblem(type, values[i]);
        if (problem) throw invalid(`${what} (${type}): element ${i}: ${problem}`);
      }
      return packElements(type, values);
    default:
      // The wire types already bound the rest (bool, int32, uint32, float, double; 64-bit
      // integers as exact decimal strings).
      return packElements(type, values);
  }
}

const UTF8 = new TextDecoder('utf-8', { fatal: true });

function utf8(what: string, bytes: Uint8Array, i: number): string {
  try {
    return UTF8.decode(bytes);
  } catch {
    throw invalid(`${what}: BYTES element ${i} is not valid UTF-8 (onnxruntime strings are text)`);
  }
}

function checkStrings(what: string, values: readonly string[], limits: InputLimits): void {
  values.forEach((s, i) => {
    if (s.length > limits.maxStringLength) {
      throw new GatewayError('LIMIT_EXCEEDED', `${what}: element [${i}] is a string of ${s.length} characters; at most ${limits.maxStringLength} are accepted`);
    }
  });
}

export interface GrpcOutputs {
  readonly outputs: InferOutputTensor[];
  readonly raw_output_contents: Uint8Array[];
}

/**
 * Raw when the request was raw (as Triton does), and also when an output is FP16, which has no
 * contents field (the protocol allows raw or contents for all outputs, not a mix).
 */
export function responseOutputs(outputs: readonly NamedOutput[], requestWasRaw: boolean): GrpcOutputs {
  const raw = requestWasRaw || outputs.some((o) => CONTENTS_FIELD[o.type] === undefined);
  const meta = (o: NamedOutput) => ({ name: o.name, datatype: V2_DATATYPE[o.type], shape: [...o.shape] });
  if (raw) {
    return { outputs: outputs.map(meta), raw_output_contents: outputs.map((o) => rawFromTensor(o.type, o.data)) };
  }
  return { outputs: outputs.map((o) => ({ ...meta(o), contents: contentsOf(o) })), raw_output_contents: [] };
}

function contentsOf(o: NamedOutput): TensorContents {
  const field = CONTENTS_FIELD[o.type] as ContentsField;
  switch (o.type) {
    case 'string':
      return { bytes_contents: (o.values as string[]).map((s) => Buffer.from(s, 'utf8')) };
    case 'bool':
      return { bool_contents: o.values.map((v) => v === true) };
    case 'int64':
    case 'uint64':
      // Decimal strings: protobufjs writes them exactly (numbers beyond 2^53 are already strings).
      return { [field]: o.values.map(String) };
    default:
      // Floats may be "NaN"/"Infinity" strings in the JSON form; Number() turns them back.
      return { [field]: o.values.map(Number) };
  }
}

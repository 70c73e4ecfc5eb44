// Request bodies of /predict and V2 infer, checked with zod and turned into the service's
// JsonTensor map. Messages name the field (inputs.0.shape) so callers can fix their request.
import { z } from 'zod';
import { GatewayError } from '../errors/catalogue.js';
import { declaredElements, flattenNested, type InputTensor, type JsonTensor } from '../inference/codec.js';
import { ortTypeFromV2, type OrtType, type TensorData } from '../inference/dtypes.js';
import { DEFAULT_INPUT_LIMITS, type InputLimits } from '../inference/limits.js';
import { tensorFromRaw } from '../inference/raw-tensor.js';
import { BinaryCursor, binaryDataSize, binaryOutputChoice } from './binary.js';

const versionField = z.union([z.string().min(1), z.number().int().nonnegative()]).transform(String);

const predictBody = z.object({
  // Optional: a registry with one model (REMOTE_MODEL_PATH) serves it when none is named.
  model: z.string({ error: 'must be a string naming the model' }).min(1).optional(),
  version: versionField.optional(),
  inputs: z.record(z.string(), z.unknown(), { error: 'must be an object of input name to nested array' }),
  outputs: z.array(z.string()).optional(),
});

const v2Body = z.object({
  id: z.string().optional(),
  version: versionField.optional(),
  parameters: z.record(z.string(), z.unknown()).optional(),
  inputs: z
    .array(
      z.object({
        name: z.string().min(1),
        shape: z.array(z.number().int().nonnegative(), { error: 'must be an array of non-negative integers' }),
        datatype: z.string(),
        // Absent when parameters.binary_data_size says the values are in the binary part.
        data: z.unknown().optional(),
        parameters: z.record(z.string(), z.unknown()).optional(),
      }),
      { error: 'must be an array of {name, shape, datatype, data}' },
    )
    .min(1, 'must hold at least one input'),
  outputs: z.array(z.object({ name: z.string().min(1), parameters: z.record(z.string(), z.unknown()).optional() })).optional(),
});

function parse<T extends z.ZodType>(schema: T, body: unknown): z.output<T> {
  const result = schema.safeParse(body);
  if (result.success) return result.data;
  const first = result.error.issues
    .slice(0, 5)
    .map((i) => `${i.path.length > 0 ? i.path.join('.') : 'body'}: ${i.message}`)
    .join('; ');
  throw new GatewayError('BAD_REQUEST', `invalid request: ${first}`);
}

export interface ParsedInfer<T extends InputTensor = InputTensor> {
  readonly model?: string;
  readonly version?: string | undefined;
  readonly id?: string | undefined;
  readonly inputs: ReadonlyMap<string, T>;
  readonly outputs?: readonly string[] | undefined;
  /** V2 binary data extension: which outputs to send as raw bytes; undefined = all JSON. */
  readonly binaryOutput?: ((name: string) => boolean) | undefined;
}

/** Adds one input's elements to the request's running total, refused once over the limit. */
function addToRequest(total: number, count: number, limits: InputLimits): number {
  const sum = total + count;
  if (sum > limits.maxElementsPerRequest) {
    throw new GatewayError(
      'LIMIT_EXCEEDED',
      `the inputs of this request hold more than ${limits.maxElementsPerRequest} elements together (at least ${sum}); split it into smaller requests`,
    );
  }
  return sum;
}

export function parsePredict(body: unknown, limits: InputLimits = DEFAULT_INPUT_LIMITS): ParsedInfer<JsonTensor> {
  const b = parse(predictBody, body);
  const inputs = new Map<string, JsonTensor>();
  let total = 0;
  for (const [name, value] of Object.entries(b.inputs)) {
    const tensor = flattenNested(value, `input "${name}"`, limits);
    total = addToRequest(total, tensor.values.length, limits);
    inputs.set(name, tensor);
  }
  return { model: b.model, version: b.version, inputs, outputs: b.outputs };
}

/**
 * A V2 infer body. `binary` is the part after the JSON header (binary data extension): inputs
 * with `parameters.binary_data_size` take their bytes from it, in order, as typed arrays.
 */
export function parseV2Infer(body: unknown, limits: InputLimits = DEFAULT_INPUT_LIMITS, binary?: Uint8Array): ParsedInfer {
  const b = parse(v2Body, body);
  const inputs = new Map<string, InputTensor>();
  const cursor = new BinaryCursor(binary);
  let total = 0;
  for (const [index, input] of b.inputs.entries()) {
    const what = `input "${input.name}"`;
    if (inputs.has(input.name)) throw new GatewayError('INVALID_INPUT', `${what} is given twice`);
    const type = ortTypeFromV2(input.datatype);
    if (!type) {
      throw new GatewayError('INVALID_INPUT', `${what}: "${input.datatype}" is not a V2 datatype this gateway supports`);
    }
    // The declared shape is authoritative and checked before the data is walked; V2 allows the
    // data flat or nested.
    const count = declaredElements(what, input.shape, limits);
    total = addToRequest(total, count, limits);
    const size = binaryDataSize(input.parameters, what);
    if (size !== undefined) {
      if (input.data !== undefined) throw new GatewayError('INVALID_INPUT', `${what} has both data and parameters.binary_data_size; send one`);
      const data = tensorFromRaw(type, cursor.take(size, what), count, what);
      checkStrings(type, data, what, limits);
      inputs.set(input.name, { kind: 'raw', shape: input.shape, datatype: input.datatype, data });
      continue;
    }
    if (input.data === undefined) {
      throw new GatewayError('BAD_REQUEST', `invalid request: inputs.${index}.data: required (or parameters.binary_data_size with the binary data extension)`);
    }
    const { values } = flattenNested(input.data, what, limits);
    if (values.length !== count) {
      throw new GatewayError('INVALID_INPUT', `${what}: shape [${input.shape.join(', ')}] needs ${count} values, got ${values.length}`);
    }
    inputs.set(input.name, { shape: input.shape, values, datatype: input.datatype });
  }
  cursor.end();
  return { id: b.id, version: b.version, inputs, outputs: b.outputs?.map((o) => o.name), binaryOutput: binaryOutputChoice(b.parameters, b.outputs) };
}

/** BYTES elements from raw bytes are held to the same string limit as JSON strings. */
function checkStrings(type: OrtType, data: TensorData, what: string, limits: InputLimits): void {
  if (type !== 'string') return;
  (data as string[]).forEach((s, i) => {
    if (s.length > limits.maxStringLength) {
      throw new GatewayError('LIMIT_EXCEEDED', `${what}: element [${i}] is a string of ${s.length} characters; at most ${limits.maxStringLength} are accepted`);
    }
  });
}

// Request bodies of /predict and V2 infer, checked with zod and turned into the service's
// JsonTensor map. Messages name the field (inputs.0.shape) so callers can fix their request.
import { z } from 'zod';
import { GatewayError } from '../errors/catalogue.js';
import { flattenNested, type JsonTensor } from '../inference/codec.js';
import { ortTypeFromV2 } from '../inference/dtypes.js';

const versionField = z.union([z.string().min(1), z.number().int().nonnegative()]).transform(String);

const predictBody = z.object({
  model: z.string({ error: 'must be a string naming the model' }).min(1),
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
        data: z.unknown(),
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

export interface ParsedInfer {
  readonly model?: string;
  readonly version?: string | undefined;
  readonly id?: string | undefined;
  readonly inputs: ReadonlyMap<string, JsonTensor>;
  readonly outputs?: readonly string[] | undefined;
}

export function parsePredict(body: unknown): ParsedInfer & { model: string } {
  const b = parse(predictBody, body);
  const inputs = new Map<string, JsonTensor>();
  for (const [name, value] of Object.entries(b.inputs)) inputs.set(name, flattenNested(value, `input "${name}"`));
  return { model: b.model, version: b.version, inputs, outputs: b.outputs };
}

export function parseV2Infer(body: unknown): ParsedInfer {
  const b = parse(v2Body, body);
  const inputs = new Map<string, JsonTensor>();
  for (const input of b.inputs) {
    if (inputs.has(input.name)) throw new GatewayError('INVALID_INPUT', `input "${input.name}" is given twice`);
    if (!ortTypeFromV2(input.datatype)) {
      throw new GatewayError('INVALID_INPUT', `input "${input.name}": "${input.datatype}" is not a V2 datatype this gateway supports`);
    }
    // V2 allows data flat or nested; the declared shape is authoritative either way.
    const values = Array.isArray(input.data) ? flattenNested(input.data, `input "${input.name}"`).values : [input.data];
    inputs.set(input.name, { shape: input.shape, values, datatype: input.datatype });
  }
  return { id: b.id, version: b.version, inputs, outputs: b.outputs?.map((o) => o.name) };
}

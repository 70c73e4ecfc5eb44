// The Open Inference Protocol's binary data extension for REST (Triton's "binary_tensor_data";
// see specs/open-inference-protocol/README.md). A request with `Inference-Header-Content-Length:
// N` carries N bytes of JSON, then the raw little-endian bytes of its binary inputs, in input
// order, each input's byte count in `parameters.binary_data_size`. Outputs are sent the same way
// when the request asks (`parameters.binary_data_output` for all, an output's
// `parameters.binary_data` for one), so large tensors never go through per-element JSON.
import type { Context } from 'koa';
import { GatewayError } from '../errors/catalogue.js';
import { V2_DATATYPE } from '../inference/dtypes.js';
import { rawFromTensor } from '../inference/raw-tensor.js';
import type { InferResult } from '../service/gateway-service.js';
import { parseJsonText, readBytes, readJson, turnFor, utf8Text, type BodyOptions } from './body.js';
import { headOf, JSON_TYPE } from './response-head.js';

export const HEADER_LENGTH = 'inference-header-content-length';

export interface V2Body {
  /** The JSON part. */
  readonly json: unknown;
  /** The bytes after the JSON header; undefined for a plain JSON request. */
  readonly binary?: Uint8Array;
}

function framing(message: string): GatewayError {
  return new GatewayError('BAD_REQUEST', `binary data extension: ${message}`);
}

/** Reads a V2 infer body: plain JSON, or a JSON header and raw bytes when the header says so. */
export async function readV2Body(ctx: Context, options: BodyOptions): Promise<V2Body> {
  const declared = ctx.get(HEADER_LENGTH);
  if (declared === '') return { json: await readJson(ctx, options) };
  if (!/^\d{1,15}$/.test(declared.trim())) throw framing(`Inference-Header-Content-Length must be a byte count, got "${declared.slice(0, 40)}"`);
  const headerLength = Number(declared.trim());
  const bytes = await readBytes(ctx, options);
  if (headerLength > bytes.length) {
    throw framing(`Inference-Header-Content-Length is ${headerLength} but the body has only ${bytes.length} bytes`);
  }
  // Raw tensor bytes are one copy each; only a large JSON header is worth a turn of its own.
  const turn = turnFor({ length: headerLength }, options.gate);
  if (turn !== undefined) await turn;
  const json = parseJsonText(utf8Text(bytes.subarray(0, headerLength)), 'the JSON header');
  return { json, binary: bytes.subarray(headerLength) };
}

/** An input's `parameters.binary_data_size`, or undefined when it carries `data` instead. */
export function binaryDataSize(parameters: Readonly<Record<string, unknown>> | undefined, what: string): number | undefined {
  const size = parameters?.binary_data_size;
  if (size === undefined) return undefined;
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) {
    throw new GatewayError('INVALID_INPUT', `${what}: parameters.binary_data_size must be a byte count, got ${JSON.stringify(size)}`);
  }
  return size;
}

/** Walks the binary part input by input; `end()` checks nothing is left over. */
export class BinaryCursor {
  private offset = 0;
  constructor(private readonly bytes: Uint8Array | undefined) {}

  take(size: number, what: string): Uint8Array {
    if (this.bytes === undefined) {
      throw framing(`${what} has parameters.binary_data_size but the request has no binary part (send the Inference-Header-Content-Length header)`);
    }
    const left = this.bytes.length - this.offset;
    if (size > left) throw framing(`${what}: binary_data_size ${size} goes beyond the binary part (${left} bytes left)`);
    const slice = this.bytes.subarray(this.offset, this.offset + size);
    this.offset += size;
    return slice;
  }

  end(): void {
    if (this.bytes !== undefined && this.offset !== this.bytes.length) {
      throw framing(`the binary part has ${this.bytes.length} bytes but the inputs' binary_data_size add up to ${this.offset}`);
    }
  }
}

function flag(parameters: Readonly<Record<string, unknown>> | undefined, key: string, what: string): boolean | undefined {
  const value = parameters?.[key];
  if (value === undefined || typeof value === 'boolean') return value;
  throw new GatewayError('BAD_REQUEST', `invalid request: ${what}parameters.${key} must be true or false`);
}

/**
 * Which outputs go back as raw bytes: an output's `binary_data` wins, else the request's
 * `binary_data_output`. Undefined when none does (the answer is plain JSON).
 */
export function binaryOutputChoice(
  parameters: Readonly<Record<string, unknown>> | undefined,
  outputs: ReadonlyArray<{ readonly name: string; readonly parameters?: Readonly<Record<string, unknown>> | undefined }> | undefined,
): ((name: string) => boolean) | undefined {
  const all = flag(parameters, 'binary_data_output', '') ?? false;
  const each = new Map<string, boolean>();
  for (const [i, o] of (outputs ?? []).entries()) {
    const one = flag(o.parameters, 'binary_data', `outputs.${i}.`);
    if (one !== undefined) each.set(o.name, one);
  }
  if (!all && ![...each.values()].some(Boolean)) return undefined;
  return (name) => each.get(name) ?? all;
}

/** Writes a V2 infer answer: JSON, or a JSON header and raw bytes when outputs are binary. */
export function writeV2Response(ctx: Context, result: InferResult, id: string | undefined, binaryOutput: ((name: string) => boolean) | undefined): void {
  const chunks: Uint8Array[] = [];
  const outputs = result.outputs.map((o) => {
    const head = { name: o.name, datatype: V2_DATATYPE[o.type], shape: o.shape };
    if (!binaryOutput?.(o.name)) return { ...head, data: o.values };
    const bytes = rawFromTensor(o.type, o.data);
    chunks.push(bytes);
    return { ...head, parameters: { binary_data_size: bytes.length } };
  });
  const body = { model_name: result.model, model_version: result.version, ...(id === undefined ? {} : { id }), outputs };
  const head = headOf(ctx);
  if (chunks.length === 0) {
    head.send(ctx, 200, JSON_TYPE, JSON.stringify(body));
    return;
  }
  const header = Buffer.from(JSON.stringify(body), 'utf8');
  // The whole body first: should it fail, the error answer must not carry the framing header.
  const whole = Buffer.concat([header, ...chunks]);
  head.set('Inference-Header-Content-Length', String(header.length));
  head.send(ctx, 200, 'application/octet-stream', whole);
}

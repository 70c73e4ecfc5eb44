// Reads a request body with a hard size limit (MAX_BODY_BYTES); every failure is a catalogued
// error. JSON bodies are read as text; the binary data extension's bodies as bytes.
import type { Context } from 'koa';
import getRawBody from 'raw-body';
import { GatewayError } from '../errors/catalogue.js';

function readFailure(err: unknown, limitBytes: number): GatewayError {
  const kind = (err as { type?: string }).type;
  if (kind === 'entity.too.large') {
    return new GatewayError('PAYLOAD_TOO_LARGE', `request body is larger than ${limitBytes} bytes`);
  }
  return new GatewayError('BAD_REQUEST', `could not read the request body (${kind ?? 'aborted'})`, { cause: err });
}

export async function readJson(ctx: Context, limitBytes: number): Promise<unknown> {
  // Like KServe and TF Serving, the body is read as JSON whatever Content-Type says: curl's -d
  // sends form-encoded by default, and refusing that helps nobody.
  let text: string;
  try {
    text = await getRawBody(ctx.req, { limit: limitBytes, encoding: 'utf8', length: ctx.request.length });
  } catch (err) {
    throw readFailure(err, limitBytes);
  }
  return parseJsonText(text);
}

/** JSON text → value; empty or malformed text is a MALFORMED_JSON error. */
export function parseJsonText(text: string, what = 'request body'): unknown {
  if (text.trim() === '') throw new GatewayError('MALFORMED_JSON', `${what} is empty; expected a JSON object`);
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new GatewayError('MALFORMED_JSON', `${what} is not valid JSON: ${(err as Error).message}`);
  }
}

/** The body as bytes, undecoded (the binary data extension: JSON header, then raw tensors). */
export async function readBytes(ctx: Context, limitBytes: number): Promise<Buffer> {
  try {
    return await getRawBody(ctx.req, { limit: limitBytes, length: ctx.request.length });
  } catch (err) {
    throw readFailure(err, limitBytes);
  }
}

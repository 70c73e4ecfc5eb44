// Reads a request body with a hard size limit (MAX_BODY_BYTES); every failure is a catalogued
// error. JSON bodies are read as text; the binary data extension's bodies as bytes.
import type { Context } from 'koa';
import getRawBody from 'raw-body';
import { GatewayError } from '../errors/catalogue.js';
import type { TurnGate } from './turn-gate.js';

function readFailure(err: unknown, limitBytes: number): GatewayError {
  const kind = (err as { type?: string }).type;
  if (kind === 'entity.too.large') {
    return new GatewayError('PAYLOAD_TOO_LARGE', `request body is larger than ${limitBytes} bytes`);
  }
  return new GatewayError('BAD_REQUEST', `could not read the request body (${kind ?? 'aborted'})`, { cause: err });
}

/** Bodies at least this long (characters) are parsed in their own turn of the event loop. */
export const LARGE_BODY_CHARS = 32 * 1024;

/** Reading options: the size limit, and the gate large bodies are decoded through. */
export interface BodyOptions {
  readonly limitBytes: number;
  readonly gate?: TurnGate | undefined;
}

/**
 * A turn to wait for when the text is large, else undefined (nothing to await: an await of
 * nothing still costs a trip through the microtask queue). The caller's synchronous
 * continuation (parse, then checks and flattening in the route) runs inside that turn, so a
 * large decode is one unit.
 */
export function turnFor(text: { length: number }, gate: TurnGate | undefined): Promise<void> | undefined {
  return gate !== undefined && text.length >= LARGE_BODY_CHARS ? gate.take() : undefined;
}

export async function readJson(ctx: Context, { limitBytes, gate }: BodyOptions): Promise<unknown> {
  // Like KServe and TF Serving, the body is read as JSON whatever Content-Type says: curl's -d
  // sends form-encoded by default, and refusing that helps nobody.
  // Bytes, decoded here: raw-body's `encoding` goes through iconv-lite's stream decoder, a
  // measurable part of a small request (~2 µs); Buffer#toString decodes UTF-8 the same way
  // (malformed sequences become U+FFFD) and the BOM is dropped as iconv-lite drops it.
  const text = utf8Text(await readBytes(ctx, { limitBytes }));
  const turn = turnFor(text, gate);
  if (turn !== undefined) await turn;
  return parseJsonText(text);
}

/** UTF-8 bytes → text, without a leading byte-order mark. */
export function utf8Text(bytes: Buffer): string {
  const text = bytes.toString('utf8');
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
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
export async function readBytes(ctx: Context, { limitBytes }: BodyOptions): Promise<Buffer> {
  try {
    return await getRawBody(ctx.req, { limit: limitBytes, length: ctx.request.length });
  } catch (err) {
    throw readFailure(err, limitBytes);
  }
}

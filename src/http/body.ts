// Reads a JSON request body with a hard size limit; every failure is a catalogued error.
import type { Context } from 'koa';
import getRawBody from 'raw-body';
import { GatewayError } from '../errors/catalogue.js';

export async function readJson(ctx: Context, limitBytes: number): Promise<unknown> {
  // Like KServe and TF Serving, the body is read as JSON whatever Content-Type says: curl's -d
  // sends form-encoded by default, and refusing that helps nobody.
  let text: string;
  try {
    text = await getRawBody(ctx.req, { limit: limitBytes, encoding: 'utf8', length: ctx.request.length });
  } catch (err) {
    const kind = (err as { type?: string }).type;
    if (kind === 'entity.too.large') {
      throw new GatewayError('PAYLOAD_TOO_LARGE', `request body is larger than ${limitBytes} bytes`);
    }
    throw new GatewayError('BAD_REQUEST', `could not read the request body (${kind ?? 'aborted'})`, { cause: err });
  }
  if (text.trim() === '') throw new GatewayError('MALFORMED_JSON', 'request body is empty; expected a JSON object');
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new GatewayError('MALFORMED_JSON', `request body is not valid JSON: ${(err as Error).message}`);
  }
}

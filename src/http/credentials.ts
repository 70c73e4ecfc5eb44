// Credentials shared by /admin/* and /console: the bearer token of a request, and comparing
// secrets in constant time.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Context } from 'koa';

/** Hashing first gives equal-length buffers, so the comparison time says nothing about either value. */
export function sameSecret(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

/** The token of `Authorization: Bearer <token>`, or undefined. */
export function bearerToken(ctx: Context): string | undefined {
  const m = /^Bearer\s+(.+)$/i.exec(ctx.get('authorization'));
  return m?.[1]?.trim();
}

// The registry file's shape, as one zod schema. The JSON Schema in config/ is generated from
// it (tools/write-registry-schema.ts), so editors and the gateway agree on one definition.
import { z } from 'zod';

export const MODEL_NAME_RE = /^[a-z0-9][a-z0-9_.-]*$/;
export const VERSION_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

const UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  tb: 1e12,
  kib: 2 ** 10,
  mib: 2 ** 20,
  gib: 2 ** 30,
  tib: 2 ** 40,
};
const SIZE_RE = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i;

/** Parses `512MiB`, `1GB`, `1024` (bytes); undefined when it is not a size. */
export function parseByteSize(value: string | number): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) && value >= 0 ? Math.floor(value) : undefined;
  const m = SIZE_RE.exec(value);
  if (!m || m[1] === undefined) return undefined;
  const unit = UNITS[(m[2] ?? '').toLowerCase()];
  return unit === undefined ? undefined : Math.floor(Number(m[1]) * unit);
}

// YAML turns an unquoted `1` into a number; version references are strings in our model, so
// whole numbers are accepted and read as their decimal string.
export const versionRef = z
  .union([z.string(), z.number().int().nonnegative()], { error: 'must be a version name or alias' })
  .transform(String)
  .describe('a version name or alias');

// The model cache (lru-cache) refuses a size below 1 byte or beyond a safe integer, and
// allocates index arrays of maxModels entries up front: such values are refused here, where
// they are written, rather than at start-up.
export const MAX_CACHE_MODELS = 10_000;

const byteSize = z
  .union(
    [
      z
        .number()
        .int('must be a whole number of bytes')
        .min(1, 'must be >= 1 byte')
        .max(Number.MAX_SAFE_INTEGER, `must be <= ${Number.MAX_SAFE_INTEGER}`),
      z.string(),
    ],
    { error: 'must be a number of bytes or a size such as 512MiB' },
  )
  .describe('bytes (at least 1), or a size with a unit: 512MiB, 1GiB, 500MB')
  .transform((v, ctx) => {
    const n = parseByteSize(v);
    if (n === undefined) {
      ctx.addIssue({ code: 'custom', message: `"${v}" is not a size (use bytes or a unit: 512MiB, 1GiB, 500MB)` });
      return z.NEVER;
    }
    if (n < 1 || n > Number.MAX_SAFE_INTEGER) {
      ctx.addIssue({ code: 'custom', message: `"${v}" must be at least 1 byte and at most ${Number.MAX_SAFE_INTEGER}` });
      return z.NEVER;
    }
    return n;
  });

/** Upper bounds of `batching`: beyond them a batch would hold requests for longer than any caller
 * of an online endpoint expects, or stack more rows than one run should take. */
export const MAX_BATCH_SIZE = 1024;
export const MAX_BATCH_DELAY_MS = 1000;

// Dynamic batching (inference/batcher.ts): concurrent requests stacked along dimension 0.
const batchingSchema = z
  .strictObject({
    maxBatchSize: z
      .number({ error: 'must be a number' })
      .int('must be a whole number')
      .min(1, 'must be >= 1')
      .max(MAX_BATCH_SIZE, `must be <= ${MAX_BATCH_SIZE}`)
      .describe('most rows (first-dimension entries) stacked into one run'),
    maxDelayMs: z
      .number({ error: 'must be a number' })
      .min(0, 'must be >= 0')
      .max(MAX_BATCH_DELAY_MS, `must be <= ${MAX_BATCH_DELAY_MS}`)
      .describe('longest a request waits for others to share its run, in milliseconds'),
  })
  .describe('dynamic batching, for models whose inputs all have a dynamic first dimension');

export const versionSchema = z.strictObject({
  uri: z.string({ error: 'must be a string (gs://…, file://… or a path)' }).min(1, 'must not be empty'),
  weight: z.number({ error: 'must be a number' }).min(0, 'must be >= 0').default(0),
  shadow: z.number({ error: 'must be a number' }).min(0, 'must be >= 0').max(1, 'must be <= 1').default(0),
  batching: batchingSchema.optional(),
});

const guardSchema = z.strictObject({
  maxErrorRate: z.number().min(0, 'must be >= 0').max(1, 'must be <= 1').optional(),
  maxP99Ms: z.number().positive('must be > 0').optional(),
  minRequests: z.number().int('must be a whole number').min(1, 'must be >= 1').default(100),
  windowSeconds: z.number().positive('must be > 0').default(60),
});

export const modelSchema = z.strictObject({
  versions: z.record(z.string(), versionSchema, { error: 'must be a map of version name to {uri, weight}' }),
  aliases: z.record(z.string(), versionRef).default({}),
  sticky: z
    .string()
    .regex(/^[A-Za-z0-9-]+$/, 'must be an HTTP header name')
    .transform((h) => h.toLowerCase())
    .optional(),
  fallback: versionRef.optional(),
  guard: guardSchema.optional(),
});

export const registrySchema = z.strictObject({
  $schema: z.string().optional(),
  cache: z
    .strictObject({
      maxModels: z
        .number()
        .int('must be a whole number')
        .min(1, 'must be >= 1')
        .max(MAX_CACHE_MODELS, `must be <= ${MAX_CACHE_MODELS}`)
        .default(8),
      maxBytes: byteSize.default(2 ** 30),
    })
    .default({ maxModels: 8, maxBytes: 2 ** 30 }),
  models: z.record(z.string(), modelSchema, { error: 'must be a map of model name to model' }),
});

export type RegistryFile = z.output<typeof registrySchema>;
export type RegistryFileModel = z.output<typeof modelSchema>;

// `model-gateway status`: what a running gateway serves right now, from GET /admin/registry —
// the live revision, and per version its configured and effective weight, whether it is loaded,
// and its guard state (a guard may have rolled a version back since the registry was written).
import { z } from 'zod';
import { bytes, percent, table, type Align } from './format.js';

export const STATUS_USAGE = `usage: model-gateway status [--url URL] [--token TOKEN]

Shows the live registry of a running gateway (GET URL/admin/registry): its revision and source,
and per model each version's configured weight, effective weight and share of traffic, whether it
is loaded (and its size), and its guard state.

  --url URL      the gateway (default http://localhost:$PORT, PORT defaulting to 8080)
  --token TOKEN  the gateway's ADMIN_TOKEN (default: the ADMIN_TOKEN environment variable)
  -h, --help     this text

exit codes: 0 done, 1 the gateway could not be asked or refused, 2 usage
`;

const guardSchema = z.object({
  state: z.string(),
  reason: z.string().nullish(),
  at: z.string().nullish(),
  requests: z.number().nullish(),
  errorRate: z.number().nullish(),
  p99Ms: z.number().nullish(),
  /** false: the rollback could not be written to the registry source and holds in memory only. */
  persisted: z.boolean().nullish(),
});

const versionSchema = z.object({
  name: z.string(),
  weight: z.number(),
  effectiveWeight: z.number(),
  share: z.number(),
  shadow: z.number().default(0),
  state: z.string(),
  loaded: z.boolean(),
  bytes: z.number().nullable(),
  guard: guardSchema.nullable(),
});

const registrySchema = z.object({
  revision: z.string(),
  source: z.string(),
  loadedAt: z.string(),
  models: z.array(
    z.object({
      name: z.string(),
      sticky: z.string().nullish(),
      fallback: z.string().nullish(),
      aliases: z.record(z.string(), z.string()).default({}),
      versions: z.array(versionSchema),
    }),
  ),
});

export type LiveRegistry = z.infer<typeof registrySchema>;

export interface StatusOptions {
  readonly url: string;
  readonly token: string | undefined;
  readonly timeoutMs?: number;
}

/** Why the gateway's answer is not a registry, said so a person knows what to do. */
function refusalMessage(status: number, endpoint: string, body: string): string {
  switch (status) {
    case 401:
      return `${endpoint} answered 401: the admin API needs a token; pass --token or set ADMIN_TOKEN`;
    case 403:
      return `${endpoint} answered 403: the token was refused; check --token or ADMIN_TOKEN`;
    case 404:
      return `${endpoint} answered 404: admin API is off: set ADMIN_TOKEN on the gateway`;
    default:
      return `${endpoint} answered ${status}: ${body.slice(0, 300)}`;
  }
}

/** The live registry, or a message saying why it could not be had. */
export async function fetchStatus(options: StatusOptions): Promise<{ registry: LiveRegistry } | { error: string }> {
  const endpoint = `${options.url.replace(/\/+$/, '')}/admin/registry`;
  let res: Response;
  try {
    res = await fetch(endpoint, {
      headers: options.token ? { authorization: `Bearer ${options.token}` } : {},
      signal: AbortSignal.timeout(options.timeoutMs ?? 10_000),
    });
  } catch (err) {
    const cause = (err as { cause?: { code?: unknown } }).cause;
    if (cause?.code === 'ECONNREFUSED') return { error: `cannot reach the gateway at ${options.url}: connection refused (is it running? pass --url)` };
    return { error: `cannot reach the gateway at ${options.url}: ${(err as Error).message}${cause?.code ? ` (${String(cause.code)})` : ''}` };
  }
  const body = await res.text();
  if (res.status !== 200) return { error: refusalMessage(res.status, endpoint, body) };
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    return { error: `${endpoint} did not answer JSON: ${body.slice(0, 200)}` };
  }
  const parsed = registrySchema.safeParse(json);
  if (!parsed.success) return { error: `${endpoint} answered an unexpected shape: ${parsed.error.issues[0]?.message ?? 'invalid'}` };
  return { registry: parsed.data };
}

/** Three significant digits below 100 ms (0.459, 12.5), whole milliseconds above. */
function milliseconds(ms: number): string {
  return String(ms >= 100 ? Math.round(ms) : Number(ms.toPrecision(3)));
}

function describeGuard(g: z.infer<typeof guardSchema> | null): string {
  if (!g) return '-';
  const when = [g.reason, g.at ? `at ${g.at}` : undefined].filter((s) => s).join(' ');
  const numbers = [
    g.requests != null ? `${g.requests} req` : undefined,
    g.errorRate != null ? `${percent(g.errorRate)} errors` : undefined,
    g.p99Ms != null ? `p99 ${milliseconds(g.p99Ms)} ms` : undefined,
  ].filter((s) => s);
  const memoryOnly = g.persisted === false ? '; in memory only, not written back' : '';
  return `${g.state}${when ? ` (${when}${memoryOnly})` : ''}${numbers.length > 0 ? `: ${numbers.join(', ')}` : ''}`;
}

export function formatStatus(url: string, live: LiveRegistry): string {
  const lines = [table([['gateway', url], ['revision', live.revision], ['source', live.source], ['loaded at', live.loadedAt]])];
  for (const model of live.models) {
    const about = [
      model.sticky ? `sticky ${model.sticky}` : undefined,
      model.fallback ? `fallback ${model.fallback}` : undefined,
      ...Object.entries(model.aliases).map(([alias, target]) => `${alias} → ${target}`),
    ].filter((s) => s);
    lines.push('', `${model.name}${about.length > 0 ? `  (${about.join(', ')})` : ''}`);
    const withShadow = model.versions.some((v) => v.shadow > 0);
    const rows = [['version', 'weight', 'effective', 'share', ...(withShadow ? ['shadow'] : []), 'loaded', 'state', 'guard']];
    for (const v of model.versions) {
      rows.push([
        v.name,
        String(v.weight),
        String(v.effectiveWeight),
        percent(v.share),
        ...(withShadow ? [v.shadow > 0 ? percent(v.shadow) : '-'] : []),
        v.loaded ? (v.bytes != null ? bytes(v.bytes) : 'yes') : 'no',
        v.state,
        describeGuard(v.guard),
      ]);
    }
    const align: Align[] = ['left', 'right', 'right', 'right', ...(withShadow ? (['right'] as const) : [])];
    lines.push(table(rows, align, '  '));
  }
  return lines.join('\n');
}

import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../../src/cli/run.js';
import { REPO_ROOT } from '../support/harness.js';
import { runToExit } from '../support/process.js';

// GET /admin/registry as the gateway answers it (the shape agreed for issue 5).
const LIVE = {
  revision: 'abc123def456',
  source: 'file:///srv/models.yaml',
  loadedAt: '2026-11-25T20:00:00.000Z',
  models: [
    {
      name: 'iris',
      sticky: 'x-user-id',
      fallback: '1',
      aliases: { stable: '1' },
      versions: [
        {
          name: '1',
          uri: 'gs://b/1.onnx',
          weight: 90,
          effectiveWeight: 90,
          share: 0.9,
          shadow: 0,
          state: 'loaded',
          loaded: true,
          bytes: 1234,
          guard: { state: 'ok', requests: 120, errorRate: 0.01, p99Ms: 12.5 },
        },
        {
          name: '2',
          uri: 'gs://b/2.onnx',
          weight: 10,
          effectiveWeight: 0,
          share: 0,
          shadow: 0,
          state: 'loadable',
          loaded: false,
          bytes: null,
          guard: { state: 'rolled_back', reason: 'error_rate', at: '2026-11-25T20:01:00.000Z', requests: 150, errorRate: 0.4, p99Ms: 30 },
        },
      ],
    },
    {
      name: 'plain',
      sticky: null,
      fallback: null,
      aliases: {},
      versions: [
        { name: 'a', uri: 'a.onnx', weight: 3, effectiveWeight: 3, share: 0.75, shadow: 0, state: 'loaded', loaded: true, bytes: 5_500_000, guard: null },
        { name: 'b', uri: 'b.onnx', weight: 1, effectiveWeight: 1, share: 0.25, shadow: 0.5, state: 'loading', loaded: false, bytes: null, guard: null },
      ],
    },
    {
      // A guard rollback the gateway could not write back (a read-only source): memory only.
      name: 'tight',
      sticky: null,
      fallback: 'x',
      aliases: {},
      versions: [
        {
          name: 'x',
          uri: 'x.onnx',
          weight: 0,
          effectiveWeight: 0,
          share: 0,
          shadow: 0,
          state: 'failed',
          loaded: false,
          bytes: null,
          guard: { state: 'rolled_back', reason: 'p99', at: '2026-11-25T20:02:00.000Z', persisted: false, requests: 9, errorRate: 0, p99Ms: 1234.56 },
        },
        {
          name: 'y',
          uri: 'y.onnx',
          weight: 1,
          effectiveWeight: 1,
          share: 1,
          shadow: 0,
          state: 'loaded',
          loaded: true,
          bytes: 3 * 2 ** 30,
          guard: { state: 'ok', requests: 0, errorRate: 0, p99Ms: 0.45949729863572203 },
        },
      ],
    },
  ],
};

const TOKEN = 's3cret-token';

interface Server {
  readonly url: string;
  readonly port: number;
  readonly seen: Array<string | undefined>;
  close(): Promise<void>;
}

async function serve(handler: (req: http.IncomingMessage, res: http.ServerResponse) => void): Promise<Server> {
  const seen: Array<string | undefined> = [];
  const server = http.createServer((req, res) => {
    seen.push(req.headers.authorization);
    handler(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    seen,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** A gateway whose admin API is on: 401 without a token, 403 with a wrong one. */
function adminOn(req: http.IncomingMessage, res: http.ServerResponse): void {
  const send = (status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  if (req.method !== 'GET' || req.url !== '/admin/registry') return send(404, { error: 'not found', code: 'NOT_FOUND' });
  const auth = req.headers.authorization;
  if (auth === undefined) return send(401, { error: 'admin token required', code: 'UNAUTHORIZED' });
  if (auth !== `Bearer ${TOKEN}`) return send(403, { error: 'admin token refused', code: 'FORBIDDEN' });
  send(200, LIVE);
}

let on: Server;
let off: Server;
beforeAll(async () => {
  on = await serve(adminOn);
  off = await serve((_req, res) => {
    res.writeHead(404, { 'content-type': 'application/json' });
    res.end('{"error":"not found","code":"NOT_FOUND"}');
  });
});
afterAll(async () => {
  await on.close();
  await off.close();
});

async function cli(env: NodeJS.ProcessEnv, ...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await run(args, env, (s) => (out += `${s}\n`), (s) => (err += `${s}\n`));
  return { code, out, err };
}

const expectedTable = (url: string) =>
  [
    `gateway    ${url}`,
    'revision   abc123def456',
    'source     file:///srv/models.yaml',
    'loaded at  2026-11-25T20:00:00.000Z',
    '',
    'iris  (sticky x-user-id, fallback 1, stable → 1)',
    '  version  weight  effective  share  loaded   state     guard',
    '  1            90         90  90.0%  1.2 KiB  loaded    ok: 120 req, 1.0% errors, p99 12.5 ms',
    '  2            10          0   0.0%  no       loadable  rolled_back (error_rate at 2026-11-25T20:01:00.000Z): 150 req, 40.0% errors, p99 30 ms',
    '',
    'plain',
    '  version  weight  effective  share  shadow  loaded   state    guard',
    '  a             3          3  75.0%       -  5.2 MiB  loaded   -',
    '  b             1          1  25.0%   50.0%  no       loading  -',
    '',
    'tight  (fallback x)',
    '  version  weight  effective   share  loaded   state   guard',
    '  x             0          0    0.0%  no       failed  rolled_back (p99 at 2026-11-25T20:02:00.000Z; in memory only, not written back): 9 req, 0.0% errors, p99 1235 ms',
    '  y             1          1  100.0%  3.0 GiB  loaded  ok: 0 req, 0.0% errors, p99 0.459 ms',
    '',
  ].join('\n');

describe('model-gateway status', () => {
  it('prints the live revision and, per model, weights, effective shares, loaded bytes, state and guard', async () => {
    const { code, out, err } = await cli({}, 'status', '--url', on.url, '--token', TOKEN);
    expect(err).toBe('');
    expect(code).toBe(0);
    expect(out).toBe(expectedTable(on.url));
    expect(on.seen.at(-1)).toBe(`Bearer ${TOKEN}`);
  });

  it('as the installed bin: URL from PORT, token from ADMIN_TOKEN', async () => {
    const { code, output } = await runToExit('node', ['dist/cli/main.js', 'status'], {
      cwd: REPO_ROOT,
      env: { ...process.env, PORT: String(on.port), ADMIN_TOKEN: TOKEN },
    });
    expect(code, output).toBe(0);
    expect(output).toBe(expectedTable(`http://localhost:${on.port}`));
  });

  it('says what to do when the admin API refuses (401, 403) or is off (404), exit 1', async () => {
    const none = await cli({}, 'status', '--url', on.url);
    expect(none.code).toBe(1);
    expect(on.seen.at(-1)).toBeUndefined();
    expect(none.err).toBe(`${on.url}/admin/registry answered 401: the admin API needs a token; pass --token or set ADMIN_TOKEN\n`);
    const wrong = await cli({ ADMIN_TOKEN: 'guess' }, 'status', '--url', on.url);
    expect(wrong.code).toBe(1);
    expect(wrong.err).toBe(`${on.url}/admin/registry answered 403: the token was refused; check --token or ADMIN_TOKEN\n`);
    const disabled = await runToExit('node', ['dist/cli/main.js', 'status', '--url', `${off.url}/`, '--token', TOKEN], { cwd: REPO_ROOT, env: process.env });
    expect(disabled.code).toBe(1);
    expect(disabled.output).toBe(`${off.url}/admin/registry answered 404: admin API is off: set ADMIN_TOKEN on the gateway\n`);
  });

  it('says so when nothing listens (connection refused), exit 1', async () => {
    const gone = await serve(() => undefined);
    await gone.close();
    const { code, out, err } = await cli({ PORT: String(gone.port) }, 'status');
    expect(code).toBe(1);
    expect(out).toBe('');
    expect(err).toBe(`cannot reach the gateway at http://localhost:${gone.port}: connection refused (is it running? pass --url)\n`);
  });

  it('refuses an answer that is not the registry shape, exit 1', async () => {
    const odd = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"revision": 7}');
    });
    try {
      const { code, err } = await cli({}, 'status', '--url', odd.url);
      expect(code).toBe(1);
      expect(err).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/admin\/registry answered an unexpected shape: /);
    } finally {
      await odd.close();
    }
  });

  it('positional arguments or unknown options are usage errors (exit 2)', async () => {
    expect((await cli({}, 'status', 'extra')).code).toBe(2);
    expect((await cli({}, 'status', '--bogus')).code).toBe(2);
  });
});

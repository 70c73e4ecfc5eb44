// The entry point as users run it: `npm start` on the default registry, the README's curl
// examples against it, clean shutdown on SIGTERM, and refusal of a bad registry or environment.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTempDir, REPO_ROOT, writeFile } from './support/harness.js';
import { runToExit, startServerProcess, type ServerProcess } from './support/process.js';

function start(command: string, args: string[], env: Record<string, string>): Promise<ServerProcess> {
  return startServerProcess(command, args, { cwd: REPO_ROOT, env: { ...process.env, PORT: '0', ...env }, detached: true });
}

async function waitReady(url: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const res = await fetch(`${url}/v2/health/ready`).catch(() => undefined);
    if (res?.status === 200) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('never became ready');
}

interface CurlExample {
  path: string;
  headers: Record<string, string>;
  body: string;
  documented: string | undefined;
}

/** The README's `curl ... -d '...'` examples with the answer documented under each. */
function readmeExamples(): CurlExample[] {
  const lines = readFileSync(path.join(REPO_ROOT, 'README.md'), 'utf8').split('\n');
  const examples: CurlExample[] = [];
  lines.forEach((line, i) => {
    const m = /^curl -s localhost:8080(\S+)(.*) -d '(.*)'$/.exec(line);
    if (!m) return;
    const headers = Object.fromEntries([...(m[2] ?? '').matchAll(/-H '([^:]+): ([^']+)'/g)].map((h) => [h[1] ?? '', h[2] ?? '']));
    const next = lines[i + 1] ?? '';
    examples.push({ path: m[1] ?? '', headers, body: m[3] ?? '', documented: next.startsWith('# {') ? next.slice(2) : undefined });
  });
  return examples;
}

describe('npm start', () => {
  let server: ServerProcess;
  const temp = makeTempDir();
  beforeAll(async () => {
    server = await start('npm', ['start', '--silent'], { MODEL_CACHE_DIR: path.join(temp.dir, 'cache') });
    await waitReady(server.url);
  });
  afterAll(async () => {
    if (server.child.pid) process.kill(-server.child.pid, 'SIGKILL');
    temp.cleanup();
  });

  it('serves the default registry, and every README curl example answers as documented', async () => {
    const examples = readmeExamples();
    expect(examples.length).toBeGreaterThanOrEqual(3);
    for (const ex of examples) {
      // curl -d sends form-encoded content; the gateway must take it as JSON all the same.
      const res = await fetch(`${server.url}${ex.path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', ...ex.headers },
        body: ex.body,
      });
      const text = await res.text();
      expect(res.status, `${ex.path}: ${text}`).toBe(200);
      if (ex.documented === undefined) continue;
      if (ex.documented.includes('...')) {
        const [head] = ex.documented.split('...');
        expect(text.startsWith(head ?? ''), text).toBe(true);
        const tail = ex.documented.slice(ex.documented.lastIndexOf('...') + 3);
        expect(text.endsWith(tail), text).toBe(true);
      } else {
        expect(JSON.parse(text)).toEqual(JSON.parse(ex.documented));
      }
    }
  });

  it('logs each request with its x-request-id', async () => {
    await fetch(`${server.url}/v2/health/live`, { headers: { 'x-request-id': 'trace-me-123' } });
    await new Promise((r) => setTimeout(r, 100));
    expect(server.output()).toMatch(/"requestId":"trace-me-123".*"path":"\/v2\/health\/live"/);
  });
});

describe('the entry point', () => {
  it('exits 0 on SIGTERM once in-flight work is done', async () => {
    const temp = makeTempDir();
    try {
      const s = await start('node', ['dist/server.js'], { MODEL_CACHE_DIR: path.join(temp.dir, 'c'), SHUTDOWN_GRACE_SECONDS: '2' });
      await waitReady(s.url);
      s.child.kill('SIGTERM');
      expect(await s.exited).toBe(0);
      expect(s.output()).toContain('"msg":"stopped"');
    } finally {
      temp.cleanup();
    }
  });

  it('refuses an invalid registry with exit 1 and every problem listed', async () => {
    const temp = makeTempDir();
    try {
      const file = writeFile(temp.dir, 'bad.yaml', 'models:\n  m:\n    versions:\n      "1": { uri: m.onnx, weight: -2 }\n    fallback: "3"\n');
      const { code, output } = await runToExit('node', ['dist/server.js'], { cwd: REPO_ROOT, env: { ...process.env, MODEL_REGISTRY: file, PORT: '0' } });
      expect(code).toBe(1);
      expect(output).toContain('models.m.versions.1.weight (line 4): must be >= 0');
      expect(output).toContain('models.m.fallback (line 5): points at unknown version \\"3\\"');
    } finally {
      temp.cleanup();
    }
  });

  it('refuses an invalid environment with exit 1 naming the variable', async () => {
    const { code, output } = await runToExit('node', ['dist/server.js'], { cwd: REPO_ROOT, env: { ...process.env, PORT: 'eighty', LOG_LEVEL: 'loud' } });
    expect(code).toBe(1);
    expect(output).toContain('PORT=eighty');
    expect(output).toContain('LOG_LEVEL=loud');
  });
});

// The entry point as users run it: `npm start` on the default registry, the README's curl
// examples against it, clean shutdown on SIGTERM, and refusal of a bad registry or environment.
import { readdirSync, readFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTempDir, REPO_ROOT, writeFile } from './support/harness.js';
import { runToExit, startServerProcess, type ServerProcess } from './support/process.js';
import { SLOW_WIDTH, slowBody, slowModel } from './support/slow-model.js';

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

async function waitForOutput(s: ServerProcess, pattern: RegExp): Promise<void> {
  for (let i = 0; i < 750 && !pattern.test(s.output()); i++) await new Promise((r) => setTimeout(r, 20));
  expect(s.output()).toMatch(pattern);
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

  it('runs every gateway process with a young generation that may grow to 16 MiB, whatever the memory (README "Memory")', () => {
    // The primary and each cluster worker (forked with the primary's flags) of this process group.
    const group = String(server.child.pid);
    const commands = readdirSync('/proc')
      .filter((d) => /^\d+$/.test(d))
      .flatMap((pid) => {
        try {
          const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
          const pgrp = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2];
          return pgrp === group ? [readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')] : [];
        } catch {
          return []; // gone meanwhile
        }
      })
      .filter((argv) => argv.some((a) => a.endsWith('dist/server.js')));
    expect(commands.length).toBeGreaterThanOrEqual(1);
    for (const argv of commands) expect(argv).toEqual(expect.arrayContaining(['--max-semi-space-size=16']));
  });

  it('logs each request with its x-request-id', async () => {
    await fetch(`${server.url}/v2/health/live`, { headers: { 'x-request-id': 'trace-me-123' } });
    // The line reaches us through a pipe from another process: wait for it rather than a fixed 100 ms.
    await waitForOutput(server, /"requestId":"trace-me-123".*"path":"\/v2\/health\/live"/);
  });
});

describe('the entry point', () => {
  it('on SIGTERM to the npm start process group: drains, answers all 50 in-flight requests, refuses new connections, exits 0', async () => {
    const temp = makeTempDir();
    const drainSeconds = 3;
    try {
      const registry = writeFile(temp.dir, 'models.yaml', 'models:\n  slow:\n    versions:\n      "1": { uri: slow.onnx, weight: 1 }\n');
      writeFile(temp.dir, 'slow.onnx', slowModel);
      const s = await start('npm', ['start', '--silent'], {
        MODEL_REGISTRY: registry,
        MODEL_CACHE_DIR: path.join(temp.dir, 'c'),
        SHUTDOWN_GRACE_SECONDS: '30',
        SHUTDOWN_DRAIN_SECONDS: String(drainSeconds),
        // One run at a time, the rest queued: onnxruntime-node runs block the event loop, and
        // runs started together would all finish before the signal is even seen.
        MAX_INFLIGHT_PER_VERSION: '1',
        MAX_QUEUE_PER_VERSION: '100',
        // The default (one process per core), as `npm start` runs in production.
        PROCESSES: '',
      });
      await waitReady(s.url);
      // Readiness is polled on one kept-alive connection, opened now: a new connection would
      // wait in the kernel's accept queue behind the 50 (a server busy running models takes in
      // one connection per event-loop turn).
      const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
      const readiness = () =>
        new Promise<http.IncomingMessage>((resolve, reject) => {
          const req = http.get(`${s.url}/v2/health/ready`, { agent }, (res) => {
            res.resume();
            res.once('end', () => resolve(res));
          });
          req.once('error', reject);
        });
      expect((await readiness()).statusCode).toBe(200);
      const post = (rows: number) => {
        // Each on its own connection; `sent` once the whole request has left for the server.
        const req = http.request(`${s.url}/predict`, { method: 'POST', agent: false, headers: { 'content-type': 'application/json' } });
        const sent = new Promise<void>((resolve) => req.once('finish', resolve));
        const answer = new Promise<{ status: number; body: { outputs?: { sum?: number[][] } } }>((resolve, reject) => {
          req.once('error', reject);
          req.once('response', (res) => {
            let text = '';
            res.on('data', (c: Buffer) => (text += c.toString()));
            res.once('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as { outputs?: { sum?: number[][] } } }));
          });
        });
        req.end(slowBody('slow', rows));
        return { sent, answer };
      };

      // 50 requests of real work (tens of ms of matrix products each, run one after another),
      // all sent before the signal; most are still unanswered when it is.
      const rows = Array.from({ length: 50 }, (_, i) => 150 + i);
      const requests = rows.map((r) => post(r));
      await Promise.all(requests.map((r) => r.sent));
      let answered = 0;
      for (const r of requests) void r.answer.then(() => answered++, () => undefined);
      await Promise.race(requests.map((r) => r.answer));
      const unansweredAtSignal = 50 - answered;
      process.kill(-(s.child.pid ?? 0), 'SIGTERM');
      expect(unansweredAtSignal).toBeGreaterThanOrEqual(40);

      // Within the drain window: not ready (once the signal is handled), but new connections
      // are still served.
      let ready = await readiness();
      for (let i = 0; i < 100 && ready.statusCode === 200; i++) ready = await readiness();
      expect(ready.statusCode).toBe(503);
      expect(ready.headers.connection).toBe('close'); // keep-alive clients move elsewhere
      agent.destroy();
      const late = await post(7).answer;
      expect(late.status).toBe(200);
      expect(late.body.outputs?.sum).toEqual([[7 * SLOW_WIDTH]]);

      const answers = await Promise.all(requests.map((r) => r.answer));
      expect(answers.map((a) => a.status)).toEqual(rows.map(() => 200));
      expect(answers.map((a) => a.body.outputs?.sum?.[0]?.[0])).toEqual(rows.map((r) => r * SLOW_WIDTH));

      // After the drain window the listener is closed: a new connection is refused. In a cluster
      // the port closes with the last process to stop accepting.
      const processes = os.availableParallelism();
      const stoppedAccepting = () => [...s.output().matchAll(/"msg":"stopped accepting connections"/g)].length;
      for (let i = 0; i < 750 && stoppedAccepting() < processes; i++) await new Promise((r) => setTimeout(r, 20));
      expect(stoppedAccepting()).toBe(processes);
      const refused = await new Promise<string | undefined>((resolve) => {
        const socket = net.connect(Number(new URL(s.url).port), '127.0.0.1');
        socket.once('connect', () => {
          socket.destroy();
          resolve('connected');
        });
        socket.once('error', (err: NodeJS.ErrnoException) => resolve(err.code));
      });
      expect(refused).toBe('ECONNREFUSED');

      expect(await s.exited).toBe(0); // npm's own exit code, not only node's
      const log = s.output();
      // Every process of the default cluster (one per core) drained and stopped.
      expect([...log.matchAll(/"msg":"stopped"/g)]).toHaveLength(processes);
      // Log lines carry ISO times (Cloud Logging's format).
      const times = (msg: string) => Date.parse(new RegExp(`"time":"([^"]+)"[^\\n]*"msg":"${msg}"`).exec(log)?.[1] ?? '');
      expect(times('stopped accepting connections') - times('draining')).toBeGreaterThanOrEqual(drainSeconds * 1000 - 50);
    } finally {
      temp.cleanup();
    }
  }, 60_000);

  it('cuts off a request still unfinished when SHUTDOWN_GRACE_SECONDS is over, and exits 0', async () => {
    const temp = makeTempDir();
    try {
      const s = await start('node', ['dist/server.js'], { MODEL_CACHE_DIR: path.join(temp.dir, 'c'), SHUTDOWN_GRACE_SECONDS: '1', SHUTDOWN_DRAIN_SECONDS: '0.2' });
      await waitReady(s.url);
      // A client that sends headers and never the whole body keeps its request in flight.
      const socket = net.connect(Number(new URL(s.url).port), '127.0.0.1');
      await new Promise((r) => socket.once('connect', r));
      socket.write('POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"model":');
      const closed = new Promise((r) => socket.once('close', r));
      await new Promise((r) => setTimeout(r, 100));
      const signalledAt = performance.now();
      s.child.kill('SIGTERM');
      expect(await s.exited).toBe(0);
      const took = performance.now() - signalledAt;
      expect(took).toBeGreaterThanOrEqual(950);
      expect(took).toBeLessThan(5000);
      await closed;
      expect(s.output()).toContain('"msg":"grace period over; closing remaining connections"');
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
    const { code, output } = await runToExit('node', ['dist/server.js'], { cwd: REPO_ROOT, env: { ...process.env, PORT: 'eighty', LOG_LEVEL: 'loud', SHUTDOWN_DRAIN_SECONDS: '20' } });
    expect(code).toBe(1);
    expect(output).toContain('PORT=eighty');
    expect(output).toContain('SHUTDOWN_DRAIN_SECONDS=20: must be a number of seconds from 0 to SHUTDOWN_GRACE_SECONDS (10)');
    expect(output).toContain('LOG_LEVEL=loud');
  });
});

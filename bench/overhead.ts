// npm run bench — what the gateway costs per request over a minimal hand-written server that
// parses JSON, runs the same onnxruntime session and writes JSON back. Both run in this process
// on loopback, alternated, so the machine's noise hits both; report ratios, not absolutes.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import autocannon from 'autocannon';
import * as ort from 'onnxruntime-node';
import { pino } from 'pino';
import { createGateway } from '../src/gateway.js';
import { linearModel } from '../tools/onnx-builder.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 8);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);

interface Case {
  name: string;
  file: string;
  input: string;
  /** JSON body for /predict, and the same tensor for the baseline. */
  body: unknown;
  dims: number[];
  data: number[];
}

function cases(dir: string): Case[] {
  const linear = path.join(dir, 'linear.onnx');
  writeFileSync(linear, linearModel([[0.5], [1], [1.5], [2]], [0.1]));
  const out: Case[] = [{ name: 'linear-4', file: linear, input: 'x', body: { model: 'linear-4', inputs: { x: [[1, 2, 3, 4]] } }, dims: [1, 4], data: [1, 2, 3, 4] }];
  const mnist = path.resolve('..', 'shared', 'models', 'mnist-8', 'model.onnx');
  if (existsSync(mnist)) {
    const pixels = Array.from({ length: 784 }, (_, i) => (i % 17) / 17);
    const nested = [[Array.from({ length: 28 }, (_, r) => pixels.slice(r * 28, r * 28 + 28))]];
    out.push({ name: 'mnist-8', file: mnist, input: 'Input3', body: { model: 'mnist-8', inputs: { Input3: nested } }, dims: [1, 1, 28, 28], data: pixels });
  }
  return out;
}

/** The hand-written wrapper a team would otherwise write: no validation, routing or metrics. */
async function baseline(c: Case): Promise<http.Server> {
  const session = await ort.InferenceSession.create(c.file, { executionProviders: ['cpu'] });
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (d: Buffer) => chunks.push(d));
    req.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString()) as { inputs: Record<string, unknown> };
      const flat = (body.inputs[c.input] as unknown[]).flat(4) as number[];
      session.run({ [c.input]: new ort.Tensor('float32', Float32Array.from(flat), c.dims) }).then((out) => {
        const outputs = Object.fromEntries(Object.entries(out).map(([k, t]) => [k, Array.from(t.data as Float32Array)]));
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ outputs }));
      });
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return server;
}

async function gateway(c: Case, dir: string): Promise<http.Server> {
  const registry = path.join(dir, `${c.name}.yaml`);
  writeFileSync(registry, `models:\n  ${c.name}:\n    versions: { "1": { uri: ${c.file}, weight: 1 } }\n`);
  const gw = await createGateway({ registry, modelCacheDir: path.join(dir, 'cache'), modelRoots: [path.dirname(c.file)], log: pino({ level: 'silent' }) });
  await gw.warm();
  const server = http.createServer(gw.app.callback());
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return server;
}

async function load(server: http.Server, body: unknown): Promise<{ rps: number; p99: number; errors: number }> {
  const { port } = server.address() as AddressInfo;
  const result = await autocannon({
    url: `http://127.0.0.1:${port}/predict`,
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
    connections: CONNECTIONS,
    duration: SECONDS,
    // Load from a worker thread, so the client does not share the event loop it measures.
    workers: 1,
  });
  return { rps: result.requests.average, p99: result.latency.p99, errors: result.errors + result.non2xx };
}

const dir = mkdtempSync(path.join(os.tmpdir(), 'mg-bench-'));
for (const c of cases(dir)) {
  const servers = { baseline: await baseline(c), gateway: await gateway(c, dir) };
  const runs: Record<string, Array<{ rps: number; p99: number; errors: number }>> = { baseline: [], gateway: [] };
  for (let round = 0; round < ROUNDS; round++) {
    for (const name of round % 2 === 0 ? (['baseline', 'gateway'] as const) : (['gateway', 'baseline'] as const)) {
      runs[name]?.push(await load(servers[name], c.body));
    }
  }
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const b = runs.baseline ?? [];
  const g = runs.gateway ?? [];
  console.log(
    `${c.name}: gateway/baseline throughput ${(mean(g.map((r) => r.rps)) / mean(b.map((r) => r.rps))).toFixed(2)}, ` +
      `p99 latency ${(mean(g.map((r) => r.p99)) / mean(b.map((r) => r.p99))).toFixed(2)} ` +
      `(baseline ${mean(b.map((r) => r.rps)).toFixed(0)} req/s p99 ${mean(b.map((r) => r.p99)).toFixed(1)} ms; ` +
      `gateway ${mean(g.map((r) => r.rps)).toFixed(0)} req/s p99 ${mean(g.map((r) => r.p99)).toFixed(1)} ms; ` +
      `errors ${[...b, ...g].reduce((n, r) => n + r.errors, 0)}; ${CONNECTIONS} connections, ${ROUNDS}x${SECONDS}s each)`,
  );
  servers.baseline.close();
  servers.gateway.close();
}
process.exit(0);

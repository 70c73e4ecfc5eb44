// npm run bench:grpc — the same shufflenet-sized input (150,528 floats, [1, 3, 224, 224]) sent
// to one gateway as REST V2 JSON and as gRPC raw_input_contents (and typed fp32_contents), with
// a model that does almost nothing (ReduceMean) so transport and decoding dominate; BENCH_MODEL=
// shufflenet uses ../shared/models/shufflenet-v2-12-int8 instead. Load comes from a worker thread
// (autocannon for REST, grpc-js for gRPC); scenarios alternate across rounds, so the machine's
// noise hits all of them. Report ratios, not absolutes.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import autocannon from 'autocannon';
import { pino } from 'pino';
import { createGateway } from '../src/gateway.js';
import { PROTO_PATH } from '../src/grpc/proto.js';
import { startGrpcServer } from '../src/grpc/server.js';
import { buildModel } from '../tools/onnx-builder.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 6);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 8);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);
const SHAPE = [1, 3, 224, 224];
const COUNT = SHAPE.reduce((a, b) => a * b, 1);

interface Result {
  rps: number;
  p50: number;
  p99: number;
  errors: number;
}

function modelFile(dir: string): { file: string; input: string } {
  const shufflenet = path.resolve('..', 'shared', 'models', 'shufflenet-v2-12-int8', 'model.onnx');
  if (process.env.BENCH_MODEL === 'shufflenet') {
    if (!existsSync(shufflenet)) throw new Error(`BENCH_MODEL=shufflenet needs ${shufflenet}`);
    return { file: shufflenet, input: 'input' };
  }
  const file = path.join(dir, 'mean.onnx');
  writeFileSync(
    file,
    buildModel({
      inputs: [{ name: 'input', type: 'float32', shape: SHAPE }],
      outputs: [{ name: 'mean', type: 'float32', shape: [1, 1, 1, 1] }],
      nodes: [{ op: 'ReduceMean', inputs: ['input'], outputs: ['mean'], attrs: { axes: [1, 2, 3], keepdims: 1 } }],
    }),
  );
  return { file, input: 'input' };
}

async function rest(port: number, body: string): Promise<Result> {
  const r = await autocannon({
    url: `http://127.0.0.1:${port}/v2/models/big/infer`,
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body,
    connections: CONNECTIONS,
    duration: SECONDS,
    workers: 1,
  });
  return { rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99, errors: r.errors + r.non2xx };
}

/** A grpc-js client in a worker thread: CONNECTIONS calls in flight for SECONDS. CommonJS, so it runs without tsx. */
const GRPC_LOAD = `
const { workerData, parentPort } = require('node:worker_threads');
const req = require('node:module').createRequire(workerData.base);
const grpc = req('@grpc/grpc-js');
const loader = req('@grpc/proto-loader');
const def = grpc.loadPackageDefinition(loader.loadSync(workerData.proto, { keepCase: true, longs: String, enums: String, defaults: true, oneofs: true }));
const client = new def.inference.GRPCInferenceService(workerData.address, grpc.credentials.createInsecure(), { 'grpc.max_send_message_length': -1, 'grpc.max_receive_message_length': -1 });
const floats = new Float32Array(workerData.count).map((_, i) => (i % 255) / 255);
const input = { name: workerData.input, datatype: 'FP32', shape: workerData.shape };
const request = workerData.raw
  ? { model_name: 'big', inputs: [input], raw_input_contents: [Buffer.from(floats.buffer)] }
  : { model_name: 'big', inputs: [{ ...input, contents: { fp32_contents: Array.from(floats) } }] };
const latencies = [];
let errors = 0;
const end = Date.now() + workerData.seconds * 1000;
const one = () => new Promise((resolve) => {
  const t = performance.now();
  client.ModelInfer(request, (err) => { if (err) errors++; else latencies.push(performance.now() - t); resolve(); });
});
const loop = async () => { while (Date.now() < end) await one(); };
Promise.all(Array.from({ length: workerData.connections }, loop)).then(() => {
  client.close();
  parentPort.postMessage({ latencies, errors });
});
`;

function grpcLoad(port: number, input: string, raw: boolean): Promise<Result> {
  const worker = new Worker(GRPC_LOAD, {
    eval: true,
    workerData: {
      base: new URL('../package.json', import.meta.url).pathname,
      proto: PROTO_PATH,
      address: `127.0.0.1:${port}`,
      count: COUNT,
      shape: SHAPE,
      input,
      raw,
      seconds: SECONDS,
      connections: CONNECTIONS,
    },
  });
  return new Promise((resolve, reject) => {
    worker.once('error', reject);
    worker.once('message', ({ latencies, errors }: { latencies: number[]; errors: number }) => {
      const sorted = latencies.sort((a, b) => a - b);
      const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
      resolve({ rps: sorted.length / SECONDS, p50: at(0.5), p99: at(0.99), errors });
      void worker.terminate();
    });
  });
}

const dir = mkdtempSync(path.join(os.tmpdir(), 'mg-bench-grpc-'));
const { file, input } = modelFile(dir);
const registry = path.join(dir, 'registry.yaml');
writeFileSync(registry, `models:\n  big:\n    versions: { "1": { uri: ${file}, weight: 1 } }\n`);
const log = pino({ level: 'silent' });
const gw = await createGateway({ registry, modelCacheDir: path.join(dir, 'cache'), modelRoots: [path.dirname(file)], log, defaultMetrics: false });
await gw.warm();
const server = http.createServer(gw.app.callback());
await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
const grpcServer = await startGrpcServer({ gateway: gw, log, port: 0, host: '127.0.0.1', maxMessageBytes: 64 * 2 ** 20, serverVersion: 'bench' });

const values = Array.from({ length: COUNT }, (_, i) => Math.round(((i % 255) / 255) * 1e6) / 1e6);
const body = JSON.stringify({ inputs: [{ name: input, shape: SHAPE, datatype: 'FP32', data: values }] });
const scenarios = {
  'REST JSON': () => rest((server.address() as AddressInfo).port, body),
  'gRPC raw': () => grpcLoad(grpcServer.port, input, true),
  'gRPC typed': () => grpcLoad(grpcServer.port, input, false),
} as const;
type Name = keyof typeof scenarios;
const runs: Record<Name, Result[]> = { 'REST JSON': [], 'gRPC raw': [], 'gRPC typed': [] };
const names = Object.keys(scenarios) as Name[];
for (let round = 0; round < ROUNDS; round++) {
  for (const name of round % 2 === 0 ? names : [...names].reverse()) runs[name].push(await scenarios[name]());
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const summary = Object.fromEntries(
  names.map((n) => [n, { rps: mean(runs[n].map((r) => r.rps)), p50: mean(runs[n].map((r) => r.p50)), p99: mean(runs[n].map((r) => r.p99)), errors: runs[n].reduce((a, r) => a + r.errors, 0) }]),
) as Record<Name, Result>;
console.log(`input ${COUNT} FP32 (${path.basename(file)}); JSON body ${(body.length / 2 ** 20).toFixed(2)} MiB, raw ${((COUNT * 4) / 2 ** 20).toFixed(2)} MiB; ${CONNECTIONS} in flight, ${ROUNDS}x${SECONDS}s each`);
for (const n of names) {
  const s = summary[n];
  console.log(`${n.padEnd(10)} ${s.rps.toFixed(1).padStart(8)} req/s  p50 ${s.p50.toFixed(1).padStart(7)} ms  p99 ${s.p99.toFixed(1).padStart(7)} ms  errors ${s.errors}`);
}
const rest0 = summary['REST JSON'];
for (const n of ['gRPC raw', 'gRPC typed'] as const) {
  const s = summary[n];
  console.log(`${n} / REST JSON: throughput x${(s.rps / rest0.rps).toFixed(2)}, p50 x${(s.p50 / rest0.p50).toFixed(2)}, p99 x${(s.p99 / rest0.p99).toFixed(2)}`);
}
await grpcServer.close(1000);
server.close();
await gw.close();
process.exit(0);

// gRPC (GRPC_PORT) in a cluster (PROCESSES=2): both processes serve the one port, and a reload
// through POST /admin/reload reaches the gRPC answers of both.
import { readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import type * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLUSTER_PROCESSES, fresh, spawnCluster } from '../support/cluster.js';
import { stopGateway } from '../support/gateway-process.js';
import { makeTempDir, sampleValue, writeFile } from '../support/harness.js';
import { doubler, tripler } from '../support/models.js';
import type { ServerProcess } from '../support/process.js';
import { callOn, connect } from '../grpc/grpc-client.js';

const TOKEN = 'cluster-grpc-token';
const temp = makeTempDir('mg-cluster-grpc-');
let server: ServerProcess;
let grpcPort: number;
let registryFile: string;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
    s.once('error', reject);
  });
}

beforeAll(async () => {
  writeFile(temp.dir, 'doubler.onnx', doubler);
  writeFile(temp.dir, 'tripler.onnx', tripler);
  registryFile = writeFile(temp.dir, 'registry.yaml', 'models:\n  m:\n    versions:\n      "1": { uri: ./doubler.onnx, weight: 1 }\n      "2": { uri: ./tripler.onnx, weight: 0 }\n');
  grpcPort = await freePort();
  server = await spawnCluster({ MODEL_REGISTRY: registryFile, GRPC_PORT: String(grpcPort), REGISTRY_POLL_SECONDS: '0', ADMIN_TOKEN: TOKEN, MODEL_CACHE_DIR: path.join(temp.dir, 'cache') });
});
afterAll(async () => {
  await stopGateway(server);
  temp.cleanup();
});

interface Infer {
  model_version: string;
  outputs: Array<{ contents: { fp32_contents: number[] } }>;
}

/** One ModelInfer on a new connection of its own (a local subchannel pool: not shared between clients). */
async function inferOnNewConnection(x: number): Promise<{ version: string; y: number | undefined }> {
  const client: grpc.Client = connect(`127.0.0.1:${grpcPort}`, { 'grpc.use_local_subchannel_pool': 1 });
  try {
    const res = await callOn<Infer>(client, 'ModelInfer', { model_name: 'm', inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 1], contents: { fp32_contents: [x] } }] });
    expect(res.error).toBeUndefined();
    return { version: res.response?.model_version ?? '?', y: res.response?.outputs[0]?.contents.fp32_contents[0] };
  } finally {
    client.close();
  }
}

describe('gRPC in a cluster (PROCESSES=2)', () => {
  it('serves ModelInfer from every process on one port, and follows a cluster-wide reload', async () => {
    expect([...server.output().matchAll(new RegExp(`"grpcPort":${grpcPort},.*"msg":"gRPC listening"`, 'g'))]).toHaveLength(CLUSTER_PROCESSES);
    const n = 6;
    for (let i = 0; i < n; i++) expect(await inferOnNewConnection(i + 1)).toEqual({ version: '1', y: 2 * (i + 1) });
    expect(sampleValue(await (await fresh(server, '/metrics')).text(), 'gateway_grpc_requests_total', { method: 'ModelInfer', code: 'OK' })).toBe(n);

    writeFileSync(registryFile, readFileSync(registryFile, 'utf8').replace('weight: 1 }', 'weight: 0 }').replace('tripler.onnx, weight: 0 }', 'tripler.onnx, weight: 1 }'));
    const reload = await fresh(server, '/admin/reload', { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` } });
    expect(reload.status).toBe(200);
    for (let i = 0; i < n; i++) expect(await inferOnNewConnection(i + 1)).toEqual({ version: '2', y: 3 * (i + 1) });
  });
});

// An independent client: Debian's python3-grpcio with stubs generated from proto/ by
// grpc_tools.protoc (python3-grpc-tools; installed by .ci/run). Missing packages fail this test.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { identityModel } from '../../tools/onnx-builder.js';
import { makeTempDir, REPO_ROOT, startGateway, type RunningGateway } from '../support/harness.js';
import { doubler, tripler } from '../support/models.js';
import { startGrpc, type GrpcTestClient } from './grpc-client.js';

const registry = `
models:
  m:
    versions:
      "1": { uri: a.onnx, weight: 1 }
      "2": { uri: b.onnx, weight: 0 }
  ids:
    versions: { "1": { uri: ids.onnx, weight: 1 } }
`;

let gw: RunningGateway;
let g: GrpcTestClient;
beforeAll(async () => {
  gw = await startGateway({ registry, files: { 'a.onnx': doubler, 'b.onnx': tripler, 'ids.onnx': identityModel('int64') } });
  g = await startGrpc(gw);
});
afterAll(async () => {
  await g?.close();
  await gw?.close();
});

describe('python3-grpcio client', () => {
  it('calls ModelInfer with raw contents and reads raw outputs, metadata and a NOT_FOUND status', async () => {
    const out = makeTempDir('mg-py-');
    try {
      const script = path.join(REPO_ROOT, 'test', 'grpc', 'python_client.py');
      const proto = path.join(REPO_ROOT, 'proto', 'open_inference_grpc.proto');
      const { stdout } = await promisify(execFile)('/usr/bin/python3', [script, `127.0.0.1:${g.server.port}`, proto, out.dir], { timeout: 60_000 });
      const result = JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}');
      expect(result.live).toBe(true);
      expect(result.float).toEqual({
        model_version: '2',
        id: 'py-1',
        name: 'y',
        datatype: 'FP32',
        shape: [3, 1],
        values: [3, 7.5, -12],
        metadata: expect.objectContaining({ 'x-request-id': 'py-trace', 'x-model-name': 'm', 'x-model-version': '2' }),
      });
      expect(result.int64).toEqual({ exact: true, datatype: 'INT64' });
      expect(result.error).toEqual({ code: 'NOT_FOUND', details: 'unknown model "nope"' });
    } finally {
      out.cleanup();
    }
  });
});

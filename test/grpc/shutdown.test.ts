// Draining: close(grace) stops taking calls, lets running ones finish within the grace, then
// cuts the rest; and the entry point serves gRPC on GRPC_PORT and drains it on SIGTERM.
import net from 'node:net';
import path from 'node:path';
import { status as Status } from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { countingFactory } from '../support/counting-factory.js';
import { makeTempDir, REPO_ROOT } from '../support/harness.js';
import { doubler } from '../support/models.js';
import { runToExit, startServerProcess } from '../support/process.js';
import { callOn, connect, f32Bytes, f32FromBytes, gatewayPerTest } from './grpc-client.js';

const registry = 'models:\n  m:\n    versions:\n      "1": { uri: a.onnx, weight: 1 }\n';
const infer = { model_name: 'm', inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 1], contents: { fp32_contents: [4] } }] };

const start = gatewayPerTest();

async function slowGateway(delayMs: number) {
  const factory = countingFactory();
  factory.delayMs = delayMs;
  return start({ registry, files: { 'a.onnx': doubler }, sessionFactory: factory });
}

describe('GrpcServer.close(grace)', () => {
  it('lets a running call finish, then resolves; a call started after close is refused', async () => {
    const { g } = await slowGateway(700);
    const inFlight = g.call<{ outputs: Array<{ contents: { fp32_contents: number[] } }> }>('ModelInfer', infer);
    await new Promise((r) => setTimeout(r, 150)); // the call is waiting for the slow load
    const started = Date.now();
    let closedAt = 0;
    const closing = g.server.close(5000).then(() => (closedAt = Date.now()));
    const refused = await callOn(connect(`127.0.0.1:${g.server.port}`), 'ServerLive', {}, { deadlineMs: 2000 });
    expect(refused.error?.code).toBe(Status.UNAVAILABLE);
    const res = await inFlight;
    expect(res.response?.outputs[0]?.contents.fp32_contents).toEqual([8]);
    await closing;
    expect(closedAt - started).toBeLessThan(4000);
  });

  it('cuts calls still running when the grace is over', async () => {
    const { g } = await slowGateway(4000);
    const inFlight = g.call('ModelInfer', infer);
    await new Promise((r) => setTimeout(r, 150));
    const started = Date.now();
    await g.server.close(300);
    expect(Date.now() - started).toBeLessThan(2000);
    expect((await inFlight).error?.code).toBeDefined();
  });
});

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

describe('the entry point with GRPC_PORT', () => {
  it('serves gRPC beside HTTP (the README scorer example), and exits 0 on SIGTERM', async () => {
    const temp = makeTempDir();
    const grpcPort = await freePort();
    try {
      const env = { ...process.env, PORT: '0', GRPC_PORT: String(grpcPort), MODEL_CACHE_DIR: path.join(temp.dir, 'c'), SHUTDOWN_GRACE_SECONDS: '2' };
      const s = await startServerProcess('node', ['dist/server.js'], { cwd: REPO_ROOT, env, detached: true });
      expect(s.output()).toContain(`"grpcPort":${grpcPort}`);
      const client = connect(`127.0.0.1:${grpcPort}`);
      expect((await callOn(client, 'ServerLive', {})).response).toEqual({ live: true });
      const res = await callOn<{ model_version: string; outputs: Array<{ contents: { fp32_contents: number[] } }> }>(
        client,
        'ModelInfer',
        { model_name: 'scorer', inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 4], contents: { fp32_contents: [1, 2, 3, 4] } }] },
        { metadata: { 'x-user-id': 'bob' } },
      );
      expect(res.response?.model_version).toBe('1');
      expect(res.response?.outputs[0]?.contents.fp32_contents[0]).toBeCloseTo(15.1, 4);
      // The README's tritonclient snippet: raw contents, x-model-version canary.
      const canary = await callOn<{ model_version: string; raw_output_contents: Buffer[] }>(
        client,
        'ModelInfer',
        { model_name: 'scorer', inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 4] }], raw_input_contents: [f32Bytes([1, 2, 3, 4])] },
        { metadata: { 'x-model-version': 'canary' }, deadlineMs: 5000 },
      );
      expect(canary.response?.model_version).toBe('2');
      expect(f32FromBytes(canary.response?.raw_output_contents[0] as Buffer)[0]).toBeCloseTo(15.6, 4);
      client.close();
      s.child.kill('SIGTERM');
      expect(await s.exited).toBe(0);
      expect(s.output()).toContain('"msg":"stopped"');
    } finally {
      temp.cleanup();
    }
  });

  it('refuses to start when the gRPC port is taken or equals PORT', async () => {
    const blocker = net.createServer();
    const port = await new Promise<number>((resolve) => blocker.listen(0, '0.0.0.0', () => resolve((blocker.address() as net.AddressInfo).port)));
    try {
      const taken = await runToExit('node', ['dist/server.js'], { cwd: REPO_ROOT, env: { ...process.env, PORT: '0', GRPC_PORT: String(port) } });
      expect(taken.code).toBe(1);
      expect(taken.output).toContain('cannot serve gRPC');
    } finally {
      blocker.close();
    }
    const same = await runToExit('node', ['dist/server.js'], { cwd: REPO_ROOT, env: { ...process.env, PORT: '8089', GRPC_PORT: '8089' } });
    expect([same.code, same.output]).toEqual([1, expect.stringContaining('GRPC_PORT=8089 is also PORT')]);
  });
});

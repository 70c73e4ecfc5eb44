// INFERENCE_NICE sets how far below the event loop the inference threads run: parsed with the
// other settings, and applied to the worker threads of a real gateway process (read from /proc).
import { afterAll, describe, expect, it } from 'vitest';
import { parseSettings } from '../../../src/config/settings.js';
import { makeTempDir, writeFile } from '../../support/harness.js';
import { spawnGateway, stopGateway, waitReady } from '../../support/gateway-process.js';
import { doubler } from '../../support/models.js';
import type { ServerProcess } from '../../support/process.js';
import { niceByThread } from '../../support/proc.js';

describe('INFERENCE_NICE', () => {
  it('defaults to 10 and takes 0 to 19, naming the variable otherwise', () => {
    expect(parseSettings({}).inferenceNice).toBe(10);
    expect(parseSettings({ INFERENCE_NICE: '0' }).inferenceNice).toBe(0);
    expect(parseSettings({ INFERENCE_NICE: '19' }).inferenceNice).toBe(19);
    expect(() => parseSettings({ INFERENCE_NICE: '20' })).toThrow(/INFERENCE_NICE=20: must be an integer from 0 to 19/);
    expect(() => parseSettings({ INFERENCE_NICE: '-5' })).toThrow(/INFERENCE_NICE=-5/);
  });

  const temp = makeTempDir();
  const servers: ServerProcess[] = [];
  afterAll(async () => {
    await Promise.all(servers.map((s) => stopGateway(s)));
    temp.cleanup();
  });

  it.each([
    ['3', 3],
    ['0', 0],
  ])('INFERENCE_NICE=%s: the worker thread runs at nice %i, the event loop at 0', async (value, expected) => {
    writeFile(temp.dir, 'm.onnx', doubler);
    const registry = writeFile(temp.dir, 'registry.yaml', `models:\n  m:\n    versions: { "1": { uri: m.onnx, weight: 1 } }\n`);
    const server = await spawnGateway({ MODEL_REGISTRY: registry, MODEL_ROOTS: temp.dir, PROCESSES: '1', INFERENCE_THREADS: '1', INFERENCE_NICE: value, GRPC_PORT: '0' });
    servers.push(server);
    await waitReady(server); // warm-up loaded the model on its worker thread
    const pid = server.child.pid as number;
    const nice = [...niceByThread(pid).values()];
    expect(nice[0]).toBe(0); // the first task is the main thread
    if (expected === 0) expect(nice.every((n) => n === 0)).toBe(true);
    else expect(nice.filter((n) => n === expected).length).toBeGreaterThanOrEqual(1);
  });
});

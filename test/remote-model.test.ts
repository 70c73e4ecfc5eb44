// REMOTE_MODEL_PATH, the seed's way of running: one model file (a local path or a gs:// object)
// served as model "default", version "1", through the real process; /predict may omit "model"
// because the registry has exactly one. Setting MODEL_REGISTRY as well is refused at start-up.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nest } from '../src/inference/codec.js';
import { startFakeGcs, type FakeGcs } from './support/fake-gcs.js';
import { spawnGateway, stopGateway, waitReady } from './support/gateway-process.js';
import { makeTempDir, REPO_ROOT, SHARED_MODELS, writeFile } from './support/harness.js';
import { doubler, tripler } from './support/models.js';
import type { ServerProcess } from './support/process.js';

interface Fixture {
  dims: number[];
  data: number[];
}
type Tensors = Record<string, Fixture>;

interface Answer {
  status: number;
  headers: Headers;
  body: { model?: string; version?: string; outputs?: Record<string, unknown>; error?: string; code?: string };
}

async function predict(server: ServerProcess, body: unknown): Promise<Answer> {
  const res = await fetch(`${server.url}/predict`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, headers: res.headers, body: (await res.json()) as Answer['body'] };
}

function expectClose(actual: unknown, expected: readonly number[], what: string): void {
  expect(Array.isArray(actual), `${what}: ${JSON.stringify(actual)}`).toBe(true);
  const flat = (actual as unknown[]).flat(Infinity) as number[];
  expect(flat.length, what).toBe(expected.length);
  expected.forEach((e, i) => {
    expect(Math.abs((flat[i] ?? NaN) - e), `${what}[${i}]: ${flat[i]} vs ${e}`).toBeLessThanOrEqual(1e-4 * Math.max(1, Math.abs(e)));
  });
}

/** The answer of the sole model, asked without naming it: model "default", version "1". */
function expectDefault(answer: Answer): void {
  expect(answer.status, JSON.stringify(answer.body)).toBe(200);
  expect(answer.body).toMatchObject({ model: 'default', version: '1' });
  expect(answer.headers.get('x-model-name')).toBe('default');
  expect(answer.headers.get('x-model-version')).toBe('1');
}

const temp = makeTempDir('mg-remote-');
afterAll(() => temp.cleanup());

describe.runIf(existsSync(SHARED_MODELS))('REMOTE_MODEL_PATH with mnist-8', () => {
  const mnistFile = path.join(SHARED_MODELS, 'mnist-8', 'model.onnx');
  const load = <T>(rel: string): T => JSON.parse(readFileSync(path.join(SHARED_MODELS, 'mnist-8', rel), 'utf8')) as T;
  const cases = [
    { input: load<Tensors>('input.json'), expected: load<Tensors>('expected.json') },
    ...load<Array<{ input: Tensors; expected: Tensors }>>('cases.json'),
  ];
  let gcs: FakeGcs;
  const servers: Record<string, ServerProcess> = {};

  beforeAll(async () => {
    gcs = await startFakeGcs();
    gcs.put('seed-bkt', 'mnist/model.onnx', readFileSync(mnistFile));
    const [file, gs] = await Promise.all([
      // A path relative to the working directory, as `REMOTE_MODEL_PATH=../shared/... npm start`.
      spawnGateway({ REMOTE_MODEL_PATH: path.relative(REPO_ROOT, mnistFile), MODEL_CACHE_DIR: path.join(temp.dir, 'mnist-file') }),
      spawnGateway({ REMOTE_MODEL_PATH: 'gs://seed-bkt/mnist/model.onnx', STORAGE_EMULATOR_HOST: gcs.host, MODEL_CACHE_DIR: path.join(temp.dir, 'mnist-gs') }),
    ]);
    Object.assign(servers, { file, 'gs://': gs });
    await Promise.all(Object.values(servers).map((s) => waitReady(s)));
  });
  afterAll(async () => {
    await Promise.all(Object.values(servers).map((s) => stopGateway(s)));
    await gcs?.close();
  });

  it('has four known cases to check against', () => {
    expect(cases).toHaveLength(4);
    for (const c of cases) expect(c.expected.Plus214_Output_0?.data).toHaveLength(10);
  });

  it.each(['file', 'gs://'])('%s: /predict without "model" answers with the expected logits as default/1', async (kind) => {
    const server = servers[kind] as ServerProcess;
    for (const [i, c] of cases.entries()) {
      const input = c.input.Input3 as Fixture;
      expect(input.dims).toEqual([1, 1, 28, 28]);
      const answer = await predict(server, { inputs: { Input3: nest(input.data, input.dims) } });
      expectDefault(answer);
      expectClose(answer.body.outputs?.Plus214_Output_0, c.expected.Plus214_Output_0?.data ?? [], `${kind} case ${i}`);
    }
    if (kind === 'gs://') expect(gcs.mediaDownloads('seed-bkt', 'mnist/model.onnx')).toBe(1);
  });
});

describe('REMOTE_MODEL_PATH with a model built in-process', () => {
  let server: ServerProcess | undefined;
  beforeAll(async () => {
    const model = writeFile(temp.dir, 'seed/doubler.onnx', doubler);
    server = await spawnGateway({ REMOTE_MODEL_PATH: model, MODEL_CACHE_DIR: path.join(temp.dir, 'doubler') });
    await waitReady(server);
  });
  afterAll(() => stopGateway(server));

  it('serves it as default/1: /predict naming "default" and naming no model', async () => {
    const s = server as ServerProcess;
    const named = await predict(s, { model: 'default', inputs: { x: [[1.5], [-2]] } });
    expectDefault(named);
    expect(named.body.outputs).toEqual({ y: [[3], [-4]] });
    const unnamed = await predict(s, { inputs: { x: [[1.5], [-2]] } });
    expectDefault(unnamed);
    expect(unnamed.body.outputs).toEqual({ y: [[3], [-4]] });
  });

  it('has no other model or version', async () => {
    const s = server as ServerProcess;
    expect((await predict(s, { model: 'scorer', inputs: { x: [[1]] } })).body.code).toBe('MODEL_NOT_FOUND');
    expect((await predict(s, { model: 'default', version: '2', inputs: { x: [[1]] } })).body.code).toBe('VERSION_NOT_FOUND');
  });
});

describe('REMOTE_MODEL_PATH on a gs:// object replaced in place', () => {
  let gcs: FakeGcs;
  let server: ServerProcess | undefined;
  const cacheDir = path.join(temp.dir, 'replaced');
  // Where the store keeps downloads of this object: one <generation>.bin per generation.
  const objectDir = path.join(cacheDir, 'gcs', 'seed-bkt', encodeURIComponent('live/model.onnx'));
  beforeAll(async () => {
    gcs = await startFakeGcs();
    gcs.put('seed-bkt', 'live/model.onnx', doubler);
    server = await spawnGateway({
      REMOTE_MODEL_PATH: 'gs://seed-bkt/live/model.onnx',
      STORAGE_EMULATOR_HOST: gcs.host,
      REGISTRY_POLL_SECONDS: '1',
      MODEL_CACHE_DIR: cacheDir,
    });
    await waitReady(server);
  });
  afterAll(async () => {
    await stopGateway(server);
    await gcs?.close();
  });

  it('serves the new generation after the next poll, and the cache folder keeps only the live generation', async () => {
    const s = server as ServerProcess;
    expect((await predict(s, { model: 'default', inputs: { x: [[1]] } })).body.outputs).toEqual({ y: [[2]] });
    const first = readdirSync(objectDir);
    expect(first).toHaveLength(1);

    const generation = gcs.put('seed-bkt', 'live/model.onnx', tripler);
    const deadline = Date.now() + 3_000;
    let y: unknown;
    while (Date.now() < deadline) {
      const answer = await predict(s, { model: 'default', inputs: { x: [[1]] } });
      expect(answer.status).toBe(200);
      y = answer.body.outputs?.y;
      if (JSON.stringify(y) === '[[3]]') break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(y).toEqual([[3]]);
    // The old generation's session has no requests left: its download must go (issue 5, item 2).
    let files = readdirSync(objectDir);
    for (let i = 0; i < 20 && files.length > 1; i++) {
      await new Promise((r) => setTimeout(r, 100));
      files = readdirSync(objectDir);
    }
    expect(files).toEqual([`${generation}.bin`]);
  });
});

describe('MODEL_REGISTRY and REMOTE_MODEL_PATH together', () => {
  it('the process refuses to start: exit 1 with a message naming both', async () => {
    const model = writeFile(temp.dir, 'both/doubler.onnx', doubler);
    const registry = writeFile(temp.dir, 'both/registry.yaml', 'models:\n  m:\n    versions: { "1": { uri: doubler.onnx, weight: 1 } }\n');
    // Bounded either way: refused, it exits before listening; wrongly accepted, it is stopped.
    const outcome = await spawnGateway({ MODEL_REGISTRY: registry, REMOTE_MODEL_PATH: model, MODEL_CACHE_DIR: path.join(temp.dir, 'both-cache') }).then(
      async (s) => {
        await stopGateway(s);
        return `started and listened:\n${s.output()}`;
      },
      (err: unknown) => String(err),
    );
    expect(outcome).toMatch(/exited 1 before listening/);
    const output = outcome.slice(outcome.indexOf('\n') + 1);
    expect(output).toMatch(/MODEL_REGISTRY.*REMOTE_MODEL_PATH|REMOTE_MODEL_PATH.*MODEL_REGISTRY/);
  });
});

import { existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { GatewayError } from '../../src/errors/catalogue.js';
import { createGcsClient } from '../../src/storage/gcs.js';
import { createBlobStore, type BlobStore } from '../../src/storage/store.js';
import { startFakeGcs, type FakeGcs } from '../support/fake-gcs.js';
import { makeTempDir } from '../support/harness.js';

const retryOptions = { autoRetry: false, maxRetries: 0 };
let gcs: FakeGcs;
const temp = makeTempDir();

beforeAll(async () => {
  gcs = await startFakeGcs();
});
afterAll(async () => {
  await gcs.close();
  temp.cleanup();
});

function store(emulatorHost = gcs.host, cacheDir = path.join(temp.dir, 'cache')): BlobStore {
  return createBlobStore({ cacheDir, gcsClient: () => createGcsClient({ emulatorHost, retryOptions }) });
}

describe('GCS storage through the real client', () => {
  const prevEnv = process.env.STORAGE_EMULATOR_HOST;
  afterEach(() => {
    if (prevEnv === undefined) delete process.env.STORAGE_EMULATOR_HOST;
    else process.env.STORAGE_EMULATOR_HOST = prevEnv;
  });

  it.each([
    ['host:port', (h: string) => h],
    ['host:port/', (h: string) => `${h}/`],
    ['host:port/storage/v1', (h: string) => `${h}/storage/v1`],
  ])('reaches the emulator given as STORAGE_EMULATOR_HOST=%s, the variable also set in the environment', async (_name, form) => {
    gcs.put('models-bkt', 'forms/a.txt', 'hello');
    process.env.STORAGE_EMULATOR_HOST = form(gcs.host);
    const { text } = await store(form(gcs.host)).readText({ kind: 'gcs', bucket: 'models-bkt', object: 'forms/a.txt' });
    expect(text).toBe('hello');
  });

  it('downloads into the cache folder keyed by generation, and does not download an unchanged object again', async () => {
    const s = store();
    const gen1 = gcs.put('models-bkt', 'iris/model.onnx', 'version one');
    const loc = { kind: 'gcs' as const, bucket: 'models-bkt', object: 'iris/model.onnx' };
    const first = await s.fetch(loc);
    expect(first.contentVersion).toBe(String(gen1));
    expect(first.path.startsWith(path.join(temp.dir, 'cache'))).toBe(true);
    expect(readFileSync(first.path, 'utf8')).toBe('version one');
    expect(gcs.mediaDownloads('models-bkt', 'iris/model.onnx')).toBe(1);

    // Same generation: served from the cache folder, even by a new store (a restart).
    const again = await store().fetch(loc);
    expect(again.path).toBe(first.path);
    expect(gcs.mediaDownloads('models-bkt', 'iris/model.onnx')).toBe(1);

    // A new generation is fetched again, to a new file.
    const gen2 = gcs.put('models-bkt', 'iris/model.onnx', 'version two!');
    const changed = await s.fetch(loc);
    expect(changed.contentVersion).toBe(String(gen2));
    expect(changed.path).not.toBe(first.path);
    expect(readFileSync(changed.path, 'utf8')).toBe('version two!');
    expect(gcs.mediaDownloads('models-bkt', 'iris/model.onnx')).toBe(2);
  });

  it('refuses a corrupted download and leaves nothing in the cache', async () => {
    gcs.put('models-bkt', 'bad/model.onnx', 'some model bytes');
    gcs.corrupt('models-bkt', 'bad/model.onnx');
    const cacheDir = path.join(temp.dir, 'corrupt-cache');
    const s = store(gcs.host, cacheDir);
    const loc = { kind: 'gcs' as const, bucket: 'models-bkt', object: 'bad/model.onnx' };
    const err = await s.fetch(loc).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GatewayError);
    expect(err).toMatchObject({ code: 'STORAGE_ERROR' });
    expect((err as Error).message).toMatch(/md5 .* != reported/);
    expect(existsSync(path.join(cacheDir, 'gcs', 'models-bkt', encodeURIComponent('bad/model.onnx')))).toBe(false);
    expect(readdirSync(path.join(cacheDir, 'tmp'))).toEqual([]);
    // Once storage serves good bytes again, the same store succeeds.
    gcs.corrupt('models-bkt', 'bad/model.onnx', false);
    expect(readFileSync((await s.fetch(loc)).path, 'utf8')).toBe('some model bytes');
  });

  it('checks crc32c when storage reports no md5 (composite objects)', async () => {
    gcs.put('models-bkt', 'composite.onnx', 'composed of parts', { composite: true });
    const loc = { kind: 'gcs' as const, bucket: 'models-bkt', object: 'composite.onnx' };
    gcs.corrupt('models-bkt', 'composite.onnx');
    const err = await store(gcs.host, path.join(temp.dir, 'crc-cache')).fetch(loc).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'STORAGE_ERROR', message: expect.stringMatching(/crc32c .* != reported/) });
    gcs.corrupt('models-bkt', 'composite.onnx', false);
    expect(readFileSync((await store(gcs.host, path.join(temp.dir, 'crc-cache')).fetch(loc)).path, 'utf8')).toBe('composed of parts');
  });

  it('maps storage answers to STORAGE_ERROR (502) and an unreachable host to MODEL_UNAVAILABLE (503)', async () => {
    await expect(store().fetch({ kind: 'gcs', bucket: 'models-bkt', object: 'missing.onnx' })).rejects.toMatchObject({
      code: 'STORAGE_ERROR',
    });
    gcs.put('models-bkt', 'flaky.onnx', 'x');
    gcs.failNext(500);
    await expect(store().fetch({ kind: 'gcs', bucket: 'models-bkt', object: 'flaky.onnx' })).rejects.toMatchObject({
      code: 'STORAGE_ERROR',
    });
    await expect(store('http://127.0.0.1:1').fetch({ kind: 'gcs', bucket: 'models-bkt', object: 'flaky.onnx' })).rejects.toMatchObject({
      code: 'MODEL_UNAVAILABLE',
    });
  });

  it('refuses a local file whose symlink leads outside the folders it was allowed into', async () => {
    const allowed = path.join(temp.dir, 'allowed');
    const outside = path.join(temp.dir, 'outside');
    mkdirSync(allowed, { recursive: true });
    mkdirSync(outside, { recursive: true });
    writeFileSync(path.join(outside, 'secret.onnx'), 'x');
    writeFileSync(path.join(allowed, 'real.onnx'), 'y');
    symlinkSync(path.join(outside, 'secret.onnx'), path.join(allowed, 'link.onnx'));
    symlinkSync(path.join(allowed, 'real.onnx'), path.join(allowed, 'inner-link.onnx'));
    const s = store();
    await expect(s.fetch({ kind: 'file', path: path.join(allowed, 'link.onnx'), within: [allowed] })).rejects.toMatchObject({
      code: 'MODEL_UNAVAILABLE',
      message: expect.stringContaining('outside the allowed folders'),
      publicMessage: 'the model file is not available',
    });
    expect((await s.fetch({ kind: 'file', path: path.join(allowed, 'inner-link.onnx'), within: [allowed] })).bytes).toBe(1);
    expect((await s.fetch({ kind: 'file', path: path.join(allowed, 'link.onnx') })).bytes).toBe(1); // no constraint given
  });

  it('reads local files and reports a missing one as MODEL_UNAVAILABLE', async () => {
    await expect(store().fetch({ kind: 'file', path: path.join(temp.dir, 'nope.onnx') })).rejects.toMatchObject({
      code: 'MODEL_UNAVAILABLE',
    });
  });
});

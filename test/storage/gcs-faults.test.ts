// Storage faults at the store: each becomes the right GatewayError quickly, and leaves no
// partial file behind. Through the real client against the test server's fault switches.
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GatewayError } from '../../src/errors/catalogue.js';
import { createGcsClient, DEFAULT_GCS_TIMEOUT_MS } from '../../src/storage/gcs.js';
import { createBlobStore, type BlobStore } from '../../src/storage/store.js';
import { startFakeGcs, type Fault, type FakeGcs } from '../support/fake-gcs.js';
import { makeTempDir } from '../support/harness.js';

const retryOptions = { autoRetry: false, maxRetries: 0 };
const TIMEOUT_MS = 300;
let gcs: FakeGcs;
const temp = makeTempDir();
const cacheDir = path.join(temp.dir, 'cache');
const payload = Buffer.alloc(64 * 1024, 5);

beforeAll(async () => {
  gcs = await startFakeGcs();
  mkdirSync(path.join(cacheDir, 'tmp'), { recursive: true });
});
afterAll(async () => {
  await gcs.close();
  temp.cleanup();
});

function store(emulatorHost = gcs.host, timeoutMs = TIMEOUT_MS): BlobStore {
  return createBlobStore({ cacheDir, gcsClient: () => createGcsClient({ emulatorHost, retryOptions, timeoutMs }) });
}

function partFiles(): string[] {
  return readdirSync(path.join(cacheDir, 'tmp'), { withFileTypes: true }).flatMap((e) => (e.name.endsWith('.part') ? [e.name] : []));
}

/** A port nothing listens on: bound, then closed. */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function fetchWith(object: string, fault: Fault | undefined): Promise<{ err: unknown; ms: number }> {
  gcs.put('fault-bkt', object, payload);
  gcs.fault('fault-bkt', object, fault);
  const started = performance.now();
  const err = await store()
    .fetch({ kind: 'gcs', bucket: 'fault-bkt', object })
    .then(() => undefined)
    .catch((e: unknown) => e);
  return { err, ms: performance.now() - started };
}

describe('storage faults at the store', () => {
  it('uses a storage timeout fit for large downloads by default', async () => {
    expect(DEFAULT_GCS_TIMEOUT_MS).toBeGreaterThanOrEqual(30_000);
    expect((await createGcsClient()).timeout).toBe(DEFAULT_GCS_TIMEOUT_MS);
    expect((await createGcsClient({ emulatorHost: gcs.host, timeoutMs: 1234 })).timeout).toBe(1234);
  });

  it.each<{ name: string; fault: Fault; code: string; message: RegExp }>([
    { name: '403', fault: { kind: 'status', status: 403 }, code: 'STORAGE_ERROR', message: /storage answered 403/ },
    { name: '404', fault: { kind: 'status', status: 404 }, code: 'STORAGE_ERROR', message: /storage answered 404/ },
    { name: 'a reset connection', fault: { kind: 'reset' }, code: 'MODEL_UNAVAILABLE', message: /storage unreachable/ },
    { name: 'a slow answer', fault: { kind: 'slow', delayMs: 5_000 }, code: 'MODEL_UNAVAILABLE', message: /storage unreachable/ },
    { name: 'a stalled download', fault: { kind: 'stall', pauseMs: 5_000 }, code: 'MODEL_UNAVAILABLE', message: /stalled after 32768 of 65536 bytes: no bytes for 300 ms/ },
    { name: 'a download cut short', fault: { kind: 'truncate' }, code: 'MODEL_UNAVAILABLE', message: /stalled after 32768 of 65536 bytes/ },
  ])('$name becomes $code within the timeout, with no partial file left', async ({ name, fault, code, message }) => {
    const { err, ms } = await fetchWith(`faults/${name.replace(/\W+/g, '-')}.onnx`, fault);
    expect(err).toBeInstanceOf(GatewayError);
    expect(err).toMatchObject({ code, message: expect.stringMatching(message) });
    expect(ms).toBeLessThan(TIMEOUT_MS + 2_000);
    expect(partFiles()).toEqual([]);
  });

  it('a corrupted download is STORAGE_ERROR', async () => {
    gcs.put('fault-bkt', 'faults/corrupt.onnx', payload);
    gcs.corrupt('fault-bkt', 'faults/corrupt.onnx');
    await expect(store().fetch({ kind: 'gcs', bucket: 'fault-bkt', object: 'faults/corrupt.onnx' })).rejects.toMatchObject({
      code: 'STORAGE_ERROR',
      publicMessage: 'model download failed its integrity check',
    });
  });

  it('an unreachable storage (nothing listening) is MODEL_UNAVAILABLE with a Retry-After', async () => {
    const host = `http://127.0.0.1:${await closedPort()}`;
    const err = await store(host)
      .fetch({ kind: 'gcs', bucket: 'fault-bkt', object: 'anything.onnx' })
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'MODEL_UNAVAILABLE', publicMessage: 'model storage is unreachable' });
    expect((err as GatewayError).retryAfterSeconds).toBeGreaterThan(0);
  });

  it('a slow but steady download longer than the timeout still succeeds', async () => {
    // The timeout bounds each wait, not the whole transfer: a pause shorter than it is fine.
    gcs.put('fault-bkt', 'faults/steady.onnx', payload);
    gcs.fault('fault-bkt', 'faults/steady.onnx', { kind: 'stall', pauseMs: TIMEOUT_MS / 2 });
    const s = store();
    const file = await s.fetch({ kind: 'gcs', bucket: 'fault-bkt', object: 'faults/steady.onnx' });
    expect(file.bytes).toBe(payload.length);
  });

  it.each([
    ['its download folder', 'tmp'],
    ['its cache folder', 'gcs'],
  ])('a local disk that cannot hold the file (%s blocked) is MODEL_UNAVAILABLE, not a storage fault', async (_name, blocked) => {
    const dir = path.join(temp.dir, `blocked-${blocked}`);
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, blocked), 'a file where a folder should be');
    gcs.put('fault-bkt', 'faults/local.onnx', payload);
    const s = createBlobStore({ cacheDir: dir, gcsClient: () => createGcsClient({ emulatorHost: gcs.host, retryOptions }) });
    await expect(s.fetch({ kind: 'gcs', bucket: 'fault-bkt', object: 'faults/local.onnx' })).rejects.toMatchObject({
      code: 'MODEL_UNAVAILABLE',
      message: expect.stringContaining('cannot store the download'),
      publicMessage: 'the model file cannot be stored locally',
    });
  });

  it('once the fault clears, the same store downloads the object', async () => {
    gcs.put('fault-bkt', 'faults/recovers.onnx', payload);
    gcs.fault('fault-bkt', 'faults/recovers.onnx', { kind: 'truncate' });
    const s = store();
    const loc = { kind: 'gcs' as const, bucket: 'fault-bkt', object: 'faults/recovers.onnx' };
    await expect(s.fetch(loc)).rejects.toBeInstanceOf(GatewayError);
    gcs.fault('fault-bkt', 'faults/recovers.onnx', undefined);
    expect((await s.fetch(loc)).bytes).toBe(payload.length);
  });
});

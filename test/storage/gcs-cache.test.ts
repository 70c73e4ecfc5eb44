// The GCS file cache on disk: what it trusts after a restart, how it commits a download, what it
// cleans up, and what it refuses before downloading. Through the real client and the test server.
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { GatewayError } from '../../src/errors/catalogue.js';
import { createGcsClient } from '../../src/storage/gcs.js';
import type { Location } from '../../src/storage/location.js';
import { createBlobStore, type BlobStore } from '../../src/storage/store.js';
import { startFakeGcs, type FakeGcs } from '../support/fake-gcs.js';
import { makeTempDir } from '../support/harness.js';

const retryOptions = { autoRetry: false, maxRetries: 0 };
let gcs: FakeGcs;
const temp = makeTempDir();
let dirs = 0;

beforeAll(async () => {
  gcs = await startFakeGcs();
});
afterAll(async () => {
  await gcs.close();
  temp.cleanup();
});
afterEach(() => {
  vi.restoreAllMocks();
});

/** A fresh cache folder per test, so counts on disk belong to that test alone. */
function freshCacheDir(): string {
  return path.join(temp.dir, `cache-${++dirs}`);
}

/** A store as a (re)started process would build it. */
function store(cacheDir: string): BlobStore {
  return createBlobStore({ cacheDir, gcsClient: () => createGcsClient({ emulatorHost: gcs.host, retryOptions }) });
}

const gs = (object: string, bucket = 'cache-bkt'): Location & { kind: 'gcs' } => ({ kind: 'gcs', bucket, object });

function flipMiddleByte(file: string): void {
  const bytes = readFileSync(file);
  bytes[bytes.length >> 1] = (bytes[bytes.length >> 1] ?? 0) ^ 0xff;
  writeFileSync(file, bytes);
}

describe('GCS file cache', () => {
  it('re-verifies a cached file after a restart: a corrupted copy of the same size is deleted and downloaded again', async () => {
    const cacheDir = freshCacheDir();
    gcs.put('cache-bkt', 'verify/model.onnx', 'the real model bytes, thirty-some');
    const first = await store(cacheDir).fetch(gs('verify/model.onnx'));
    expect(gcs.mediaDownloads('cache-bkt', 'verify/model.onnx')).toBe(1);

    flipMiddleByte(first.path); // bit rot, or a copy torn by a crash: same size, wrong bytes
    const again = await store(cacheDir).fetch(gs('verify/model.onnx'));
    expect(readFileSync(again.path, 'utf8')).toBe('the real model bytes, thirty-some');
    expect(gcs.mediaDownloads('cache-bkt', 'verify/model.onnx')).toBe(2);

    // A good cached copy is trusted after a restart without downloading it again.
    const third = await store(cacheDir).fetch(gs('verify/model.onnx'));
    expect(third.path).toBe(again.path);
    expect(gcs.mediaDownloads('cache-bkt', 'verify/model.onnx')).toBe(2);
  });

  it('hashes a cached file once per process, and again when its size or mtime changed', async () => {
    const cacheDir = freshCacheDir();
    gcs.put('cache-bkt', 'once/model.onnx', 'bytes that are hashed once');
    const s = store(cacheDir);
    const file = await s.fetch(gs('once/model.onnx'));
    const stamp = 1_700_000_000; // whole seconds: set and restored exactly
    utimesSync(file.path, stamp, stamp);
    await s.fetch(gs('once/model.onnx')); // mtime moved: hashed again, still good
    expect(gcs.mediaDownloads('cache-bkt', 'once/model.onnx')).toBe(1);

    // Changed behind the process's back with size and mtime restored: this process already
    // verified the file and does not hash it on every load (a new process would).
    flipMiddleByte(file.path);
    utimesSync(file.path, stamp, stamp);
    await s.fetch(gs('once/model.onnx'));
    expect(gcs.mediaDownloads('cache-bkt', 'once/model.onnx')).toBe(1);

    // Its mtime moved: hashed again, found wrong, downloaded again.
    utimesSync(file.path, stamp + 5, stamp + 5);
    const fixed = await s.fetch(gs('once/model.onnx'));
    expect(readFileSync(fixed.path, 'utf8')).toBe('bytes that are hashed once');
    expect(gcs.mediaDownloads('cache-bkt', 'once/model.onnx')).toBe(2);
  });

  it('flushes a download to disk (fsync) before renaming it into place, then flushes the folder', async () => {
    const cacheDir = freshCacheDir();
    gcs.put('cache-bkt', 'fsync/model.onnx', 'durable bytes');
    const events: string[] = [];
    const realOpen = fs.open.bind(fs);
    vi.spyOn(fs, 'open').mockImplementation(async (...args: Parameters<typeof fs.open>) => {
      const handle = await realOpen(...args);
      const where = String(args[0]);
      const realSync = handle.sync.bind(handle);
      handle.sync = async () => {
        await realSync();
        events.push(`sync ${where}`);
      };
      return handle;
    });
    const realRename = fs.rename.bind(fs);
    vi.spyOn(fs, 'rename').mockImplementation(async (from, to) => {
      await realRename(from, to);
      events.push(`rename ${String(from)} -> ${String(to)}`);
    });
    const file = await store(cacheDir).fetch(gs('fsync/model.onnx'));
    const renameAt = events.findIndex((e) => e.startsWith('rename ') && e.endsWith(` -> ${file.path}`));
    expect(renameAt).toBeGreaterThanOrEqual(0);
    const part = /^rename (.*) -> /.exec(events[renameAt] ?? '')?.[1] ?? '';
    expect(part).toMatch(/\.part$/);
    expect(events.slice(0, renameAt)).toContain(`sync ${part}`);
    expect(events.slice(renameAt + 1)).toContain(`sync ${path.dirname(file.path)}`);
  });

  it('deletes orphaned .part files left by an earlier process on first use, and keeps fresh ones', async () => {
    const cacheDir = freshCacheDir();
    const tmp = path.join(cacheDir, 'tmp');
    mkdirSync(tmp, { recursive: true });
    const orphan = path.join(tmp, 'left-by-a-crash.part');
    writeFileSync(orphan, Buffer.alloc(4096, 1));
    const hourAgo = new Date(Date.now() - 3_600_000);
    utimesSync(orphan, hourAgo, hourAgo);
    const live = path.join(tmp, 'another-process-is-writing.part');
    writeFileSync(live, 'still growing');

    gcs.put('cache-bkt', 'parts/model.onnx', 'a model');
    await store(cacheDir).fetch(gs('parts/model.onnx'));
    expect(existsSync(orphan)).toBe(false);
    expect(existsSync(live)).toBe(true);
    expect(readdirSync(tmp)).toEqual(['another-process-is-writing.part']);
  });

  it('prune keeps the newest cached generation of each kept object and deletes the rest', async () => {
    const cacheDir = freshCacheDir();
    const s = store(cacheDir);
    gcs.put('cache-bkt', 'prune/a.onnx', 'a, generation one');
    const a1 = await s.fetch(gs('prune/a.onnx'));
    gcs.put('cache-bkt', 'prune/a.onnx', 'a, generation two!');
    const a2 = await s.fetch(gs('prune/a.onnx'));
    gcs.put('cache-bkt', 'prune/b.onnx', 'b, no longer in any revision');
    const b = await s.fetch(gs('prune/b.onnx'));
    gcs.put('other-bkt', 'c.onnx', 'c, kept');
    const c = await s.fetch(gs('c.onnx', 'other-bkt'));
    const orphan = path.join(cacheDir, 'tmp', 'old.part');
    writeFileSync(orphan, Buffer.alloc(100));
    const hourAgo = new Date(Date.now() - 3_600_000);
    utimesSync(orphan, hourAgo, hourAgo);

    // An older generation of a kept object, found on disk with a larger name than the newest
    // when compared as text: generations must be compared as numbers.
    const odd = path.join(path.dirname(a2.path), '999.bin');
    writeFileSync(odd, 'tiny');

    const result = await s.prune([gs('prune/a.onnx'), gs('c.onnx', 'other-bkt'), { kind: 'file', path: '/not/cached.onnx' }]);
    expect(existsSync(a2.path)).toBe(true);
    expect(existsSync(c.path)).toBe(true);
    expect(existsSync(a1.path)).toBe(false);
    expect(existsSync(odd)).toBe(false);
    expect(existsSync(b.path)).toBe(false);
    expect(existsSync(path.dirname(b.path))).toBe(false);
    expect(existsSync(orphan)).toBe(false);
    const removedBytes = a1.bytes + 4 + b.bytes + 100;
    expect(result).toEqual({ removedFiles: 4, removedBytes });

    // The kept files still serve without a download; nothing is left to prune.
    const downloads = gcs.mediaDownloads('cache-bkt', 'prune/a.onnx');
    expect((await store(cacheDir).fetch(gs('prune/a.onnx'))).path).toBe(a2.path);
    expect(gcs.mediaDownloads('cache-bkt', 'prune/a.onnx')).toBe(downloads);
    expect(await s.prune([gs('prune/a.onnx'), gs('c.onnx', 'other-bkt')])).toEqual({ removedFiles: 0, removedBytes: 0 });

    // A new process whose registry no longer uses gs:// at all prunes before any download.
    expect(await store(cacheDir).prune([{ kind: 'file', path: '/models/local.onnx' }])).toEqual({
      removedFiles: 2,
      removedBytes: a2.bytes + c.bytes,
    });
    expect(readdirSync(path.join(cacheDir, 'gcs'))).toEqual([]);
  });

  it('prune on an empty or missing cache folder removes nothing', async () => {
    expect(await store(freshCacheDir()).prune([])).toEqual({ removedFiles: 0, removedBytes: 0 });
  });

  it('refuses an object larger than maxBytes from its metadata, without downloading it', async () => {
    const cacheDir = freshCacheDir();
    const size = 5000;
    gcs.put('cache-bkt', 'big/model.onnx', Buffer.alloc(size, 7));
    const err = await store(cacheDir)
      .fetch(gs('big/model.onnx'), { maxBytes: 4096 })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GatewayError);
    expect(err).toMatchObject({ code: 'MODEL_UNAVAILABLE', message: expect.stringContaining(`${size} bytes, more than cache.maxBytes (4096)`) });
    // What a client may read names no bucket or path.
    expect((err as GatewayError).publicMessage).toBe(`the model file is ${size} bytes, more than cache.maxBytes (4096)`);
    expect(gcs.mediaDownloads('cache-bkt', 'big/model.onnx')).toBe(0);
    expect(existsSync(path.join(cacheDir, 'gcs'))).toBe(false);

    // Exactly at the limit, or without one, it is downloaded.
    expect((await store(cacheDir).fetch(gs('big/model.onnx'), { maxBytes: 5000 })).bytes).toBe(5000);
    expect(gcs.mediaDownloads('cache-bkt', 'big/model.onnx')).toBe(1);
  });

  it('refuses a local file larger than maxBytes too', async () => {
    const file = path.join(temp.dir, 'local-big.onnx');
    writeFileSync(file, Buffer.alloc(300));
    await expect(store(freshCacheDir()).fetch({ kind: 'file', path: file }, { maxBytes: 299 })).rejects.toMatchObject({
      code: 'MODEL_UNAVAILABLE',
      message: expect.stringContaining('300 bytes, more than cache.maxBytes (299)'),
    });
    expect(statSync(file).size).toBe(300);
  });
});

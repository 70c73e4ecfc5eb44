// The on-disk layout of downloaded gs:// objects and its housekeeping. A cached object lives at
// <cacheDir>/gcs/<bucket>/<object, URI-encoded>/<generation>.bin; downloads are written to
// <cacheDir>/tmp/<uuid>.part, flushed, and renamed into place. Nothing here talks to GCS.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { gcsLib } from './gcs-lib.js';

/**
 * A `.part` file untouched for this long belongs to no live download: an active download writes
 * continuously, and one that pauses longer than the storage timeout is aborted (and its file
 * deleted). Younger ones may belong to another process sharing the folder, so they are left alone.
 */
export const ORPHAN_PART_AGE_MS = 10 * 60_000;

export interface PruneResult {
  readonly removedFiles: number;
  readonly removedBytes: number;
}

/** One path segment per object name: no `/`, and never `.` or `..`. */
function segment(name: string): string {
  return encodeURIComponent(name).replace(/^\./, '%2E');
}

export function objectDir(cacheDir: string, bucket: string, object: string): string {
  return path.join(cacheDir, 'gcs', segment(bucket), segment(object));
}

export function generationFile(cacheDir: string, bucket: string, object: string, generation: string): string {
  return path.join(objectDir(cacheDir, bucket, object), `${generation}.bin`);
}

export function tmpDir(cacheDir: string): string {
  return path.join(cacheDir, 'tmp');
}

/** Flushes a file's bytes to the disk, so a rename after it can never expose a torn file. */
export async function syncFile(file: string): Promise<void> {
  const handle = await fs.open(file, 'r+');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Flushes a folder's entries (a rename into it). Some platforms cannot open a folder: best effort. */
export async function syncDir(dir: string): Promise<void> {
  let handle: fs.FileHandle | undefined;
  try {
    handle = await fs.open(dir, 'r');
    await handle.sync();
  } catch {
    // EISDIR/EPERM on platforms without directory fsync; the rename itself is still atomic.
  } finally {
    await handle?.close();
  }
}

/** What identifies a file's current content cheaply: a rewrite moves its mtime (ms) or inode. */
export function fingerprintOf(st: { size: number; mtimeMs: number; ino: number }): string {
  return `${st.size}:${Math.trunc(st.mtimeMs)}:${st.ino}`;
}

export async function fingerprint(file: string): Promise<string> {
  return fingerprintOf(await fs.stat(file));
}

/** The file's md5 (base64) and crc32c (base64), as GCS reports them. */
export async function hashFile(file: string): Promise<{ md5: string; crc32c: string; bytes: number }> {
  const { CRC32C } = await gcsLib();
  const md5 = createHash('md5');
  const crc = new CRC32C();
  let bytes = 0;
  for await (const chunk of createReadStream(file)) {
    const buf = chunk as Buffer;
    md5.update(buf);
    crc.update(buf);
    bytes += buf.length;
  }
  return { md5: md5.digest('base64'), crc32c: crc.toString(), bytes };
}

async function entries(dir: string): Promise<string[]> {
  return fs.readdir(dir).catch(() => []);
}

/** Removes a file and says how many bytes it freed (0 when it was already gone). */
async function remove(file: string, tally: { removedFiles: number; removedBytes: number }): Promise<void> {
  const st = await fs.lstat(file).catch(() => undefined);
  if (!st) return;
  await fs.rm(file, { force: true, recursive: st.isDirectory() });
  tally.removedFiles++;
  tally.removedBytes += st.size;
}

/** Deletes `.part` files no download of this process is writing and nobody touched for a while. */
export async function removeOrphanParts(cacheDir: string, active: ReadonlySet<string>, now = Date.now()): Promise<PruneResult> {
  const tally = { removedFiles: 0, removedBytes: 0 };
  const dir = tmpDir(cacheDir);
  for (const name of await entries(dir)) {
    const file = path.join(dir, name);
    if (!name.endsWith('.part') || active.has(file)) continue;
    const st = await fs.stat(file).catch(() => undefined);
    if (st?.isFile() && now - st.mtimeMs > ORPHAN_PART_AGE_MS) await remove(file, tally);
  }
  return tally;
}

function generationOf(name: string): bigint | undefined {
  const m = /^(\d+)\.bin$/.exec(name);
  return m?.[1] === undefined ? undefined : BigInt(m[1]);
}

/**
 * Keeps, for each kept object, only its newest cached generation (generations only grow, and the
 * newest is what a revision loads next); deletes every other cached object. Files of loaded
 * sessions may go too: onnxruntime has read them into memory, and Linux keeps an open file's
 * bytes until it is closed.
 */
export async function pruneCache(
  cacheDir: string,
  keep: ReadonlyArray<{ bucket: string; object: string }>,
  active: ReadonlySet<string>,
): Promise<PruneResult> {
  const tally = { ...(await removeOrphanParts(cacheDir, active)) };
  const kept = new Set(keep.map((k) => objectDir(cacheDir, k.bucket, k.object)));
  const root = path.join(cacheDir, 'gcs');
  for (const bucket of await entries(root)) {
    const bucketDir = path.join(root, bucket);
    for (const object of await entries(bucketDir)) {
      const dir = path.join(bucketDir, object);
      const names = await entries(dir);
      if (!kept.has(dir)) {
        for (const name of names) await remove(path.join(dir, name), tally);
        await fs.rmdir(dir).catch(() => undefined);
        continue;
      }
      const generations = names.map((n) => ({ n, g: generationOf(n) }));
      const newest = generations.reduce<bigint | undefined>((max, { g }) => (g !== undefined && (max === undefined || g > max) ? g : max), undefined);
      for (const { n, g } of generations) if (g !== newest) await remove(path.join(dir, n), tally);
    }
    await fs.rmdir(bucketDir).catch(() => undefined); // only succeeds once empty
  }
  return tally;
}

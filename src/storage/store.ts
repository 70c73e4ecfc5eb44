// One door to model and registry bytes, whatever the scheme. The GCS client (and its library) is
// created on first use, so a gateway serving only local files never loads it or looks for cloud
// credentials.
import { createHash, randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Storage } from '@google-cloud/storage';
import { GatewayError } from '../errors/catalogue.js';
import { GcsStore, tooLarge, WriteConflictError, type FetchOptions, type StoredFile } from './gcs.js';
import { pruneCache, type PruneResult } from './gcs-cache.js';
import { formatLocation, isInside, type Location } from './location.js';

export { DEFAULT_GCS_TIMEOUT_MS, WriteConflictError, type FetchOptions, type StoredFile } from './gcs.js';
export type { PruneResult } from './gcs-cache.js';

export interface BlobStore {
  /**
   * The file on local disk, downloaded into the cache folder when remote. A file larger than
   * `maxBytes` is refused (MODEL_UNAVAILABLE) from its metadata, before any download.
   */
  fetch(loc: Location, options?: FetchOptions): Promise<StoredFile>;
  /** A small text object (the registry), with what identifies its content. */
  readText(loc: Location): Promise<{ text: string; contentVersion: string }>;
  /**
   * What `readText` would report as contentVersion now, as cheaply as the backend allows: a
   * metadata request for gs:// (no download), a content hash for a local file.
   */
  probe(loc: Location): Promise<string>;
  /**
   * Replaces a text object only if it still has contentVersion `expected` (else
   * WriteConflictError); returns the new contentVersion. Local files are replaced atomically.
   */
  writeText(loc: Location, text: string, expected: string): Promise<string>;
  /**
   * Frees the download cache: keeps only the newest cached generation of each gs:// object in
   * `keep` (the locations every live revision uses), deletes cached objects not in it and
   * orphaned partial downloads. Call at start-up and after each registry reload.
   */
  prune(keep: readonly Location[]): Promise<PruneResult>;
}

/** A local text's version: its content hash, so a rewrite with the same bytes is no change. */
function textVersion(text: string | Buffer): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 16);
}

export interface StoreOptions {
  readonly cacheDir: string;
  readonly gcsClient: () => Storage | Promise<Storage>;
}

export function createBlobStore(options: StoreOptions): BlobStore {
  let gcs: GcsStore | undefined;
  let creating: Promise<GcsStore> | undefined;
  // One store per process, made on first use; a client that failed to come up is tried again.
  const gcsStore = async (): Promise<GcsStore> => {
    if (gcs) return gcs;
    const attempt = (creating ??= Promise.resolve()
      .then(options.gcsClient)
      .then((client) => (gcs = new GcsStore(client, options.cacheDir))));
    try {
      return await attempt;
    } catch (err) {
      if (creating === attempt) creating = undefined;
      throw err;
    }
  };

  return {
    async fetch(loc, fetchOptions = {}) {
      if (loc.kind === 'gcs') return (await gcsStore()).fetch(loc.bucket, loc.object, fetchOptions);
      const st = await localStat(loc.path);
      if (loc.within) await checkContained(loc.path, loc.within);
      const refused = tooLarge(formatLocation(loc), st.size, fetchOptions);
      if (refused) throw refused;
      return { path: loc.path, bytes: st.size, contentVersion: `${st.size}-${st.mtimeMs}` };
    },
    async readText(loc) {
      if (loc.kind === 'gcs') {
        const { text, generation } = await (await gcsStore()).readText(loc.bucket, loc.object);
        return { text, contentVersion: generation };
      }
      await localStat(loc.path);
      const text = await fs.readFile(loc.path, 'utf8');
      return { text, contentVersion: textVersion(text) };
    },
    async probe(loc) {
      if (loc.kind === 'gcs') return (await (await gcsStore()).stat(loc.bucket, loc.object)).generation;
      await localStat(loc.path);
      return textVersion(await fs.readFile(loc.path));
    },
    async writeText(loc, text, expected) {
      if (loc.kind === 'gcs') return (await gcsStore()).writeText(loc.bucket, loc.object, text, expected);
      const current = textVersion(await fs.readFile(loc.path));
      if (current !== expected) throw new WriteConflictError(formatLocation(loc), expected);
      // Write beside the target, flush, then rename: readers see the old file or the new one,
      // never a half-written registry, even across a crash.
      const tmp = path.join(path.dirname(loc.path), `.${path.basename(loc.path)}.${randomUUID()}.tmp`);
      const handle = await fs.open(tmp, 'w', (await fs.stat(loc.path)).mode);
      try {
        await handle.writeFile(text, 'utf8');
        await handle.sync();
      } finally {
        await handle.close();
      }
      try {
        await fs.rename(tmp, loc.path);
      } catch (err) {
        await fs.rm(tmp, { force: true });
        throw err;
      }
      return textVersion(text);
    },
    prune(keep) {
      const objects = keep.flatMap((l) => (l.kind === 'gcs' ? [l] : []));
      // Without a GCS store yet (nothing fetched from gs:// in this process) the folder is
      // still pruned: a registry that moved off gs:// leaves files nothing will use again.
      return gcs ? gcs.prune(objects) : pruneCache(options.cacheDir, objects, new Set());
    },
  };

  /** A symlink must not lead a registry path out of the folders it was allowed into. */
  async function checkContained(p: string, within: readonly string[]): Promise<void> {
    const real = await fs.realpath(p);
    const roots = await Promise.all(within.map((r) => fs.realpath(r).catch(() => r)));
    if (!roots.some((r) => isInside(r, real))) {
      throw new GatewayError('MODEL_UNAVAILABLE', `${formatLocation({ kind: 'file', path: p })} resolves to ${real}, outside the allowed folders`, {
        retryAfterSeconds: 5,
        publicMessage: 'the model file is not available',
      });
    }
  }

  async function localStat(p: string) {
    try {
      const st = await fs.stat(p);
      if (!st.isFile()) throw new Error('not a regular file');
      return st;
    } catch (err) {
      throw new GatewayError('MODEL_UNAVAILABLE', `${formatLocation({ kind: 'file', path: p })}: ${String(err)}`, {
        cause: err,
        retryAfterSeconds: 5,
        publicMessage: 'the model file is not available',
      });
    }
  }
}

// One door to model and registry bytes, whatever the scheme. The GCS client is created on first
// use, so a gateway serving only local files never looks for cloud credentials.
import fs from 'node:fs/promises';
import type { Storage } from '@google-cloud/storage';
import { GatewayError } from '../errors/catalogue.js';
import { GcsStore, type StoredFile } from './gcs.js';
import { formatLocation, isInside, type Location } from './location.js';

export type { StoredFile } from './gcs.js';

export interface BlobStore {
  /** The file on local disk, downloaded into the cache folder when remote. */
  fetch(loc: Location): Promise<StoredFile>;
  /** A small text object (the registry), with what identifies its content. */
  readText(loc: Location): Promise<{ text: string; contentVersion: string }>;
}

export interface StoreOptions {
  readonly cacheDir: string;
  readonly gcsClient: () => Storage;
}

export function createBlobStore(options: StoreOptions): BlobStore {
  let gcs: GcsStore | undefined;
  const gcsStore = (): GcsStore => (gcs ??= new GcsStore(options.gcsClient(), options.cacheDir));

  return {
    async fetch(loc) {
      if (loc.kind === 'gcs') return gcsStore().fetch(loc.bucket, loc.object);
      const st = await localStat(loc.path);
      if (loc.within) await checkContained(loc.path, loc.within);
      return { path: loc.path, bytes: st.size, contentVersion: `${st.size}-${st.mtimeMs}` };
    },
    async readText(loc) {
      if (loc.kind === 'gcs') {
        const { text, generation } = await gcsStore().readText(loc.bucket, loc.object);
        return { text, contentVersion: generation };
      }
      const st = await localStat(loc.path);
      return { text: await fs.readFile(loc.path, 'utf8'), contentVersion: `${st.size}-${st.mtimeMs}` };
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

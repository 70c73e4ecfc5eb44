// gs:// objects through the real @google-cloud/storage client. Downloads are keyed by object
// generation, so a changed object is fetched again and an unchanged one never is; every download
// is checked against the checksum GCS reports and flushed to disk before it is renamed into the
// cache, and a cached file is hashed again on its first use by each process.
import { createHash, randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Storage, StorageOptions } from '@google-cloud/storage';
import { GatewayError } from '../errors/catalogue.js';
import { gcsLib } from './gcs-lib.js';
import { fingerprint, fingerprintOf, generationFile, hashFile, pruneCache, removeOrphanParts, syncDir, syncFile, tmpDir, type PruneResult } from './gcs-cache.js';

/**
 * How long storage may keep us waiting: for an answer to each request (the response headers),
 * and between two chunks of a download. Not a limit on a whole download, so a large model on a
 * slow link still arrives while a storage that stops answering fails the load instead of hanging it.
 */
export const DEFAULT_GCS_TIMEOUT_MS = 60_000;

export interface GcsOptions {
  /** STORAGE_EMULATOR_HOST: `http://host:port`, a trailing `/storage/v1` tolerated. */
  readonly emulatorHost?: string | undefined;
  readonly retryOptions?: StorageOptions['retryOptions'];
  /** See DEFAULT_GCS_TIMEOUT_MS. */
  readonly timeoutMs?: number | undefined;
}

export async function createGcsClient(options: GcsOptions = {}): Promise<Storage> {
  const { Storage } = await gcsLib();
  const common = { retryOptions: options.retryOptions ?? {}, timeout: options.timeoutMs ?? DEFAULT_GCS_TIMEOUT_MS };
  if (!options.emulatorHost) return new Storage(common);
  const host = options.emulatorHost.replace(/\/+$/, '').replace(/\/storage\/v1$/, '');
  const storage = new Storage({ ...common, apiEndpoint: host, projectId: 'emulator' });
  // The client would take STORAGE_EMULATOR_HOST verbatim as its JSON API base (without
  // /storage/v1), which standard emulators do not serve; pin the base to the real API path.
  storage.baseUrl = `${host}/storage/v1`;
  return storage;
}

export interface GcsObjectInfo {
  readonly generation: string;
  readonly size: number;
  readonly md5Hash: string | undefined;
  readonly crc32c: string | undefined;
}

export interface StoredFile {
  readonly path: string;
  readonly bytes: number;
  /** Changes whenever the content does: the GCS generation, or size+mtime for local files. */
  readonly contentVersion: string;
}

/** The object changed since it was read: re-read, re-apply the edit, and try again. */
export class WriteConflictError extends Error {
  constructor(
    readonly where: string,
    readonly expected: string,
  ) {
    super(`${where} changed since it was read (expected version ${expected}); re-read and retry`);
    this.name = 'WriteConflictError';
  }
}

function describe(bucket: string, object: string): string {
  return `gs://${bucket}/${object}`;
}

/** Maps client errors: an HTTP answer from storage is STORAGE_ERROR (502), no answer is 503. */
export function storageFailure(where: string, err: unknown): GatewayError {
  if (err instanceof GatewayError) return err;
  const code = (err as { code?: unknown }).code;
  const message = err instanceof Error ? err.message : String(err);
  if (typeof code === 'number') {
    return new GatewayError('STORAGE_ERROR', `${where}: storage answered ${code}: ${message}`, {
      cause: err,
      publicMessage: `model storage answered ${code}`,
    });
  }
  return new GatewayError('MODEL_UNAVAILABLE', `${where}: storage unreachable: ${message}`, {
    cause: err,
    retryAfterSeconds: 5,
    publicMessage: 'model storage is unreachable',
  });
}

export interface FetchOptions {
  /** Refuse, before downloading, an object larger than this (cache.maxBytes). */
  readonly maxBytes?: number | undefined;
}

/** Refuses a file that could never fit in the model cache; the caller sees sizes, never a path. */
export function tooLarge(where: string, bytes: number, options: FetchOptions): GatewayError | undefined {
  if (options.maxBytes === undefined || bytes <= options.maxBytes) return undefined;
  const sizes = `${bytes} bytes, more than cache.maxBytes (${options.maxBytes})`;
  return new GatewayError('MODEL_UNAVAILABLE', `${where} is ${sizes}`, { publicMessage: `the model file is ${sizes}` });
}

export class GcsStore {
  /** Cached files hashed by this process, with the size+mtime+inode they had then. */
  private readonly verified = new Map<string, string>();
  /** `.part` files this process is writing: never orphans. */
  private readonly writing = new Set<string>();
  private partsCleaned: Promise<unknown> | undefined;
  private readonly stallMs: number;

  constructor(
    private readonly storage: Storage,
    private readonly cacheDir: string,
  ) {
    this.stallMs = storage.timeout ?? DEFAULT_GCS_TIMEOUT_MS;
  }

  async stat(bucket: string, object: string): Promise<GcsObjectInfo> {
    try {
      const [meta] = await this.storage.bucket(bucket).file(object).getMetadata();
      return {
        generation: String(meta.generation),
        size: Number(meta.size),
        md5Hash: meta.md5Hash,
        crc32c: meta.crc32c,
      };
    } catch (err) {
      throw storageFailure(describe(bucket, object), err);
    }
  }

  /**
   * Replaces a small text object only if its generation is still `expectedGeneration`
   * (ifGenerationMatch), so two writers can never silently overwrite each other.
   */
  async writeText(bucket: string, object: string, text: string, expectedGeneration: string): Promise<string> {
    const where = describe(bucket, object);
    try {
      const file = this.storage.bucket(bucket).file(object);
      await file.save(text, {
        resumable: false,
        contentType: object.endsWith('.json') ? 'application/json' : 'text/yaml',
        preconditionOpts: { ifGenerationMatch: Number(expectedGeneration) },
      });
      return String(file.metadata.generation);
    } catch (err) {
      if ((err as { code?: unknown }).code === 412) throw new WriteConflictError(where, expectedGeneration);
      throw storageFailure(where, err);
    }
  }

  async readText(bucket: string, object: string): Promise<{ text: string; generation: string }> {
    const info = await this.stat(bucket, object);
    const file = await this.download(bucket, object, info);
    try {
      return { text: await fs.readFile(file.path, 'utf8'), generation: info.generation };
    } finally {
      this.writing.delete(file.path);
      await fs.rm(file.path, { force: true });
    }
  }

  /** The object on local disk: the verified cached copy of this generation, else a verified download. */
  async fetch(bucket: string, object: string, options: FetchOptions = {}): Promise<StoredFile> {
    const info = await this.stat(bucket, object);
    const refused = tooLarge(`${describe(bucket, object)} (generation ${info.generation})`, info.size, options);
    if (refused) throw refused;
    const target = generationFile(this.cacheDir, bucket, object, info.generation);
    if (await this.cachedCopyIsGood(target, info)) return { path: target, bytes: info.size, contentVersion: info.generation };
    const tmp = await this.download(bucket, object, info);
    try {
      await fs.mkdir(path.dirname(target), { recursive: true });
      // Flushed, then renamed: a file at `target` is a complete, verified download even after a
      // power cut; the folder is flushed so the rename itself survives one too.
      await syncFile(tmp.path);
      await fs.rename(tmp.path, target);
    } catch (err) {
      await fs.rm(tmp.path, { force: true });
      throw cannotStore(describe(bucket, object), err);
    } finally {
      this.writing.delete(tmp.path);
    }
    await syncDir(path.dirname(target));
    this.verified.set(target, await fingerprint(target));
    return { path: target, bytes: tmp.bytes, contentVersion: info.generation };
  }

  /** See pruneCache; `.part` files this process is writing are kept. */
  prune(keep: ReadonlyArray<{ bucket: string; object: string }>): Promise<PruneResult> {
    return pruneCache(this.cacheDir, keep, this.writing);
  }

  /**
   * True when `target` holds this generation's bytes. Hashed once per process (a restart may
   * follow a crash, a full disk or an operator's hand); a copy that fails is deleted.
   */
  private async cachedCopyIsGood(target: string, info: GcsObjectInfo): Promise<boolean> {
    const st = await fs.stat(target).catch(() => undefined);
    if (!st?.isFile()) return false;
    const seen = fingerprintOf(st);
    if (st.size === info.size && this.verified.get(target) === seen) return true;
    const hashes = st.size === info.size ? await hashFile(target).catch(() => undefined) : undefined;
    if (hashes && checksumProblem(info, hashes.md5, hashes.crc32c, hashes.bytes) === undefined) {
      this.verified.set(target, seen);
      return true;
    }
    this.verified.delete(target);
    await fs.rm(target, { force: true });
    return false;
  }

  private async download(bucket: string, object: string, info: GcsObjectInfo): Promise<{ path: string; bytes: number }> {
    const where = describe(bucket, object);
    // Before anything is set up that would need undoing, should the library fail to load.
    const { CRC32C } = await gcsLib();
    const dir = tmpDir(this.cacheDir);
    await fs.mkdir(dir, { recursive: true }).catch((err: unknown) => {
      throw cannotStore(where, err);
    });
    // Once per process, before its first download: what a crashed predecessor left behind.
    await (this.partsCleaned ??= removeOrphanParts(this.cacheDir, this.writing).catch(() => undefined));
    const tmp = path.join(dir, `${randomUUID()}.part`);
    this.writing.add(tmp);
    const md5 = createHash('md5');
    const crc = new CRC32C();
    let bytes = 0;
    const hasher = new Transform({
      transform(chunk: Buffer, _enc, done) {
        md5.update(chunk);
        crc.update(chunk);
        bytes += chunk.length;
        done(null, chunk);
      },
    });
    try {
      // Pin the generation we just stat'ed, so metadata and bytes describe the same object.
      const file = this.storage.bucket(bucket).file(object, { generation: Number(info.generation) });
      const source = file.createReadStream({ validation: false });
      await pipeline(source, stallGuard(this.stallMs, info.size), hasher, createWriteStream(tmp));
    } catch (err) {
      this.writing.delete(tmp);
      await fs.rm(tmp, { force: true });
      // A full or read-only disk is ours, not storage's: say so rather than "unreachable".
      throw (err as NodeJS.ErrnoException).path === tmp ? cannotStore(where, err) : storageFailure(where, err);
    }
    const problem = checksumProblem(info, md5.digest('base64'), crc.toString(), bytes);
    if (problem) {
      this.writing.delete(tmp);
      await fs.rm(tmp, { force: true });
      throw new GatewayError('STORAGE_ERROR', `${where} (generation ${info.generation}): ${problem}; download refused`, {
        publicMessage: 'model download failed its integrity check',
      });
    }
    return { path: tmp, bytes };
  }
}

function cannotStore(where: string, err: unknown): GatewayError {
  return new GatewayError('MODEL_UNAVAILABLE', `${where}: cannot store the download: ${String(err)}`, {
    cause: err,
    retryAfterSeconds: 5,
    publicMessage: 'the model file cannot be stored locally',
  });
}

/**
 * Fails the download when no byte arrives for `ms`. The client's own timeout ends once the
 * response headers arrive, and it never notices a connection closed before content-length (its
 * stream neither ends nor errors): without this guard such a download would hang the load forever.
 */
function stallGuard(ms: number, expected: number): Transform {
  let timer: NodeJS.Timeout | undefined;
  let seen = 0;
  const guard: Transform = new Transform({
    transform(chunk: Buffer, _enc, done) {
      seen += chunk.length;
      arm();
      done(null, chunk);
    },
    flush(done) {
      clearTimeout(timer);
      done();
    },
    destroy(err, done) {
      clearTimeout(timer);
      done(err);
    },
  });
  const arm = (): void => {
    clearTimeout(timer);
    timer = setTimeout(() => guard.destroy(new Error(`download stalled after ${seen} of ${expected} bytes: no bytes for ${ms} ms`)), ms);
  };
  arm();
  return guard;
}

function checksumProblem(info: GcsObjectInfo, md5: string, crc32c: string, bytes: number): string | undefined {
  if (Number.isFinite(info.size) && bytes !== info.size) return `got ${bytes} bytes, storage reported ${info.size}`;
  // Composite objects have no md5; crc32c is always present on real GCS.
  if (info.md5Hash !== undefined) return md5 === info.md5Hash ? undefined : `md5 ${md5} != reported ${info.md5Hash}`;
  if (info.crc32c !== undefined) return crc32c === info.crc32c ? undefined : `crc32c ${crc32c} != reported ${info.crc32c}`;
  return 'storage reported no checksum';
}

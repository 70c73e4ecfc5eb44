// gs:// objects through the real @google-cloud/storage client. Downloads are keyed by object
// generation, so a changed object is fetched again and an unchanged one never is, and every
// download is checked against the checksum GCS reports before it is trusted.
import { createHash, randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { CRC32C, Storage, type StorageOptions } from '@google-cloud/storage';
import { GatewayError } from '../errors/catalogue.js';

export interface GcsOptions {
  /** STORAGE_EMULATOR_HOST: `http://host:port`, a trailing `/storage/v1` tolerated. */
  readonly emulatorHost?: string | undefined;
  readonly retryOptions?: StorageOptions['retryOptions'];
}

export function createGcsClient(options: GcsOptions = {}): Storage {
  if (!options.emulatorHost) return new Storage({ retryOptions: options.retryOptions ?? {} });
  const host = options.emulatorHost.replace(/\/+$/, '').replace(/\/storage\/v1$/, '');
  const storage = new Storage({ apiEndpoint: host, projectId: 'emulator', retryOptions: options.retryOptions ?? {} });
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

export class GcsStore {
  constructor(
    private readonly storage: Storage,
    private readonly cacheDir: string,
  ) {}

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
      await fs.rm(file.path, { force: true });
    }
  }

  /** The object on local disk: the cached copy of this generation, else a verified download. */
  async fetch(bucket: string, object: string): Promise<StoredFile> {
    const info = await this.stat(bucket, object);
    const target = path.join(this.cacheDir, 'gcs', bucket, encodeURIComponent(object), `${info.generation}.bin`);
    const existing = await fs.stat(target).catch(() => undefined);
    if (existing?.isFile() && existing.size === info.size) {
      return { path: target, bytes: existing.size, contentVersion: info.generation };
    }
    const tmp = await this.download(bucket, object, info);
    await fs.mkdir(path.dirname(target), { recursive: true });
    // Rename is atomic: a file at `target` is always a complete, verified download.
    await fs.rename(tmp.path, target);
    return { path: target, bytes: tmp.bytes, contentVersion: info.generation };
  }

  private async download(bucket: string, object: string, info: GcsObjectInfo): Promise<{ path: string; bytes: number }> {
    const where = describe(bucket, object);
    const tmpDir = path.join(this.cacheDir, 'tmp');
    await fs.mkdir(tmpDir, { recursive: true });
    const tmp = path.join(tmpDir, `${randomUUID()}.part`);
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
      await pipeline(file.createReadStream({ validation: false }), hasher, createWriteStream(tmp));
    } catch (err) {
      await fs.rm(tmp, { force: true });
      throw storageFailure(where, err);
    }
    const problem = checksumProblem(info, md5.digest('base64'), crc.toString(), bytes);
    if (problem) {
      await fs.rm(tmp, { force: true });
      throw new GatewayError('STORAGE_ERROR', `${where} (generation ${info.generation}): ${problem}; download refused`, {
        publicMessage: 'model download failed its integrity check',
      });
    }
    return { path: tmp, bytes };
  }
}

function checksumProblem(info: GcsObjectInfo, md5: string, crc32c: string, bytes: number): string | undefined {
  if (Number.isFinite(info.size) && bytes !== info.size) return `got ${bytes} bytes, storage reported ${info.size}`;
  // Composite objects have no md5; crc32c is always present on real GCS.
  if (info.md5Hash !== undefined) return md5 === info.md5Hash ? undefined : `md5 ${md5} != reported ${info.md5Hash}`;
  if (info.crc32c !== undefined) return crc32c === info.crc32c ? undefined : `crc32c ${crc32c} != reported ${info.crc32c}`;
  return 'storage reported no checksum';
}

// A small GCS JSON API server for tests: enough of storage/v1 for the real
// @google-cloud/storage client to stat and download objects by generation, with switches to
// corrupt bytes, fail requests, or misbehave per object (refuse, hang, cut a download short).
// It listens on 127.0.0.1 only.
import { createHash } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { CRC32C } from '@google-cloud/storage';

interface StoredObject {
  readonly bytes: Buffer;
  readonly generation: number;
  readonly md5Hash: string | undefined;
  readonly crc32c: string;
  readonly updated: string;
}

export interface RecordedRequest {
  readonly method: string;
  readonly path: string;
  readonly media: boolean;
}

/** How requests for one object misbehave (see FakeGcs.fault). */
export type Fault =
  /** Answer with this HTTP status and a GCS error body (e.g. 403, 404, 500). */
  | { readonly kind: 'status'; readonly status: number }
  /** Hold every answer this long before sending it (a slow or hung storage). */
  | { readonly kind: 'slow'; readonly delayMs: number }
  /** Close the connection without answering (storage unreachable mid-flight). */
  | { readonly kind: 'reset' }
  /** Downloads: full content-length and headers, half the bytes, then the connection closes. */
  | { readonly kind: 'truncate' }
  /** Downloads: half the bytes, a pause of `pauseMs`, then the rest (a stalled transfer). */
  | { readonly kind: 'stall'; readonly pauseMs: number };

export interface FakeGcs {
  /** http://127.0.0.1:port — the form STORAGE_EMULATOR_HOST takes. */
  readonly host: string;
  readonly requests: RecordedRequest[];
  /** Stores a new generation; `composite` objects report only crc32c, as on real GCS. */
  put(bucket: string, object: string, bytes: Uint8Array | string, options?: { composite?: boolean }): number;
  /** Serve bytes that do not match the reported checksums for this object. */
  corrupt(bucket: string, object: string, on?: boolean): void;
  /** Answer the next `count` requests with this HTTP status. */
  failNext(status: number, count?: number): void;
  /** Every request for this object (metadata and download) misbehaves so; undefined clears it. */
  fault(bucket: string, object: string, fault: Fault | undefined): void;
  /** Requests of any kind (metadata or download) that named this object. */
  requestsFor(bucket: string, object: string): number;
  mediaDownloads(bucket: string, object: string): number;
  /** The newest generation's bytes as text, or undefined when the object does not exist. */
  read(bucket: string, object: string): { text: string; generation: number } | undefined;
  /** Uploads (simple or multipart) that were stored. */
  uploads(bucket: string, object: string): number;
  /** Answer uploads with 403, as a bucket the gateway may read but not write. */
  denyUploads(on?: boolean): void;
  /**
   * Runs `fn` when an upload of this object arrives, before its precondition is checked (to
   * change the object between a client's read and its write, or to hold a write back); the
   * upload waits for the returned promise. Returns a function that removes the hook.
   */
  beforeUpload(bucket: string, object: string, fn: () => void | Promise<void>): () => void;
  close(): Promise<void>;
}

export async function startFakeGcs(): Promise<FakeGcs> {
  const objects = new Map<string, StoredObject[]>(); // key → generations, newest last
  const corrupted = new Set<string>();
  const faults = new Map<string, Fault>();
  const timers = new Set<NodeJS.Timeout>();
  const later = (ms: number, fn: () => void): void => {
    const t = setTimeout(() => {
      timers.delete(t);
      fn();
    }, ms);
    timers.add(t);
  };
  const requests: RecordedRequest[] = [];
  let failures: { status: number; count: number } | undefined;
  let nextGeneration = 1_700_000_000_000_000;
  const keyOf = (bucket: string, object: string) => `${bucket}/${object}`;
  const uploadCounts = new Map<string, number>();
  let uploadsDenied = false;
  const uploadHooks = new Map<string, () => void | Promise<void>>();

  function store(bucket: string, object: string, bytes: Buffer, composite = false): number {
    const crc = new CRC32C();
    crc.update(bytes);
    const generation = nextGeneration++;
    const list = objects.get(keyOf(bucket, object)) ?? [];
    list.push({
      bytes,
      generation,
      md5Hash: composite ? undefined : createHash('md5').update(bytes).digest('base64'),
      crc32c: crc.toString(),
      updated: new Date().toISOString(),
    });
    objects.set(keyOf(bucket, object), list);
    return generation;
  }

  function latest(bucket: string, object: string, generation: number): StoredObject {
    const found = objects.get(keyOf(bucket, object))?.find((o) => o.generation === generation);
    if (!found) throw new Error('stored object vanished');
    return found;
  }

  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const media = url.searchParams.get('alt') === 'media';
    requests.push({ method: req.method ?? 'GET', path: url.pathname, media });
    const named = /\/b\/([^/]+)\/o\/(.+)$/.exec(url.pathname);
    const fault = named ? faults.get(keyOf(decodeURIComponent(named[1] ?? ''), decodeURIComponent(named[2] ?? ''))) : undefined;
    if (fault?.kind === 'slow') later(fault.delayMs, () => answer(req, res, url, media, undefined));
    else answer(req, res, url, media, fault);
  });

  function answer(req: http.IncomingMessage, res: http.ServerResponse, url: URL, media: boolean, fault: Fault | undefined): void {
    if (res.destroyed) return; // the client gave up while a slow answer was held
    const send = (status: number, body: unknown): void => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (fault?.kind === 'reset') {
      req.socket.destroy();
      return;
    }
    if (fault?.kind === 'status') {
      send(fault.status, { error: { code: fault.status, message: `injected ${fault.status}` } });
      return;
    }
    if (failures && failures.count > 0) {
      failures.count--;
      send(failures.status, { error: { code: failures.status, message: 'injected failure' } });
      return;
    }
    const upload = /^\/upload\/storage\/v1\/b\/([^/]+)\/o$/.exec(url.pathname);
    if (upload && req.method === 'POST' && uploadsDenied) {
      send(403, { error: { code: 403, message: 'does not have storage.objects.create access' } });
      return;
    }
    if (upload && req.method === 'POST') {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', async () => {
        const bucket = decodeURIComponent(upload[1] ?? '');
        const object = url.searchParams.get('name') ?? '';
        await uploadHooks.get(keyOf(bucket, object))?.();
        const bytes = uploadedBytes(req.headers['content-type'] ?? '', Buffer.concat(chunks));
        const current = objects.get(keyOf(bucket, object))?.at(-1);
        const match = url.searchParams.get('ifGenerationMatch');
        // GCS semantics: ifGenerationMatch=0 means "only if it does not exist yet".
        if (match !== null && match !== String(current?.generation ?? 0)) {
          send(412, { error: { code: 412, message: 'At least one of the pre-conditions you specified did not hold.' } });
          return;
        }
        if (!object || bytes === undefined) {
          send(400, { error: { code: 400, message: 'bad upload' } });
          return;
        }
        const generation = store(bucket, object, bytes);
        uploadCounts.set(keyOf(bucket, object), (uploadCounts.get(keyOf(bucket, object)) ?? 0) + 1);
        send(200, describeObject(bucket, object, latest(bucket, object, generation)));
      });
      return;
    }
    const m = /^(?:\/download)?\/storage\/v1\/b\/([^/]+)\/o\/(.+)$/.exec(url.pathname);
    if (!m || req.method !== 'GET') {
      send(404, { error: { code: 404, message: `unsupported ${req.method} ${url.pathname}` } });
      return;
    }
    const bucket = decodeURIComponent(m[1] ?? '');
    const object = decodeURIComponent(m[2] ?? '');
    const versions = objects.get(keyOf(bucket, object)) ?? [];
    const wanted = url.searchParams.get('generation');
    const obj = wanted === null ? versions.at(-1) : versions.find((v) => String(v.generation) === wanted);
    if (!obj) {
      send(404, { error: { code: 404, message: `No such object: ${bucket}/${object}` } });
      return;
    }
    if (media) {
      let bytes = obj.bytes;
      if (corrupted.has(keyOf(bucket, object))) {
        bytes = Buffer.from(bytes);
        bytes[bytes.length >> 1] = (bytes[bytes.length >> 1] ?? 0) ^ 0xff;
      }
      res.writeHead(200, {
        'content-type': 'application/octet-stream',
        'content-length': bytes.length,
        'x-goog-generation': String(obj.generation),
        'x-goog-hash': obj.md5Hash ? `crc32c=${obj.crc32c},md5=${obj.md5Hash}` : `crc32c=${obj.crc32c}`,
      });
      const half = bytes.length >> 1;
      if (fault?.kind === 'truncate') {
        res.write(bytes.subarray(0, half), () => res.destroy());
      } else if (fault?.kind === 'stall') {
        res.write(bytes.subarray(0, half));
        later(fault.pauseMs, () => res.end(bytes.subarray(half)));
      } else {
        res.end(bytes);
      }
      return;
    }
    send(200, describeObject(bucket, object, obj));
  }
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    host: `http://127.0.0.1:${port}`,
    requests,
    put(bucket, object, content, options = {}) {
      return store(bucket, object, Buffer.from(content), options.composite ?? false);
    },
    read(bucket, object) {
      const obj = objects.get(keyOf(bucket, object))?.at(-1);
      return obj ? { text: obj.bytes.toString('utf8'), generation: obj.generation } : undefined;
    },
    denyUploads(on = true) {
      uploadsDenied = on;
    },
    uploads(bucket, object) {
      return uploadCounts.get(keyOf(bucket, object)) ?? 0;
    },
    beforeUpload(bucket, object, fn) {
      uploadHooks.set(keyOf(bucket, object), fn);
      return () => {
        if (uploadHooks.get(keyOf(bucket, object)) === fn) uploadHooks.delete(keyOf(bucket, object));
      };
    },
    corrupt(bucket, object, on = true) {
      if (on) corrupted.add(keyOf(bucket, object));
      else corrupted.delete(keyOf(bucket, object));
    },
    failNext(status, count = 1) {
      failures = { status, count };
    },
    fault(bucket, object, fault) {
      if (fault) faults.set(keyOf(bucket, object), fault);
      else faults.delete(keyOf(bucket, object));
    },
    requestsFor(bucket, object) {
      const suffix = `/b/${bucket}/o/${encodeURIComponent(object)}`;
      return requests.filter((r) => r.path.endsWith(suffix)).length;
    },
    mediaDownloads(bucket, object) {
      const suffix = `/b/${bucket}/o/${encodeURIComponent(object)}`;
      return requests.filter((r) => r.media && r.path.endsWith(suffix)).length;
    },
    close() {
      for (const t of timers) clearTimeout(t);
      timers.clear();
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

function describeObject(bucket: string, object: string, obj: StoredObject): Record<string, unknown> {
  return {
    kind: 'storage#object',
    id: `${bucket}/${object}/${obj.generation}`,
    name: object,
    bucket,
    generation: String(obj.generation),
    metageneration: '1',
    size: String(obj.bytes.length),
    md5Hash: obj.md5Hash,
    crc32c: obj.crc32c,
    contentType: 'application/octet-stream',
    updated: obj.updated,
  };
}

/** The media of a simple (raw body) or multipart/related (metadata part, then media) upload. */
function uploadedBytes(contentType: string, body: Buffer): Buffer | undefined {
  const boundary = /boundary="?([^";]+)"?/.exec(contentType)?.[1];
  if (!contentType.startsWith('multipart/') || boundary === undefined) return body;
  const parts: Buffer[] = [];
  const delimiter = Buffer.from(`--${boundary}`);
  let at = body.indexOf(delimiter);
  while (at !== -1) {
    const start = at + delimiter.length;
    const next = body.indexOf(delimiter, start);
    if (next === -1) break;
    parts.push(body.subarray(start, next));
    at = next;
  }
  const media = parts[1];
  if (!media) return undefined;
  const headerEnd = media.indexOf('\r\n\r\n');
  if (headerEnd === -1) return undefined;
  // Each part ends with the CRLF that precedes the next delimiter.
  return media.subarray(headerEnd + 4, media.length - 2);
}
